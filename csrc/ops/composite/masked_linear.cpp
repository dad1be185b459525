// masked_linear and its backward, built from apply_mask (device twins) and ATen's GEMMs
// (MKL/oneDNN on CPU, cuBLAS on CUDA): one kernel body serves every device.
#include <deepcomp/ops.h>
#include <torch/library.h>

#include "check.h"
#include "ops/checks.h"
#include "ops/composite/dense_backward.h"
#include "ops/composite/gemm_weight.h"

namespace deepcomp::ops {
namespace {

void check_linear(const at::Tensor& input, const at::Tensor& weight, const at::Tensor& mask) {
  check_weight_and_mask("masked_linear", weight, mask);
  DEEPCOMP_CHECK(weight.dim() == 2, "masked_linear: weight must be (out_features, in_features), got shape ",
                 weight.sizes());
  DEEPCOMP_CHECK(input.dim() >= 1 && input.size(-1) == weight.size(1), "masked_linear: input shape ", input.sizes(),
                 " does not end in in_features = ", weight.size(1));
}

at::Tensor masked_linear_composite(const at::Tensor& input, const at::Tensor& weight, const at::Tensor& mask,
                                   const std::optional<at::Tensor>& bias) {
  check_linear(input, weight, mask);
  return at::linear(input, gemm_weight(weight, mask), bias);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> masked_linear_backward_composite(
    const at::Tensor& grad_output, const at::Tensor& input, const at::Tensor& weight, const at::Tensor& mask,
    std::array<bool, 3> output_mask) {
  check_linear(input, weight, mask);
  auto [grad_input, grad_weight, grad_bias] = linear_backward(
      grad_output, input, weight.size(0), weight.size(1), [&] { return gemm_weight(weight, mask); }, output_mask);
  if (grad_weight.defined()) mask_gradient_(grad_weight, mask);
  return {grad_input, grad_weight, grad_bias};
}

}  // namespace

TORCH_LIBRARY_IMPL(deepcomp, CompositeExplicitAutograd, m) {
  m.impl("masked_linear", &masked_linear_composite);
  m.impl("masked_linear_backward", &masked_linear_backward_composite);
}

}  // namespace deepcomp::ops
