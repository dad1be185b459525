// The two entry points of apply_mask (out of place and in place), shared by the CPU and CUDA twins:
// each twin supplies only `into`, the kernel that writes masked values over contiguous tensors.
#pragma once

#include <ATen/ATen.h>

#include "ops/checks.h"

namespace deepcomp::ops {

// out[i] = masked_value(weight[i], mask[i]); all contiguous on one device; out may alias weight.
using ApplyMaskInto = void (*)(at::Tensor& out, const at::Tensor& weight, const at::Tensor& mask);

template <ApplyMaskInto into>
at::Tensor apply_mask_entry(const at::Tensor& weight, const at::Tensor& mask) {
  check_weight_and_mask("apply_mask", weight, mask);
  const auto w = weight.contiguous();
  auto out = at::empty_like(w);
  into(out, w, mask.contiguous());
  return out;
}

template <ApplyMaskInto into>
void apply_mask_inplace_entry(at::Tensor& weight, const at::Tensor& mask) {
  check_weight_and_mask("apply_mask_", weight, mask);
  if (weight.is_contiguous()) {
    into(weight, weight, mask.contiguous());
  } else {
    weight.copy_(apply_mask_entry<into>(weight, mask));
  }
}

}  // namespace deepcomp::ops
