// What the masked and shared conv modules share with torch::nn::Conv2d: its options, and the
// padding their ops cannot express (the ops pad symmetrically with zeros).
#pragma once

#include <torch/nn/modules/conv.h>
#include <torch/nn/options/conv.h>

#include <array>
#include <utility>

namespace deepcomp::nn {

// A Conv2d layer's options as Conv2dOptions (the layer keeps them as the wider ConvNdOptions).
torch::nn::Conv2dOptions conv2d_options(const torch::nn::Conv2dImpl& dense);

// The input, padded here when the op's symmetric zero padding cannot express the module's padding
// (other padding modes, or 'same' with an even kernel), and the padding to hand to the op.
std::pair<torch::Tensor, std::array<int64_t, 2>> pad_input(const torch::nn::Conv2dOptions& options,
                                                           const torch::Tensor& input);

}  // namespace deepcomp::nn
