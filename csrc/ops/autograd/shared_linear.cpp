// Autograd of shared_linear: saves (input, indices, mask, codebook), never a decoded weight; the
// backward is its own op (shared_linear_backward), so it has device twins and a fake kernel.
#include <torch/autograd.h>
#include <torch/library.h>

#include <deepcomp/ops.h>

namespace deepcomp::ops {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

class SharedLinearFunction : public torch::autograd::Function<SharedLinearFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& input, const at::Tensor& indices,
                            const at::Tensor& mask, const at::Tensor& codebook, const std::optional<at::Tensor>& bias) {
    ctx->save_for_backward({input, indices, mask, codebook});
    ctx->saved_data["has_bias"] = bias.has_value() && bias->defined();
    at::AutoDispatchBelowADInplaceOrView guard;
    return shared_linear(input, indices, mask, codebook, bias);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const bool has_bias = ctx->saved_data["has_bias"].toBool();
    auto [grad_input, grad_codebook, grad_bias] =
        shared_linear_backward(grad_outputs[0], saved[0], saved[1], saved[2], saved[3],
                               {ctx->needs_input_grad(0), ctx->needs_input_grad(3),
                                has_bias && ctx->needs_input_grad(4)});
    return {grad_input, at::Tensor(), at::Tensor(), grad_codebook, grad_bias};
  }
};

at::Tensor shared_linear_autograd(const at::Tensor& input, const at::Tensor& indices, const at::Tensor& mask,
                                  const at::Tensor& codebook, const std::optional<at::Tensor>& bias) {
  return SharedLinearFunction::apply(input, indices, mask, codebook, bias);
}

}  // namespace

TORCH_LIBRARY_IMPL(deepcomp, Autograd, m) { m.impl("shared_linear", &shared_linear_autograd); }

}  // namespace deepcomp::ops
