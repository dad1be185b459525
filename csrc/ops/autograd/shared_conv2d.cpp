// Autograd of shared_conv2d: saves (input, indices, mask, codebook), never a decoded weight; the
// backward is its own op (shared_conv2d_backward), so it has device twins and a fake kernel.
#include <torch/autograd.h>
#include <torch/library.h>

#include <deepcomp/ops.h>

namespace deepcomp::ops {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

class SharedConv2dFunction : public torch::autograd::Function<SharedConv2dFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& input, const at::Tensor& indices,
                            const at::Tensor& mask, const at::Tensor& codebook, const std::optional<at::Tensor>& bias,
                            at::IntArrayRef stride, at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups) {
    ctx->save_for_backward({input, indices, mask, codebook});
    ctx->saved_data["has_bias"] = bias.has_value() && bias->defined();
    ctx->saved_data["stride"] = stride.vec();
    ctx->saved_data["padding"] = padding.vec();
    ctx->saved_data["dilation"] = dilation.vec();
    ctx->saved_data["groups"] = groups;
    at::AutoDispatchBelowADInplaceOrView guard;
    return shared_conv2d(input, indices, mask, codebook, bias, stride, padding, dilation, groups);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const bool has_bias = ctx->saved_data["has_bias"].toBool();
    auto [grad_input, grad_codebook, grad_bias] = shared_conv2d_backward(
        grad_outputs[0], saved[0], saved[1], saved[2], saved[3], ctx->saved_data["stride"].toIntVector(),
        ctx->saved_data["padding"].toIntVector(), ctx->saved_data["dilation"].toIntVector(),
        ctx->saved_data["groups"].toInt(),
        {ctx->needs_input_grad(0), ctx->needs_input_grad(3), has_bias && ctx->needs_input_grad(4)});
    // No gradient for indices, mask, stride, padding, dilation, groups.
    return {grad_input,   at::Tensor(), at::Tensor(), grad_codebook, grad_bias,
            at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

at::Tensor shared_conv2d_autograd(const at::Tensor& input, const at::Tensor& indices, const at::Tensor& mask,
                                  const at::Tensor& codebook, const std::optional<at::Tensor>& bias,
                                  at::IntArrayRef stride, at::IntArrayRef padding, at::IntArrayRef dilation,
                                  int64_t groups) {
  return SharedConv2dFunction::apply(input, indices, mask, codebook, bias, stride, padding, dilation, groups);
}

}  // namespace

TORCH_LIBRARY_IMPL(deepcomp, Autograd, m) { m.impl("shared_conv2d", &shared_conv2d_autograd); }

}  // namespace deepcomp::ops
