#include "ops/weight_is_masked.h"

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>

#include <functional>

#include "ops/mask_value.h"

namespace deepcomp::ops {

bool weight_is_masked_cpu(const at::Tensor& weight, const at::Tensor& mask) {
  if (!weight.is_cpu() || !weight.is_contiguous() || !mask.is_contiguous()) return false;
  const bool* keep = mask.const_data_ptr<bool>();
  bool masked = true;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, weight.scalar_type(), "weight_is_masked_cpu", [&] {
    const scalar_t* w = weight.const_data_ptr<scalar_t>();
    masked = at::parallel_reduce(
        0, weight.numel(), at::internal::GRAIN_SIZE, true,
        [&](int64_t begin, int64_t end, bool) {
          BitsOf<scalar_t> stray = 0;  // no early exit, so the loop vectorises
          for (int64_t i = begin; i < end; ++i) stray |= stray_bits(w[i], keep[i]);
          return stray == 0;
        },
        std::logical_and<bool>());
  });
  return masked;
}

}  // namespace deepcomp::ops
