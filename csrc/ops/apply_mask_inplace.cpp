// apply_mask_ changes its weight in place, so its ADInplaceOrView kernel (the dispatch step where
// torch's in-place ops bump version counters) bumps the weight's version, as an in-place aten op
// would: autograd then refuses a backward through a value it changed. Then, at that new version, it
// records the weight as masked, so the masked ops use it as it is until it changes (masked_weights.h).
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/library.h>

#include "ops/masked_weights.h"

namespace deepcomp::ops {
namespace {

void apply_mask_inplace_or_view(c10::DispatchKeySet keys, at::Tensor& weight, const at::Tensor& mask) {
  static const auto op = c10::Dispatcher::singleton()
                             .findSchemaOrThrow("deepcomp::apply_mask_", "")
                             .typed<void(at::Tensor&, const at::Tensor&)>();
  {
    at::AutoDispatchBelowADInplaceOrView below;
    op.redispatch(keys & c10::after_ADInplaceOrView_keyset, weight, mask);
  }
  weight.unsafeGetTensorImpl()->bump_version();
  record_masked(weight, mask);
}

}  // namespace

TORCH_LIBRARY_IMPL(deepcomp, ADInplaceOrView, m) { m.impl("apply_mask_", TORCH_FN(apply_mask_inplace_or_view)); }

}  // namespace deepcomp::ops
