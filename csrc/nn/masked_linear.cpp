#include <deepcomp/nn/masked_linear.h>
#include <deepcomp/ops.h>

#include "nn/register_masked.h"

namespace deepcomp::nn {

MaskedLinearImpl::MaskedLinearImpl(const torch::nn::LinearOptions& options_) : options(options_) { reset(); }

MaskedLinearImpl::MaskedLinearImpl(const torch::nn::Linear& dense) : options(dense->options) {
  register_masked(*this, dense->weight, dense->bias);
}

void MaskedLinearImpl::reset() {
  const torch::nn::Linear dense(options);  // torch's own initialisation of a fresh layer
  register_masked(*this, dense->weight, dense->bias);
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
