// CPU kernel of apply_mask / apply_mask_ (twin: cuda/apply_mask.cu).
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include "ops/apply_mask_entry.h"
#include "ops/mask_value.h"

namespace deepcomp::ops {
namespace {

void apply_mask_into_cpu(at::Tensor& out, const at::Tensor& weight, const at::Tensor& mask) {
  const int64_t n = weight.numel();
  const bool* keep = mask.const_data_ptr<bool>();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, weight.scalar_type(), "apply_mask_cpu", [&] {
    const scalar_t* w = weight.const_data_ptr<scalar_t>();
    scalar_t* o = out.mutable_data_ptr<scalar_t>();
    at::parallel_for(0, n, at::internal::GRAIN_SIZE, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) o[i] = masked_value(w[i], keep[i]);
    });
  });
}

}  // namespace

TORCH_LIBRARY_IMPL(deepcomp, CPU, m) {
  m.impl("apply_mask", &apply_mask_entry<apply_mask_into_cpu>);
  m.impl("apply_mask_", &apply_mask_inplace_entry<apply_mask_into_cpu>);
}

}  // namespace deepcomp::ops
