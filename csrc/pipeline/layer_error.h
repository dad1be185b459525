// How the pipeline reports bad values: an op's error on one layer, as a c10::ValueError that starts
// with the caller and the layer's name, so the user knows which layer to look at; and bits out of range.
#pragma once

#include <c10/util/Exception.h>
#include <deepcomp/constants.h>

#include <string>

#include "check.h"

namespace deepcomp {

// step(), with any c10::Error it throws rethrown as "caller: layer 'name': <what it said>".
template <typename Step>
auto on_layer(const std::string& caller, const std::string& name, Step&& step) -> decltype(step()) {
  try {
    return step();
  } catch (const c10::Error& error) {
    DEEPCOMP_THROW(ValueError, c10::str(caller, ": layer '", name, "': ", error.what_without_backtrace()));
  }
}

// c10::ValueError unless bits is in kMinBits..kMaxBits: "<where> must be in 1..8 (<whose> a codebook of
// 2^bits centroids), got <bits>".
inline void check_bits(const std::string& where, const std::string& whose, int64_t bits) {
  DEEPCOMP_CHECK_VALUE(bits >= kMinBits && bits <= kMaxBits, where, " must be in ", kMinBits, "..", kMaxBits, " (",
                       whose, " a codebook of 2^bits centroids), got ", bits);
}

}  // namespace deepcomp
