// deepcomp::nn::CompressedLinear: a pruned, quantized linear layer kept compressed for inference,
// over deepcomp::ops::compressed_linear (never decoded; no autograd).
//   row_ptr: int64 buffer (out_features + 1); entries: int32 buffer, one per kept weight (column << 8 |
//   codebook index); codebook: buffer (2^bits centroids); bias: buffer (out_features) or undefined.
#pragma once

#include <deepcomp/nn/shared_linear.h>

#include <torch/nn/cloneable.h>

namespace deepcomp::nn {

class CompressedLinearImpl : public torch::nn::Cloneable<CompressedLinearImpl> {
 public:
  // From a shared weight: indices (uint8) and mask (bool), (out_features, in_features), its codebook
  // and bias (undefined: none); the tensors are copied.
  CompressedLinearImpl(const torch::Tensor& indices, const torch::Tensor& mask, const torch::Tensor& codebook,
                       const torch::Tensor& bias);
  // The same layer as a fine-tuned SharedLinear (same outputs up to the order of the additions).
  explicit CompressedLinearImpl(const SharedLinear& shared);

  void reset() override;
  void pretty_print(std::ostream& stream) const override;

  // input: (*, in_features) -> (*, out_features), in the codebook's dtype.
  torch::Tensor forward(const torch::Tensor& input);
  int64_t kept() const { return entries.numel(); }

  int64_t in_features, out_features;
  torch::Tensor row_ptr;
  torch::Tensor entries;
  torch::Tensor codebook;
  torch::Tensor bias;
};

TORCH_MODULE(CompressedLinear);

}  // namespace deepcomp::nn
