// deepcomp::nn::SharedLinear: a linear layer whose weights share a codebook of 2^bits centroids,
// over deepcomp::ops::shared_linear (trained quantization, Deep Compression stage 2).
//   codebook: Parameter (2^bits); indices: uint8 buffer (out_features, in_features); mask: bool
//   buffer of that shape (false = pruned, exactly 0); bias: Parameter (out_features) or undefined.
#pragma once

#include <deepcomp/nn/masked_linear.h>
#include <deepcomp/nn/shared_layer.h>

#include <torch/nn/cloneable.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/options/linear.h>

namespace deepcomp::nn {

class SharedLinearImpl : public torch::nn::Cloneable<SharedLinearImpl> {
 public:
  SharedLinearImpl(int64_t in_features, int64_t out_features, int64_t bits = 5)
      : SharedLinearImpl(torch::nn::LinearOptions(in_features, out_features), bits) {}
  // torch's initialisation of a fresh Linear layer, clustered.
  explicit SharedLinearImpl(const torch::nn::LinearOptions& options, int64_t bits = 5);
  // Clusters `weight` (out_features, in_features), keeping only where `mask`; shares `bias`.
  SharedLinearImpl(const torch::nn::LinearOptions& options, const torch::Tensor& weight, const torch::Tensor& mask,
                   const torch::Tensor& bias, int64_t bits, const ClusterOptions& cluster = {});
  // A clustered weight as it is (no k-means); shares `bias`.
  SharedLinearImpl(const torch::nn::LinearOptions& options, const SharedWeight& shared, const torch::Tensor& bias);
  // Clusters a trained layer's weights (a masked layer's pruned weights stay pruned); shares its bias.
  SharedLinearImpl(const torch::nn::Linear& dense, int64_t bits, const ClusterOptions& cluster = {});
  SharedLinearImpl(const MaskedLinear& masked, int64_t bits, const ClusterOptions& cluster = {});

  void reset() override;
  void pretty_print(std::ostream& stream) const override;

  // input: (*, in_features) -> (*, out_features).
  torch::Tensor forward(const torch::Tensor& input);
  // The decoded dense weight (a new tensor, differentiable w.r.t. the codebook).
  torch::Tensor weight() const;
  int64_t bits() const { return bits_; }

  torch::nn::LinearOptions options;
  torch::Tensor codebook;
  torch::Tensor indices;
  torch::Tensor mask;
  torch::Tensor bias;

 private:
  int64_t bits_;
};

TORCH_MODULE(SharedLinear);

}  // namespace deepcomp::nn
