// deepcomp's ops, called through the PyTorch dispatcher (so CPU and CUDA twins, autograd and
// torch.compile all apply). Schemas: csrc/ops/registration.cpp. Python: torch.ops.deepcomp.*.
//
// Shapes: `weight` of a linear layer is (out_features, in_features); of a conv2d layer
// (out_channels, in_channels / groups, kH, kW). `mask` is a bool tensor of the weight's shape on the
// weight's device: true keeps a weight, false prunes it. The ops apply the mask on the fly; they
// never keep a masked copy of the weight, and the weight gradient comes out masked.
#pragma once

#include <ATen/ATen.h>

#include <array>
#include <optional>
#include <tuple>

namespace deepcomp::ops {

// weight where mask is true, exactly 0 elsewhere. weight: floating, any shape; mask: bool, same shape.
at::Tensor apply_mask(const at::Tensor& weight, const at::Tensor& mask);
// In-place apply_mask: zeroes the pruned entries of `weight`.
void apply_mask_(at::Tensor& weight, const at::Tensor& mask);

// y = x (weight ⊙ mask)ᵀ + bias. input: (*, in_features) -> (*, out_features).
at::Tensor masked_linear(const at::Tensor& input, const at::Tensor& weight, const at::Tensor& mask,
                         const std::optional<at::Tensor>& bias);

// Gradients of masked_linear w.r.t. (input, weight, bias), computing only those flagged in
// output_mask (the others come back undefined). The weight gradient is masked.
std::tuple<at::Tensor, at::Tensor, at::Tensor> masked_linear_backward(const at::Tensor& grad_output,
                                                                      const at::Tensor& input,
                                                                      const at::Tensor& weight,
                                                                      const at::Tensor& mask,
                                                                      std::array<bool, 3> output_mask);

// 2-D convolution with weight ⊙ mask. input: (N, C_in, H, W) or (C_in, H, W), zero padding.
at::Tensor masked_conv2d(const at::Tensor& input, const at::Tensor& weight, const at::Tensor& mask,
                         const std::optional<at::Tensor>& bias, at::IntArrayRef stride, at::IntArrayRef padding,
                         at::IntArrayRef dilation, int64_t groups);

// Gradients of masked_conv2d, as for masked_linear_backward.
std::tuple<at::Tensor, at::Tensor, at::Tensor> masked_conv2d_backward(
    const at::Tensor& grad_output, const at::Tensor& input, const at::Tensor& weight, const at::Tensor& mask,
    at::IntArrayRef stride, at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups,
    std::array<bool, 3> output_mask);

// The mask after one magnitude-pruning step: mask ∧ (|weight| ≥ threshold). Masks only shrink.
// Exactly one criterion:
//   sensitivity s ≥ 0: threshold = s × std of the weights that survive `mask` (the paper's rule);
//   sparsity f in [0, 1): the smallest-|w| survivors are dropped until a fraction f of all the
//     weights is pruned (no change if `mask` already prunes that many).
// Raises c10::ValueError for a bad criterion and for NaN/Inf among the surviving weights.
at::Tensor magnitude_prune(const at::Tensor& weight, const at::Tensor& mask,
                           std::optional<double> sensitivity, std::optional<double> sparsity);

// True when this libdeepcomp was built with its CUDA kernels.
bool built_with_cuda();

}  // namespace deepcomp::ops
