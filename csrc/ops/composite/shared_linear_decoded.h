// shared_linear and its backward by decoding the dense weight into a temporary and calling ATen's
// GEMMs: the composite kernels for any device, and CUDA's for batches and layers its own paths do
// not take.
#pragma once

#include <deepcomp/ops.h>

#include "ops/codebook_grad_like.h"
#include "ops/composite/dense_backward.h"

namespace deepcomp::ops {

inline at::Tensor shared_linear_decoded(const at::Tensor& input, const at::Tensor& indices, const at::Tensor& mask,
                                        const at::Tensor& codebook, const std::optional<at::Tensor>& bias) {
  return at::linear(input, codebook_decode(indices, mask, codebook), bias);
}

inline std::tuple<at::Tensor, at::Tensor, at::Tensor> shared_linear_backward_decoded(
    const at::Tensor& grad_output, const at::Tensor& input, const at::Tensor& indices, const at::Tensor& mask,
    const at::Tensor& codebook, std::array<bool, 3> output_mask) {
  auto [grad_input, grad_weight, grad_bias] =
      linear_backward(grad_output, input, indices.size(0), indices.size(1),
                      [&] { return codebook_decode(indices, mask, codebook); }, output_mask);
  const auto grad_codebook =
      grad_weight.defined() ? codebook_grad_like(grad_weight, indices, mask, codebook) : at::Tensor();
  return {grad_input, grad_codebook, grad_bias};
}

}  // namespace deepcomp::ops
