#include <deepcomp/constants.h>
#include <deepcomp/ops.h>
#include <deepcomp/sensitivity.h>

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <ostream>
#include <set>
#include <sstream>

#include "check.h"
#include "pipeline/cpp_model.h"
#include "pipeline/encode_state.h"
#include "pipeline/layer_error.h"
#include "pipeline/table.h"
#include "pipeline/tensor_records.h"
#include "pipeline/weight_names.h"

namespace deepcomp {
namespace {

constexpr const char* kPrune = "prune";
constexpr const char* kQuantize = "quantize";

// A value as Python prints a float: "1.0", "0.25".
std::string float_text(double value) {
  std::ostringstream text;
  text << value;
  const auto shown = text.str();
  return shown.find_first_of(".eni") == std::string::npos ? shown + ".0" : shown;
}

void check_values(const SensitivityOptions& options, const std::string& caller) {
  if (options.sparsities) {
    DEEPCOMP_CHECK_VALUE(!options.sparsities->empty(), caller,
                         ": sparsities is empty; pass None (C++: std::nullopt) to skip that sweep");
    for (const double sparsity : *options.sparsities) {
      DEEPCOMP_CHECK_VALUE(std::isfinite(sparsity) && sparsity >= 0 && sparsity < 1, caller,
                           ": sparsities must be in [0, 1), got ", float_text(sparsity));
    }
  }
  if (options.bits) {
    DEEPCOMP_CHECK_VALUE(!options.bits->empty(), caller,
                         ": bits is empty; pass None (C++: std::nullopt) to skip that sweep");
    for (const int64_t bits : *options.bits) {
      check_bits(caller + ": bits", "each layer in turn gets", bits);
    }
    check_cluster_options(options.quantize, caller);
  }
  DEEPCOMP_CHECK_VALUE(options.sparsities || options.bits, caller, ": nothing to measure; pass sparsities= or bits=");
}

// Copies a layer's tensors and writes them back, bit for bit, when it goes out of scope: also when
// evaluate throws, so the user's model is never left changed. Written back in place (the model's
// description aliases the weights); set_data only where a shared layer's codebook changed size, which
// keeps the tensor's identity (the module's member and its registered Parameter).
class RestoreOnExit {
 public:
  explicit RestoreOnExit(std::vector<torch::Tensor> tensors) : tensors_(std::move(tensors)) {
    for (const auto& tensor : tensors_) saved_.push_back(tensor.detach().clone());
  }
  RestoreOnExit(const RestoreOnExit&) = delete;
  RestoreOnExit& operator=(const RestoreOnExit&) = delete;
  ~RestoreOnExit() {
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < tensors_.size(); ++i) {
      if (tensors_[i].sizes() == saved_[i].sizes()) {
        tensors_[i].copy_(saved_[i]);
      } else {
        tensors_[i].set_data(saved_[i]);
      }
    }
  }

 private:
  std::vector<torch::Tensor> tensors_;
  std::vector<torch::Tensor> saved_;
};

SensitivityPoint measure(torch::nn::Module& model, const std::function<double(torch::nn::Module&)>& evaluate,
                         torch::nn::Module& layer, const ModuleEntry& entry, const std::string& kind, double value,
                         const QuantizeOptions& clustering) {
  const auto change = sweep_change(entry, kind, value, clustering);
  SensitivityPoint point{entry.name, kind, value, 0.0, change.bytes, change.codebooks};
  torch::NoGradGuard no_grad;
  const auto parameters = layer.named_parameters(/*recurse=*/false);
  const auto stem = weight_stem(layer);  // attention's are in_proj_weight, in_proj_codebook, ...
  if (const auto* weight = parameters.find(stem + "weight")) {  // a plain or masked layer
    RestoreOnExit restore({*weight});
    weight->copy_(change.weight);
    point.metric = evaluate(model);
    return point;
  }
  auto codebook = parameters[stem + "codebook"];  // a shared layer: its own codebook and indices
  auto indices = layer.named_buffers(/*recurse=*/false)[stem + "indices"];
  RestoreOnExit restore({codebook, indices});
  codebook.set_data(change.shared.codebook.to(codebook.dtype()));
  indices.copy_(change.shared.indices);
  point.metric = evaluate(model);
  return point;
}

// The state-dict name of a layer's weight: `<layer>.<stem>weight`.
std::string weight_name(const ModuleEntry& layer) {
  const auto* kind = find_layer_kind(layer.kind);
  const std::string leaf = std::string(kind ? kind->weight_stem : "") + "weight";
  return layer.name.empty() ? leaf : layer.name + "." + leaf;
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
  DEEPCOMP_CHECK_VALUE(kind == kPrune || kind == kQuantize, "unknown sweep kind '", kind,
                       "'; use \"prune\" or \"quantize\"");
}

// magnitude_prune(sparsity=f) prunes floor(f × numel) weights in all; the threshold on |w| of the
// survivors that drops just the missing ones (halfway between the last dropped and the first kept),
// in units of the survivors' std: the paper's sensitivity.
double sensitivity_for_sparsity(const torch::Tensor& weight, const torch::Tensor& mask, double sparsity) {
  torch::NoGradGuard no_grad;
  const auto survivors = weight.masked_select(mask).to(torch::kDouble);
  const int64_t n = weight.numel();
  const int64_t extra = static_cast<int64_t>(std::floor(sparsity * static_cast<double>(n))) - (n - survivors.numel());
  if (extra <= 0 || survivors.numel() < 2) return 0.0;
  const double spread = survivors.std().item<double>();
  if (!(spread > 0)) return 0.0;
  const auto magnitudes = std::get<0>(survivors.abs().sort());
  const double threshold = (magnitudes[extra - 1].item<double>() + magnitudes[extra].item<double>()) / 2;
  return threshold / spread;
}

}  // namespace

