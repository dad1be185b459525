// deepcomp::nn::MaskedConv2d: torch::nn::Conv2d with a pruning mask, over deepcomp::ops::masked_conv2d.
//   weight: Parameter (out_channels, in_channels / groups, kH, kW); bias: Parameter (out_channels) or
//   undefined; mask: bool buffer of the weight's shape (true = kept). All of Conv2dOptions' padding
//   forms and padding modes are supported. Pruned weights are kept at exactly 0.
#pragma once

#include <torch/nn/cloneable.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/options/conv.h>

namespace deepcomp::nn {

class MaskedConv2dImpl : public torch::nn::Cloneable<MaskedConv2dImpl> {
 public:
  MaskedConv2dImpl(int64_t in_channels, int64_t out_channels, torch::ExpandingArray<2> kernel_size)
      : MaskedConv2dImpl(torch::nn::Conv2dOptions(in_channels, out_channels, kernel_size)) {}
  explicit MaskedConv2dImpl(const torch::nn::Conv2dOptions& options);
  // Shares the dense layer's weight and bias tensors; the mask starts all true.
  explicit MaskedConv2dImpl(const torch::nn::Conv2d& dense);

  void reset() override;
  void pretty_print(std::ostream& stream) const override;

  // input: (N, C_in, H, W) or (C_in, H, W) -> (N, C_out, H_out, W_out) or (C_out, H_out, W_out).
  torch::Tensor forward(const torch::Tensor& input);

  torch::nn::Conv2dOptions options;
  torch::Tensor weight;
  torch::Tensor bias;
  torch::Tensor mask;
};

TORCH_MODULE(MaskedConv2d);

}  // namespace deepcomp::nn
