#include <deepcomp/nn/shared_linear.h>
#include <deepcomp/ops.h>

#include "check.h"
#include "nn/register_shared.h"

namespace deepcomp::nn {

SharedLinearImpl::SharedLinearImpl(const torch::nn::LinearOptions& options_, int64_t bits)
    : options(options_), bits_(bits) {
  reset();
}

SharedLinearImpl::SharedLinearImpl(const torch::nn::LinearOptions& options_, const SharedWeight& shared,
                                   const torch::Tensor& bias)
    : options(options_) {
  DEEPCOMP_CHECK_VALUE(shared.indices.sizes() == torch::IntArrayRef({options.out_features(), options.in_features()}),
                       "SharedLinear: weight shape ", shared.indices.sizes(), " is not (out_features, in_features) = (",
                       options.out_features(), ", ", options.in_features(), ")");
  bits_ = register_shared(*this, shared, bias);
}

SharedLinearImpl::SharedLinearImpl(const torch::nn::LinearOptions& options_, const torch::Tensor& weight,
                                   const torch::Tensor& mask, const torch::Tensor& bias, int64_t bits,
                                   const ClusterOptions& cluster)
    : SharedLinearImpl(options_, cluster_weight(weight, mask, bits, cluster), bias) {}

SharedLinearImpl::SharedLinearImpl(const torch::nn::Linear& dense, int64_t bits, const ClusterOptions& cluster)
    : SharedLinearImpl(dense->options, dense->weight, torch::ones_like(dense->weight, torch::kBool), dense->bias,
                       bits, cluster) {}

SharedLinearImpl::SharedLinearImpl(const MaskedLinear& masked, int64_t bits, const ClusterOptions& cluster)
    : SharedLinearImpl(masked->options, masked->weight, masked->mask, masked->bias, bits, cluster) {}

void SharedLinearImpl::reset() {
  const torch::nn::Linear dense(options);  // torch's own initialisation of a fresh layer
  register_shared(*this,
                  cluster_weight(dense->weight, torch::ones_like(dense->weight, torch::kBool), bits_, {}, {},
                                 groups_now(codebook)),
                  dense->bias);
}

void SharedLinearImpl::pretty_print(std::ostream& stream) const {
  stream << "deepcomp::nn::SharedLinear(in_features=" << options.in_features()
         << ", out_features=" << options.out_features() << ", bias=" << std::boolalpha << options.bias()
         << ", bits=" << bits_ << ", kept=" << mask.sum().item<int64_t>() << "/" << mask.numel() << ")";
}

torch::Tensor SharedLinearImpl::forward(const torch::Tensor& input) {
  return ops::shared_linear(input, indices, mask, codebook, bias.defined() ? std::optional(bias) : std::nullopt);
}

torch::Tensor SharedLinearImpl::weight() const { return ops::codebook_decode(indices, mask, codebook); }

}  // namespace deepcomp::nn
