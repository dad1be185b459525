// Which weights are known to hold ±0 wherever their mask prunes them: the masked ops then hand the
// weight itself to their GEMM or convolution, with no pass over it (deepcomp's masked layers keep
// pruned weights at 0 through apply_mask_, which the optimizer-step hook calls after every step).
//
// A weight is recorded, with its mask, when apply_mask_ has zeroed it or a check has found it
// masked, and forgotten when torch sees either change (tensor_memo.h): the op then checks it (CPU)
// or masks a copy. Writes that bypass the version counter (through `.data`, numpy or raw pointers)
// are not seen; deepcomp.enforce_masks after them (as after any write that ignores the mask).
#pragma once

#include <ATen/ATen.h>

namespace deepcomp::ops {

// Whether weight was recorded with mask, and neither changed since.
bool known_masked(const at::Tensor& weight, const at::Tensor& mask);

// Records that weight now holds ±0 wherever mask prunes it (no-op for inference tensors, which have
// no version counter).
void record_masked(const at::Tensor& weight, const at::Tensor& mask);

}  // namespace deepcomp::ops
