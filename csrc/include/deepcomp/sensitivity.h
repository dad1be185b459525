// Sensitivity analysis in C++: how much a metric suffers when one layer at a time is pruned or
// quantized (the data of the paper's Figures 5 and 6), to choose per-layer pruning thresholds.
//
// C++ modules are not generally cloneable, so sensitivity() works on `model` itself: it changes one
// layer's weight, calls `evaluate`, and copies the saved weight back, bit for bit, before the next
// point. A guard restores the weight also when `evaluate` throws (the exception then propagates), so
// the model always comes back as it was. `evaluate` must not keep the model's weights changed
// itself (no training inside it).
#pragma once

#include <deepcomp/io.h>
#include <deepcomp/layers.h>
#include <deepcomp/nn/shared_layer.h>
#include <deepcomp/quantize.h>

#include <torch/nn/module.h>

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace deepcomp {

struct SensitivityOptions {
  // Fractions in [0, 1) to prune each layer to alone (deepcomp::ops::magnitude_prune by sparsity, on
  // top of a masked layer's mask); nullopt skips the pruning sweep. Default 0.1, 0.2, ..., 0.9.
  std::optional<std::vector<double>> sparsities = std::vector<double>{0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9};
  // Widths in 1..8 to quantize each layer to alone (its kept weights replaced by their k-means
  // centroids, as deepcomp::quantize with `quantize` builds them); nullopt (default) skips the sweep.
  std::optional<std::vector<int64_t>> bits;
  // How the bits sweep clusters a layer: quantize's init, method, seed, group_size and importance /
  // calibration (its bits, layers and exclude are not used). Default: linear init, Lloyd, one codebook.
  QuantizeOptions quantize;
  // Qualified names of the layers to measure; default every layer of the table (layers.h), plain or
  // masked (named_modules() order), and in the bits sweep also every shared one.
  std::optional<std::vector<std::string>> layers;
  // Leave these qualified names alone.
  std::vector<std::string> exclude;
};

// One measurement: `metric` with only `layer` pruned to sparsity `value` (kind "prune") or quantized
// to `value` bits (kind "quantize").
struct SensitivityPoint {
  std::string layer;
  std::string kind;
  double value = 0;
  double metric = 0;
  // Kind "quantize": the bytes the layer's weight takes in a .dcz file at that width (save's default
  // options; in a file whose other codebooks are grouped as this one is or is not), and its codebooks
  // (1, or its groups); 0 for kind "prune".
  int64_t bytes = 0;
  int64_t codebooks = 0;
};

// Per-layer widths for a file-size budget (SensitivityReport::bits_for_budget).
struct BitBudget {
  std::map<std::string, int64_t> bits;  // per measured layer: QuantizeOptions::bits
  int64_t file_bytes = 0;  // the file's size with those widths (save's default options), as estimated
  double metric = 0;       // the baseline less the sum of the chosen widths' measured drops
};

struct SensitivityReport {
  double baseline = 0;  // evaluate(model) with nothing changed
  std::vector<SensitivityPoint> points;  // the pruning sweep (layer by layer), then the bits sweep
  bool interrupted = false;  // the sweep was stopped before it finished (Python: Ctrl-C)
  std::vector<SkippedLayer> skipped;  // weighted layers left alone without being asked to, and why

  // The measured layers' names, in measured order.
  std::vector<std::string> layers() const;
  // The sweeps present, "prune" before "quantize".
  std::vector<std::string> kinds() const;
  // layer -> [(value, metric), ...] of one kind ("prune" or "quantize"), in measured order.
  std::map<std::string, std::vector<std::pair<double, double>>> curves(const std::string& kind = "prune") const;
  // Rows: the layers of that kind (measured order); columns: the values measured; cells: the metric.
  std::string table(const std::string& kind = "prune") const;
  // Per layer, the largest sparsity (kind "prune") or the smallest bits (kind "quantize") measured
  // whose metric stays within max_drop (>= 0, in the metric's units) of the baseline: at least
  // baseline - max_drop, or at most baseline + max_drop when !higher_is_better. A NaN metric never
  // passes. A layer with no such point gets sparsity 0 / kMaxBits.
  std::map<std::string, double> tolerated(double max_drop, const std::string& kind = "prune",
                                          bool higher_is_better = true) const;
  // Per layer of the pruning sweep, the PruneOptions::sensitivity that prunes it to its tolerated
  // sparsity given the model's current weights and masks (exact up to ties in |w|; 0 for a layer that
  // should lose nothing more, or whose survivors have no spread). Throws c10::ValueError /
  // TypeError for a layer the model does not have or cannot prune.
  std::map<std::string, double> sensitivities(const ModelEntries& model, double max_drop,
                                              bool higher_is_better = true) const;
  std::map<std::string, double> sensitivities(torch::nn::Module& model, double max_drop,
                                              bool higher_is_better = true) const;
  // Mixed precision for a file of at most max_bytes: a width for each layer of the bits sweep, from
  // the widths it measured, with the least metric lost in all, taken as the sum of each layer's drop
  // measured alone (an estimate: layers interact). A multiple-choice knapsack, solved by dynamic
  // programming over the file's bytes in steps of 1/20000 of its measured layers at their widest (each
  // width's bytes rounded up, so the answer fits), then widened where the rounding left room. The
  // file's size is exact for the state as saved (state: the model the report measured, its parameters
  // and buffers), with each layer's weight replaced by its point's bytes. Throws c10::ValueError for
  // max_bytes <= 0, no bits sweep, a layer the state lacks, or a budget the narrowest widths do not fit
  // (naming the smallest file they make).
  BitBudget bits_for_budget(const NamedTensors& state, int64_t max_bytes, bool higher_is_better = true) const;
  BitBudget bits_for_budget(const torch::nn::Module& model, int64_t max_bytes, bool higher_is_better = true) const;
};
// The baseline, the table of each kind present, and a line when interrupted.
std::ostream& operator<<(std::ostream& stream, const SensitivityReport& report);

// The layers a sweep measures: (kind, value list, entry indices), pruning sweep first. Checks every
// value and layer (c10::ValueError / TypeError) before anything is measured; the Python front end
// drives its own sweep (deepcopy, tqdm, Ctrl-C) over this plan.
struct SensitivitySweep {
  std::string kind;  // "prune" or "quantize"
  std::vector<double> values;
  std::vector<size_t> layers;
};
struct SensitivityPlan {
  std::vector<SensitivitySweep> sweeps;
  std::vector<SkippedLayer> skipped;
};
SensitivityPlan plan_sensitivity(const ModelEntries& model, const SensitivityOptions& options,
                                 const std::string& caller = "deepcomp::sensitivity");

// A measured layer as one point of a sweep sets it: its weight pruned to `value` sparsity (kind
// "prune"), or its kept weights replaced by their centroids for `value` bits, clustered as `clustering`
// says (kind "quantize"; a shared layer takes the clustering itself). Errors (c10::ValueError) name the layer.
struct SweepChange {
  torch::Tensor weight;     // the changed dense weight, the layer's shape
  nn::SharedWeight shared;  // kind "quantize": the codebook, indices and mask behind it
  int64_t bytes = 0;        // kind "quantize": the weight's bytes in a .dcz file (SensitivityPoint::bytes)
  int64_t codebooks = 0;    // kind "quantize": 1, or the groups of per-group codebooks
};
SweepChange sweep_change(const ModuleEntry& layer, const std::string& kind, double value,
                         const QuantizeOptions& clustering = {}, const std::string& caller = "deepcomp::sensitivity");

// Calls evaluate(model) once unchanged (the baseline), then once per selected layer and value with
// only that layer pruned (all sparsities) and then once per layer and width quantized (all bits).
// The model is restored exactly after every call (see above). Throws c10::ValueError, before the
// first call, for a value out of range, no sweep, an unknown layer or one it cannot change, and
// (naming the layer) for NaN/Inf weights; whatever `evaluate` throws propagates.
SensitivityReport sensitivity(torch::nn::Module& model, const std::function<double(torch::nn::Module&)>& evaluate,
                              const SensitivityOptions& options = {});

}  // namespace deepcomp
