// Argument checks shared by the ops: each error names the op, the argument and what was expected.
#pragma once

#include <ATen/ATen.h>

#include "check.h"
#include "ops/codebook_layout.h"

namespace deepcomp::ops {

inline void check_weight_and_mask(const char* op, const at::Tensor& weight, const at::Tensor& mask) {
  DEEPCOMP_CHECK(weight.is_floating_point(), op, ": weight must be a floating-point tensor, got ",
                 weight.scalar_type());
  DEEPCOMP_CHECK(mask.scalar_type() == at::kBool, op, ": mask must be a bool tensor, got ", mask.scalar_type());
  DEEPCOMP_CHECK(mask.sizes() == weight.sizes(), op, ": mask shape ", mask.sizes(), " differs from weight shape ",
                 weight.sizes());
  DEEPCOMP_CHECK(mask.device() == weight.device(), op, ": mask is on ", mask.device(), " but weight is on ",
                 weight.device());
}

// A codebook for a weight of first dimension d0: 1-D (k) or 2-D (groups, k), 1 <= groups <= d0
// (ops/codebook_layout.h).
inline void check_codebook(const char* op, const at::Tensor& codebook, int64_t first_dim) {
  DEEPCOMP_CHECK((codebook.dim() == 1 || codebook.dim() == 2) && codebook.numel() >= 1, op,
                 ": codebook must be a non-empty 1-D (k) or 2-D (groups, k) tensor, got shape ", codebook.sizes());
  DEEPCOMP_CHECK(codebook.is_floating_point(), op, ": codebook must be floating-point, got ", codebook.scalar_type());
  DEEPCOMP_CHECK(codebook.dim() == 1 || codebook.size(0) <= std::max<int64_t>(first_dim, 1), op, ": a codebook of ",
                 codebook.size(0), " groups has more groups than the weight's first dimension ", first_dim, " has slices");
}

// A shared layer's weight: indices (uint8, the weight's shape), mask (bool, same shape) and a
// codebook as above, all on one device.
inline void check_shared_weight(const char* op, const at::Tensor& indices, const at::Tensor& mask,
                                const at::Tensor& codebook) {
  DEEPCOMP_CHECK(indices.scalar_type() == at::kByte, op, ": indices must be a uint8 tensor, got ",
                 indices.scalar_type());
  DEEPCOMP_CHECK(mask.scalar_type() == at::kBool, op, ": mask must be a bool tensor, got ", mask.scalar_type());
  DEEPCOMP_CHECK(mask.sizes() == indices.sizes(), op, ": mask shape ", mask.sizes(), " differs from indices shape ",
                 indices.sizes());
  DEEPCOMP_CHECK(codebook.dim() == 1 || indices.dim() >= 1, op,
                 ": a 2-D (grouped) codebook needs indices of at least one dimension");
  check_codebook(op, codebook, indices.dim() >= 1 ? indices.size(0) : 1);
  DEEPCOMP_CHECK(indices.device() == codebook.device() && mask.device() == codebook.device(), op, ": indices (",
                 indices.device(), "), mask (", mask.device(), ") and codebook (", codebook.device(),
                 ") must be on one device");
}

// shared_linear's arguments: a (out_features, in_features) shared weight and an input (*, in_features).
inline void check_shared_linear(const at::Tensor& input, const at::Tensor& indices, const at::Tensor& mask,
                                const at::Tensor& codebook) {
  check_shared_weight("shared_linear", indices, mask, codebook);
  DEEPCOMP_CHECK(indices.dim() == 2, "shared_linear: indices must be (out_features, in_features), got shape ",
                 indices.sizes());
  DEEPCOMP_CHECK(input.dim() >= 1 && input.size(-1) == indices.size(1), "shared_linear: input shape ", input.sizes(),
                 " does not end in in_features = ", indices.size(1));
}

}  // namespace deepcomp::ops
