#include "pipeline/layers.h"

#include <deepcomp/nn/masked_conv2d.h>
#include <deepcomp/nn/masked_linear.h>

namespace deepcomp {

std::optional<MaskedLayer> as_masked(const std::string& name, torch::nn::Module& module) {
  if (auto* linear = module.as<nn::MaskedLinearImpl>()) return MaskedLayer{name, linear->weight, linear->mask};
  if (auto* conv = module.as<nn::MaskedConv2dImpl>()) return MaskedLayer{name, conv->weight, conv->mask};
  return std::nullopt;
}

std::vector<MaskedLayer> all_masked_layers(torch::nn::Module& model) {
  std::vector<MaskedLayer> layers;
  for (const auto& item : model.named_modules("", /*include_self=*/true)) {
    if (auto layer = as_masked(item.key(), *item.value())) layers.push_back(std::move(*layer));
  }
  return layers;
}

}  // namespace deepcomp
