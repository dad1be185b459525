// Autograd of masked_linear: saves (input, weight, mask), never a masked weight; the backward is
// its own op (masked_linear_backward), so it has device twins and a fake kernel.
#include <torch/autograd.h>
#include <torch/library.h>

#include <deepcomp/ops.h>

namespace deepcomp::ops {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

class MaskedLinearFunction : public torch::autograd::Function<MaskedLinearFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& input, const at::Tensor& weight,
                            const at::Tensor& mask, const std::optional<at::Tensor>& bias) {
    ctx->save_for_backward({input, weight, mask});
    ctx->saved_data["has_bias"] = bias.has_value() && bias->defined();
    at::AutoDispatchBelowADInplaceOrView guard;
    return masked_linear(input, weight, mask, bias);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const bool has_bias = ctx->saved_data["has_bias"].toBool();
    auto [grad_input, grad_weight, grad_bias] =
        masked_linear_backward(grad_outputs[0], saved[0], saved[1], saved[2],
                               {ctx->needs_input_grad(0), ctx->needs_input_grad(1),
                                has_bias && ctx->needs_input_grad(3)});
    return {grad_input, grad_weight, at::Tensor(), grad_bias};
  }
};

at::Tensor masked_linear_autograd(const at::Tensor& input, const at::Tensor& weight, const at::Tensor& mask,
                                  const std::optional<at::Tensor>& bias) {
  return MaskedLinearFunction::apply(input, weight, mask, bias);
}

}  // namespace

TORCH_LIBRARY_IMPL(deepcomp, Autograd, m) { m.impl("masked_linear", &masked_linear_autograd); }

}  // namespace deepcomp::ops
