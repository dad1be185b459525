#include <deepcomp/ops.h>
#include <deepcomp/sensitivity.h>

#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <ostream>
#include <set>
#include <sstream>

#include "pipeline/layers.h"
#include "pipeline/table.h"

namespace deepcomp {
namespace {

constexpr const char* kPrune = "prune";
constexpr const char* kQuantize = "quantize";

// A masked layer's weight and mask, or a dense Linear / Conv2d's weight with an all-true mask: the
// sweep only changes weights (and puts them back), so dense layers need no masked twin here.
std::optional<MaskedLayer> as_measurable(const std::string& name, torch::nn::Module& module) {
  if (auto layer = as_masked(name, module)) return layer;
  torch::Tensor weight;
  if (auto* linear = module.as<torch::nn::LinearImpl>()) {
    weight = linear->weight;
  } else if (auto* conv = module.as<torch::nn::Conv2dImpl>()) {
    weight = conv->weight;
  } else {
    return std::nullopt;
  }
  return MaskedLayer{name, weight, torch::ones_like(weight, torch::kBool)};
}

std::vector<MaskedLayer> select_layers(torch::nn::Module& model, const SensitivityOptions& options) {
  const auto modules = model.named_modules("", /*include_self=*/true);
  std::vector<MaskedLayer> selected;
  if (!options.layers) {
    for (const auto& item : modules) {
      if (auto layer = as_measurable(item.key(), *item.value())) selected.push_back(std::move(*layer));
    }
    return selected;
  }
  for (const auto& name : *options.layers) {
    const auto* found = modules.find(name);
    if (found == nullptr) {
      std::ostringstream known;
      for (const auto& item : modules) {
        if (as_measurable(item.key(), *item.value())) known << " '" << item.key() << "'";
      }
      C10_THROW_ERROR(ValueError, c10::str("deepcomp::sensitivity: no layer named '", name,
                                           "' in the model; the layers it can measure are:", known.str()));
    }
    auto layer = as_measurable(name, **found);
    TORCH_CHECK_VALUE(layer.has_value(), "deepcomp::sensitivity: layer '", name, "' is a ", (*found)->name(),
                      "; it measures Linear and Conv2d layers (plain or masked)");
    const bool seen = std::any_of(selected.begin(), selected.end(), [&](const auto& l) { return l.name == name; });
    if (!seen) selected.push_back(std::move(*layer));
  }
  return selected;
}

void check_values(const SensitivityOptions& options) {
  if (options.sparsities) {
    TORCH_CHECK_VALUE(!options.sparsities->empty(),
                      "deepcomp::sensitivity: sparsities is empty; set it to std::nullopt to skip that sweep");
    for (const double sparsity : *options.sparsities) {
      TORCH_CHECK_VALUE(std::isfinite(sparsity) && sparsity >= 0 && sparsity < 1,
                        "deepcomp::sensitivity: sparsities must be in [0, 1), got ", sparsity);
    }
  }
  if (options.bits) {
    TORCH_CHECK_VALUE(!options.bits->empty(),
                      "deepcomp::sensitivity: bits is empty; set it to std::nullopt to skip that sweep");
    for (const int64_t bits : *options.bits) {
      TORCH_CHECK_VALUE(bits >= 1 && bits <= 8,
                        "deepcomp::sensitivity: bits must be in 1..8 (a codebook of 2^bits centroids), got ", bits);
    }
  }
  TORCH_CHECK_VALUE(options.sparsities || options.bits,
                    "deepcomp::sensitivity: nothing to measure; set SensitivityOptions::sparsities or bits");
}

// The layer's weight pruned to `value` sparsity, or quantized to `value` bits (a new tensor).
torch::Tensor changed_weight(const MaskedLayer& layer, const std::string& kind, double value) {
  torch::NoGradGuard no_grad;
  try {
    if (kind == kPrune) {
      return ops::apply_mask(layer.weight, ops::magnitude_prune(layer.weight, layer.mask, std::nullopt, value));
    }
    const auto [codebook, indices] = ops::kmeans_quantize(layer.weight.detach(), layer.mask,
                                                          static_cast<int64_t>(value));
    return ops::codebook_decode(indices, layer.mask, codebook);
  } catch (const c10::Error& error) {
    C10_THROW_ERROR(ValueError, c10::str("deepcomp::sensitivity: layer '", layer.name, "': ",
                                         error.what_without_backtrace()));
  }
}

// Keeps a copy of a weight and writes it back, bit for bit, when it goes out of scope: also when
// evaluate throws, so the user's model is never left changed.
class RestoreOnExit {
 public:
  explicit RestoreOnExit(torch::Tensor weight) : weight_(std::move(weight)), saved_(weight_.detach().clone()) {}
  RestoreOnExit(const RestoreOnExit&) = delete;
  RestoreOnExit& operator=(const RestoreOnExit&) = delete;
  ~RestoreOnExit() {
    torch::NoGradGuard no_grad;
    weight_.copy_(saved_);  // same shape, dtype and device: cannot fail short of a broken device
  }

