#include "pipeline/cpp_model.h"

#include <deepcomp/nn/attention.h>
#include <deepcomp/nn/masked_conv2d.h>
#include <deepcomp/nn/masked_linear.h>
#include <deepcomp/nn/shared_conv2d.h>
#include <deepcomp/nn/shared_linear.h>
#include <deepcomp/nn/torch_layer_twins.h>

#include <torch/nn/modules/container/moduledict.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include <type_traits>
#include <typeinfo>

#include "nn/conv_options.h"
#include "nn/layer_bias.h"

namespace deepcomp {
namespace {

using torch::nn::Conv2dImpl;
using torch::nn::LinearImpl;
using nn::MaskedConv2dImpl, nn::MaskedLinearImpl, nn::SharedConv2dImpl, nn::SharedLinearImpl;
using nn::bias_of;

template <typename Layer>
auto options_of(const Layer& layer) {
  if constexpr (std::is_same_v<Layer, Conv2dImpl>) {
    return nn::conv2d_options(layer);  // Conv2d keeps the wider ConvNdOptions
  } else {
    return layer.options;
  }
}

// How the C++ front end handles one kind of the layer table: its C++ type, its dense weight, and
// its twins: the masked one prune makes of a plain layer, the shared one quantize makes, the plain
// one to_plain makes.
struct CppKind {
  std::string_view name;  // as in layer_kinds()
  const std::type_info& type;
  bool (*is_a)(const torch::nn::Module&);  // the type or a subclass of it
  torch::Tensor (*weight)(torch::nn::Module&);
  torch::Tensor (*mask)(torch::nn::Module&);  // undefined for the plain kinds
  std::optional<MaskedTensors> (*masked)(torch::nn::Module&);
  ModulePtr (*masked_twin)(torch::nn::Module&);
  ModulePtr (*shared_twin)(torch::nn::Module&, const nn::SharedWeight&);
  ModulePtr (*plain_twin)(torch::nn::Module&);  // nullptr for the plain kinds
};

// Layer: the C++ type; Masked, Shared: its twins; Plain: the torch module holder it stands for.
template <typename Layer, typename Masked, typename Shared, typename Plain>
CppKind cpp_kind(std::string_view name) {
  using PlainImpl = typename Plain::ContainedType;
  constexpr bool is_plain = std::is_same_v<Layer, PlainImpl>;
  constexpr bool is_masked = std::is_same_v<Layer, Masked>;
  constexpr bool is_shared = std::is_same_v<Layer, Shared>;
  // The twins of nn/torch_layer_twins.h are built from the torch layer itself, the others from options.
  constexpr bool by_forward = requires(const Masked& twin) { twin.plain(); };
  const auto weight = [](torch::nn::Module& module) -> torch::Tensor {
    auto& layer = static_cast<Layer&>(module);
    if constexpr (is_shared) {
      return layer.weight();
    } else {
      return layer.weight;
    }
  };
  ModulePtr (*plain_twin)(torch::nn::Module&) = nullptr;
  if constexpr (!is_plain) {
    plain_twin = [](torch::nn::Module& module) -> ModulePtr {
      auto& layer = static_cast<Layer&>(module);
      torch::Tensor dense;
      if constexpr (is_shared) {
        dense = layer.weight();
      } else {
        dense = layer.weight;
      }
      std::shared_ptr<PlainImpl> plain;
      if constexpr (by_forward) {
        plain = layer.make_plain();
      } else {
        plain = std::make_shared<PlainImpl>(layer.options);
      }
      plain->to(dense.device(), dense.scalar_type());
      torch::NoGradGuard no_grad;
      plain->weight.copy_(dense);
      if (layer.bias.defined()) bias_of(*plain).copy_(layer.bias);
      plain->train(layer.is_training());
      return plain;
    };
  }
  return {
      name,
      typeid(Layer),
      [](const torch::nn::Module& module) { return dynamic_cast<const Layer*>(&module) != nullptr; },
      weight,
      [](torch::nn::Module& module) -> torch::Tensor {
        if constexpr (is_plain) {
          return {};
        } else {
          return static_cast<Layer&>(module).mask;
        }
      },
      [](torch::nn::Module& module) -> std::optional<MaskedTensors> {
        if constexpr (is_masked) {
          auto& layer = static_cast<Layer&>(module);
          return MaskedTensors{layer.weight, layer.mask};
        } else {
          return std::nullopt;
        }
      },
      [](torch::nn::Module& module) -> ModulePtr {
        if constexpr (is_plain) {  // the twin shares the plain layer's Parameters
          auto twin = std::make_shared<Masked>(Plain(std::static_pointer_cast<Layer>(module.shared_from_this())));
          twin->train(module.is_training());
          return twin;
        } else {
          TORCH_INTERNAL_ASSERT(false, "no masked twin is made of a ", module.name());
          return nullptr;
        }
      },
      [](torch::nn::Module& module, const nn::SharedWeight& shared) -> ModulePtr {
        auto& layer = static_cast<Layer&>(module);
        std::shared_ptr<Shared> twin;
        if constexpr (!by_forward) {
          twin = std::make_shared<Shared>(options_of(layer), shared, layer.bias);
        } else if constexpr (is_plain) {
          twin = std::make_shared<Shared>(layer, shared, bias_of(layer));
        } else {
          twin = std::make_shared<Shared>(layer.plain(), shared, layer.bias);
        }
        twin->train(module.is_training());
        return twin;
      },
      plain_twin,
  };
}

// MultiheadAttention's three kinds (nn/attention.h): the weight is its packed in_proj_weight.
void add_attention(std::vector<CppKind>& table) {
  using Plain = torch::nn::MultiheadAttentionImpl;
  using Masked = nn::MaskedMultiheadAttentionImpl;
  using Shared = nn::SharedMultiheadAttentionImpl;
  const auto masked_twin = [](torch::nn::Module& module) -> ModulePtr {
    auto twin = std::make_shared<Masked>(torch::nn::MultiheadAttention(
        std::static_pointer_cast<Plain>(module.shared_from_this())));
    twin->train(module.is_training());
    return twin;
  };
  const auto no_masked_twin = [](torch::nn::Module& module) -> ModulePtr {
    TORCH_INTERNAL_ASSERT(false, "no masked twin is made of a ", module.name());
    return nullptr;
  };
  const auto shared_twin = [](torch::nn::Module& module, const nn::SharedWeight& shared) -> ModulePtr {
    std::shared_ptr<Shared> twin;
    if (auto* plain = module.as<Plain>()) {
      twin = std::make_shared<Shared>(*plain, shared);
    } else {
      twin = std::make_shared<Shared>(dynamic_cast<const nn::detail::AttentionTwin&>(module), shared);
    }
    twin->train(module.is_training());
    return twin;
  };
  const auto plain_twin = [](torch::nn::Module& module) -> ModulePtr {
    return dynamic_cast<const nn::detail::AttentionTwin&>(module).make_plain();
  };
  const auto twin_weight = [](torch::nn::Module& module) {
    return dynamic_cast<const nn::detail::AttentionTwin&>(module).computed_in_proj_weight();
  };
  const auto no_mask = [](torch::nn::Module&) { return torch::Tensor(); };
  const auto no_masked = [](torch::nn::Module&) -> std::optional<MaskedTensors> { return std::nullopt; };
  const auto is = [](const torch::nn::Module& module) { return dynamic_cast<const Plain*>(&module) != nullptr; };
  const auto* kind = find_layer_kind("MultiheadAttention");
  TORCH_INTERNAL_ASSERT(kind != nullptr, "MultiheadAttention is not in layer_kinds()");
  table.push_back({kind->name, typeid(Plain), is, [](torch::nn::Module& m) { return m.as<Plain>()->in_proj_weight; },
                   no_mask, no_masked, masked_twin, shared_twin, nullptr});
  table.push_back({kind->masked, typeid(Masked),
                   [](const torch::nn::Module& m) { return dynamic_cast<const Masked*>(&m) != nullptr; },
                   [](torch::nn::Module& m) { return m.as<Masked>()->in_proj_weight; },
                   [](torch::nn::Module& m) { return m.as<Masked>()->in_proj_mask; },
                   [](torch::nn::Module& m) -> std::optional<MaskedTensors> {
                     return MaskedTensors{m.as<Masked>()->in_proj_weight, m.as<Masked>()->in_proj_mask};
                   },
                   no_masked_twin, shared_twin, plain_twin});
  table.push_back({kind->shared, typeid(Shared),
                   [](const torch::nn::Module& m) { return dynamic_cast<const Shared*>(&m) != nullptr; }, twin_weight,
                   [](torch::nn::Module& m) { return m.as<Shared>()->in_proj_mask; }, no_masked, no_masked_twin,
                   shared_twin, plain_twin});
}

// The three kinds of a torch layer whose twins are those of nn/torch_layer_twins.h (their names: the
// layer table's).
template <typename Plain>
void add_by_forward(std::vector<CppKind>& table, std::string_view name) {
  using PlainImpl = typename Plain::ContainedType;
  using Masked = nn::MaskedImpl<PlainImpl>;
  using Shared = nn::SharedImpl<PlainImpl>;
  const auto* kind = find_layer_kind(name);
  TORCH_INTERNAL_ASSERT(kind != nullptr, name, " is not in layer_kinds()");
  table.push_back(cpp_kind<PlainImpl, Masked, Shared, Plain>(kind->name));
  table.push_back(cpp_kind<Masked, Masked, Shared, Plain>(kind->masked));
  table.push_back(cpp_kind<Shared, Masked, Shared, Plain>(kind->shared));
}

const std::vector<CppKind>& cpp_kinds() {
  static const auto kinds = [] {
    using torch::nn::Conv2d, torch::nn::Linear;
    std::vector<CppKind> table{
        cpp_kind<LinearImpl, MaskedLinearImpl, SharedLinearImpl, Linear>("Linear"),
        cpp_kind<Conv2dImpl, MaskedConv2dImpl, SharedConv2dImpl, Conv2d>("Conv2d"),
        cpp_kind<MaskedLinearImpl, MaskedLinearImpl, SharedLinearImpl, Linear>("MaskedLinear"),
        cpp_kind<MaskedConv2dImpl, MaskedConv2dImpl, SharedConv2dImpl, Conv2d>("MaskedConv2d"),
        cpp_kind<SharedLinearImpl, MaskedLinearImpl, SharedLinearImpl, Linear>("SharedLinear"),
        cpp_kind<SharedConv2dImpl, MaskedConv2dImpl, SharedConv2dImpl, Conv2d>("SharedConv2d"),
    };
    add_by_forward<torch::nn::Conv1d>(table, "Conv1d");
    add_by_forward<torch::nn::Conv3d>(table, "Conv3d");
    add_by_forward<torch::nn::ConvTranspose1d>(table, "ConvTranspose1d");
    add_by_forward<torch::nn::ConvTranspose2d>(table, "ConvTranspose2d");
    add_by_forward<torch::nn::ConvTranspose3d>(table, "ConvTranspose3d");
    add_by_forward<torch::nn::Embedding>(table, "Embedding");
    add_by_forward<torch::nn::EmbeddingBag>(table, "EmbeddingBag");
    add_attention(table);
    for (const auto& kind : table) TORCH_INTERNAL_ASSERT(find_layer_kind(kind.name), kind.name, " is not in layer_kinds()");
    return table;
  }();
  return kinds;
}

// The kind of `module`'s exact type, or nullptr.
const CppKind* cpp_kind_of(const torch::nn::Module& module) {
  for (const auto& kind : cpp_kinds()) {
    if (typeid(module) == kind.type) return &kind;
  }
  return nullptr;
}

const char* container_name(const torch::nn::Module& module) {
  if (dynamic_cast<const torch::nn::SequentialImpl*>(&module)) return "torch::nn::Sequential";
  if (dynamic_cast<const torch::nn::ModuleListImpl*>(&module)) return "torch::nn::ModuleList";
  if (dynamic_cast<const torch::nn::ModuleDictImpl*>(&module)) return "torch::nn::ModuleDict";
  return nullptr;
}

}  // namespace

CppModel describe_model(torch::nn::Module& model) {
  CppModel described;
  // Children of containers that call their own typed list of modules: replace_module would not reach it.
  std::unordered_map<const torch::nn::Module*, const char*> held_by;
  // Children of torch's other modules (a TransformerEncoderLayer's linear1, a plain MultiheadAttention's
  // out_proj, ...): computed with through the parent's own typed members.
  std::unordered_map<const torch::nn::Module*, std::string> member_of;
  for (const auto& module : model.modules(/*include_self=*/true)) {
    if (const char* container = container_name(*module)) {
      for (const auto& child : module->children()) held_by[child.get()] = container;
    } else if (module->name().rfind("torch::nn::", 0) == 0 && module->name() != "torch::nn::Module" &&
               (cpp_kind_of(*module) == nullptr || module->as<torch::nn::MultiheadAttention>())) {
      // (a plain torch::nn::Module is a user's own parent)
      for (const auto& child : module->children()) member_of[child.get()] = module->name();
    }
  }
  for (const auto& item : model.named_modules("", /*include_self=*/true)) {
    auto& module = *item.value();
    ModuleEntry entry;
    entry.name = item.key();
    entry.type = module.name();
    const auto* kind = cpp_kind_of(module);
    if (kind != nullptr) {
      entry.kind = kind->name;
    } else {
      for (const auto& base : cpp_kinds()) {
        if (base.is_a(module)) entry.subclass_of = base.name;
      }
    }
    for (const auto& parameter : module.named_parameters(/*recurse=*/false)) {
      entry.has_weight_matrix = entry.has_weight_matrix || parameter.value().dim() >= 2;
    }
    if (const auto found = member_of.find(&module); found != member_of.end()) {
      entry.leave_reason = "is computed with by its parent " + found->second +
                           " through its own member, which deepcomp cannot change or replace";
      if (found->second == "torch::nn::MultiheadAttention") {
        entry.leave_reason += "; prune or quantize the attention layer first: deepcomp's twin of it calls its "
                              "out_proj by name";
      }
    }
    if (entry.name.empty()) {
      entry.fixed_reason = "cannot be replaced in place; register it as a child of a parent module";
    } else if (const auto found = held_by.find(&module); found != held_by.end()) {
      entry.fixed_reason = std::string("is held by a ") + found->second +
                           ", which calls its own list of modules, so a replaced layer would never run; register "
                           "the layers as children of your module and call them through deepcomp::nn::forward_child "
                           "(or build the model with deepcomp::nn layers)";
    }
    if (kind != nullptr) {
      torch::NoGradGuard no_grad;
      entry.weight = kind->weight(module).detach();
      const auto mask = kind->mask(module);
      entry.mask = mask.defined() ? mask : torch::ones_like(entry.weight, torch::kBool);
    }
    described.entries.push_back(std::move(entry));
    described.modules.push_back(item.value());
  }
  return described;
}

std::optional<MaskedTensors> masked_tensors(torch::nn::Module& module) {
  const auto* kind = cpp_kind_of(module);
  return kind ? kind->masked(module) : std::nullopt;
}

ModulePtr masked_twin(torch::nn::Module& dense) { return cpp_kind_of(dense)->masked_twin(dense); }

ModulePtr plain_twin(torch::nn::Module& layer) {
  const auto* kind = cpp_kind_of(layer);
  return kind && kind->plain_twin ? kind->plain_twin(layer) : nullptr;
}

ModulePtr shared_twin(torch::nn::Module& layer, const nn::SharedWeight& shared) {
  return cpp_kind_of(layer)->shared_twin(layer, shared);
}

void warn_skipped(const std::string& caller, const std::vector<SkippedLayer>& skipped) {
  if (!skipped.empty()) TORCH_WARN(caller, " skipped ", skipped_text(skipped));
}

void replace_children(torch::nn::Module& model, const std::unordered_map<torch::nn::Module*, ModulePtr>& replacements) {
  if (replacements.empty()) return;
  // Walked as it changes, so that the children a replacement took over (attention's out_proj) are replaced too.
  for (const auto& child : model.named_children()) {
    const auto found = replacements.find(child.value().get());
    if (found != replacements.end()) model.replace_module(child.key(), found->second);
    replace_children(*model.named_children()[child.key()], replacements);
  }
}

}  // namespace deepcomp
