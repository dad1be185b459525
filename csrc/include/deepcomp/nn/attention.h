// deepcomp::nn's twins of torch::nn::MultiheadAttention: its packed in_proj_weight (3E, E) pruned or
// shared, computed through torch's own attention. The other tensors are torch's (in_proj_bias, and
// bias_k, bias_v with add_bias_kv), and out_proj is a registered child that the twin calls by name, so
// deepcomp may replace it with a masked or shared Linear in turn (a plain torch::nn::MultiheadAttention
// computes with its own out_proj member, so there it is left alone). kdim or vdim other than embed_dim
// (separate q, k, v projections) are refused.
//   MaskedMultiheadAttention: in_proj_weight: Parameter; in_proj_mask: bool buffer of its shape (true =
//     kept). Pruned weights are kept at exactly 0; their gradient is 0.
//   SharedMultiheadAttention: in_proj_codebook: Parameter (2^bits, or (groups, 2^bits));
//     in_proj_indices: uint8 buffer and in_proj_mask: bool buffer of the weight's shape.
// The state-dict names are those of Python's deepcomp.nn twins and of torch's layer: a .dcz file
// records the weight as `<layer>.in_proj_weight`, which a plain torch::nn::MultiheadAttention loads.
#pragma once

#include <deepcomp/nn/shared_layer.h>

#include <torch/nn/module.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/pimpl.h>

#include <optional>
#include <ostream>
#include <tuple>

namespace deepcomp::nn {

namespace detail {

// The tag of the twins' constructor that registers nothing (for clone).
struct Unregistered {};

// What both twins have besides their in_proj weight, and torch's attention computed with it.
class AttentionTwin : public torch::nn::Module {
 public:
  // torch::nn::MultiheadAttention's forward: (seq, batch, embed_dim) inputs; the output and the
  // attention weights (undefined unless need_weights).
  std::tuple<torch::Tensor, torch::Tensor> forward(const torch::Tensor& query, const torch::Tensor& key,
                                                   const torch::Tensor& value,
                                                   const torch::Tensor& key_padding_mask = {},
                                                   bool need_weights = true, const torch::Tensor& attn_mask = {},
                                                   bool average_attn_weights = true);
  // The dense in_proj_weight as this twin computes with it (masked, or decoded).
  virtual torch::Tensor computed_in_proj_weight() const = 0;
  // A new torch layer of these options with this twin's weight (decoded) and a copy of its other
  // tensors; out_proj becomes a plain Linear with its weight.
  std::shared_ptr<torch::nn::MultiheadAttentionImpl> make_plain() const;

  torch::nn::MultiheadAttentionOptions options;
  torch::Tensor in_proj_bias;
  torch::Tensor bias_k;
  torch::Tensor bias_v;

 protected:
  AttentionTwin(const std::string& name, const torch::nn::MultiheadAttentionOptions& options);
  // Registers these in_proj_bias, bias_k, bias_v (each may be undefined) and dense's out_proj child: the
  // same tensors and module. dense: a torch layer or a twin.
  void adopt(const torch::nn::Module& dense, const torch::Tensor& in_proj_bias, const torch::Tensor& bias_k,
             const torch::Tensor& bias_v);
  void adopt(const torch::nn::MultiheadAttentionImpl& dense);
  // copy: a new twin of this type with nothing registered (its Unregistered constructor); it gets
  // copies of this one's tensors, and a clone of out_proj as the layer it is now.
  std::shared_ptr<torch::nn::Module> clone_into(const std::shared_ptr<AttentionTwin>& copy,
                                                const std::optional<torch::Device>& device) const;
  // Points the members at the copied registered tensors after clone_into.
  virtual void rebind();
  void print_as(std::ostream& stream, const std::string& extra) const;
};

}  // namespace detail

class MaskedMultiheadAttentionImpl : public detail::AttentionTwin {
 public:
  // A fresh torch layer of these options (torch's initialisation), all kept.
  explicit MaskedMultiheadAttentionImpl(const torch::nn::MultiheadAttentionOptions& options);
  // Shares the dense layer's Parameters and out_proj; the mask starts all true.
  explicit MaskedMultiheadAttentionImpl(const torch::nn::MultiheadAttention& dense);
  MaskedMultiheadAttentionImpl(const torch::nn::MultiheadAttentionOptions& options, detail::Unregistered);

  std::shared_ptr<torch::nn::Module> clone(const std::optional<torch::Device>& device = std::nullopt) const override;
  void pretty_print(std::ostream& stream) const override;
  torch::Tensor computed_in_proj_weight() const override;

  torch::Tensor in_proj_weight;
  torch::Tensor in_proj_mask;

 private:
  void rebind() override;
};

class SharedMultiheadAttentionImpl : public detail::AttentionTwin {
 public:
  // torch's initialisation of a fresh layer of these options, clustered (5 bits: a fully connected layer).
  explicit SharedMultiheadAttentionImpl(const torch::nn::MultiheadAttentionOptions& options, int64_t bits = 5);
  // A clustered in_proj weight as it is (no k-means), and `like`'s other tensors and out_proj (shared).
  SharedMultiheadAttentionImpl(const detail::AttentionTwin& like, const SharedWeight& shared);
  SharedMultiheadAttentionImpl(const torch::nn::MultiheadAttentionImpl& like, const SharedWeight& shared);
  SharedMultiheadAttentionImpl(const torch::nn::MultiheadAttentionOptions& options, int64_t bits,
                               detail::Unregistered);

  std::shared_ptr<torch::nn::Module> clone(const std::optional<torch::Device>& device = std::nullopt) const override;
  void pretty_print(std::ostream& stream) const override;
  torch::Tensor computed_in_proj_weight() const override;
  // The decoded dense in_proj_weight (a new tensor, differentiable w.r.t. the codebook).
  torch::Tensor weight() const { return computed_in_proj_weight(); }
  int64_t bits() const { return bits_; }

  torch::Tensor in_proj_codebook;
  torch::Tensor in_proj_indices;
  torch::Tensor in_proj_mask;

 private:
  void register_shared(const SharedWeight& shared);
  void rebind() override;
  int64_t bits_ = 5;
};

TORCH_MODULE(MaskedMultiheadAttention);
TORCH_MODULE(SharedMultiheadAttention);

}  // namespace deepcomp::nn
