#include <deepcomp/nn/shared_conv2d.h>
#include <deepcomp/ops.h>

#include "check.h"
#include "nn/conv_options.h"
#include "nn/register_shared.h"

namespace deepcomp::nn {

SharedConv2dImpl::SharedConv2dImpl(const torch::nn::Conv2dOptions& options_, int64_t bits)
    : options(options_), bits_(bits) {
  reset();
}

SharedConv2dImpl::SharedConv2dImpl(const torch::nn::Conv2dOptions& options_, const torch::Tensor& weight,
                                   const torch::Tensor& mask, const torch::Tensor& bias, int64_t bits,
                                   const ClusterOptions& cluster)
    : SharedConv2dImpl(options_, cluster_weight(weight, mask, bits, cluster), bias) {}

SharedConv2dImpl::SharedConv2dImpl(const torch::nn::Conv2dOptions& options_, const SharedWeight& shared,
                                   const torch::Tensor& bias)
    : options(options_) {
  const auto& kernel = *options.kernel_size();
  DEEPCOMP_CHECK_VALUE(options.groups() > 0 && options.in_channels() % options.groups() == 0,
                       "SharedConv2d: in_channels must be divisible by groups");
  DEEPCOMP_CHECK_VALUE(
      shared.indices.sizes() ==
          torch::IntArrayRef({options.out_channels(), options.in_channels() / options.groups(), kernel[0], kernel[1]}),
      "SharedConv2d: weight shape ", shared.indices.sizes(), " does not match the options");
  bits_ = register_shared(*this, shared, bias);
}

SharedConv2dImpl::SharedConv2dImpl(const torch::nn::Conv2d& dense, int64_t bits, const ClusterOptions& cluster)
    : SharedConv2dImpl(conv2d_options(*dense), dense->weight, torch::ones_like(dense->weight, torch::kBool),
                       dense->bias, bits, cluster) {}

SharedConv2dImpl::SharedConv2dImpl(const MaskedConv2d& masked, int64_t bits, const ClusterOptions& cluster)
    : SharedConv2dImpl(masked->options, masked->weight, masked->mask, masked->bias, bits, cluster) {}

void SharedConv2dImpl::reset() {
  const torch::nn::Conv2d dense(options);  // torch's own initialisation of a fresh layer
  register_shared(*this,
                  cluster_weight(dense->weight, torch::ones_like(dense->weight, torch::kBool), bits_, {}, {},
                                 groups_now(codebook)),
                  dense->bias);
}

void SharedConv2dImpl::pretty_print(std::ostream& stream) const {
  stream << "deepcomp::nn::SharedConv2d(" << options.in_channels() << ", " << options.out_channels()
         << ", kernel_size=" << options.kernel_size() << ", stride=" << options.stride() << ", bits=" << bits_
         << ", kept=" << mask.sum().item<int64_t>() << "/" << mask.numel() << ")";
}

torch::Tensor SharedConv2dImpl::forward(const torch::Tensor& input) {
  const auto [x, padding] = pad_input(options, input);
  return ops::shared_conv2d(x, indices, mask, codebook, bias.defined() ? std::optional(bias) : std::nullopt,
                            *options.stride(), padding, *options.dilation(), options.groups());
}

torch::Tensor SharedConv2dImpl::weight() const { return ops::codebook_decode(indices, mask, codebook); }

}  // namespace deepcomp::nn
