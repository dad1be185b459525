// Argument checks shared by the ops: each error names the op, the argument and what was expected.
#pragma once

#include <ATen/ATen.h>

namespace deepcomp::ops {

inline void check_weight_and_mask(const char* op, const at::Tensor& weight, const at::Tensor& mask) {
  TORCH_CHECK(weight.is_floating_point(), op, ": weight must be a floating-point tensor, got ",
              weight.scalar_type());
  TORCH_CHECK(mask.scalar_type() == at::kBool, op, ": mask must be a bool tensor, got ", mask.scalar_type());
  TORCH_CHECK(mask.sizes() == weight.sizes(), op, ": mask shape ", mask.sizes(), " differs from weight shape ",
              weight.sizes());
  TORCH_CHECK(mask.device() == weight.device(), op, ": mask is on ", mask.device(), " but weight is on ",
              weight.device());
}

}  // namespace deepcomp::ops
