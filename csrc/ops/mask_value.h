// Device-independent logic shared by the CPU and CUDA twins of apply_mask.
#pragma once

#include <c10/macros/Macros.h>

namespace deepcomp::ops {

// A pruned weight is exactly zero, whatever it held (even NaN or Inf).
template <typename scalar_t>
C10_HOST_DEVICE inline scalar_t masked_value(scalar_t weight, bool keep) {
  return keep ? weight : scalar_t(0);
}

}  // namespace deepcomp::ops
