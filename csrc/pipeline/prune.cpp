#include <deepcomp/ops.h>
#include <deepcomp/prune.h>

#include <ostream>
#include <sstream>

#include "check.h"
#include "pipeline/cpp_model.h"
#include "pipeline/layer_error.h"
#include "pipeline/table.h"

namespace deepcomp {
namespace {

double value_for(const LayerValues& values, const std::string& name) {
  if (const auto* all = std::get_if<double>(&values)) return *all;
  return std::get<std::map<std::string, double>>(values).at(name);
}

std::optional<std::vector<std::string>> named_in(const LayerValues& values) {
  const auto* per_layer = std::get_if<std::map<std::string, double>>(&values);
  if (per_layer == nullptr) return std::nullopt;
  std::vector<std::string> names;
  for (const auto& entry : *per_layer) names.push_back(entry.first);
  return names;
}

}  // namespace

PrunePlan plan_prune(const ModelEntries& model, const PruneOptions& options, const std::string& caller) {
  DEEPCOMP_CHECK_VALUE(options.sensitivity.has_value() != options.sparsity.has_value(), caller,
                       ": give exactly one of sensitivity or sparsity");
  DEEPCOMP_CHECK_VALUE(options.criterion == "magnitude" || options.criterion == "activation", caller,
                       ": criterion must be 'magnitude' or 'activation', got '", options.criterion, "'");
  const bool by_activation = options.criterion == "activation";
  DEEPCOMP_CHECK_VALUE(!by_activation || options.calibration.has_value(), caller,
                       ": criterion 'activation' weighs each weight by the inputs it meets; give the calibration "
                       "statistics (deepcomp.calibrate in Python)");
  const bool by_sensitivity = options.sensitivity.has_value();
  const auto& values = by_sensitivity ? *options.sensitivity : *options.sparsity;
  const auto choice = choose_layers(model, LayerUse::prune, caller, options.layers, options.exclude, named_in(values));

  torch::NoGradGuard no_grad;
  PrunePlan plan;
  plan.report.criterion = by_sensitivity ? "sensitivity" : "sparsity";
  plan.report.score = options.criterion;
  plan.report.skipped = choice.skipped;
  for (const size_t index : choice.chosen) {
    const auto& layer = model[index];
    const double value = value_for(values, layer.name);
    auto mask = on_layer(caller, layer.name, [&] {
      // The sizes pruned by: |w|, or |w| × RMS of its input (non-negative, so magnitude_prune's |.| keeps them).
      const auto size = by_activation
                            ? layer.weight.abs() * weight_input_moments(layer, *options.calibration, caller).sqrt()
                            : layer.weight;
      return by_sensitivity ? ops::magnitude_prune(size, layer.mask, value, std::nullopt)
                            : ops::magnitude_prune(size, layer.mask, std::nullopt, value);
    });
    plan.report.layers.push_back({layer.name, std::string(find_layer_kind(layer.kind)->dense),
                                  layer.weight.sizes().vec(), layer.weight.numel(), mask.sum().item<int64_t>()});
    plan.layers.push_back(index);
    plan.masks.push_back(std::move(mask));
  }
  return plan;
}

PruneReport prune(torch::nn::Module& model, const PruneOptions& options) {
  auto described = describe_model(model);
  auto plan = plan_prune(described.entries, options);
  warn_skipped("deepcomp::prune", plan.report.skipped);

  torch::NoGradGuard no_grad;
  std::unordered_map<torch::nn::Module*, ModulePtr> twins;
  for (size_t i = 0; i < plan.layers.size(); ++i) {
    auto module = described.modules[plan.layers[i]];
    if (!masked_tensors(*module)) {
      auto twin = masked_twin(*module);
      twins[module.get()] = twin;
      module = twin;
    }
    auto layer = *masked_tensors(*module);
    layer.mask.copy_(plan.masks[i]);
    ops::apply_mask_(layer.weight, layer.mask);
  }
  replace_children(model, twins);
  return std::move(plan.report);
}

void enforce_masks(torch::nn::Module& model) {
  torch::NoGradGuard no_grad;
  for (const auto& module : model.modules(/*include_self=*/true)) {
    if (auto layer = masked_tensors(*module)) ops::apply_mask_(layer->weight, layer->mask);
  }
}

int64_t PruneReport::total_weights() const {
  int64_t total = 0;
  for (const auto& layer : layers) total += layer.weights;
  return total;
}

int64_t PruneReport::total_kept() const {
  int64_t total = 0;
  for (const auto& layer : layers) total += layer.kept;
  return total;
}

double PruneReport::kept_fraction() const {
  const int64_t weights = total_weights();
  return weights ? static_cast<double>(total_kept()) / static_cast<double>(weights) : 1.0;
}

std::string PruneReport::table() const {
  const auto percent = [](int64_t kept, int64_t weights) {
    return fixed(weights ? 100.0 * static_cast<double>(kept) / static_cast<double>(weights) : 100.0, 2) + "%";
  };
  std::vector<TableRow> rows;
  for (const auto& layer : layers) {
    rows.push_back({layer.name, layer.kind, shape_text(layer.shape), std::to_string(layer.weights),
                    std::to_string(layer.kept), percent(layer.kept, layer.weights)});
  }
  return format_table({"layer", "type", "shape", "weights", "kept", "kept %"}, rows,
                      {"total", "", "", std::to_string(total_weights()), std::to_string(total_kept()),
                       percent(total_kept(), total_weights())});
}

std::ostream& operator<<(std::ostream& stream, const PruneReport& report) { return stream << report.table(); }

}  // namespace deepcomp
