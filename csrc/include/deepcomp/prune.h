// Stage 1 of Deep Compression: magnitude pruning. plan_prune makes every decision on a model's
// description (deepcomp/layers.h) for both front ends; prune() is the C++ front end.
//
// prune() replaces a plain torch::nn::Linear / Conv2d / ... (docs/layers.md) by its masked twin in the parent module
// (replace_module), as quantize() does. C++ modules hold their children by type, so a model that
// calls its layers through typed members re-binds them afterwards, or calls its registered children
// through deepcomp::nn::forward_child; layers declared as deepcomp::nn::MaskedLinear / MaskedConv2d
// are pruned in place. A layer held by torch::nn::Sequential (or ModuleList / ModuleDict) can only
// be pruned in place: a plain one there is refused with an error that says what to do.
#pragma once

#include <deepcomp/calibration.h>
#include <deepcomp/layers.h>

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
  // What a weight's size is: "magnitude", |w| (the paper's), or "activation", |w| × the RMS of the
  // input it multiplies over `calibration` (calibration.h), which every pruned layer needs then.
  std::string criterion = "magnitude";
  std::optional<Calibration> calibration;
  // Restrict pruning to these qualified names; default: every layer of the table (layers.h), plain or masked.
  std::optional<std::vector<std::string>> layers;
  // Leave these qualified names alone.
  std::vector<std::string> exclude;
};

struct LayerPruneStats {
  std::string name;
  std::string kind;  // the torch layer: "Linear", "Conv2d", "Embedding", ...
  std::vector<int64_t> shape;
  int64_t weights = 0;
  int64_t kept = 0;
  double kept_fraction() const { return weights ? static_cast<double>(kept) / weights : 1.0; }
};

struct PruneReport {
  std::string criterion;  // "sensitivity" or "sparsity"
  std::string score;      // what was compared: "magnitude" or "activation" (PruneOptions::criterion)
  std::vector<LayerPruneStats> layers;
  std::vector<SkippedLayer> skipped;  // weighted layers left alone without being asked to, and why
  int64_t total_weights() const;
  int64_t total_kept() const;
  double kept_fraction() const;
  // A fixed-width table: layer, type, shape, weights, kept, kept %, and a total row.
  std::string table() const;
};
std::ostream& operator<<(std::ostream& stream, const PruneReport& report);

// What prune decides: the report and, for each of its rows, the layer (an index into the entries)
// and its new mask. Every check runs here; nothing is changed.
struct PrunePlan {
  PruneReport report;
  std::vector<size_t> layers;
  std::vector<torch::Tensor> masks;
};
PrunePlan plan_prune(const ModelEntries& model, const PruneOptions& options,
                     const std::string& caller = "deepcomp::prune");

// Prunes the selected layers of `model` (masks only shrink; pruned weights become exactly 0),
// replacing plain ones by their masked twins, and reports every selected layer. Warns (TORCH_WARN)
// about the weighted layers it skipped. All checks run before any layer changes, so on an error
// (c10::ValueError / c10::TypeError naming the layer and the value) the model is as it was.
PruneReport prune(torch::nn::Module& model, const PruneOptions& options);

// Zeroes the pruned weights of every masked layer again, e.g. after an optimizer step whose
// momentum or Adam state was built before pruning (Python does this with an optimizer hook).
void enforce_masks(torch::nn::Module& model);

}  // namespace deepcomp
