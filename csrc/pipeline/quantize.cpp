#include <deepcomp/constants.h>
#include <deepcomp/ops.h>
#include <deepcomp/quantize.h>

#include <algorithm>
#include <iomanip>
#include <ostream>
#include <sstream>

#include "check.h"
#include "pipeline/cpp_model.h"
#include "pipeline/layer_error.h"
#include "pipeline/table.h"

namespace deepcomp {
namespace {

template <size_t N>
void check_choice(const std::string& caller, const char* what, const std::string& value,
                  const std::array<std::string_view, N>& valid) {
  if (std::find(valid.begin(), valid.end(), value) != valid.end()) return;
  std::ostringstream names;
  for (size_t i = 0; i < N; ++i) names << (i ? ", " : "") << "'" << valid[i] << "'";
  DEEPCOMP_THROW(ValueError, c10::str(caller, ": unknown ", what, " '", value, "'; use one of ", names.str()));
}

// Each chosen layer's width: the option for all, the option for its name, or its kind's default.
std::vector<int64_t> bits_per_layer(const ModelEntries& model, const std::vector<size_t>& chosen,
                                    const QuantizeOptions& options, const std::string& caller) {
  const auto* all = options.bits ? std::get_if<int64_t>(&*options.bits) : nullptr;
  const auto* per_layer = options.bits ? std::get_if<std::map<std::string, int64_t>>(&*options.bits) : nullptr;
  if (all) check_bits(caller + ": bits", "every layer gets", *all);
  if (per_layer) {
    for (const auto& [name, bits] : *per_layer) {
      const size_t index = check_layer(model, LayerUse::quantize, caller, name);
      DEEPCOMP_CHECK_VALUE(std::find(chosen.begin(), chosen.end(), index) != chosen.end(), caller,
                           ": bits names layer '", name, "', which layers= leaves out or exclude= removes");
      check_bits(c10::str(caller, ": bits for '", name, "'"), "layer '" + name + "' gets", bits);
    }
  }
  std::vector<int64_t> widths;
  for (const size_t index : chosen) {
    const auto& name = model[index].name;
    if (all) {
      widths.push_back(*all);
    } else if (per_layer && per_layer->contains(name)) {
      widths.push_back(per_layer->at(name));
    } else {
      widths.push_back(find_layer_kind(model[index].kind)->default_bits);
    }
  }
  return widths;
}

// A layer's number of codebooks: one, or one per group_size slices of its first dimension (the last
// groups a slice shorter where group_size does not divide it: groups are as even as possible).
int64_t groups_of(const ModuleEntry& layer, const std::optional<int64_t>& group_size) {
  const int64_t slices = layer.weight.dim() >= 1 ? layer.weight.size(0) : 1;
  if (!group_size || slices <= *group_size) return 1;
  return (slices + *group_size - 1) / *group_size;
}

LayerQuantizeStats stats_of(const ModuleEntry& layer, const nn::SharedWeight& shared, int64_t bits) {
  torch::NoGradGuard no_grad;
  const auto kept_weights = layer.weight.masked_select(shared.mask).to(torch::kDouble);
  const auto kept_indices = shared.indices.masked_select(shared.mask).to(torch::kLong);
  const auto decoded = ops::codebook_decode(shared.indices, shared.mask, shared.codebook.detach().to(torch::kDouble));
  const double error = (kept_weights - decoded.masked_select(shared.mask)).pow(2).sum().item<double>();
  const auto counts = torch::bincount(kept_indices, {}, shared.codebook.size(-1));
  const auto used = counts.masked_select(counts > 0).to(torch::kDouble);
  const auto p = used / std::max<int64_t>(1, kept_indices.numel());
  const double entropy = used.numel() > 1 ? -(p * p.log2()).sum().item<double>() : 0.0;
  const int64_t groups = shared.codebook.dim() == 2 ? shared.codebook.size(0) : 1;
  return {layer.name, std::string(find_layer_kind(layer.kind)->dense), shared.mask.sizes().vec(), bits, groups,
          shared.mask.numel(), kept_indices.numel(), used.numel(), error, entropy};
}

}  // namespace

void check_cluster_options(const QuantizeOptions& options, const std::string& caller) {
  check_choice(caller, "codebook init", options.init, kCodebookInits);
  check_choice(caller, "k-means method", options.method, kKMeansMethods);
  DEEPCOMP_CHECK_VALUE(options.seed >= 0, caller, ": seed must be >= 0, got ", options.seed);
  DEEPCOMP_CHECK_VALUE(!options.group_size || *options.group_size >= 1, caller, ": group_size must be >= 1, got ",
                       options.group_size.value_or(0));
}

nn::SharedWeight cluster_layer(const ModuleEntry& layer, int64_t bits, const QuantizeOptions& options,
                               const std::string& caller) {
  return on_layer(caller, layer.name, [&] {
    const auto given = options.importance.find(layer.name);
    const auto importance = given != options.importance.end() ? given->second
                            : options.calibration         ? weight_input_moments(layer, *options.calibration, caller)
                                                          : torch::Tensor();
    return nn::cluster_weight(layer.weight, layer.mask, bits, {options.init, options.method, options.seed}, importance,
                              groups_of(layer, options.group_size));
  });
}

QuantizePlan plan_quantize(const ModelEntries& model, const QuantizeOptions& options, const std::string& caller) {
  check_cluster_options(options, caller);
  const auto choice = choose_layers(model, LayerUse::quantize, caller, options.layers, options.exclude);
  const auto widths = bits_per_layer(model, choice.chosen, options, caller);

  QuantizePlan plan;
  plan.report.init = options.init;
  plan.report.method = options.method;
  plan.report.skipped = choice.skipped;
  for (const auto& [name, importance] : options.importance) {
    const size_t index = check_layer(model, LayerUse::quantize, caller, name);
    DEEPCOMP_CHECK_VALUE(std::find(choice.chosen.begin(), choice.chosen.end(), index) != choice.chosen.end(), caller,
                         ": importance given for layer '", name, "', which is not quantized (layers=, exclude=)");
  }
  for (size_t i = 0; i < choice.chosen.size(); ++i) {
    const auto& layer = model[choice.chosen[i]];
    auto shared = cluster_layer(layer, widths[i], options, caller);
    plan.report.layers.push_back(stats_of(layer, shared, widths[i]));
    plan.layers.push_back(choice.chosen[i]);
    plan.weights.push_back(std::move(shared));
  }
  return plan;
}

QuantizeReport quantize(torch::nn::Module& model, const QuantizeOptions& options) {
  auto described = describe_model(model);
  auto plan = plan_quantize(described.entries, options);
  warn_skipped("deepcomp::quantize", plan.report.skipped);
  std::unordered_map<torch::nn::Module*, ModulePtr> twins;  // all built before any is put in place
  for (size_t i = 0; i < plan.layers.size(); ++i) {
    auto& module = described.modules[plan.layers[i]];
    twins[module.get()] = shared_twin(*module, plan.weights[i]);
  }
  replace_children(model, twins);
  return std::move(plan.report);
}

std::string QuantizeReport::table() const {
  const auto significant = [](double value) {
    std::ostringstream text;
    text << std::setprecision(4) << value;
    return text.str();
  };
  std::vector<TableRow> rows;
  int64_t kept = 0;
  double error = 0;
  for (const auto& l : layers) {
    rows.push_back({l.name, l.kind, shape_text(l.shape), std::to_string(l.bits), std::to_string(l.k()),
                    std::to_string(l.groups), std::to_string(l.clusters_used), std::to_string(l.kept), significant(l.squared_error),
                    fixed(l.index_entropy, 2)});
    kept += l.kept;
    error += l.squared_error;
  }
  return format_table({"layer", "type", "shape", "bits", "k", "groups", "used", "kept", "sq. error", "entropy"},
                      rows, {"total", "", "", "", "", "", "", std::to_string(kept), significant(error), ""});
}

std::ostream& operator<<(std::ostream& stream, const QuantizeReport& report) { return stream << report.table(); }

}  // namespace deepcomp
