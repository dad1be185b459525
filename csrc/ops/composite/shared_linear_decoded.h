// shared_linear by decoding the dense weight into a temporary and calling ATen's GEMM: the
// composite forward for any device, and CUDA's for batches too large for its own kernel.
#pragma once

#include <deepcomp/ops.h>

namespace deepcomp::ops {

inline at::Tensor shared_linear_decoded(const at::Tensor& input, const at::Tensor& indices, const at::Tensor& mask,
                                        const at::Tensor& codebook, const std::optional<at::Tensor>& bias) {
  return at::linear(input, codebook_decode(indices, mask, codebook), bias);
}

}  // namespace deepcomp::ops
