#include <deepcomp/ops.h>
#include <deepcomp/prune.h>

#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include <ostream>
#include <sstream>

#include "pipeline/layers.h"
#include "pipeline/table.h"

namespace deepcomp {
namespace {

// The masked layer called `name`, or an error that says why it cannot be pruned.
MaskedLayer find_masked(torch::nn::Module& model, const std::string& name) {
  const auto modules = model.named_modules("", /*include_self=*/true);
  const auto* found = modules.find(name);
  if (found == nullptr) {
    std::ostringstream known;
    for (const auto& layer : all_masked_layers(model)) known << " '" << layer.name << "'";
    C10_THROW_ERROR(ValueError, c10::str("no layer named '", name, "' in the model; its masked layers are:",
                                         known.str()));
  }
  auto& module = **found;
  if (auto layer = as_masked(name, module)) return *layer;
  const bool dense = module.as<torch::nn::LinearImpl>() || module.as<torch::nn::Conv2dImpl>();
  TORCH_CHECK_VALUE(!dense, "layer '", name, "' is a ", module.name(),
                    "; C++ modules hold their layers by type, so declare it as deepcomp::nn::MaskedLinear or "
                    "MaskedConv2d (same options) to prune it");
  C10_THROW_ERROR(ValueError, c10::str("layer '", name, "' is a ", module.name(),
                                       ", which deepcomp cannot prune; it prunes MaskedLinear and MaskedConv2d "
                                       "layers"));
}

std::vector<MaskedLayer> select_layers(torch::nn::Module& model, const PruneOptions& options,
                                       const LayerValues& values) {
  std::vector<MaskedLayer> selected;
  if (options.layers) {
    for (const auto& name : *options.layers) selected.push_back(find_masked(model, name));
  } else {
    selected = all_masked_layers(model);
  }
  if (const auto* per_layer = std::get_if<std::map<std::string, double>>(&values)) {
    for (const auto& entry : *per_layer) find_masked(model, entry.first);  // every key must be a masked layer
    std::erase_if(selected, [&](const MaskedLayer& layer) { return !per_layer->contains(layer.name); });
  }
  return selected;
}

double value_for(const LayerValues& values, const std::string& name) {
  if (const auto* all = std::get_if<double>(&values)) return *all;
  return std::get<std::map<std::string, double>>(values).at(name);
}

}  // namespace

PruneReport prune(torch::nn::Module& model, const PruneOptions& options) {
  TORCH_CHECK_VALUE(options.sensitivity.has_value() != options.sparsity.has_value(),
                    "deepcomp::prune: set exactly one of PruneOptions::sensitivity or PruneOptions::sparsity");
  const bool by_sensitivity = options.sensitivity.has_value();
  const auto& values = by_sensitivity ? *options.sensitivity : *options.sparsity;
  const auto layers = select_layers(model, options, values);

  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> new_masks;  // all computed (and checked) before any layer changes
  for (const auto& layer : layers) {
    const double value = value_for(values, layer.name);
    try {
      new_masks.push_back(by_sensitivity ? ops::magnitude_prune(layer.weight, layer.mask, value, std::nullopt)
                                         : ops::magnitude_prune(layer.weight, layer.mask, std::nullopt, value));
    } catch (const c10::Error& error) {
      TORCH_CHECK_VALUE(false, "layer '", layer.name, "': ", error.what_without_backtrace());
    }
  }

  PruneReport report;
  for (size_t i = 0; i < layers.size(); ++i) {
    auto weight = layers[i].weight;
    layers[i].mask.copy_(new_masks[i]);
    ops::apply_mask_(weight, layers[i].mask);
    report.layers.push_back({layers[i].name, weight.sizes().vec(), weight.numel(),
                             layers[i].mask.sum().item<int64_t>()});
  }
  return report;
}

void enforce_masks(torch::nn::Module& model) {
  torch::NoGradGuard no_grad;
  for (auto& layer : all_masked_layers(model)) ops::apply_mask_(layer.weight, layer.mask);
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

std::string PruneReport::table() const {
  const auto percent = [](int64_t kept, int64_t weights) {
    return fixed(weights ? 100.0 * static_cast<double>(kept) / static_cast<double>(weights) : 100.0, 2) + "%";
  };
  std::vector<TableRow> rows;
  for (const auto& layer : layers) {
    rows.push_back({layer.name, shape_text(layer.shape), std::to_string(layer.weights), std::to_string(layer.kept),
                    percent(layer.kept, layer.weights)});
  }
  return format_table({"layer", "shape", "weights", "kept", "kept %"}, rows,
                      {"total", "", std::to_string(total_weights()), std::to_string(total_kept()),
                       percent(total_kept(), total_weights())});
}

std::ostream& operator<<(std::ostream& stream, const PruneReport& report) { return stream << report.table(); }

}  // namespace deepcomp
