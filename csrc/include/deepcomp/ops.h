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
#include <string>
#include <tuple>

namespace deepcomp::ops {

// weight where mask is true, exactly 0 elsewhere. weight: floating, any shape; mask: bool, same shape.
// Differentiable: the weight's gradient is masked the same way.
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

// Stage 2, trained quantization. A shared layer's weight is codebook[indices] where mask, else 0:
// `indices` (uint8, the weight's shape) picks one of the k = 2^bits centroids of the 1-D `codebook`.
// Per-group codebooks: a 2-D codebook (groups, k) splits the weight's first dimension d0 (output
// channels of Linear and Conv, input channels of ConvTranspose, rows of Embedding) into `groups`
// runs of slices as even as possible, slice r decoded by codebook[r · groups / d0] (rounded down;
// d0 / groups slices each when groups divides d0). 1 <= groups <= d0.

// Clusters the weights that survive `mask` (all of them when mask is nullopt) with 1-D k-means:
// returns (codebook: k = 2^bits ascending centroids in the weight's dtype, indices: uint8 of the
// weight's shape, each kept weight's nearest centroid, 0 where pruned). bits in 1..8.
//   init: "linear" (evenly spaced from min to max, the paper's best), "density" (evenly spaced in
//     the CDF) or "random" (k distinct weights drawn with `seed`);
//   method: "lloyd" (from init until no weight changes cluster; an empty cluster takes over half of
//     the one with the largest squared error) or "exact" (least squared error
//     by dynamic programming; exact while distinct values × k ≤ 2^25, else over merged groups).
//   importance: each weight's weight in the squared error (>= 0, finite, broadcastable to weight;
//     e.g. the second moment of the input it multiplies, or a diagonal Fisher estimate): weighted
//     k-means. Values under 1e-6 of the kept weights' mean importance count as that much, so every
//     weight still gets its nearest centroid. Computed on the CPU for every device.
// Fewer distinct values than k: each gets its own centroid, the spare entries repeat the largest.
// Raises c10::ValueError for bad arguments and NaN/Inf among the kept weights.
std::tuple<at::Tensor, at::Tensor> kmeans_quantize(const at::Tensor& weight, const std::optional<at::Tensor>& mask,
                                                   int64_t bits, const std::string& init = "linear",
                                                   const std::string& method = "lloyd", int64_t seed = 0,
                                                   const std::optional<at::Tensor>& importance = std::nullopt);

// codebook[indices] where mask, exactly 0 elsewhere (differentiable w.r.t. the codebook); 1-D or
// grouped codebook.
at::Tensor codebook_decode(const at::Tensor& indices, const at::Tensor& mask, const at::Tensor& codebook);

// The per-cluster gradient reduction: entry c = Σ grad_weight[i] over kept i with indices[i] == c,
// (num_codes). num_groups > 1: per group as above, (num_groups, num_codes).
at::Tensor codebook_grad(const at::Tensor& grad_weight, const at::Tensor& indices, const at::Tensor& mask,
                         int64_t num_codes, int64_t num_groups = 1);

// y = x decode(indices, mask, codebook)ᵀ + bias. input: (*, in_features) -> (*, out_features).
at::Tensor shared_linear(const at::Tensor& input, const at::Tensor& indices, const at::Tensor& mask,
                         const at::Tensor& codebook, const std::optional<at::Tensor>& bias);

// Gradients of shared_linear w.r.t. (input, codebook, bias), only those flagged in output_mask.
std::tuple<at::Tensor, at::Tensor, at::Tensor> shared_linear_backward(const at::Tensor& grad_output,
                                                                      const at::Tensor& input,
                                                                      const at::Tensor& indices,
                                                                      const at::Tensor& mask,
                                                                      const at::Tensor& codebook,
                                                                      std::array<bool, 3> output_mask);

// 2-D convolution with the decoded shared weight, as masked_conv2d.
at::Tensor shared_conv2d(const at::Tensor& input, const at::Tensor& indices, const at::Tensor& mask,
                         const at::Tensor& codebook, const std::optional<at::Tensor>& bias, at::IntArrayRef stride,
                         at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups);

// Gradients of shared_conv2d w.r.t. (input, codebook, bias), as for shared_linear_backward.
std::tuple<at::Tensor, at::Tensor, at::Tensor> shared_conv2d_backward(
    const at::Tensor& grad_output, const at::Tensor& input, const at::Tensor& indices, const at::Tensor& mask,
    const at::Tensor& codebook, at::IntArrayRef stride, at::IntArrayRef padding, at::IntArrayRef dilation,
    int64_t groups, std::array<bool, 3> output_mask);

// Inference on a compressed linear layer: the weight kept as compressed rows, never decoded.
// compressed_linear_pack turns a shared weight (indices, mask: (out_features, in_features)) into
// (row_ptr: int64 (out_features + 1), entries: int32, one per kept weight, column << 8 | index, row by
// row in column order); in_features < 2^23.
std::tuple<at::Tensor, at::Tensor> compressed_linear_pack(const at::Tensor& indices, const at::Tensor& mask);
// y = x Wᵀ + bias with W given by (row_ptr, entries, codebook). input: (*, in_features) -> (*, out_features),
// codebook and bias in the input's dtype. For inference: no autograd.
at::Tensor compressed_linear(const at::Tensor& input, const at::Tensor& row_ptr, const at::Tensor& entries,
                             const at::Tensor& codebook, const std::optional<at::Tensor>& bias);
// The gradient of compressed_linear's codebook (1-D, num_codes centroids) for grad_output
// (*, out_features) at input (*, in_features): each kept weight (row r, column c, index i) adds
// grad_output[:, r] · input[:, c] to entry i. Reads the kept weights only; in the input's dtype.
at::Tensor compressed_linear_codebook_grad(const at::Tensor& grad_output, const at::Tensor& input,
                                           const at::Tensor& row_ptr, const at::Tensor& entries, int64_t num_codes);

// True when this libdeepcomp was built with its CUDA kernels.
bool built_with_cuda();

// True when deepcomp's CPU kernels split their work over ATen's intra-op threads (at::parallel_for is
// inline: with a torch built on OpenMP it runs on one thread in code compiled without OpenMP).
bool cpu_kernels_parallel();

// The SIMD variant of the CPU compressed_linear kernel chosen on this machine, as ATen chooses its
// own (ATEN_CPU_CAPABILITY overrides it): "avx512", "avx2" or "portable".
std::string compressed_linear_cpu_isa();

}  // namespace deepcomp::ops
