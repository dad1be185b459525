// SensitivityReport::bits_for_budget: a width per layer for a file-size budget, from the bits sweep's
// points (each layer's metric and weight bytes at each width): the multiple-choice knapsack of the
// least summed metric drop within the budget, solved by dynamic programming over the bytes.
#include <deepcomp/sensitivity.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <set>

#include "check.h"
#include "pipeline/encode_state.h"
#include "pipeline/weight_names.h"

namespace deepcomp {
namespace {

constexpr const char* kCaller = "bits_for_budget";
// The dynamic programme counts bytes in units of 1 / kBudgetSteps of the widest file's layers (1 byte
// for small models): time and memory grow with layers × kBudgetSteps.
constexpr int64_t kBudgetSteps = 20000;

// A width a layer can take: its bits, the metric it lost alone at that width, its weight's bytes and codebooks.
struct Width {
  int64_t bits;
  double drop;
  int64_t bytes;
  int64_t codebooks;
};
struct LayerWidths {
  std::string layer;
  std::vector<Width> widths;  // widest first
  size_t chosen = 0;          // an index into widths
  const Width& now() const { return widths[chosen]; }
};

bool fewer_bytes(const Width& a, const Width& b) { return a.bytes < b.bytes; }

// The index of a layer's width of the fewest bytes.
size_t smallest_width(const LayerWidths& layer) {
  return static_cast<size_t>(std::min_element(layer.widths.begin(), layer.widths.end(), fewer_bytes) -
                             layer.widths.begin());
}

// The layers of the bits sweep (measured order) with their measured widths, NaN metrics left out.
std::vector<LayerWidths> widths_of(const SensitivityReport& report, bool higher_is_better) {
  std::vector<LayerWidths> layers;
  std::map<std::string, size_t> position;
  for (const auto& point : report.points) {
    if (point.kind != "quantize") continue;
    DEEPCOMP_CHECK_VALUE(point.bytes > 0, kCaller, ": the point of layer '", point.layer, "' at ", point.value,
                         " bits has no file size (bytes); use a report of sensitivity's bits sweep");
    const auto [at, added] = position.emplace(point.layer, layers.size());
    if (added) layers.push_back({point.layer, {}});
    if (std::isnan(point.metric)) continue;
    const double drop = higher_is_better ? report.baseline - point.metric : point.metric - report.baseline;
    layers[at->second].widths.push_back({static_cast<int64_t>(point.value), drop, point.bytes, point.codebooks});
  }
  DEEPCOMP_CHECK_VALUE(!layers.empty(), kCaller, ": the report has no bits sweep; measure with bits=...");
  for (auto& [layer, widths, chosen] : layers) {
    DEEPCOMP_CHECK_VALUE(!widths.empty(), kCaller, ": every width of layer '", layer, "' measured NaN");
    std::stable_sort(widths.begin(), widths.end(), [](const Width& a, const Width& b) { return a.bits > b.bits; });
  }
  return layers;
}

// The layer a state-dict entry belongs to when it is part of a weight (`<layer>.<stem>weight`, ...).
std::optional<std::string> weight_layer(const std::string& name) {
  const auto part = weight_part(name);
  if (!part) return std::nullopt;
  const auto dot = part->weight.rfind('.');
  return dot == std::string::npos ? std::string() : part->weight.substr(0, dot);
}

bool grouped(int64_t codebooks) { return codebooks != 1; }

// The bytes of the file without the measured layers' weights (each of those then adds its width's
// bytes). A file with any grouped codebook is format version 3, whose codebook records also give their
// number of codebooks (one byte for a single one): the points and the rest were each encoded alone,
// so the bytes that version adds are added here, to the rest and to the layers' widths.
int64_t rest_of_file(const NamedTensors& state, std::vector<LayerWidths>& layers) {
  std::set<std::string> measured, found;
  for (const auto& layer : layers) measured.insert(layer.layer);
  NamedTensors rest;
  for (const auto& [name, tensor] : state) {
    const auto layer = weight_layer(name);
    if (layer && measured.contains(*layer)) {
      found.insert(*layer);
    } else {
      rest.emplace_back(name, tensor);
    }
  }
  for (const auto& layer : measured) {
    DEEPCOMP_CHECK_VALUE(found.contains(layer), kCaller, ": the state has no weight of layer '", layer,
                         "'; pass the model (or state) the report measured");
  }
  const auto encoded = encode_state(rest, {}, kCaller);
  int64_t rest_codebooks = 0;
  bool rest_grouped = false;
  for (const auto& record : encoded.records) {
    if (!codec::has_codebook(record.kind)) continue;
    ++rest_codebooks;
    rest_grouped = rest_grouped || grouped(static_cast<int64_t>(record.codebook_groups));
  }
  const bool points_grouped = std::any_of(layers.begin(), layers.end(), [](const LayerWidths& layer) {
    return std::any_of(layer.widths.begin(), layer.widths.end(), [](const Width& w) { return grouped(w.codebooks); });
  });
  if (points_grouped || rest_grouped) {
    for (auto& layer : layers) {
      for (auto& width : layer.widths) width.bytes += grouped(width.codebooks) ? 0 : 1;
    }
  }
  return static_cast<int64_t>(encoded.bytes.size()) + (points_grouped && !rest_grouped ? rest_codebooks : 0);
}

// Per layer, the width (an index) of the least summed drop whose bytes fit `room`: a multiple-choice
// knapsack by dynamic programming, each width's bytes rounded up to whole units so that the answer
// fits; nullopt when the rounding leaves none.
std::optional<std::vector<size_t>> least_drop_within(const std::vector<LayerWidths>& layers, int64_t room) {
  int64_t widest = 0;
  for (const auto& layer : layers) {
    widest += std::max_element(layer.widths.begin(), layer.widths.end(), fewer_bytes)->bytes;
  }
  const int64_t unit = std::max<int64_t>(1, (widest + kBudgetSteps - 1) / kBudgetSteps);
  const int64_t capacity = std::min(room, widest) / unit;
  const auto cost = [unit](const Width& w) { return (w.bytes + unit - 1) / unit; };
  constexpr double kNone = std::numeric_limits<double>::infinity();
  std::vector<double> least(capacity + 1, 0.0);  // least[c]: the least drop of the layers so far within c units
  std::vector<std::vector<uint16_t>> choice(layers.size(), std::vector<uint16_t>(capacity + 1));
  for (size_t l = 0; l < layers.size(); ++l) {
    std::vector<double> next(capacity + 1, kNone);
    for (size_t w = 0; w < layers[l].widths.size(); ++w) {
      const auto& width = layers[l].widths[w];
      for (int64_t c = cost(width); c <= capacity; ++c) {
        const double drop = least[c - cost(width)] + width.drop;
        if (drop < next[c]) {
          next[c] = drop;
          choice[l][c] = static_cast<uint16_t>(w);
        }
      }
    }
    least.swap(next);
  }
  if (!(least[capacity] < kNone)) return std::nullopt;
  std::vector<size_t> chosen(layers.size());
  for (int64_t l = static_cast<int64_t>(layers.size()) - 1, c = capacity; l >= 0; --l) {
    chosen[l] = choice[l][c];
    c -= cost(layers[l].widths[chosen[l]]);
  }
  return chosen;
}

// The change of one layer to a wider width that still fits max_bytes and regains the most metric per
// byte added, as (layer, width); nullopt when none does.
std::optional<std::pair<size_t, size_t>> best_widening(const std::vector<LayerWidths>& layers, int64_t file_bytes,
                                                       int64_t max_bytes) {
  std::optional<std::pair<size_t, size_t>> best;
  double best_gain = 0;
  for (size_t l = 0; l < layers.size(); ++l) {
    const auto& now = layers[l].now();
    for (size_t w = 0; w < layers[l].chosen; ++w) {
      const auto& to = layers[l].widths[w];
      const int64_t extra = to.bytes - now.bytes;
      const double regained = now.drop - to.drop;
      if (regained <= 0 || file_bytes + extra > max_bytes) continue;
      const double gain = extra <= 0 ? std::numeric_limits<double>::infinity() : regained / static_cast<double>(extra);
      if (!best || gain > best_gain) {
        best = {l, w};
        best_gain = gain;
      }
    }
  }
  return best;
}

}  // namespace

BitBudget SensitivityReport::bits_for_budget(const NamedTensors& state, int64_t max_bytes,
                                             bool higher_is_better) const {
  DEEPCOMP_CHECK_VALUE(max_bytes > 0, kCaller, ": max_bytes must be > 0, got ", max_bytes);
  auto layers = widths_of(*this, higher_is_better);
  const int64_t rest = rest_of_file(state, layers);
  int64_t smallest = rest;
  for (const auto& layer : layers) smallest += layer.widths[smallest_width(layer)].bytes;
  DEEPCOMP_CHECK_VALUE(smallest <= max_bytes, kCaller, ": no measured widths fit ", max_bytes,
                       " bytes; the smallest file they make is ", smallest, " bytes");
  const auto chosen = least_drop_within(layers, max_bytes - rest);
  int64_t file_bytes = rest;
  for (size_t l = 0; l < layers.size(); ++l) {
    auto& layer = layers[l];
    layer.chosen = chosen ? (*chosen)[l] : smallest_width(layer);
    file_bytes += layer.now().bytes;
  }
  // The rounding to whole units may have left bytes: widen where they still fit, the most metric
  // regained per byte first. Each step lowers the summed drop, so this ends.
  while (const auto to = best_widening(layers, file_bytes, max_bytes)) {
    auto& layer = layers[to->first];
    file_bytes += layer.widths[to->second].bytes - layer.now().bytes;
    layer.chosen = to->second;
  }
  BitBudget budget;
  budget.file_bytes = file_bytes;
  double lost = 0;
  for (const auto& layer : layers) {
    budget.bits[layer.layer] = layer.now().bits;
    lost += layer.now().drop;
  }
  budget.metric = higher_is_better ? baseline - lost : baseline + lost;
  return budget;
}

BitBudget SensitivityReport::bits_for_budget(const torch::nn::Module& model, int64_t max_bytes,
                                             bool higher_is_better) const {
  return bits_for_budget(named_tensors(model), max_bytes, higher_is_better);
}

}  // namespace deepcomp
