// The backward of a linear or conv2d layer through its dense weight, shared by the masked and the
// shared composites: the gradients of (input, dense weight, bias) that output_mask asks for
// (undefined otherwise). The masked ops then mask the weight gradient; the shared ops reduce it per
// cluster (codebook_grad).
#pragma once

#include <ATen/ATen.h>

#include <array>
#include <tuple>

namespace deepcomp::ops {

// grad_output (*, out_features), input (*, in_features). dense_weight() gives the (out, in) weight
// the forward used; it is called only when the input gradient is asked for.
template <typename DenseWeight>
std::tuple<at::Tensor, at::Tensor, at::Tensor> linear_backward(const at::Tensor& grad_output, const at::Tensor& input,
                                                               int64_t out_features, int64_t in_features,
                                                               const DenseWeight& dense_weight,
                                                               std::array<bool, 3> output_mask) {
  at::Tensor grad_input, grad_weight, grad_bias;
  if (output_mask[0]) grad_input = at::matmul(grad_output, dense_weight());
  const auto grad_2d = grad_output.reshape({-1, out_features});
  if (output_mask[1]) grad_weight = grad_2d.t().mm(input.reshape({-1, in_features}));
  if (output_mask[2]) grad_bias = grad_2d.sum(0);
  return {grad_input, grad_weight, grad_bias};
}

// input (N, C, H, W) or unbatched (C, H, W); weight the dense (out, in / groups, kH, kW) one.
inline std::tuple<at::Tensor, at::Tensor, at::Tensor> conv2d_backward(
    const at::Tensor& grad_output, const at::Tensor& input, const at::Tensor& weight, at::IntArrayRef stride,
    at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups, std::array<bool, 3> output_mask) {
  const bool unbatched = input.dim() == 3;
  const int64_t bias_size = weight.size(0);
  auto [grad_input, grad_weight, grad_bias] = at::convolution_backward(
      unbatched ? grad_output.unsqueeze(0) : grad_output, unbatched ? input.unsqueeze(0) : input, weight,
      at::IntArrayRef(bias_size), stride, padding, dilation, /*transposed=*/false, /*output_padding=*/{0, 0}, groups,
      output_mask);
  if (grad_input.defined() && unbatched) grad_input = grad_input.squeeze(0);
  return {grad_input, grad_weight, grad_bias};
}

}  // namespace deepcomp::ops
