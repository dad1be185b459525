// The codebook gradient of a pruned shared linear layer from its kept positions only: for each
// (i, j) its mask keeps, the sum over the batch of grad_output[b, i] · input[b, j] (a sampled
// dense-dense product), added to cluster indices[i, j]. For a layer pruned to density d it does d
// of the dense GEMM's arithmetic and makes no weight-sized tensor, so below kSampledGradDensity it
// replaces the blocked GEMM + codebook_grad of the CPU kernel (measured at 9216 -> 4096, batch 32,
// 10 % kept: 42 ms against 124 ms).
//
// A masked layer's gradient gains nothing from it: it must return the dense (out, in) gradient,
// and writing that fresh tensor costs about what the GEMM does.
#pragma once

#include <ATen/ATen.h>

namespace deepcomp::ops {

// Below this kept fraction the sampled product beats the blocked GEMM (benchmarks/bench_quantization.py
// measures pruned and unpruned layers).
constexpr double kSampledGradDensity = 0.3;

// Whether the sampled product should compute this layer's codebook gradient: a CPU layer whose
// mask keeps less than kSampledGradDensity.
bool sampled_grad_wins(const at::Tensor& mask);

// grad (batch, out_features), input (batch, in_features), indices uint8 and mask bool (out, in): the
// codebook's gradient (k,), each kept position's gradient added to its cluster's, in its dtype.
at::Tensor sampled_codebook_grad_cpu(const at::Tensor& grad, const at::Tensor& input, const at::Tensor& indices,
                                     const at::Tensor& mask, const at::Tensor& codebook);

}  // namespace deepcomp::ops
