#include "ops/masked_weights.h"

#include "ops/tensor_memo.h"

namespace deepcomp::ops {
namespace {

TensorMemo<bool>& masked_weights() {
  static auto* memo = new TensorMemo<bool>();  // never destroyed: ops may run during exit
  return *memo;
}

}  // namespace

bool known_masked(const at::Tensor& weight, const at::Tensor& mask) {
  return masked_weights().find(weight, mask).value_or(false);
}

void record_masked(const at::Tensor& weight, const at::Tensor& mask) { masked_weights().remember(weight, mask, true); }

}  // namespace deepcomp::ops
