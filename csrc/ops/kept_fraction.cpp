#include "ops/kept_fraction.h"

#include "ops/tensor_memo.h"

namespace deepcomp::ops {

double kept_fraction(const at::Tensor& mask) {
  static auto* memo = new TensorMemo<double>();  // never destroyed: ops may run during exit
  if (const auto known = memo->find(mask)) return *known;
  const double fraction =
      mask.numel() == 0 ? 1.0 : static_cast<double>(mask.count_nonzero().item<int64_t>()) / mask.numel();
  memo->remember(mask, {}, fraction);
  return fraction;
}

}  // namespace deepcomp::ops
