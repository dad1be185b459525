// How the pipeline reports an op's error on one layer: as a c10::ValueError that starts with the
// caller and the layer's name, so the user knows which layer to look at.
#pragma once

#include <c10/util/Exception.h>

#include <string>

namespace deepcomp {

// step(), with any c10::Error it throws rethrown as "caller: layer 'name': <what it said>".
template <typename Step>
auto on_layer(const std::string& caller, const std::string& name, Step&& step) -> decltype(step()) {
  try {
    return step();
  } catch (const c10::Error& error) {
    C10_THROW_ERROR(ValueError, c10::str(caller, ": layer '", name, "': ", error.what_without_backtrace()));
  }
}

}  // namespace deepcomp
