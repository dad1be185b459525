// Sensitivity analysis in C++: how much a metric suffers when one layer at a time is pruned or
// quantized (the data of the paper's Figures 5 and 6), to choose per-layer pruning thresholds.
//
// C++ modules are not generally cloneable, so sensitivity() works on `model` itself: it changes one
// layer's weight, calls `evaluate`, and copies the saved weight back, bit for bit, before the next
// point. A guard restores the weight also when `evaluate` throws (the exception then propagates), so
// the model always comes back as it was. `evaluate` must not keep the model's weights changed
// itself (no training inside it).
#pragma once

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
  // centroids, linear init, Lloyd: what deepcomp::quantize builds); nullopt (default) skips the sweep.
  std::optional<std::vector<int64_t>> bits;
  // Qualified names of the layers to measure; default every torch::nn::Linear, torch::nn::Conv2d,
  // deepcomp::nn::MaskedLinear and MaskedConv2d (named_modules() order).
  std::optional<std::vector<std::string>> layers;
};

// One measurement: `metric` with only `layer` pruned to sparsity `value` (kind "prune") or quantized
// to `value` bits (kind "quantize").
struct SensitivityPoint {
  std::string layer;
  std::string kind;
  double value = 0;
  double metric = 0;
};

struct SensitivityReport {
  double baseline = 0;  // evaluate(model) with nothing changed
  std::vector<SensitivityPoint> points;  // the pruning sweep (layer by layer), then the bits sweep
  // layer -> [(value, metric), ...] of one kind ("prune" or "quantize"), in measured order.
  std::map<std::string, std::vector<std::pair<double, double>>> curves(const std::string& kind = "prune") const;
  // Rows: the layers of that kind (measured order); columns: the values measured; cells: the metric.
  std::string table(const std::string& kind = "prune") const;
};
// The baseline and the table of each kind present.
std::ostream& operator<<(std::ostream& stream, const SensitivityReport& report);

// Calls evaluate(model) once unchanged (the baseline), then once per selected layer and value with
// only that layer pruned (all sparsities) and then once per layer and width quantized (all bits).
// The model is restored exactly after every call (see above). Throws c10::ValueError, before the
// first call, for a value out of range, no sweep, an unknown layer or one it cannot change, and
// (naming the layer) for NaN/Inf weights; whatever `evaluate` throws propagates.
SensitivityReport sensitivity(torch::nn::Module& model, const std::function<double(torch::nn::Module&)>& evaluate,
                              const SensitivityOptions& options = {});

}  // namespace deepcomp
