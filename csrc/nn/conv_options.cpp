#include "nn/conv_options.h"

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

}  // namespace

torch::nn::Conv2dOptions conv2d_options(const torch::nn::Conv2dImpl& dense) {
  const auto& o = dense.options;
  return torch::nn::Conv2dOptions(o.in_channels(), o.out_channels(), o.kernel_size())
      .stride(o.stride())
      .padding(o.padding())
      .dilation(o.dilation())
      .groups(o.groups())
      .bias(o.bias())
      .padding_mode(o.padding_mode());
}

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

}  // namespace deepcomp::nn
