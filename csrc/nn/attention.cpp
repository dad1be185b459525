#include <deepcomp/nn/attention.h>
#include <deepcomp/nn/masked_linear.h>
#include <deepcomp/nn/shared_linear.h>
#include <deepcomp/ops.h>

#include <torch/nn/functional/activation.h>
#include <torch/nn/modules/linear.h>

#include "check.h"
#include "nn/kept_text.h"
#include "nn/register_shared.h"

namespace deepcomp::nn {
namespace {

void check_packed(const torch::nn::MultiheadAttentionOptions& options, const std::string& twin) {
  DEEPCOMP_CHECK_VALUE(options.kdim() == options.embed_dim() && options.vdim() == options.embed_dim(), twin,
                       ": kdim and vdim must be embed_dim (", options.embed_dim(), "), got ", options.kdim(), " and ",
                       options.vdim(), ": only the packed in_proj_weight is supported, not separate q, k and v "
                       "projections");
}

// out_proj's weight as that layer computes with it (a masked one's gradient masked too), and its bias.
std::pair<torch::Tensor, torch::Tensor> out_projection(torch::nn::Module& out_proj) {
  if (auto* plain = out_proj.as<torch::nn::Linear>()) return {plain->weight, plain->bias};
  if (auto* masked = out_proj.as<MaskedLinear>()) return {ops::apply_mask(masked->weight, masked->mask), masked->bias};
  if (auto* shared = out_proj.as<SharedLinear>()) return {shared->weight(), shared->bias};
  DEEPCOMP_THROW(TypeError, c10::str("deepcomp: an attention layer's out_proj must be a Linear (plain, masked or ",
                                     "shared), got ", out_proj.name()));
}

}  // namespace

namespace detail {

AttentionTwin::AttentionTwin(const std::string& name, const torch::nn::MultiheadAttentionOptions& options)
    : torch::nn::Module(name), options(options) {
  check_packed(options, name);
}

std::tuple<torch::Tensor, torch::Tensor> AttentionTwin::forward(const torch::Tensor& query, const torch::Tensor& key,
                                                                const torch::Tensor& value,
                                                                const torch::Tensor& key_padding_mask,
                                                                bool need_weights, const torch::Tensor& attn_mask,
                                                                bool average_attn_weights) {
  const auto [out_weight, out_bias] = out_projection(*named_children()["out_proj"]);
  return torch::nn::functional::detail::multi_head_attention_forward(
      query, key, value, options.embed_dim(), options.num_heads(), computed_in_proj_weight(), in_proj_bias, bias_k,
      bias_v, options.add_zero_attn(), options.dropout(), out_weight, out_bias, is_training(), key_padding_mask,
      need_weights, attn_mask, /*use_separate_proj_weight=*/false, {}, {}, {}, {}, {}, average_attn_weights);
}

std::shared_ptr<torch::nn::MultiheadAttentionImpl> AttentionTwin::make_plain() const {
  auto plain = std::make_shared<torch::nn::MultiheadAttentionImpl>(options);
  const auto weight = computed_in_proj_weight().detach();
  plain->to(weight.device(), weight.scalar_type());
  torch::NoGradGuard no_grad;
  plain->in_proj_weight.copy_(weight);
  if (in_proj_bias.defined()) plain->in_proj_bias.copy_(in_proj_bias);
  if (bias_k.defined()) plain->bias_k.copy_(bias_k);
  if (bias_v.defined()) plain->bias_v.copy_(bias_v);
  const auto [out_weight, out_bias] = out_projection(*named_children()["out_proj"]);
  plain->out_proj->weight.copy_(out_weight);
  if (out_bias.defined()) plain->out_proj->bias.copy_(out_bias);
  plain->train(is_training());
  return plain;
}

void AttentionTwin::adopt(const torch::nn::Module& dense, const torch::Tensor& in_proj_bias,
                          const torch::Tensor& bias_k, const torch::Tensor& bias_v) {
  this->in_proj_bias = register_parameter("in_proj_bias", in_proj_bias, in_proj_bias.defined());
  if (bias_k.defined()) {
    this->bias_k = register_parameter("bias_k", bias_k);
    this->bias_v = register_parameter("bias_v", bias_v);
  }
  register_module("out_proj", dense.named_children()["out_proj"]);
}

void AttentionTwin::adopt(const torch::nn::MultiheadAttentionImpl& dense) {
  adopt(dense, dense.in_proj_bias, dense.bias_k, dense.bias_v);
}

std::shared_ptr<torch::nn::Module> AttentionTwin::clone_into(const std::shared_ptr<AttentionTwin>& copy,
                                                             const std::optional<torch::Device>& device) const {
  torch::NoGradGuard no_grad;
  const auto copied = [&](const torch::Tensor& tensor) {
    auto data = tensor.clone();
    return device ? data.to(*device) : data;
  };
  for (const auto& item : named_parameters(/*recurse=*/false)) {
    copy->register_parameter(item.key(), copied(item.value()), item.value().requires_grad());
  }
  for (const auto& item : named_buffers(/*recurse=*/false)) copy->register_buffer(item.key(), copied(item.value()));
  for (const auto& item : named_children()) copy->register_module(item.key(), item.value()->clone(device));
  copy->train(is_training());
  copy->rebind();
  return copy;
}

void AttentionTwin::rebind() {
  const auto parameters = named_parameters(/*recurse=*/false);
  in_proj_bias = parameters.contains("in_proj_bias") ? parameters["in_proj_bias"] : torch::Tensor();
  bias_k = parameters.contains("bias_k") ? parameters["bias_k"] : torch::Tensor();
  bias_v = parameters.contains("bias_v") ? parameters["bias_v"] : torch::Tensor();
}

void AttentionTwin::print_as(std::ostream& stream, const std::string& extra) const {
  stream << name().substr(0, name().size() - 4) << "(embed_dim=" << options.embed_dim()
         << ", num_heads=" << options.num_heads() << ", " << extra << ")";
}

}  // namespace detail

MaskedMultiheadAttentionImpl::MaskedMultiheadAttentionImpl(const torch::nn::MultiheadAttentionOptions& options)
    : MaskedMultiheadAttentionImpl(torch::nn::MultiheadAttention(options)) {}

MaskedMultiheadAttentionImpl::MaskedMultiheadAttentionImpl(const torch::nn::MultiheadAttentionOptions& options,
                                                           detail::Unregistered)
    : AttentionTwin("deepcomp::nn::MaskedMultiheadAttentionImpl", options) {}

MaskedMultiheadAttentionImpl::MaskedMultiheadAttentionImpl(const torch::nn::MultiheadAttention& dense)
    : AttentionTwin("deepcomp::nn::MaskedMultiheadAttentionImpl", dense->options) {
  in_proj_weight = register_parameter("in_proj_weight", dense->in_proj_weight);
  adopt(*dense);
  in_proj_mask = register_buffer("in_proj_mask", torch::ones_like(in_proj_weight, torch::kBool));
}

std::shared_ptr<torch::nn::Module> MaskedMultiheadAttentionImpl::clone(
    const std::optional<torch::Device>& device) const {
  return clone_into(std::make_shared<MaskedMultiheadAttentionImpl>(options, detail::Unregistered{}), device);
}

void MaskedMultiheadAttentionImpl::pretty_print(std::ostream& stream) const {
  print_as(stream, kept_text(in_proj_mask));
}

torch::Tensor MaskedMultiheadAttentionImpl::computed_in_proj_weight() const {
  return ops::apply_mask(in_proj_weight, in_proj_mask);
}

void MaskedMultiheadAttentionImpl::rebind() {
  AttentionTwin::rebind();
  in_proj_weight = named_parameters(/*recurse=*/false)["in_proj_weight"];
  in_proj_mask = named_buffers(/*recurse=*/false)["in_proj_mask"];
}

SharedMultiheadAttentionImpl::SharedMultiheadAttentionImpl(const torch::nn::MultiheadAttentionOptions& options,
                                                           int64_t bits)
    : AttentionTwin("deepcomp::nn::SharedMultiheadAttentionImpl", options) {
  const torch::nn::MultiheadAttention fresh(options);  // torch's initialisation, clustered
  const auto& weight = fresh->in_proj_weight;
  register_shared(cluster_weight(weight, torch::ones_like(weight, torch::kBool), bits));
  adopt(*fresh);
}

SharedMultiheadAttentionImpl::SharedMultiheadAttentionImpl(const torch::nn::MultiheadAttentionOptions& options,
                                                           int64_t bits, detail::Unregistered)
    : AttentionTwin("deepcomp::nn::SharedMultiheadAttentionImpl", options), bits_(bits) {}

SharedMultiheadAttentionImpl::SharedMultiheadAttentionImpl(const detail::AttentionTwin& like,
                                                           const SharedWeight& shared)
    : AttentionTwin("deepcomp::nn::SharedMultiheadAttentionImpl", like.options) {
  register_shared(shared);
  adopt(like, like.in_proj_bias, like.bias_k, like.bias_v);
}

SharedMultiheadAttentionImpl::SharedMultiheadAttentionImpl(const torch::nn::MultiheadAttentionImpl& like,
                                                           const SharedWeight& shared)
    : AttentionTwin("deepcomp::nn::SharedMultiheadAttentionImpl", like.options) {
  register_shared(shared);
  adopt(like);
}

void SharedMultiheadAttentionImpl::register_shared(const SharedWeight& shared) {
  const std::vector<int64_t> shape{3 * options.embed_dim(), options.embed_dim()};
  DEEPCOMP_CHECK_VALUE(shared.indices.sizes() == shape, name(), ": in_proj weight shape ", shared.indices.sizes(),
                       " does not match the layer's ", shape);
  const auto registered = register_codebook(*this, shared, "in_proj_");
  in_proj_codebook = registered.codebook;
  in_proj_indices = registered.indices;
  in_proj_mask = registered.mask;
  bits_ = registered.bits;
}

std::shared_ptr<torch::nn::Module> SharedMultiheadAttentionImpl::clone(
    const std::optional<torch::Device>& device) const {
  return clone_into(std::make_shared<SharedMultiheadAttentionImpl>(options, bits_, detail::Unregistered{}), device);
}

void SharedMultiheadAttentionImpl::pretty_print(std::ostream& stream) const {
  print_as(stream, "bits=" + std::to_string(bits_) + ", " + kept_text(in_proj_mask));
}

torch::Tensor SharedMultiheadAttentionImpl::computed_in_proj_weight() const {
  return ops::codebook_decode(in_proj_indices, in_proj_mask, in_proj_codebook);
}

void SharedMultiheadAttentionImpl::rebind() {
  AttentionTwin::rebind();
  in_proj_codebook = named_parameters(/*recurse=*/false)["in_proj_codebook"];
  in_proj_indices = named_buffers(/*recurse=*/false)["in_proj_indices"];
  in_proj_mask = named_buffers(/*recurse=*/false)["in_proj_mask"];
}

}  // namespace deepcomp::nn
