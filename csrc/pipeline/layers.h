// Finding the layers the pipeline changes in place: the weight and mask of masked (and, for callers
// that only change weights, dense) Linear and Conv2d layers, by qualified name.
#pragma once

#include <torch/nn/module.h>

#include <optional>
#include <string>
#include <vector>

namespace deepcomp {

// A layer's dense weight Parameter and its bool mask (true = kept), both the layer's own tensors.
struct MaskedLayer {
  std::string name;
  torch::Tensor weight;
  torch::Tensor mask;
};

// `module` as a MaskedLayer when it is a deepcomp::nn::MaskedLinear or MaskedConv2d.
std::optional<MaskedLayer> as_masked(const std::string& name, torch::nn::Module& module);

// Every MaskedLinear / MaskedConv2d of `model` (itself included), in named_modules() order.
std::vector<MaskedLayer> all_masked_layers(torch::nn::Module& model);

}  // namespace deepcomp
