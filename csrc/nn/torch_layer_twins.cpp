#include <c10/util/Type.h>
#include <deepcomp/nn/torch_layer_twins.h>
#include <deepcomp/ops.h>
#include <torch/nn/functional/embedding.h>

#include <sstream>
#include <string>

#include "check.h"
#include "nn/kept_text.h"
#include "nn/layer_bias.h"
#include "nn/register_masked.h"
#include "nn/register_shared.h"

namespace deepcomp::nn {
namespace {

template <typename Plain>
constexpr bool kHasBias = requires(Plain& layer) { layer.bias; };

template <typename Plain>
constexpr bool kIsEmbedding =
    std::is_same_v<Plain, torch::nn::EmbeddingImpl> || std::is_same_v<Plain, torch::nn::EmbeddingBagImpl>;

// "deepcomp::nn::MaskedConv1dImpl" for ("Masked", torch::nn::Conv1dImpl): the names deepcomp's own
// modules have.
template <typename Plain>
std::string twin_name(const std::string& stage) {
  const std::string plain = c10::demangle_type<Plain>();  // "torch::nn::Conv1dImpl"
  return "deepcomp::nn::" + stage + plain.substr(plain.rfind(':') + 1);
}

// Refuses what a twin cannot honour.
template <typename Plain>
void check_supported(const Plain& layer, const std::string& twin) {
  if constexpr (kIsEmbedding<Plain>) {
    DEEPCOMP_CHECK_VALUE(!layer.options.sparse(), twin, ": sparse=true (sparse gradients) is not supported; the "
                         "weight's gradient is dense through the mask or the codebook");
  }
}

// The torch layer's own print, with `extra` before its closing parenthesis and `name` in front.
template <typename Plain>
void print_as(std::ostream& stream, const Plain& plain, const std::string& name, const std::string& extra) {
  std::ostringstream own;
  plain.pretty_print(own);
  std::string text = own.str();
  const auto open = text.find('(');
  text = open == std::string::npos ? "()" : text.substr(open);
  stream << name.substr(0, name.size() - 4) << text.substr(0, text.size() - 1) << (text.size() > 2 ? ", " : "")
         << extra << ")";
}

// EmbeddingBag's bags of the looked-up rows masked (as the masked Embedding does, not the whole table):
// rows[i] is the masked row of input's i-th index; lookups of padding_idx point at an extra zero row that
// embedding_bag leaves out of its bags. max_norm renormalises the stored rows looked up, as torch does.
torch::Tensor masked_bags(const torch::nn::EmbeddingBagImpl& bag, const torch::Tensor& weight,
                          const torch::Tensor& mask, const torch::Tensor& input, const torch::Tensor& offsets,
                          const torch::Tensor& per_sample_weights) {
  namespace F = torch::nn::functional;
  const auto& options = bag.options;
  const auto flat = input.reshape(-1);
  auto embedding = F::EmbeddingFuncOptions().norm_type(options.norm_type()).scale_grad_by_freq(
      options.scale_grad_by_freq());
  if (options.max_norm()) embedding.max_norm(*options.max_norm());
  auto rows = F::embedding(flat, weight, embedding);
  rows = torch::where(mask.index({flat}), rows, torch::zeros({}, rows.options()));
  auto lookups = torch::arange(flat.numel(), flat.options().dtype(torch::kLong)).view(input.sizes());
  auto bags = F::EmbeddingBagFuncOptions()
                  .mode(options.mode())
                  .include_last_offset(options.include_last_offset())
                  .offsets(offsets)
                  .per_sample_weights(per_sample_weights);
  if (options.padding_idx()) {
    const int64_t padding = flat.numel();
    lookups = torch::where(input == *options.padding_idx(), torch::full({}, padding, lookups.options()), lookups);
    rows = torch::cat({rows, torch::zeros({1, rows.size(1)}, rows.options())});
    bags.padding_idx(padding);
  }
  return F::embedding_bag(lookups, rows, bags);
}

}  // namespace

namespace detail {

// A copy of a torch layer without its tensors (its Parameters undefined): what the twins keep of the
// layer they stand for. Module's own to(kMeta) would change the tensors the copy shares, and
// clone() of it is a new torch layer (undefined Parameters are not copied over the fresh ones).
template <typename Plain>
class LayerOptions : public Plain {
 public:
  explicit LayerOptions(const Plain& layer) : Plain(layer), weight_shape(shape_of(layer)) {
    for (auto& item : this->parameters_) item.value() = torch::Tensor();
    this->weight = torch::Tensor();
    if constexpr (kHasBias<Plain>) this->bias = torch::Tensor();
    if constexpr (kIsEmbedding<Plain>) {
      this->options._weight(torch::Tensor());  // from_pretrained's weight
    }
  }

  // The weight shape of a torch layer, or of the one a LayerOptions stands for.
  static std::vector<int64_t> shape_of(const Plain& layer) {
    const auto* options = dynamic_cast<const LayerOptions*>(&layer);
    return options ? options->weight_shape : layer.weight.sizes().vec();
  }

  // A layer of these options with tensors of its own, initialised as torch initialises it.
  std::shared_ptr<Plain> make_plain() const { return std::static_pointer_cast<Plain>(this->clone()); }

