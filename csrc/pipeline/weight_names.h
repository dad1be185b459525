// How a compressed weight's tensors are named in a state dict: `<layer>.<stem>weight` with its
// `<stem>mask`, `<stem>codebook` and `<stem>indices`. The stem is "" for most layers and
// "in_proj_" for MultiheadAttention's packed projection, so a file names each weight as torch does.
#pragma once

#include <torch/nn/module.h>

#include <optional>
#include <string>
#include <string_view>

namespace deepcomp {

struct WeightPart {
  std::string weight;  // the weight's state-dict name, "<layer>.<stem>weight"
  std::string part;    // "weight", "mask", "codebook" or "indices"
};

// The weight `name` is a part of, when its last component is `<stem>` + a part, stem "" or ending in '_'.
std::optional<WeightPart> weight_part(const std::string& name);

// `part`'s name for the weight called `weight` ("<layer>.<stem>weight").
std::string part_name(const std::string& weight, std::string_view part);

// The stem of a layer's own weight or codebook Parameter: "" (`weight`, `codebook`) or "in_proj_".
std::string weight_stem(const torch::nn::Module& layer);

}  // namespace deepcomp
