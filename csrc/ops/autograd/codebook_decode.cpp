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
    // Symbolic while torch.compile traces.
    ctx->saved_data["num_codes"] = codebook.sym_size(-1);
    ctx->saved_data["num_groups"] = codebook.dim() == 2 ? codebook.sym_size(0) : c10::SymInt(1);
    ctx->saved_data["codebook_dim"] = codebook.dim();
    at::AutoDispatchBelowADInplaceOrView guard;
    return codebook_decode(indices, mask, codebook);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    if (!ctx->needs_input_grad(2)) return {at::Tensor(), at::Tensor(), at::Tensor()};
    const auto count = [&](const char* key) { return ctx->saved_data[key].toSymInt().guard_int(__FILE__, __LINE__); };
    auto grad_codebook = codebook_grad(grad_outputs[0], saved[0], saved[1], count("num_codes"), count("num_groups"));
    if (ctx->saved_data["codebook_dim"].toInt() == 2) grad_codebook = grad_codebook.view({count("num_groups"), -1});
    return {at::Tensor(), at::Tensor(), grad_codebook};
  }
};

at::Tensor codebook_decode_autograd(const at::Tensor& indices, const at::Tensor& mask, const at::Tensor& codebook) {
  return CodebookDecodeFunction::apply(indices, mask, codebook);
}

}  // namespace

TORCH_LIBRARY_IMPL(deepcomp, Autograd, m) { m.impl("codebook_decode", &codebook_decode_autograd); }

}  // namespace deepcomp::ops
