#include <deepcomp/nn/masked_conv2d.h>
#include <deepcomp/ops.h>

#include "nn/conv_options.h"
#include "nn/register_masked.h"

namespace deepcomp::nn {

MaskedConv2dImpl::MaskedConv2dImpl(const torch::nn::Conv2dOptions& options_) : options(options_) { reset(); }

MaskedConv2dImpl::MaskedConv2dImpl(const torch::nn::Conv2d& dense) : options(conv2d_options(*dense)) {
  register_masked(*this, dense->weight, dense->bias);
}

void MaskedConv2dImpl::reset() {
  const torch::nn::Conv2d dense(options);  // torch's own initialisation of a fresh layer
  register_masked(*this, dense->weight, dense->bias);
}

void MaskedConv2dImpl::pretty_print(std::ostream& stream) const {
  stream << "deepcomp::nn::MaskedConv2d(" << options.in_channels() << ", " << options.out_channels()
         << ", kernel_size=" << options.kernel_size() << ", stride=" << options.stride()
         << ", kept=" << mask.sum().item<int64_t>() << "/" << mask.numel() << ")";
}

torch::Tensor MaskedConv2dImpl::forward(const torch::Tensor& input) {
  const auto [x, padding] = pad_input(options, input);
  return ops::masked_conv2d(x, weight, mask, bias.defined() ? std::optional(bias) : std::nullopt,
                            *options.stride(), padding, *options.dilation(), options.groups());
}

}  // namespace deepcomp::nn
