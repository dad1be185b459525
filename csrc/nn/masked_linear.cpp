#include <deepcomp/nn/masked_linear.h>
#include <deepcomp/ops.h>

namespace deepcomp::nn {
namespace {

// Registers weight, bias (or an undefined "bias", as torch::nn::Linear does) and an all-true mask.
void adopt(MaskedLinearImpl& self, const torch::Tensor& weight, const torch::Tensor& bias) {
  self.weight = self.register_parameter("weight", weight);
  self.bias = self.register_parameter("bias", bias, /*requires_grad=*/bias.defined());
  self.mask = self.register_buffer("mask", torch::ones_like(weight, torch::kBool));
}

}  // namespace

MaskedLinearImpl::MaskedLinearImpl(const torch::nn::LinearOptions& options_) : options(options_) { reset(); }

MaskedLinearImpl::MaskedLinearImpl(const torch::nn::Linear& dense) : options(dense->options) {
  adopt(*this, dense->weight, dense->bias);
}

void MaskedLinearImpl::reset() {
  const torch::nn::Linear dense(options);  // torch's own initialisation of a fresh layer
  adopt(*this, dense->weight, dense->bias);
}

void MaskedLinearImpl::pretty_print(std::ostream& stream) const {
  stream << "deepcomp::nn::MaskedLinear(in_features=" << options.in_features()
         << ", out_features=" << options.out_features() << ", bias=" << std::boolalpha << options.bias()
         << ", kept=" << mask.sum().item<int64_t>() << "/" << mask.numel() << ")";
}

torch::Tensor MaskedLinearImpl::forward(const torch::Tensor& input) {
  return ops::masked_linear(input, weight, mask, bias.defined() ? std::optional(bias) : std::nullopt);
}

}  // namespace deepcomp::nn
