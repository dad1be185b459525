#include <deepcomp/nn/forward_child.h>
#include <deepcomp/nn/masked_conv2d.h>
#include <deepcomp/nn/masked_linear.h>
#include <deepcomp/nn/shared_conv2d.h>
#include <deepcomp/nn/shared_linear.h>
#include <deepcomp/nn/torch_layer_twins.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include <sstream>

#include "check.h"

namespace deepcomp::nn {
namespace {

// output = the forward of the first of Layers that `layer` is (a transposed convolution without output_size,
// an embedding bag without offsets or per-sample weights).
template <typename... Layers>
void call_first(torch::nn::Module& layer, const torch::Tensor& input, std::optional<torch::Tensor>& output) {
  const auto call = [&](auto* typed) {
    if (output || typed == nullptr) return;
    if constexpr (requires { typed->forward(input); }) {
      output = typed->forward(input);
    } else if constexpr (requires { typed->forward(input, std::nullopt); }) {
      output = typed->forward(input, std::nullopt);
    } else {
      output = typed->forward(input, torch::Tensor(), torch::Tensor());
    }
  };
  (call(layer.as<Layers>()), ...);
}

// The torch layers of torch_layer_twins.h, plain, masked or shared.
template <typename... Plains>
void call_by_forward(torch::nn::Module& layer, const torch::Tensor& input, std::optional<torch::Tensor>& output) {
  call_first<Plains..., MaskedImpl<Plains>..., SharedImpl<Plains>...>(layer, input, output);
}

}  // namespace

torch::Tensor forward_child(torch::nn::Module& parent, const std::string& name, const torch::Tensor& input) {
  const auto children = parent.named_children();
  const auto* child = children.find(name);
  if (child == nullptr) {
    std::ostringstream known;
    for (const auto& item : children) known << " '" << item.key() << "'";
    DEEPCOMP_THROW(ValueError, c10::str("deepcomp::nn::forward_child: ", parent.name(), " has no child named '", name,
                                        "'; its children are:", children.is_empty() ? " none" : known.str()));
  }
  torch::nn::Module& layer = **child;
  std::optional<torch::Tensor> output;
  call_first<torch::nn::LinearImpl, MaskedLinearImpl, SharedLinearImpl, torch::nn::Conv2dImpl, MaskedConv2dImpl,
             SharedConv2dImpl>(layer, input, output);
  call_by_forward<torch::nn::Conv1dImpl, torch::nn::Conv3dImpl, torch::nn::ConvTranspose1dImpl,
                  torch::nn::ConvTranspose2dImpl, torch::nn::ConvTranspose3dImpl, torch::nn::EmbeddingImpl,
                  torch::nn::EmbeddingBagImpl>(layer, input, output);
  if (output) return *output;
  DEEPCOMP_THROW(TypeError,
                 c10::str("deepcomp::nn::forward_child: child '", name, "' of ", parent.name(), " is a ", layer.name(),
                          "; forward_child calls the layers deepcomp changes (plain, masked or shared): ",
                          "Linear, Conv1d/2d/3d, ConvTranspose1d/2d/3d, Embedding and EmbeddingBag"));
}

}  // namespace deepcomp::nn
