// Autograd of codebook_decode: the codebook's gradient is the per-cluster sum of the weight's
// gradient (codebook_grad); indices and mask get none.
#include <torch/autograd.h>
#include <torch/library.h>

#include <deepcomp/ops.h>

namespace deepcomp::ops {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

class CodebookDecodeFunction : public torch::autograd::Function<CodebookDecodeFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& indices, const at::Tensor& mask,
                            const at::Tensor& codebook) {
    ctx->save_for_backward({indices, mask});
    ctx->saved_data["num_codes"] = codebook.sym_numel();  // symbolic while torch.compile traces
    at::AutoDispatchBelowADInplaceOrView guard;
    return codebook_decode(indices, mask, codebook);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const auto grad_codebook =
        ctx->needs_input_grad(2)
            ? codebook_grad(grad_outputs[0], saved[0], saved[1],
                            ctx->saved_data["num_codes"].toSymInt().guard_int(__FILE__, __LINE__))
            : at::Tensor();
    return {at::Tensor(), at::Tensor(), grad_codebook};
  }
};

at::Tensor codebook_decode_autograd(const at::Tensor& indices, const at::Tensor& mask, const at::Tensor& codebook) {
  return CodebookDecodeFunction::apply(indices, mask, codebook);
}

}  // namespace

TORCH_LIBRARY_IMPL(deepcomp, Autograd, m) { m.impl("codebook_decode", &codebook_decode_autograd); }

}  // namespace deepcomp::ops
