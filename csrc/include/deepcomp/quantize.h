// Stage 2 of Deep Compression: trained quantization (weight sharing). plan_quantize makes every
// decision on a model's description (deepcomp/layers.h) for both front ends; quantize() is the C++
// front end.
//
// quantize() clusters each selected layer's kept weights with 1-D k-means and puts a SharedLinear /
// SharedConv2d in its place in the parent module (torch::nn::Module::replace_module). C++ modules
// hold their children by type, so a model that calls its layers through typed members re-binds
// them afterwards, as replace_module asks; a forward that calls its registered children needs
// nothing more: deepcomp::nn::forward_child(*this, "fc1", x) (deepcomp/nn/forward_child.h) calls
// whatever layer is registered as "fc1" now (plain, masked or shared). Build the fine-tuning
// optimizer afterwards: the codebooks are new Parameters. A layer held by torch::nn::Sequential
// (or ModuleList / ModuleDict) cannot be replaced there, and is refused with an error that says what to do.
#pragma once

#include <deepcomp/calibration.h>
#include <deepcomp/constants.h>
#include <deepcomp/layers.h>
#include <deepcomp/nn/shared_layer.h>

#include <torch/nn/module.h>

#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace deepcomp {

// One width for every selected layer, or per qualified layer name (overriding the default).
using LayerBits = std::variant<int64_t, std::map<std::string, int64_t>>;

struct QuantizeOptions {
  // kMinBits..kMaxBits; default kDefaultLinearBits for linear layers, kDefaultConvBits for the others.
  std::optional<LayerBits> bits;
  std::string init = "linear";  // "linear" | "density" | "random"
  std::string method = "lloyd";  // "lloyd" | "exact"
  int64_t seed = 0;             // for init = "random"
  // Per-group codebooks: each run of group_size consecutive slices of a layer's first dimension
  // (output channels of Linear and Conv, input channels of ConvTranspose, rows of Embedding; 1: per
  // channel) gets its own codebook: ceil(slices / group_size) codebooks over runs as even as
  // possible (deepcomp/ops.h), so no run is longer than group_size. Default: one codebook per layer.
  std::optional<int64_t> group_size;
  // Weighted k-means (ops::kmeans_quantize's importance), per qualified layer name: each weight's
  // importance, broadcastable to the layer's weight (e.g. a diagonal Fisher estimate) ...
  std::map<std::string, torch::Tensor> importance;
  // ... or, for every other quantized layer, the second moment of the input each weight multiplies
  // over these statistics (calibration.h).
  std::optional<Calibration> calibration;
  // Restrict to these qualified names; default: every layer of the table (layers.h), plain, masked or shared.
  std::optional<std::vector<std::string>> layers;
  // Leave these qualified names alone.
  std::vector<std::string> exclude;
};

struct LayerQuantizeStats {
  std::string name;
  std::string kind;  // the torch layer: "Linear", "Conv2d", "Embedding", ...
  std::vector<int64_t> shape;
  int64_t bits = 0;
  int64_t groups = 1;  // codebooks: equal slices of the first dimension
  int64_t weights = 0;
  int64_t kept = 0;
  int64_t clusters_used = 0;  // distinct indices among the kept weights
  double squared_error = 0;  // Σ (w - its centroid)² over the kept weights, before fine-tuning
  double index_entropy = 0;  // bits per kept weight an ideal entropy coder needs for the indices
  int64_t k() const { return int64_t{1} << bits; }
};

struct QuantizeReport {
  std::string init;
  std::string method;
  std::vector<LayerQuantizeStats> layers;
  std::vector<SkippedLayer> skipped;  // weighted layers left alone without being asked to, and why
  // A fixed-width table: layer, type, shape, bits, k, groups, used, kept, squared error, entropy, and a
  // total row.
  std::string table() const;
};
std::ostream& operator<<(std::ostream& stream, const QuantizeReport& report);

// What quantize decides: the report and, for each of its rows, the layer (an index into the
// entries) and its clustered weight. Every check and every clustering runs here; nothing is changed.
struct QuantizePlan {
  QuantizeReport report;
  std::vector<size_t> layers;
  std::vector<nn::SharedWeight> weights;
};
QuantizePlan plan_quantize(const ModelEntries& model, const QuantizeOptions& options,
                           const std::string& caller = "deepcomp::quantize");

// The checks plan_quantize makes of options.init, method, seed and group_size (c10::ValueError).
void check_cluster_options(const QuantizeOptions& options, const std::string& caller = "deepcomp::quantize");
// One layer clustered to `bits` as plan_quantize clusters it: options.init, method, seed, group_size,
// and the layer's importance (options.importance, else options.calibration's input moments). Errors
// name the layer.
nn::SharedWeight cluster_layer(const ModuleEntry& layer, int64_t bits, const QuantizeOptions& options,
                               const std::string& caller = "deepcomp::quantize");

// Quantizes the selected layers of `model` (see above) and reports each; warns (TORCH_WARN) about
// the weighted layers it skipped. Every check and every clustering runs before any layer is
// replaced, so on an error (c10::ValueError / TypeError naming the layer) the model is as it was.
QuantizeReport quantize(torch::nn::Module& model, const QuantizeOptions& options = {});

}  // namespace deepcomp
