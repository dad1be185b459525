// Autograd of apply_mask: the weight's gradient is the output's gradient, masked, so a pruned
// weight never gets one (the generic masked layers compute through it).
#include <torch/autograd.h>
#include <torch/library.h>

#include <deepcomp/ops.h>

namespace deepcomp::ops {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

class ApplyMaskFunction : public torch::autograd::Function<ApplyMaskFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& weight, const at::Tensor& mask) {
    ctx->save_for_backward({mask});
    at::AutoDispatchBelowADInplaceOrView guard;
    return apply_mask(weight, mask);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto grad_weight =
        ctx->needs_input_grad(0) ? apply_mask(grad_outputs[0], ctx->get_saved_variables()[0]) : at::Tensor();
    return {grad_weight, at::Tensor()};
  }
};

at::Tensor apply_mask_autograd(const at::Tensor& weight, const at::Tensor& mask) {
  return ApplyMaskFunction::apply(weight, mask);
}

}  // namespace

TORCH_LIBRARY_IMPL(deepcomp, Autograd, m) { m.impl("apply_mask", &apply_mask_autograd); }

}  // namespace deepcomp::ops
