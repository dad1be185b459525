// deepcomp::nn::MaskedLinear: torch::nn::Linear with a pruning mask, over deepcomp::ops::masked_linear.
//   weight: Parameter (out_features, in_features); bias: Parameter (out_features) or undefined;
//   mask: bool buffer of the weight's shape (true = kept). Pruned weights are kept at exactly 0.
#pragma once

#include <torch/nn/cloneable.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/options/linear.h>

namespace deepcomp::nn {

class MaskedLinearImpl : public torch::nn::Cloneable<MaskedLinearImpl> {
 public:
  MaskedLinearImpl(int64_t in_features, int64_t out_features)
      : MaskedLinearImpl(torch::nn::LinearOptions(in_features, out_features)) {}
  explicit MaskedLinearImpl(const torch::nn::LinearOptions& options);
  // Shares the dense layer's weight and bias tensors; the mask starts all true.
  explicit MaskedLinearImpl(const torch::nn::Linear& dense);

  void reset() override;
  void pretty_print(std::ostream& stream) const override;

  // input: (*, in_features) -> (*, out_features).
  torch::Tensor forward(const torch::Tensor& input);

  torch::nn::LinearOptions options;
  torch::Tensor weight;
  torch::Tensor bias;
  torch::Tensor mask;
};

TORCH_MODULE(MaskedLinear);

}  // namespace deepcomp::nn
