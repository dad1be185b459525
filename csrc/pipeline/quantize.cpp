#include <deepcomp/nn/masked_conv2d.h>
#include <deepcomp/nn/masked_linear.h>
#include <deepcomp/nn/shared_conv2d.h>
#include <deepcomp/nn/shared_linear.h>
#include <deepcomp/quantize.h>

#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include <algorithm>
#include <functional>
#include <ostream>
#include <sstream>
#include <unordered_map>

#include "nn/conv_options.h"
#include "pipeline/table.h"

namespace deepcomp {
namespace {

using ModulePtr = std::shared_ptr<torch::nn::Module>;

// What quantize needs of a layer it accepts: its kind, its (dense) weight, and how to build its
// shared twin from that weight, the layer's mask and its bias.
struct Quantizable {
  bool conv = false;
  torch::Tensor weight;
  std::function<ModulePtr(int64_t bits, const nn::ClusterOptions&)> make_shared;
};

template <typename Shared, typename Options>
Quantizable quantizable(bool conv, const Options& options, const torch::Tensor& weight, const torch::Tensor& mask,
                        const torch::Tensor& bias) {
  return {conv, weight, [=](int64_t bits, const nn::ClusterOptions& cluster) -> ModulePtr {
            return std::make_shared<Shared>(options, weight, mask, bias, bits, cluster);
          }};
}

std::optional<Quantizable> as_quantizable(torch::nn::Module& module) {
  const auto all = [](const torch::Tensor& weight) { return torch::ones_like(weight, torch::kBool); };
  using nn::SharedConv2dImpl, nn::SharedLinearImpl;
  if (auto* l = module.as<torch::nn::LinearImpl>())
    return quantizable<SharedLinearImpl>(false, l->options, l->weight, all(l->weight), l->bias);
  if (auto* l = module.as<nn::MaskedLinearImpl>())
    return quantizable<SharedLinearImpl>(false, l->options, l->weight, l->mask, l->bias);
  if (auto* l = module.as<SharedLinearImpl>())
    return quantizable<SharedLinearImpl>(false, l->options, l->weight().detach(), l->mask, l->bias);
  if (auto* c = module.as<torch::nn::Conv2dImpl>())
    return quantizable<SharedConv2dImpl>(true, nn::conv2d_options(*c), c->weight, all(c->weight), c->bias);
  if (auto* c = module.as<nn::MaskedConv2dImpl>())
    return quantizable<SharedConv2dImpl>(true, c->options, c->weight, c->mask, c->bias);
  if (auto* c = module.as<SharedConv2dImpl>())
    return quantizable<SharedConv2dImpl>(true, c->options, c->weight().detach(), c->mask, c->bias);
  return std::nullopt;
}

Quantizable find_quantizable(const torch::OrderedDict<std::string, ModulePtr>& modules, const std::string& name) {
  const auto* found = modules.find(name);
  if (found == nullptr) {
    std::ostringstream known;
    for (const auto& item : modules) {
      if (as_quantizable(*item.value())) known << " '" << item.key() << "'";
    }
    C10_THROW_ERROR(ValueError, c10::str("deepcomp::quantize: no layer named '", name,
                                         "' in the model; the layers it can quantize are:", known.str()));
  }
  auto layer = as_quantizable(**found);
  TORCH_CHECK_VALUE(layer.has_value(), "deepcomp::quantize: layer '", name, "' is a ", (*found)->name(),
                    "; deepcomp quantizes Linear and Conv2d layers (plain, masked or shared)");
  TORCH_CHECK_VALUE(!name.empty(), "deepcomp::quantize: the model itself is a ", (*found)->name(),
                    ", which cannot be replaced in place; register it in a parent module");
  return *layer;
}

int64_t bits_for(const QuantizeOptions& options, const std::string& name, bool conv) {
  const int64_t default_bits = conv ? 8 : 5;
  if (!options.bits) return default_bits;
  if (const auto* all = std::get_if<int64_t>(&*options.bits)) return *all;
  const auto& per_layer = std::get<std::map<std::string, int64_t>>(*options.bits);
  const auto found = per_layer.find(name);
  return found == per_layer.end() ? default_bits : found->second;
}

LayerQuantizeStats stats_of(const std::string& name, const Quantizable& layer, torch::nn::Module& shared,
                            int64_t bits) {
  torch::NoGradGuard no_grad;
  const auto mask = shared.named_buffers(false)["mask"];
  const auto kept_weights = layer.weight.detach().masked_select(mask).to(torch::kDouble);
  const auto kept_indices = shared.named_buffers(false)["indices"].masked_select(mask).to(torch::kLong);
  const auto codebook = shared.named_parameters(false)["codebook"].detach().to(torch::kDouble);
  const double error = (kept_weights - codebook.index_select(0, kept_indices)).pow(2).sum().item<double>();
  const auto counts = torch::bincount(kept_indices, {}, codebook.numel());
  const auto used = counts.masked_select(counts > 0).to(torch::kDouble);
  const auto p = used / std::max<int64_t>(1, kept_indices.numel());
  const double entropy = used.numel() > 1 ? -(p * p.log2()).sum().item<double>() : 0.0;
  return {name,          layer.conv ? "Conv2d" : "Linear", mask.sizes().vec(), bits, mask.numel(),
          kept_indices.numel(), used.numel(), error, entropy};
}

// Puts replacements[old] wherever `old` is a child in model (a layer may be registered twice).
void replace_children(torch::nn::Module& model, const std::unordered_map<torch::nn::Module*, ModulePtr>& replacements) {
  for (const auto& module : model.modules(/*include_self=*/true)) {
    for (const auto& child : module->named_children()) {
      const auto found = replacements.find(child.value().get());
      if (found != replacements.end()) module->replace_module(child.key(), found->second);
    }
  }
}

}  // namespace

QuantizeReport quantize(torch::nn::Module& model, const QuantizeOptions& options) {
  const auto modules = model.named_modules("", /*include_self=*/true);
  std::vector<std::string> names;
  if (options.layers) {
    names = *options.layers;
  } else {
    for (const auto& item : modules) {
      if (as_quantizable(*item.value())) names.push_back(item.key());
    }
  }
  std::vector<Quantizable> layers;
  for (const auto& name : names) layers.push_back(find_quantizable(modules, name));
  if (const auto* per_layer = options.bits ? std::get_if<std::map<std::string, int64_t>>(&*options.bits) : nullptr) {
    for (const auto& entry : *per_layer) {
      find_quantizable(modules, entry.first);
      TORCH_CHECK_VALUE(std::find(names.begin(), names.end(), entry.first) != names.end(),
                        "deepcomp::quantize: bits names layer '", entry.first, "', which layers leaves out");
    }
  }

  const nn::ClusterOptions cluster{options.init, options.method, options.seed};
  QuantizeReport report;
  std::unordered_map<torch::nn::Module*, ModulePtr> replacements;  // all built before any is put in place
  for (size_t i = 0; i < names.size(); ++i) {
    const int64_t bits = bits_for(options, names[i], layers[i].conv);
    ModulePtr shared;
    try {
      shared = layers[i].make_shared(bits, cluster);
    } catch (const c10::Error& error) {
      TORCH_CHECK_VALUE(false, "layer '", names[i], "': ", error.what_without_backtrace());
    }
    report.layers.push_back(stats_of(names[i], layers[i], *shared, bits));
    replacements[modules[names[i]].get()] = shared;
  }
  replace_children(model, replacements);
  return report;
}

std::string QuantizeReport::table() const {
  std::vector<TableRow> rows;
  for (const auto& l : layers) {
    std::ostringstream error;
    error << l.squared_error;
    rows.push_back({l.name, l.kind, shape_text(l.shape), std::to_string(l.bits), std::to_string(l.k()),
                    std::to_string(l.clusters_used), std::to_string(l.kept), error.str(), fixed(l.index_entropy, 2)});
  }
  return format_table({"layer", "type", "shape", "bits", "k", "used", "kept", "sq. error", "entropy"}, rows);
}

std::ostream& operator<<(std::ostream& stream, const QuantizeReport& report) { return stream << report.table(); }

}  // namespace deepcomp
