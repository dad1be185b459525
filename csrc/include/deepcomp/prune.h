// Stage 1 of Deep Compression in C++: magnitude pruning of a LibTorch model's masked layers.
//
// C++ modules hold their children by type, so deepcomp cannot swap a torch::nn::Linear for a
// MaskedLinear behind the user's back (Python's deepcomp.prune does). Declare the layers to prune
// as deepcomp::nn::MaskedLinear / MaskedConv2d (same options as Linear / Conv2d; or construct one
// from a dense layer); prune() then sets their masks and zeroes the pruned weights.
#pragma once

#include <torch/nn/module.h>

#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace deepcomp {

// One value for every selected layer, or a value per qualified layer name ("features.0").
// With a map, only the layers it names are pruned.
using LayerValues = std::variant<double, std::map<std::string, double>>;

struct PruneOptions {
  // Exactly one of the two criteria (see deepcomp::ops::magnitude_prune):
  // drop |w| < sensitivity × std of the layer's surviving weights (the paper's rule) ...
  std::optional<LayerValues> sensitivity;
  // ... or drop the smallest |w| until this fraction of the layer's weights is pruned, in [0, 1).
  std::optional<LayerValues> sparsity;
  // Restrict pruning to these qualified names; default: every masked layer.
  std::optional<std::vector<std::string>> layers;
};

struct LayerPruneStats {
  std::string name;
  std::vector<int64_t> shape;
  int64_t weights = 0;
  int64_t kept = 0;
  double kept_fraction() const { return weights ? static_cast<double>(kept) / weights : 1.0; }
};

struct PruneReport {
  std::vector<LayerPruneStats> layers;
  int64_t total_weights() const;
  int64_t total_kept() const;
  // A fixed-width table: layer, shape, weights, kept, kept %, and a total row.
  std::string table() const;
};
std::ostream& operator<<(std::ostream& stream, const PruneReport& report);

// Prunes the selected masked layers of `model` (masks only shrink; pruned weights become exactly 0)
// and reports every selected layer. All checks run before any layer changes, so on an error
// (c10::ValueError naming the layer and the value) the model is as it was.
PruneReport prune(torch::nn::Module& model, const PruneOptions& options);

// Zeroes the pruned weights of every masked layer again, e.g. after an optimizer step whose
// momentum or Adam state was built before pruning (Python does this with an optimizer hook).
void enforce_masks(torch::nn::Module& model);

}  // namespace deepcomp
