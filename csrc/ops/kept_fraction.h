// The fraction of a mask's entries that are kept, counted once per change of the mask
// (tensor_memo.h): the ops ask it every step to choose between their dense and sparse paths.
#pragma once

#include <ATen/ATen.h>

namespace deepcomp::ops {

double kept_fraction(const at::Tensor& mask);

}  // namespace deepcomp::ops
