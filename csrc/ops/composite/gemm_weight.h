// The weight a masked op hands to its GEMM or convolution: weight ⊙ mask.
#pragma once

#include <deepcomp/ops.h>

#include "ops/masked_weights.h"
#include "ops/weight_is_masked.h"

namespace deepcomp::ops {

// The masked layers keep pruned weights at exactly 0, so the GEMM can usually take the weight
// itself, sparing a weight-sized temporary: at once when it is known masked since its last change
// (masked_weights.h), else on CPU after a read-only check. Otherwise, and whenever a pruned entry
// is not 0, a masked temporary is made (and dropped after the call); on CUDA the check would stall
// the stream on its result.
inline at::Tensor gemm_weight(const at::Tensor& weight, const at::Tensor& mask) {
  if (known_masked(weight, mask)) return weight;
  if (weight.is_cpu() && weight_is_masked_cpu(weight, mask)) {
    record_masked(weight, mask);
    return weight;
  }
  return apply_mask(weight, mask);
}

// A fresh weight gradient masked in place, below the ADInplaceOrView step: nothing holds a version
// of it, and it is no weight the masked ops should remember as masked (masked_weights.h), so the
// bump and the record that apply_mask_ makes for weights are skipped on this per-step path.
inline void mask_gradient_(at::Tensor& grad_weight, const at::Tensor& mask) {
  at::AutoDispatchBelowADInplaceOrView below;
  apply_mask_(grad_weight, mask);
}

}  // namespace deepcomp::ops
