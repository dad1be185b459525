// What the shared modules register: a clustered weight's codebook (1-D or grouped), indices and mask
// (copies of the latter two), and the bias (undefined "bias" when there is none, as torch does).
#pragma once

#include <deepcomp/nn/shared_layer.h>
#include <deepcomp/ops.h>
#include <torch/nn/module.h>

#include <string>

#include "check.h"

namespace deepcomp::nn {

// How many codebooks a shared module has now (1 before its first), for reset() to keep.
inline int64_t groups_now(const torch::Tensor& codebook) {
  return codebook.defined() && codebook.dim() == 2 ? codebook.size(0) : 1;
}

// A clustered weight's tensors as registered: `<stem>codebook` (a 1-D one when there is one group),
// `<stem>indices` and `<stem>mask` (copies), after the checks; and the bits.
struct RegisteredShared {
  torch::Tensor codebook;
  torch::Tensor indices;
  torch::Tensor mask;
  int64_t bits = 0;
};

inline RegisteredShared register_codebook(torch::nn::Module& self, const SharedWeight& shared,
                                          const std::string& stem = "") {
  const auto& codebook = shared.codebook;
  const int64_t k = codebook.dim() >= 1 ? codebook.size(-1) : 0;
  DEEPCOMP_CHECK_VALUE((codebook.dim() == 1 || codebook.dim() == 2) && k >= 2 && (k & (k - 1)) == 0 && k <= 256,
                       self.name(), ": a codebook holds 2^bits centroids (or (groups, 2^bits)) for bits in 1..8, ",
                       "got shape ", codebook.sizes());
  DEEPCOMP_CHECK_VALUE(shared.mask.sizes() == shared.indices.sizes(), self.name(), ": mask shape ", shared.mask.sizes(),
                       " differs from indices shape ", shared.indices.sizes());
  DEEPCOMP_CHECK_VALUE(codebook.dim() == 1 || (shared.indices.dim() >= 1 && codebook.size(0) >= 1 &&
                                               codebook.size(0) <= shared.indices.size(0)),
                       self.name(), ": ", codebook.size(0), " codebook groups for a weight of shape ",
                       shared.indices.sizes(), " (at most one per slice of the first dimension)");
  torch::NoGradGuard no_grad;
  // One codebook is always stored 1-D, so a (1, k) one saves and loads back as the same shape.
  const auto canonical = codebook.dim() == 2 && codebook.size(0) == 1 ? codebook.reshape({k}) : codebook;
  RegisteredShared registered;
  registered.codebook = self.register_parameter(stem + "codebook", canonical.detach().clone());
  registered.indices = self.register_buffer(stem + "indices", shared.indices.clone());
  registered.mask = self.register_buffer(stem + "mask", shared.mask.clone());
  while ((int64_t{1} << registered.bits) < k) ++registered.bits;
  return registered;
}

template <typename Layer>
int64_t register_shared(Layer& self, const SharedWeight& shared, const torch::Tensor& bias) {
  const auto registered = register_codebook(self, shared);
  self.codebook = registered.codebook;
  self.indices = registered.indices;
  self.mask = registered.mask;
  self.bias = self.register_parameter("bias", bias, /*requires_grad=*/bias.defined());
  return registered.bits;
}

}  // namespace deepcomp::nn
