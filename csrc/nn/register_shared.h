// What both shared modules register: a clustered weight's codebook, indices and mask (copies of the
// latter two), and the bias (undefined "bias" when there is none, as torch does). Returns the bits.
#pragma once

#include <deepcomp/nn/shared_layer.h>
#include <deepcomp/ops.h>
#include <torch/nn/module.h>

#include "check.h"

namespace deepcomp::nn {

template <typename Layer>
int64_t register_shared(Layer& self, const SharedWeight& shared, const torch::Tensor& bias) {
  const int64_t k = shared.codebook.numel();
  DEEPCOMP_CHECK_VALUE(shared.codebook.dim() == 1 && k >= 2 && (k & (k - 1)) == 0 && k <= 256, self.name(),
                       ": a codebook holds 2^bits centroids for bits in 1..8, got shape ", shared.codebook.sizes());
  DEEPCOMP_CHECK_VALUE(shared.mask.sizes() == shared.indices.sizes(), self.name(), ": mask shape ", shared.mask.sizes(),
                       " differs from indices shape ", shared.indices.sizes());
  torch::NoGradGuard no_grad;
  self.codebook = self.register_parameter("codebook", shared.codebook.detach().clone());
  self.indices = self.register_buffer("indices", shared.indices.clone());
  self.mask = self.register_buffer("mask", shared.mask.clone());
  self.bias = self.register_parameter("bias", bias, /*requires_grad=*/bias.defined());
  int64_t bits = 0;
  while ((int64_t{1} << bits) < k) ++bits;
  return bits;
}

}  // namespace deepcomp::nn
