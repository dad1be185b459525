// deepcomp::nn::SharedConv2d: a 2-D convolution whose weights share a codebook of 2^bits centroids,
// over deepcomp::ops::shared_conv2d (trained quantization, Deep Compression stage 2).
//   codebook: Parameter (2^bits); indices: uint8 buffer (out_channels, in_channels / groups, kH, kW);
//   mask: bool buffer of that shape (false = pruned, exactly 0); bias: Parameter (out_channels) or
//   undefined. All of Conv2dOptions' padding forms and padding modes are supported.
#pragma once

#include <deepcomp/nn/masked_conv2d.h>
#include <deepcomp/nn/shared_layer.h>

#include <torch/nn/cloneable.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/options/conv.h>

namespace deepcomp::nn {

class SharedConv2dImpl : public torch::nn::Cloneable<SharedConv2dImpl> {
 public:
  SharedConv2dImpl(int64_t in_channels, int64_t out_channels, torch::ExpandingArray<2> kernel_size, int64_t bits = 8)
      : SharedConv2dImpl(torch::nn::Conv2dOptions(in_channels, out_channels, kernel_size), bits) {}
  // torch's initialisation of a fresh Conv2d layer, clustered.
  explicit SharedConv2dImpl(const torch::nn::Conv2dOptions& options, int64_t bits = 8);
  // Clusters `weight` (out_channels, in_channels / groups, kH, kW), keeping only where `mask`; shares `bias`.
  SharedConv2dImpl(const torch::nn::Conv2dOptions& options, const torch::Tensor& weight, const torch::Tensor& mask,
                   const torch::Tensor& bias, int64_t bits, const ClusterOptions& cluster = {});
  // A clustered weight as it is (no k-means); shares `bias`.
  SharedConv2dImpl(const torch::nn::Conv2dOptions& options, const SharedWeight& shared, const torch::Tensor& bias);
  // Clusters a trained layer's weights (a masked layer's pruned weights stay pruned); shares its bias.
  SharedConv2dImpl(const torch::nn::Conv2d& dense, int64_t bits, const ClusterOptions& cluster = {});
  SharedConv2dImpl(const MaskedConv2d& masked, int64_t bits, const ClusterOptions& cluster = {});

  void reset() override;
  void pretty_print(std::ostream& stream) const override;

  // input: (N, C_in, H, W) or (C_in, H, W) -> (N, C_out, H_out, W_out) or (C_out, H_out, W_out).
  torch::Tensor forward(const torch::Tensor& input);
  // The decoded dense weight (a new tensor, differentiable w.r.t. the codebook).
  torch::Tensor weight() const;
  int64_t bits() const { return bits_; }

  torch::nn::Conv2dOptions options;
  torch::Tensor codebook;
  torch::Tensor indices;
  torch::Tensor mask;
  torch::Tensor bias;

 private:
  int64_t bits_;
};

TORCH_MODULE(SharedConv2d);

}  // namespace deepcomp::nn
