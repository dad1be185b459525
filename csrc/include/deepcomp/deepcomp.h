// deepcomp: Deep Compression (Han, Mao, Dally, ICLR 2016) for LibTorch. One include for everything.
#pragma once

#include <deepcomp/constants.h>
#include <deepcomp/io.h>
#include <deepcomp/layers.h>
#include <deepcomp/nn/attention.h>
#include <deepcomp/nn/compressed_linear.h>
#include <deepcomp/nn/forward_child.h>
#include <deepcomp/nn/masked_conv2d.h>
#include <deepcomp/nn/masked_linear.h>
#include <deepcomp/nn/shared_conv2d.h>
#include <deepcomp/nn/shared_linear.h>
#include <deepcomp/nn/torch_layer_twins.h>
#include <deepcomp/ops.h>
#include <deepcomp/plain.h>
#include <deepcomp/prune.h>
#include <deepcomp/quantize.h>
#include <deepcomp/schedule.h>
#include <deepcomp/sensitivity.h>
