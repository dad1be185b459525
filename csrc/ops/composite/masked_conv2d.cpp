// masked_conv2d and its backward, built from apply_mask (device twins) and ATen's convolution
// (oneDNN on CPU, cuDNN on CUDA): one kernel body serves every device.
#include <deepcomp/ops.h>
#include <torch/library.h>

#include "check.h"
#include "ops/checks.h"
#include "ops/composite/dense_backward.h"
#include "ops/composite/gemm_weight.h"

namespace deepcomp::ops {
namespace {

void check_conv(const at::Tensor& input, const at::Tensor& weight, const at::Tensor& mask, int64_t groups) {
  check_weight_and_mask("masked_conv2d", weight, mask);
  DEEPCOMP_CHECK(weight.dim() == 4, "masked_conv2d: weight must be (out_channels, in_channels/groups, kH, kW), got ",
                 weight.sizes());
  DEEPCOMP_CHECK(input.dim() == 3 || input.dim() == 4, "masked_conv2d: input must be (N, C, H, W) or (C, H, W), got ",
                 input.sizes());
  DEEPCOMP_CHECK(groups > 0, "masked_conv2d: groups must be positive, got ", groups);
}

at::Tensor masked_conv2d_composite(const at::Tensor& input, const at::Tensor& weight, const at::Tensor& mask,
                                   const std::optional<at::Tensor>& bias, at::IntArrayRef stride,
                                   at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups) {
  check_conv(input, weight, mask, groups);
  return at::conv2d(input, gemm_weight(weight, mask), bias, stride, padding, dilation, groups);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> masked_conv2d_backward_composite(
    const at::Tensor& grad_output, const at::Tensor& input, const at::Tensor& weight, const at::Tensor& mask,
    at::IntArrayRef stride, at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups,
    std::array<bool, 3> output_mask) {
  check_conv(input, weight, mask, groups);
  auto [grad_input, grad_weight, grad_bias] = conv2d_backward(grad_output, input, gemm_weight(weight, mask), stride,
                                                              padding, dilation, groups, output_mask);
  if (grad_weight.defined()) mask_gradient_(grad_weight, mask);
  return {grad_input, grad_weight, grad_bias};
}

}  // namespace

TORCH_LIBRARY_IMPL(deepcomp, CompositeExplicitAutograd, m) {
  m.impl("masked_conv2d", &masked_conv2d_composite);
  m.impl("masked_conv2d_backward", &masked_conv2d_backward_composite);
}

}  // namespace deepcomp::ops
