// shared_linear and its backward on any device, built from codebook_decode / codebook_grad (device
// twins) and ATen's GEMMs: the dense weight is decoded into a temporary for each GEMM and never
// stored. The CPU has its own kernels (cpu/shared_linear.cpp), which decode a block at a time.
#include <torch/library.h>

#include <deepcomp/ops.h>

#include "ops/checks.h"
#include "ops/codebook_grad_like.h"
#include "ops/composite/dense_backward.h"
#include "ops/composite/shared_linear_decoded.h"

namespace deepcomp::ops {
namespace {

at::Tensor shared_linear_composite(const at::Tensor& input, const at::Tensor& indices, const at::Tensor& mask,
                                   const at::Tensor& codebook, const std::optional<at::Tensor>& bias) {
  check_shared_linear(input, indices, mask, codebook);
  return shared_linear_decoded(input, indices, mask, codebook, bias);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> shared_linear_backward_composite(
    const at::Tensor& grad_output, const at::Tensor& input, const at::Tensor& indices, const at::Tensor& mask,
    const at::Tensor& codebook, std::array<bool, 3> output_mask) {
  check_shared_linear(input, indices, mask, codebook);
  auto [grad_input, grad_weight, grad_bias] =
      linear_backward(grad_output, input, indices.size(0), indices.size(1),
                      [&] { return codebook_decode(indices, mask, codebook); }, output_mask);
  const auto grad_codebook =
      grad_weight.defined() ? codebook_grad_like(grad_weight, indices, mask, codebook) : at::Tensor();
  return {grad_input, grad_codebook, grad_bias};
}

}  // namespace

TORCH_LIBRARY_IMPL(deepcomp, CompositeExplicitAutograd, m) {
  m.impl("shared_linear", &shared_linear_composite);
  m.impl("shared_linear_backward", &shared_linear_backward_composite);
}

}  // namespace deepcomp::ops
