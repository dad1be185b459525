// The error of a malformed or corrupted .dcz file. Torch-free, so the codec can throw it alone.
#pragma once

#include <stdexcept>

namespace deepcomp {

// Thrown by every decoder of deepcomp's file format; the message names the section (file header,
// record and its name, stream) and what is wrong with it. Python sees it as deepcomp.FormatError,
// a ValueError.
class FormatError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace deepcomp
