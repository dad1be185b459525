#include <deepcomp/nn/masked_conv2d.h>
#include <deepcomp/ops.h>

#include "nn/register_masked.h"

#include <torch/nn/functional/padding.h>

namespace deepcomp::nn {
namespace {

namespace F = torch::nn::functional;

F::PadFuncOptions::mode_t pad_mode(const torch::nn::Conv2dOptions::padding_mode_t& mode) {
  if (std::holds_alternative<torch::enumtype::kReflect>(mode)) return torch::kReflect;
  if (std::holds_alternative<torch::enumtype::kReplicate>(mode)) return torch::kReplicate;
  if (std::holds_alternative<torch::enumtype::kCircular>(mode)) return torch::kCircular;
  return torch::kConstant;
}

// What the op gets: the input, padded here when the op's symmetric zero padding cannot express the
// module's padding (other padding modes, or 'same' with an even kernel), and the op's padding.
std::pair<torch::Tensor, std::array<int64_t, 2>> pad_input(const torch::nn::Conv2dOptions& o,
                                                           const torch::Tensor& input) {
  std::array<int64_t, 2> before{0, 0}, after{0, 0};
  if (const auto* p = std::get_if<torch::ExpandingArray<2>>(&o.padding())) {
    before = after = **p;
  } else if (std::holds_alternative<torch::enumtype::kSame>(o.padding())) {
    for (int i = 0; i < 2; ++i) {
      const int64_t total = o.dilation()->at(i) * (o.kernel_size()->at(i) - 1);
      before[i] = total / 2;
      after[i] = total - before[i];
    }
  }
  const bool zeros = std::holds_alternative<torch::enumtype::kZeros>(o.padding_mode());
  if (zeros && before == after) return {input, before};
  const auto padded = F::pad(
      input, F::PadFuncOptions({before[1], after[1], before[0], after[0]}).mode(pad_mode(o.padding_mode())));
  return {padded, {0, 0}};
}

}  // namespace

MaskedConv2dImpl::MaskedConv2dImpl(const torch::nn::Conv2dOptions& options_) : options(options_) { reset(); }

MaskedConv2dImpl::MaskedConv2dImpl(const torch::nn::Conv2d& dense)
    : options(dense->options.in_channels(), dense->options.out_channels(), dense->options.kernel_size()) {
  options.stride(dense->options.stride())
      .padding(dense->options.padding())
      .dilation(dense->options.dilation())
      .groups(dense->options.groups())
      .bias(dense->options.bias())
      .padding_mode(dense->options.padding_mode());
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