  std::vector<int64_t> weight_shape;
};

}  // namespace detail

// The partial specialisations' members, defined here and instantiated below for the torch layers of the header.
#define TWIN_TEMPLATE template <typename Plain, typename... Inputs>
#define MASKED MaskedImpl<Plain, torch::Tensor (Plain::*)(Inputs...)>
#define SHARED SharedImpl<Plain, torch::Tensor (Plain::*)(Inputs...)>

TWIN_TEMPLATE MASKED::MaskedImpl(const torch::nn::ModuleHolder<Plain>& dense)
    : torch::nn::Cloneable<MaskedImpl>(twin_name<Plain>("Masked")),
      plain_(std::make_shared<detail::LayerOptions<Plain>>(*dense)) {
  check_supported(*dense, this->name());
  register_masked(*this, dense->weight, bias_of(*dense));
}

TWIN_TEMPLATE void MASKED::reset() {
  const auto fresh = plain_->make_plain();
  register_masked(*this, fresh->weight, bias_of(*fresh));
}

TWIN_TEMPLATE const Plain& MASKED::plain() const { return *plain_; }

TWIN_TEMPLATE std::shared_ptr<Plain> MASKED::make_plain() const { return plain_->make_plain(); }

TWIN_TEMPLATE void MASKED::pretty_print(std::ostream& stream) const { print_as(stream, *plain_, this->name(), kept_text(mask)); }

TWIN_TEMPLATE torch::Tensor MASKED::forward(Inputs... inputs) {
  Plain plain(*plain_);  // the options; the tensors it computes with are these
  if constexpr (std::is_same_v<Plain, torch::nn::EmbeddingImpl>) {
    // The looked-up rows masked, not the whole table: the same output, a gradient that is 0 wherever
    // pruned, for the cost of a lookup instead of a table-sized copy (max_norm as Embedding's).
    plain.weight = weight;
    const auto rows = plain.forward(inputs...);
    const torch::Tensor& indices = std::get<0>(std::forward_as_tuple(inputs...));
    return torch::where(mask.index({indices}), rows, torch::zeros({}, rows.options()));
  } else if constexpr (std::is_same_v<Plain, torch::nn::EmbeddingBagImpl>) {
    return masked_bags(plain, weight, mask, inputs...);
  } else {
    plain.weight = ops::apply_mask(weight, mask);
    if constexpr (kHasBias<Plain>) plain.bias = bias;
    return plain.forward(std::forward<Inputs>(inputs)...);
  }
}

TWIN_TEMPLATE SHARED::SharedImpl(const Plain& like, const SharedWeight& shared, const torch::Tensor& bias)
    : torch::nn::Cloneable<SharedImpl>(twin_name<Plain>("Shared")),
      plain_(std::make_shared<detail::LayerOptions<Plain>>(like)) {
  check_supported(like, this->name());
  DEEPCOMP_CHECK_VALUE(shared.indices.sizes() == plain_->weight_shape, this->name(), ": weight shape ",
                       shared.indices.sizes(), " does not match the layer's ", plain_->weight_shape);
  bits_ = register_shared(*this, shared, bias);
}

TWIN_TEMPLATE SHARED::SharedImpl(const Plain& dense, int64_t bits, const ClusterOptions& cluster)
    : SharedImpl(dense, cluster_weight(dense.weight, torch::ones_like(dense.weight, torch::kBool), bits, cluster),
                 bias_of(dense)) {}

TWIN_TEMPLATE SHARED::SharedImpl(const MaskedImpl<Plain>& masked, int64_t bits, const ClusterOptions& cluster)
    : SharedImpl(masked.plain(), cluster_weight(masked.weight, masked.mask, bits, cluster), masked.bias) {}

TWIN_TEMPLATE void SHARED::reset() {
  const auto fresh = plain_->make_plain();  // torch's own initialisation, clustered
  bits_ = register_shared(*this,
                          cluster_weight(fresh->weight, torch::ones_like(fresh->weight, torch::kBool), bits_, {}, {},
                                         groups_now(this->codebook)),
                          bias_of(*fresh));
}

TWIN_TEMPLATE const Plain& SHARED::plain() const { return *plain_; }

TWIN_TEMPLATE std::shared_ptr<Plain> SHARED::make_plain() const { return plain_->make_plain(); }

TWIN_TEMPLATE void SHARED::pretty_print(std::ostream& stream) const {
  print_as(stream, *plain_, this->name(), "bits=" + std::to_string(bits_) + ", " + kept_text(mask));
}

TWIN_TEMPLATE torch::Tensor SHARED::forward(Inputs... inputs) {
  Plain plain(*plain_);
  plain.weight = weight();
  if constexpr (kHasBias<Plain>) plain.bias = bias;
  return plain.forward(std::forward<Inputs>(inputs)...);
}

TWIN_TEMPLATE torch::Tensor SHARED::weight() const { return ops::codebook_decode(indices, mask, codebook); }

#undef TWIN_TEMPLATE
#undef MASKED
#undef SHARED

template class MaskedImpl<torch::nn::Conv1dImpl>;
template class SharedImpl<torch::nn::Conv1dImpl>;
template class MaskedImpl<torch::nn::Conv3dImpl>;
template class SharedImpl<torch::nn::Conv3dImpl>;
template class MaskedImpl<torch::nn::ConvTranspose1dImpl>;
template class SharedImpl<torch::nn::ConvTranspose1dImpl>;
template class MaskedImpl<torch::nn::ConvTranspose2dImpl>;
template class SharedImpl<torch::nn::ConvTranspose2dImpl>;
template class MaskedImpl<torch::nn::ConvTranspose3dImpl>;
template class SharedImpl<torch::nn::ConvTranspose3dImpl>;
template class MaskedImpl<torch::nn::EmbeddingImpl>;
template class SharedImpl<torch::nn::EmbeddingImpl>;
template class MaskedImpl<torch::nn::EmbeddingBagImpl>;
template class SharedImpl<torch::nn::EmbeddingBagImpl>;

}  // namespace deepcomp::nn
