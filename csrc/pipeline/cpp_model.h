// The C++ front end of the pipeline: a LibTorch model described as ModuleEntry rows (by the C++
// types of deepcomp::nn's layers and the torch layers they stand for), and its layers replaced by
// their twins. Python's front end is python/deepcomp/_layers.py.
#pragma once

#include <deepcomp/layers.h>
#include <deepcomp/nn/shared_layer.h>

#include <torch/nn/module.h>

#include <memory>
#include <unordered_map>
#include <vector>

namespace deepcomp {

using ModulePtr = std::shared_ptr<torch::nn::Module>;

struct CppModel {
  ModelEntries entries;
  std::vector<ModulePtr> modules;  // modules[i] is described by entries[i]
};

CppModel describe_model(torch::nn::Module& model);

// The weight Parameter and mask buffer of a masked layer (MaskedLinear / MaskedConv2d).
struct MaskedTensors {
  torch::Tensor weight;
  torch::Tensor mask;
};
std::optional<MaskedTensors> masked_tensors(torch::nn::Module& module);

// A plain layer's masked twin (sharing its weight and bias Parameters; mask all true; its training mode).
ModulePtr masked_twin(torch::nn::Module& dense);
// The plain torch layer a masked or shared layer stands for, with its decoded weight and a copy of
// its bias; nullptr for any other module.
ModulePtr plain_twin(torch::nn::Module& layer);
// The shared twin of a layer of the table, holding `shared`, sharing the layer's bias, in its training mode.
ModulePtr shared_twin(torch::nn::Module& layer, const nn::SharedWeight& shared);

// TORCH_WARN naming each weighted layer a call left alone and why (nothing when none was).
void warn_skipped(const std::string& caller, const std::vector<SkippedLayer>& skipped);

// Puts replacements[old] wherever `old` is a child in model (a layer registered twice, everywhere).
void replace_children(torch::nn::Module& model, const std::unordered_map<torch::nn::Module*, ModulePtr>& replacements);

}  // namespace deepcomp
