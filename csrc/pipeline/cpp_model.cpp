#include "pipeline/cpp_model.h"

#include <deepcomp/nn/masked_conv2d.h>
#include <deepcomp/nn/masked_linear.h>
#include <deepcomp/nn/shared_conv2d.h>
#include <deepcomp/nn/shared_linear.h>

#include <torch/nn/modules/container/moduledict.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include <typeinfo>

#include "nn/conv_options.h"

namespace deepcomp {
namespace {

using torch::nn::Conv2dImpl;
using torch::nn::LinearImpl;
using nn::MaskedConv2dImpl, nn::MaskedLinearImpl, nn::SharedConv2dImpl, nn::SharedLinearImpl;

template <typename T>
bool exactly(const torch::nn::Module& module) {
  return typeid(module) == typeid(T);
}

// The table kind of `module`'s exact type, or "" (then `subclass_of` names a table kind it derives from).
std::string kind_of(const torch::nn::Module& module, std::string& subclass_of) {
  const auto check = [&](const auto* as, const char* name) {
    using T = std::remove_cv_t<std::remove_pointer_t<decltype(as)>>;
    if (dynamic_cast<const T*>(&module) == nullptr) return false;
    if (!exactly<T>(module)) subclass_of = name;
    return exactly<T>(module);
  };
  if (check(static_cast<const LinearImpl*>(nullptr), "Linear")) return "Linear";
  if (check(static_cast<const Conv2dImpl*>(nullptr), "Conv2d")) return "Conv2d";
  if (check(static_cast<const MaskedLinearImpl*>(nullptr), "MaskedLinear")) return "MaskedLinear";
  if (check(static_cast<const MaskedConv2dImpl*>(nullptr), "MaskedConv2d")) return "MaskedConv2d";
  if (check(static_cast<const SharedLinearImpl*>(nullptr), "SharedLinear")) return "SharedLinear";
  if (check(static_cast<const SharedConv2dImpl*>(nullptr), "SharedConv2d")) return "SharedConv2d";
  return "";
}

torch::Tensor dense_weight(torch::nn::Module& module) {
  if (auto* l = module.as<LinearImpl>()) return l->weight;
  if (auto* c = module.as<Conv2dImpl>()) return c->weight;
  if (auto* l = module.as<MaskedLinearImpl>()) return l->weight;
  if (auto* c = module.as<MaskedConv2dImpl>()) return c->weight;
  if (auto* l = module.as<SharedLinearImpl>()) return l->weight();
  return module.as<SharedConv2dImpl>()->weight();
}

torch::Tensor mask_of(torch::nn::Module& module, const torch::Tensor& weight) {
  const auto* mask = module.named_buffers(/*recurse=*/false).find("mask");
  return mask ? *mask : torch::ones_like(weight, torch::kBool);
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
  for (const auto& module : model.modules(/*include_self=*/true)) {
    if (const char* container = container_name(*module)) {
      for (const auto& child : module->children()) held_by[child.get()] = container;
    }
  }
  for (const auto& item : model.named_modules("", /*include_self=*/true)) {
    auto& module = *item.value();
    ModuleEntry entry;
    entry.name = item.key();
    entry.type = module.name();
    entry.kind = kind_of(module, entry.subclass_of);
    for (const auto& parameter : module.named_parameters(/*recurse=*/false)) {
      entry.has_weight_matrix = entry.has_weight_matrix || parameter.value().dim() >= 2;
    }
    if (entry.name.empty()) {
      entry.fixed_reason = "cannot be replaced in place; register it as a child of a parent module";
    } else if (const auto found = held_by.find(&module); found != held_by.end()) {
      entry.fixed_reason = std::string("is held by a ") + found->second +
                           ", which calls its own list of modules, so a replaced layer would never run; register "
                           "the layers as children of your module and call them through deepcomp::nn::forward_child "
                           "(or build the model with deepcomp::nn layers)";
    }
    if (!entry.kind.empty()) {
      torch::NoGradGuard no_grad;
      entry.weight = dense_weight(module).detach();
      entry.mask = mask_of(module, entry.weight);
    }
    described.entries.push_back(std::move(entry));
    described.modules.push_back(item.value());
  }
  return described;
}

std::optional<MaskedTensors> masked_tensors(torch::nn::Module& module) {
  if (auto* l = module.as<MaskedLinearImpl>()) return MaskedTensors{l->weight, l->mask};
  if (auto* c = module.as<MaskedConv2dImpl>()) return MaskedTensors{c->weight, c->mask};
  return std::nullopt;
}

ModulePtr masked_twin(torch::nn::Module& dense) {
  if (auto* l = dense.as<LinearImpl>()) {
    return std::make_shared<MaskedLinearImpl>(torch::nn::Linear(std::static_pointer_cast<LinearImpl>(l->shared_from_this())));
  }
  auto* c = dense.as<Conv2dImpl>();
  TORCH_INTERNAL_ASSERT(c != nullptr, "masked_twin of a ", dense.name());
  return std::make_shared<MaskedConv2dImpl>(torch::nn::Conv2d(std::static_pointer_cast<Conv2dImpl>(c->shared_from_this())));
}

ModulePtr shared_twin(torch::nn::Module& layer, const nn::SharedWeight& shared) {
  if (auto* l = layer.as<LinearImpl>()) return std::make_shared<SharedLinearImpl>(l->options, shared, l->bias);
  if (auto* l = layer.as<MaskedLinearImpl>()) return std::make_shared<SharedLinearImpl>(l->options, shared, l->bias);
  if (auto* l = layer.as<SharedLinearImpl>()) return std::make_shared<SharedLinearImpl>(l->options, shared, l->bias);
  if (auto* c = layer.as<Conv2dImpl>()) {
    return std::make_shared<SharedConv2dImpl>(nn::conv2d_options(*c), shared, c->bias);
  }
  if (auto* c = layer.as<MaskedConv2dImpl>()) return std::make_shared<SharedConv2dImpl>(c->options, shared, c->bias);
  auto* c = layer.as<SharedConv2dImpl>();
  TORCH_INTERNAL_ASSERT(c != nullptr, "shared_twin of a ", layer.name());
  return std::make_shared<SharedConv2dImpl>(c->options, shared, c->bias);
}

void replace_children(torch::nn::Module& model, const std::unordered_map<torch::nn::Module*, ModulePtr>& replacements) {
  if (replacements.empty()) return;
  for (const auto& module : model.modules(/*include_self=*/true)) {
    for (const auto& child : module->named_children()) {
      const auto found = replacements.find(child.value().get());
      if (found != replacements.end()) module->replace_module(child.key(), found->second);
    }
  }
}

}  // namespace deepcomp
