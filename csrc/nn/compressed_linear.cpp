#include <deepcomp/nn/compressed_linear.h>
#include <deepcomp/ops.h>

namespace deepcomp::nn {

CompressedLinearImpl::CompressedLinearImpl(const torch::Tensor& indices, const torch::Tensor& mask,
                                           const torch::Tensor& codebook_, const torch::Tensor& bias_)
    : in_features(indices.dim() == 2 ? indices.size(1) : 0), out_features(indices.dim() == 2 ? indices.size(0) : 0) {
  torch::NoGradGuard no_grad;
  std::tie(row_ptr, entries) = ops::compressed_linear_pack(indices, mask);
  codebook = codebook_.detach();
  bias = bias_.defined() ? bias_.detach() : torch::Tensor();
  reset();
}

CompressedLinearImpl::CompressedLinearImpl(const SharedLinear& shared)
    : CompressedLinearImpl(shared->indices, shared->mask, shared->codebook, shared->bias) {
  train(shared->is_training());
}

void CompressedLinearImpl::reset() {
  // The module's own copies: Cloneable::clone() calls reset() on a copy sharing the original's tensors.
  row_ptr = register_buffer("row_ptr", row_ptr.clone());
  entries = register_buffer("entries", entries.clone());
  codebook = register_buffer("codebook", codebook.clone());
  bias = register_buffer("bias", bias.defined() ? bias.clone() : torch::Tensor());
}

void CompressedLinearImpl::pretty_print(std::ostream& stream) const {
  stream << "deepcomp::nn::CompressedLinear(in_features=" << in_features << ", out_features=" << out_features
         << ", bias=" << std::boolalpha << bias.defined() << ", centroids=" << codebook.numel()
         << ", kept=" << kept() << "/" << in_features * out_features << ")";
}

torch::Tensor CompressedLinearImpl::forward(const torch::Tensor& input) {
  return ops::compressed_linear(input, row_ptr, entries, codebook, bias.defined() ? std::optional(bias) : std::nullopt);
}

}  // namespace deepcomp::nn
