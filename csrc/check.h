// deepcomp's own checks. Like TORCH_CHECK, they throw c10 errors (c10::Error, c10::ValueError,
// c10::TypeError; Python sees RuntimeError, ValueError, TypeError), but what() is the message alone:
// torch's macros append a C++ backtrace that a C++ user printing e.what() would have to read past.
// TORCH_SHOW_CPP_STACKTRACES=1, torch's own switch, adds the backtrace back.
#pragma once

#include <c10/util/Backtrace.h>
#include <c10/util/Exception.h>
#include <c10/util/StringUtil.h>

#include <cstdlib>
#include <cstring>
#include <string>

namespace deepcomp::detail {

inline bool cpp_backtraces_asked() {
  static const bool asked = [] {
    const char* value = std::getenv("TORCH_SHOW_CPP_STACKTRACES");
    return value != nullptr && std::strcmp(value, "1") == 0;
  }();
  return asked;
}

template <typename ErrorType>
[[noreturn]] C10_NOINLINE void fail(std::string message) {
  throw ErrorType(std::move(message), cpp_backtraces_asked() ? c10::get_lazy_backtrace(1) : nullptr);
}

}  // namespace deepcomp::detail

#define DEEPCOMP_THROW(ErrorType, ...) ::deepcomp::detail::fail<::c10::ErrorType>(::c10::str(__VA_ARGS__))
#define DEEPCOMP_CHECK_AS(ErrorType, condition, ...) \
  do {                                               \
    if (C10_UNLIKELY(!(condition))) {                \
      DEEPCOMP_THROW(ErrorType, __VA_ARGS__);        \
    }                                                \
  } while (false)
#define DEEPCOMP_CHECK(condition, ...) DEEPCOMP_CHECK_AS(Error, condition, __VA_ARGS__)
#define DEEPCOMP_CHECK_VALUE(condition, ...) DEEPCOMP_CHECK_AS(ValueError, condition, __VA_ARGS__)
#define DEEPCOMP_CHECK_TYPE(condition, ...) DEEPCOMP_CHECK_AS(TypeError, condition, __VA_ARGS__)
