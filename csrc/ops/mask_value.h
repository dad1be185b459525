// Device-independent logic shared by the CPU and CUDA twins of the masking kernels.
#pragma once

#include <c10/macros/Macros.h>

#include <cstdint>
#include <cstring>
#include <type_traits>

namespace deepcomp::ops {

// The unsigned integer as wide as scalar_t: masking works on the bits, so that the CPU loops
// vectorise (a branch-free AND, no float compare or select) and NaN/Inf are handled like any value.
template <typename scalar_t>
using BitsOf = std::conditional_t<sizeof(scalar_t) == 2, uint16_t,
                                  std::conditional_t<sizeof(scalar_t) == 4, uint32_t, uint64_t>>;

template <typename scalar_t>
C10_HOST_DEVICE inline BitsOf<scalar_t> bits_of(scalar_t value) {
  BitsOf<scalar_t> bits;
  std::memcpy(&bits, &value, sizeof(bits));
  return bits;
}

// All ones when kept, all zeros when pruned.
template <typename scalar_t>
C10_HOST_DEVICE inline BitsOf<scalar_t> keep_bits(bool keep) {
  return static_cast<BitsOf<scalar_t>>(BitsOf<scalar_t>(0) - static_cast<BitsOf<scalar_t>>(keep));
}

// A pruned weight is exactly +0, whatever it held (even NaN or Inf).
template <typename scalar_t>
C10_HOST_DEVICE inline scalar_t masked_value(scalar_t weight, bool keep) {
  const BitsOf<scalar_t> bits = bits_of(weight) & keep_bits<scalar_t>(keep);
  scalar_t out;
  std::memcpy(&out, &bits, sizeof(out));
  return out;
}

// Non-zero exactly when a pruned weight is not ±0 (the shift drops the sign bit).
template <typename scalar_t>
C10_HOST_DEVICE inline BitsOf<scalar_t> stray_bits(scalar_t weight, bool keep) {
  const auto pruned_bits = bits_of(weight) & static_cast<BitsOf<scalar_t>>(~keep_bits<scalar_t>(keep));
  return static_cast<BitsOf<scalar_t>>(pruned_bits << 1);
}

}  // namespace deepcomp::ops
