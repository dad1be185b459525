// shared_linear and its backward on any device, built from codebook_decode / codebook_grad (device
// twins) and ATen's GEMMs: the dense weight is decoded into a temporary for each GEMM and never
// stored. The CPU has its own kernels (cpu/shared_linear.cpp), which decode a block at a time.
#include <torch/library.h>

#include <deepcomp/ops.h>

#include "ops/checks.h"
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
  return shared_linear_backward_decoded(grad_output, input, indices, mask, codebook, output_mask);
}

}  // namespace

TORCH_LIBRARY_IMPL(deepcomp, CompositeExplicitAutograd, m) {
  m.impl("shared_linear", &shared_linear_composite);
  m.impl("shared_linear_backward", &shared_linear_backward_composite);
}

}  // namespace deepcomp::ops
