#include <deepcomp/nn/forward_child.h>
#include <deepcomp/nn/masked_conv2d.h>
#include <deepcomp/nn/masked_linear.h>
#include <deepcomp/nn/shared_conv2d.h>
#include <deepcomp/nn/shared_linear.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include <sstream>

#include "check.h"

namespace deepcomp::nn {

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
  if (auto* l = layer.as<torch::nn::LinearImpl>()) return l->forward(input);
  if (auto* l = layer.as<MaskedLinearImpl>()) return l->forward(input);
  if (auto* l = layer.as<SharedLinearImpl>()) return l->forward(input);
  if (auto* c = layer.as<torch::nn::Conv2dImpl>()) return c->forward(input);
  if (auto* c = layer.as<MaskedConv2dImpl>()) return c->forward(input);
  if (auto* c = layer.as<SharedConv2dImpl>()) return c->forward(input);
  DEEPCOMP_THROW(TypeError,
                 c10::str("deepcomp::nn::forward_child: child '", name, "' of ", parent.name(), " is a ", layer.name(),
                          "; forward_child calls Linear and Conv2d layers (plain, masked "
                          "or shared)"));
}

}  // namespace deepcomp::nn
