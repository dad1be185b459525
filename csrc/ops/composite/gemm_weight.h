// The weight a masked op hands to its GEMM or convolution: weight ⊙ mask.
#pragma once

#include <deepcomp/ops.h>

#include "ops/weight_is_masked.h"

namespace deepcomp::ops {

// The masked layers keep pruned weights at exactly 0, so on CPU a read-only check usually lets the
// GEMM use the weight itself, sparing a weight-sized temporary. Elsewhere, and whenever a pruned
// entry is not 0, a masked temporary is made (and dropped after the call). On CUDA the check would
// stall the stream on its result; the CUDA kernels fuse the mask instead.
inline at::Tensor gemm_weight(const at::Tensor& weight, const at::Tensor& mask) {
  if (weight.is_cpu() && weight_is_masked_cpu(weight, mask)) return weight;
  return apply_mask(weight, mask);
}

}  // namespace deepcomp::ops
