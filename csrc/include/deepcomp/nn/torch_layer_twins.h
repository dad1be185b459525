// deepcomp::nn's masked and shared twins of the torch layers that have no fused op of their own:
// Conv1d, Conv3d, ConvTranspose1d/2d/3d, Embedding and EmbeddingBag (MaskedConv1d, SharedConv1d, ...). Each keeps its
// torch layer's options as a copy of that layer without its tensors, and computes through the torch
// layer's own forward, handed the weight masked (ops::apply_mask: its gradient is masked too) or
// decoded (ops::codebook_decode: the codebook's gradient is the per-cluster sum). forward takes what
// the torch layer's forward takes (transposed convolutions: input and output_size, std::nullopt for none).
// MaskedEmbedding masks only the rows it looks up, not the whole table. EmbeddingBag's twins take all three
// of its forward's inputs (torch::Tensor() for no offsets or per-sample weights).
//   MaskedX: weight: Parameter of the torch layer's shape; bias: Parameter or undefined (embeddings:
//     none); mask: bool buffer of the weight's shape (true = kept). Pruned weights are kept at exactly 0.
//   SharedX: codebook: Parameter (2^bits); indices: uint8 buffer and mask: bool buffer of the weight's
//     shape (false = pruned, exactly 0); bias: Parameter or undefined.
// The state-dict names are those of Python's deepcomp.nn twins, so files and checkpoints move between
// the languages. Embeddings' sparse gradients are refused.
#pragma once

#include <deepcomp/nn/shared_layer.h>

#include <torch/nn/cloneable.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/pimpl.h>

#include <concepts>
#include <memory>
#include <ostream>

namespace deepcomp::nn {

namespace detail {
// A torch layer's options without its memory (nn/torch_layer_twins.cpp).
template <typename Plain>
class LayerOptions;
}  // namespace detail

template <typename Plain, typename Forward = decltype(&Plain::forward)>
class MaskedImpl;
template <typename Plain, typename Forward = decltype(&Plain::forward)>
class SharedImpl;

template <typename Plain, typename... Inputs>
class MaskedImpl<Plain, torch::Tensor (Plain::*)(Inputs...)> : public torch::nn::Cloneable<MaskedImpl<Plain>> {
 public:
  // A fresh torch layer of these options (torch's initialisation), all kept.
  template <typename Options>
    requires std::constructible_from<Plain, const Options&>
  explicit MaskedImpl(const Options& options)
      : MaskedImpl(torch::nn::ModuleHolder<Plain>(std::make_shared<Plain>(options))) {}
  // Shares the dense layer's weight and bias tensors; the mask starts all true.
  explicit MaskedImpl(const torch::nn::ModuleHolder<Plain>& dense);

  void reset() override;
  void pretty_print(std::ostream& stream) const override;

  torch::Tensor forward(Inputs... inputs);
  // The torch layer it computes through, without its tensors (undefined): its options.
  const Plain& plain() const;
  // A new torch layer of these options, initialised as torch initialises it.
  std::shared_ptr<Plain> make_plain() const;

  torch::Tensor weight;
  torch::Tensor bias;
  torch::Tensor mask;

 private:
  std::shared_ptr<detail::LayerOptions<Plain>> plain_;
};

template <typename Plain, typename... Inputs>
class SharedImpl<Plain, torch::Tensor (Plain::*)(Inputs...)> : public torch::nn::Cloneable<SharedImpl<Plain>> {
 public:
  // torch's initialisation of a fresh layer of these options, clustered.
  template <typename Options>
    requires std::constructible_from<Plain, const Options&>
  explicit SharedImpl(const Options& options, int64_t bits = 8)
      : SharedImpl(Plain(options), bits) {}
  // A clustered weight of `like`'s shape as it is (no k-means); `like` gives the options, and
  // none of its tensors is kept. Shares `bias`.
  SharedImpl(const Plain& like, const SharedWeight& shared, const torch::Tensor& bias);
  // Clusters a trained layer's weights; shares its bias.
  SharedImpl(const Plain& dense, int64_t bits, const ClusterOptions& cluster = {});
  // Clusters a masked layer's kept weights (the pruned ones stay pruned); shares its bias.
  SharedImpl(const MaskedImpl<Plain>& masked, int64_t bits, const ClusterOptions& cluster = {});

  void reset() override;
  void pretty_print(std::ostream& stream) const override;

  torch::Tensor forward(Inputs... inputs);
  // The decoded dense weight (a new tensor, differentiable w.r.t. the codebook).
  torch::Tensor weight() const;
  int64_t bits() const { return bits_; }
  // The torch layer it computes through, without its tensors (undefined): its options.
  const Plain& plain() const;
  // A new torch layer of these options, initialised as torch initialises it.
  std::shared_ptr<Plain> make_plain() const;

  torch::Tensor codebook;
  torch::Tensor indices;
  torch::Tensor mask;
  torch::Tensor bias;

 private:
  std::shared_ptr<detail::LayerOptions<Plain>> plain_;
  int64_t bits_ = 8;
};

#define DEEPCOMP_TORCH_LAYER_TWINS(Layer)                                  \
  extern template class MaskedImpl<torch::nn::Layer##Impl>;                \
  extern template class SharedImpl<torch::nn::Layer##Impl>;                \
  using Masked##Layer##Impl = MaskedImpl<torch::nn::Layer##Impl>;          \
  using Shared##Layer##Impl = SharedImpl<torch::nn::Layer##Impl>;          \
  TORCH_MODULE(Masked##Layer);                                             \
  TORCH_MODULE(Shared##Layer)

DEEPCOMP_TORCH_LAYER_TWINS(Conv1d);
DEEPCOMP_TORCH_LAYER_TWINS(Conv3d);
DEEPCOMP_TORCH_LAYER_TWINS(ConvTranspose1d);
DEEPCOMP_TORCH_LAYER_TWINS(ConvTranspose2d);
DEEPCOMP_TORCH_LAYER_TWINS(ConvTranspose3d);
DEEPCOMP_TORCH_LAYER_TWINS(Embedding);
DEEPCOMP_TORCH_LAYER_TWINS(EmbeddingBag);

#undef DEEPCOMP_TORCH_LAYER_TWINS

}  // namespace deepcomp::nn