 private:
  torch::Tensor weight_;
  torch::Tensor saved_;
};

double measure(torch::nn::Module& model, const std::function<double(torch::nn::Module&)>& evaluate,
               const MaskedLayer& layer, const std::string& kind, double value) {
  const auto changed = changed_weight(layer, kind, value);
  RestoreOnExit restore(layer.weight);
  {
    torch::NoGradGuard no_grad;
    layer.weight.copy_(changed);
  }
  return evaluate(model);
}

std::string value_text(const std::string& kind, double value) {
  std::ostringstream text;
  if (kind == kPrune) {
    text << 100 * value << "%";
  } else {
    text << static_cast<int64_t>(value) << " bits";
  }
  return text.str();
}

void check_kind(const std::string& kind) {
  TORCH_CHECK_VALUE(kind == kPrune || kind == kQuantize, "unknown sweep kind '", kind,
                    "'; use \"prune\" or \"quantize\"");
}

}  // namespace

SensitivityReport sensitivity(torch::nn::Module& model, const std::function<double(torch::nn::Module&)>& evaluate,
                              const SensitivityOptions& options) {
  TORCH_CHECK_VALUE(static_cast<bool>(evaluate), "deepcomp::sensitivity: evaluate is an empty std::function");
  check_values(options);
  const auto layers = select_layers(model, options);

  SensitivityReport report;
  report.baseline = evaluate(model);
  if (options.sparsities) {
    for (const auto& layer : layers) {
      for (const double sparsity : *options.sparsities) {
        report.points.push_back({layer.name, kPrune, sparsity, measure(model, evaluate, layer, kPrune, sparsity)});
      }
    }
  }
  if (options.bits) {
    for (const auto& layer : layers) {
      for (const int64_t bits : *options.bits) {
        const auto value = static_cast<double>(bits);
        report.points.push_back({layer.name, kQuantize, value, measure(model, evaluate, layer, kQuantize, value)});
      }
    }
  }
  return report;
}

std::map<std::string, std::vector<std::pair<double, double>>> SensitivityReport::curves(
    const std::string& kind) const {
  check_kind(kind);
  std::map<std::string, std::vector<std::pair<double, double>>> curves;
  for (const auto& point : points) {
    if (point.kind == kind) curves[point.layer].emplace_back(point.value, point.metric);
  }
  return curves;
}

std::string SensitivityReport::table(const std::string& kind) const {
  check_kind(kind);
  std::vector<std::string> layers;  // in measured order
  std::set<double> values;
  for (const auto& point : points) {
    if (point.kind != kind) continue;
    if (std::find(layers.begin(), layers.end(), point.layer) == layers.end()) layers.push_back(point.layer);
    values.insert(point.value);
  }
  TableRow header{"layer"};
  for (const double value : values) header.push_back(value_text(kind, value));
  std::vector<TableRow> rows;
  for (const auto& layer : layers) {
    TableRow row{layer};
    for (const double value : values) {
      std::string cell;
      for (const auto& point : points) {
        if (point.kind == kind && point.layer == layer && point.value == value) {
          std::ostringstream text;
          text << std::setprecision(4) << point.metric;
          cell = text.str();
        }
      }
      row.push_back(cell);
    }
    rows.push_back(std::move(row));
  }
  return format_table(header, rows);
}

std::ostream& operator<<(std::ostream& stream, const SensitivityReport& report) {
  std::ostringstream baseline;
  baseline << std::setprecision(4) << report.baseline;
  stream << "baseline (nothing changed): " << baseline.str() << "\n";
  for (const auto* kind : {kPrune, kQuantize}) {
    const bool present = std::any_of(report.points.begin(), report.points.end(),
                                     [&](const auto& point) { return point.kind == kind; });
    if (!present) continue;
    stream << "\nmetric with one layer " << (std::string(kind) == kPrune ? "pruned alone to sparsity" :
                                                                           "quantized alone to bits")
           << ":\n" << report.table(kind);
  }
  return stream;
}

}  // namespace deepcomp
