// Whether a CPU weight already holds ±0 wherever its mask prunes it.
#pragma once

#include <ATen/ATen.h>

namespace deepcomp::ops {

// weight and mask contiguous CPU tensors of one shape (false otherwise: the caller then masks).
// One read-only pass, no allocation: on CPU a fresh weight-sized temporary costs more than the pass.
bool weight_is_masked_cpu(const at::Tensor& weight, const at::Tensor& mask);

}  // namespace deepcomp::ops