SensitivityPlan plan_sensitivity(const ModelEntries& model, const SensitivityOptions& options,
                                 const std::string& caller) {
  check_values(options, caller);
  SensitivityPlan plan;
  if (options.sparsities) {
    auto choice = choose_layers(model, LayerUse::measure_pruning, caller, options.layers, options.exclude);
    plan.sweeps.push_back({kPrune, *options.sparsities, std::move(choice.chosen)});
    plan.skipped = std::move(choice.skipped);
  }
  if (options.bits) {
    auto choice = choose_layers(model, LayerUse::measure_quantizing, caller, options.layers, options.exclude);
    plan.sweeps.push_back({kQuantize, std::vector<double>(options.bits->begin(), options.bits->end()),
                           std::move(choice.chosen)});
    if (!options.sparsities) plan.skipped = std::move(choice.skipped);
  }
  return plan;
}

SweepChange sweep_change(const ModuleEntry& layer, const std::string& kind, double value,
                         const QuantizeOptions& clustering, const std::string& caller) {
  check_kind(kind);
  torch::NoGradGuard no_grad;
  if (kind == kPrune) {
    return on_layer(caller, layer.name, [&]() -> SweepChange {
      return {ops::apply_mask(layer.weight, ops::magnitude_prune(layer.weight, layer.mask, std::nullopt, value)), {}};
    });
  }
  auto shared = cluster_layer(layer, static_cast<int64_t>(value), clustering, caller);
  const auto record = codebook_record(weight_name(layer), shared.codebook, shared.indices, shared.mask,
                                      default_gap_bits(shared.indices));
  return {ops::codebook_decode(shared.indices, shared.mask, shared.codebook), shared, bytes_in_file(record),
          static_cast<int64_t>(record.codebook_groups)};
}

SensitivityReport sensitivity(torch::nn::Module& model, const std::function<double(torch::nn::Module&)>& evaluate,
                              const SensitivityOptions& options) {
  DEEPCOMP_CHECK_VALUE(static_cast<bool>(evaluate), "deepcomp::sensitivity: evaluate is an empty std::function");
  const auto described = describe_model(model);
  const auto plan = plan_sensitivity(described.entries, options);
  warn_skipped("deepcomp::sensitivity", plan.skipped);

  SensitivityReport report;
  report.skipped = plan.skipped;
  report.baseline = evaluate(model);
  for (const auto& sweep : plan.sweeps) {
    for (const size_t index : sweep.layers) {
      const auto& entry = described.entries[index];
      for (const double value : sweep.values) {
        report.points.push_back(
            measure(model, evaluate, *described.modules[index], entry, sweep.kind, value, options.quantize));
      }
    }
  }
  return report;
}

std::vector<std::string> SensitivityReport::layers() const {
  std::vector<std::string> names;
  for (const auto& point : points) {
    if (std::find(names.begin(), names.end(), point.layer) == names.end()) names.push_back(point.layer);
  }
  return names;
}

std::vector<std::string> SensitivityReport::kinds() const {
  std::vector<std::string> present;
  for (const auto* kind : {kPrune, kQuantize}) {
    if (std::any_of(points.begin(), points.end(), [&](const auto& point) { return point.kind == kind; })) {
      present.emplace_back(kind);
    }
  }
  return present;
}

std::map<std::string, double> SensitivityReport::tolerated(double max_drop, const std::string& kind,
                                                           bool higher_is_better) const {
  DEEPCOMP_CHECK_VALUE(max_drop >= 0, "max_drop must be a number >= 0 (in the metric's units), got ", max_drop);
  std::map<std::string, double> tolerated;
  for (const auto& [layer, curve] : curves(kind)) {
    double best = kind == kPrune ? 0.0 : static_cast<double>(kMaxBits);
    for (const auto& [value, metric] : curve) {
      const bool passes = higher_is_better ? metric >= baseline - max_drop : metric <= baseline + max_drop;
      if (passes) best = kind == kPrune ? std::max(best, value) : std::min(best, value);
    }
    tolerated[layer] = best;
  }
  return tolerated;
}

std::map<std::string, double> SensitivityReport::sensitivities(const ModelEntries& model, double max_drop,
                                                               bool higher_is_better) const {
  std::map<std::string, double> values;
  for (const auto& [name, sparsity] : tolerated(max_drop, kPrune, higher_is_better)) {
    const auto& layer = model[check_layer(model, LayerUse::measure_pruning, "sensitivities", name)];
    values[name] = sensitivity_for_sparsity(layer.weight, layer.mask, sparsity);
  }
  return values;
}

std::map<std::string, double> SensitivityReport::sensitivities(torch::nn::Module& model, double max_drop,
                                                               bool higher_is_better) const {
  return sensitivities(describe_model(model).entries, max_drop, higher_is_better);
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
  if (report.interrupted) stream << "\n(interrupted: the sweep is incomplete)\n";
  return stream;
}

}  // namespace deepcomp
