// The layers deepcomp changes, in one table that drives both front ends, and the language-neutral
// view of a model that the pipeline (prune, quantize, sensitivity) makes its decisions on.
//
// Each front end describes its model as a list of ModuleEntry (C++: describe_model below; Python:
// deepcomp/_layers.py), hands it to the pipeline, and applies what comes back: new masks, codebooks
// and indices, and which layers to swap for which twin. So every decision (which layers, which
// values, every check and message) is made here, once.
#pragma once

#include <torch/nn/module.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace deepcomp {

// What a layer is in the pipeline: plain (as trained), masked (pruned) or shared (quantized).
enum class LayerStage { dense, masked, shared };

// Which input feature a weight multiplies, by where it sits in the weight (calibration.h).
enum class InputLayout {
  columns,             // Linear: weight (out, in), the input's last dimension
  channels,            // Conv: weight (out, in / groups, *kernel), the input's channel dimension
  transposed_channels, // ConvTranspose: weight (in, out / groups, *kernel), the input's channel dimension
  rows,                // Embedding: weight (num, dim), the row an index looks up
};

// A row of the layer table: the class name a layer has in both languages, the dense torch layer it
// stands for, its stage, and the twins prune and quantize replace it with.
struct LayerKind {
  std::string_view name;    // "Linear", "MaskedConv2d", "SharedLinear", ...
  std::string_view dense;   // "Linear" | "Conv2d"
  LayerStage stage;
  std::string_view masked;  // what prune makes of it
  std::string_view shared;  // what quantize makes of it
  int64_t default_bits;     // the paper's codebook width for its dense kind
  InputLayout input;
  // The weight's tensors are `<stem>weight`, `<stem>mask`, `<stem>codebook`, `<stem>indices`: stem ""
  // for most layers, "in_proj_" for MultiheadAttention's packed projection (as torch names it).
  std::string_view weight_stem;
};

// Every kind, dense ones first.
const std::vector<LayerKind>& layer_kinds();
// The row called `name`, or nullptr.
const LayerKind* find_layer_kind(std::string_view name);

// One module of a model as the pipeline sees it (named_modules() order, the model itself first).
struct ModuleEntry {
  std::string name;        // qualified name; "" is the model itself
  std::string type;        // its class name, for messages ("Conv1d")
  std::string kind;        // its layer_kinds() name, or "" when the table lacks its exact type
  std::string subclass_of; // kind == "": the table kind its class derives from, if any (it may compute
                           // something else, so it is left alone)
  bool has_weight_matrix = false;  // it owns a parameter of 2 or more dimensions
  // Why it cannot be replaced by a twin ("" = it can): the model itself, or a child of a container
  // that keeps its own list of modules. Only checked where a replacement is needed.
  std::string fixed_reason;
  torch::Tensor weight;  // table kinds: the dense weight (a shared layer's decoded one), detached
  torch::Tensor mask;    // table kinds: bool, true = kept (all true for a plain layer)
  // Why the pipeline must leave this layer of a table kind alone ("" = it need not): C++, a child that
  // a torch module computes with through its own member, so that neither a changed nor a replaced
  // layer would be what runs. Skipped with this reason; refused when named.
  std::string leave_reason;
};
using ModelEntries = std::vector<ModuleEntry>;

// What a pipeline call changes, which decides the layers it accepts.
enum class LayerUse {
  prune,              // deepcomp.prune: plain layers get a masked twin; masked ones change in place
  quantize,           // deepcomp.quantize: plain, masked and shared layers get a (new) shared twin
  measure_pruning,    // sensitivity's pruning sweep: plain and masked weights, changed and put back
  measure_quantizing,  // sensitivity's bits sweep: every table kind, changed and put back
  calibrate            // calibration statistics (calibration.h): every table kind, unchanged
};

// A weighted module a call left alone without being asked to, and why: the front ends warn with it.
struct SkippedLayer {
  std::string name;
  std::string type;
  std::string reason;
};

struct LayerChoice {
  std::vector<size_t> chosen;         // indices into the entries, in model order
  std::vector<SkippedLayer> skipped;  // see SkippedLayer (only when no layer list was given)
};

// Which layers a call changes: `layers` (names; default every accepted layer) less `exclude`
// (names), further restricted to `only` when given (a per-layer value map's keys, each checked).
// Throws c10::ValueError naming an unknown layer (with close matches) or a call that would change
// no layer at all (with what was skipped and why), and c10::TypeError for a named layer of a kind the
// call does not accept, or one it would have to replace where it cannot. `caller` starts messages.
LayerChoice choose_layers(const ModelEntries& model, LayerUse use, const std::string& caller,
                          const std::optional<std::vector<std::string>>& layers,
                          const std::vector<std::string>& exclude = {},
                          const std::optional<std::vector<std::string>>& only = std::nullopt);

// The index of the entry called `name` after the checks choose_layers makes of a named layer.
size_t check_layer(const ModelEntries& model, LayerUse use, const std::string& caller, const std::string& name);

// "'fc1' (Conv1d): <reason>; ..." — what a warning about skipped layers says.
std::string skipped_text(const std::vector<SkippedLayer>& skipped);

}  // namespace deepcomp
