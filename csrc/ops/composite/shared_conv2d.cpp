// shared_conv2d and its backward, built from codebook_decode / codebook_grad (device twins) and
// ATen's convolution: the dense weight is decoded into a temporary and never stored.
#include <deepcomp/ops.h>
#include <torch/library.h>

#include "check.h"
#include "ops/checks.h"
#include "ops/codebook_grad_like.h"
#include "ops/composite/dense_backward.h"

namespace deepcomp::ops {
namespace {

void check_conv(const at::Tensor& input, const at::Tensor& indices, const at::Tensor& mask,
                const at::Tensor& codebook, int64_t groups) {
  check_shared_weight("shared_conv2d", indices, mask, codebook);
  DEEPCOMP_CHECK(indices.dim() == 4, "shared_conv2d: indices must be (out_channels, in_channels/groups, kH, kW), got ",
                 indices.sizes());
  DEEPCOMP_CHECK(input.dim() == 3 || input.dim() == 4, "shared_conv2d: input must be (N, C, H, W) or (C, H, W), got ",
                 input.sizes());
  DEEPCOMP_CHECK(groups > 0, "shared_conv2d: groups must be positive, got ", groups);
}

at::Tensor shared_conv2d_composite(const at::Tensor& input, const at::Tensor& indices, const at::Tensor& mask,
                                   const at::Tensor& codebook, const std::optional<at::Tensor>& bias,
                                   at::IntArrayRef stride, at::IntArrayRef padding, at::IntArrayRef dilation,
                                   int64_t groups) {
  check_conv(input, indices, mask, codebook, groups);
  return at::conv2d(input, codebook_decode(indices, mask, codebook), bias, stride, padding, dilation, groups);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> shared_conv2d_backward_composite(
    const at::Tensor& grad_output, const at::Tensor& input, const at::Tensor& indices, const at::Tensor& mask,
    const at::Tensor& codebook, at::IntArrayRef stride, at::IntArrayRef padding, at::IntArrayRef dilation,
    int64_t groups, std::array<bool, 3> output_mask) {
  check_conv(input, indices, mask, codebook, groups);
  auto [grad_input, grad_weight, grad_bias] =
      conv2d_backward(grad_output, input, codebook_decode(indices, mask, codebook), stride, padding, dilation, groups,
                      output_mask);
  const auto grad_codebook =
      grad_weight.defined() ? codebook_grad_like(grad_weight, indices, mask, codebook) : at::Tensor();
  return {grad_input, grad_codebook, grad_bias};
}

}  // namespace

TORCH_LIBRARY_IMPL(deepcomp, CompositeExplicitAutograd, m) {
  m.impl("shared_conv2d", &shared_conv2d_composite);
  m.impl("shared_conv2d_backward", &shared_conv2d_backward_composite);
}

}  // namespace deepcomp::ops
