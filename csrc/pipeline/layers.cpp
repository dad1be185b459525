#include <c10/util/Exception.h>
#include <deepcomp/constants.h>
#include <deepcomp/layers.h>

#include <algorithm>
#include <cctype>
#include <sstream>

#include "check.h"
#include "codec/container.h"

namespace deepcomp {
namespace {

// "Linear, Conv1d, ... and Embedding": the dense kinds of the table, for messages.
const std::string& dense_kinds_text() {
  static const std::string text = [] {
    std::vector<std::string_view> names;
    for (const auto& kind : layer_kinds()) {
      if (kind.stage == LayerStage::dense) names.push_back(kind.name);
    }
    std::ostringstream joined;
    for (size_t i = 0; i < names.size(); ++i) joined << (i == 0 ? "" : i + 1 == names.size() ? " and " : ", ") << names[i];
    return joined.str();
  }();
  return text;
}

struct UseInfo {
  bool accepts_dense, accepts_masked, accepts_shared;
  bool replaces_dense, replaces_masked, replaces_shared;
  std::string kinds;  // what the call accepts, for messages
};

const UseInfo& info(LayerUse use) {
  static const UseInfo prune{true, true, false, true, false, false, dense_kinds_text() + " layers (plain or masked)"};
  static const UseInfo quantize{true, true, true, true, true, true,
                                dense_kinds_text() + " layers (plain, masked or shared)"};
  static const UseInfo measure_pruning{true, true, false, false, false, false,
                                       dense_kinds_text() + " layers (plain or masked) for the pruning sweep; shared "
                                       "layers only in the bits sweep, with sparsities=None"};
  static const UseInfo measure_quantizing{true, true, true, false, false, false,
                                          dense_kinds_text() + " layers (plain, masked or shared) for the bits sweep"};
  static const UseInfo calibrate{true, true, true, false, false, false,
                                 dense_kinds_text() + " layers (plain, masked or shared)"};
  switch (use) {
    case LayerUse::prune: return prune;
    case LayerUse::quantize: return quantize;
    case LayerUse::measure_pruning: return measure_pruning;
    case LayerUse::measure_quantizing: return measure_quantizing;
    case LayerUse::calibrate: return calibrate;
  }
  TORCH_INTERNAL_ASSERT(false, "unknown LayerUse");
}

bool accepts(LayerUse use, const ModuleEntry& entry) {
  const auto* kind = find_layer_kind(entry.kind);
  if (kind == nullptr || !entry.leave_reason.empty()) return false;
  const auto& i = info(use);
  switch (kind->stage) {
    case LayerStage::dense: return i.accepts_dense;
    case LayerStage::masked: return i.accepts_masked;
    case LayerStage::shared: return i.accepts_shared;
  }
  return false;
}

bool replaces(LayerUse use, const ModuleEntry& entry) {
  const auto& i = info(use);
  switch (find_layer_kind(entry.kind)->stage) {
    case LayerStage::dense: return i.replaces_dense;
    case LayerStage::masked: return i.replaces_masked;
    case LayerStage::shared: return i.replaces_shared;
  }
  return false;
}

// Why a weighted module a call does not accept is left alone.
std::string skip_reason(LayerUse use, const ModuleEntry& entry) {
  if (!entry.leave_reason.empty()) return entry.leave_reason;
  if (!entry.subclass_of.empty()) {
    return "a subclass of " + entry.subclass_of + ", which may compute something else than its weight implies; "
           "deepcomp changes exact " + entry.subclass_of + " layers only";
  }
  const auto* kind = find_layer_kind(entry.kind);
  if (kind != nullptr && kind->stage == LayerStage::shared) {
    return use == LayerUse::prune ? "already quantized (its mask is fixed): prune before quantize"
                                  : "a shared layer, measured only by the bits sweep";
  }
  return "deepcomp does not handle " + entry.type + " layers (it handles " + dense_kinds_text() +
         ", plain, masked or shared); exclude= it to silence this";
}

// "a" or "an" before a class name: "an Embedding", "a Linear".
const char* article(const std::string& type) {
  const char first = type.empty() ? 'x' : static_cast<char>(std::tolower(static_cast<unsigned char>(type[0])));
  return std::string_view("aeiou").find(first) == std::string_view::npos ? "a" : "an";
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// Up to three of `names` that look like `name` (a typo), closest first.
std::vector<std::string> close_matches(const std::string& name, const std::vector<std::string>& names) {
  std::vector<std::pair<size_t, std::string>> close;
  for (const auto& candidate : names) {
    const size_t distance = edit_distance(name, candidate);
    if (distance * 5 <= 2 * std::max(name.size(), candidate.size())) close.emplace_back(distance, candidate);
  }
  std::stable_sort(close.begin(), close.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> found;
  for (size_t i = 0; i < close.size() && i < 3; ++i) found.push_back(close[i].second);
  return found;
}

std::string quoted_list(const std::vector<std::string>& names) {
  std::ostringstream text;
  for (size_t i = 0; i < names.size(); ++i) text << (i ? ", " : "") << "'" << names[i] << "'";
  return text.str();
}

std::optional<size_t> find_entry(const ModelEntries& model, const std::string& name) {
  for (size_t i = 0; i < model.size(); ++i) {
    if (model[i].name == name) return i;
  }
  return std::nullopt;
}

size_t find_named(const ModelEntries& model, LayerUse use, const std::string& caller, const std::string& name) {
  if (auto found = find_entry(model, name)) return *found;
  std::vector<std::string> known;
  for (const auto& entry : model) {
    if (accepts(use, entry)) known.push_back(entry.name);
  }
  const auto close = close_matches(name, known);
  DEEPCOMP_THROW(ValueError, c10::str(caller, ": no layer named '", codec::printable(name), "' in the model",
                                      close.empty() ? "; the layers it accepts: [" + quoted_list(known) + "]"
                                                    : "; did you mean " + quoted_list(close) + "?"));
}

// A chosen layer that must be replaced by its twin where it cannot be.
void check_replaceable(const ModuleEntry& entry, LayerUse use, const std::string& caller) {
  if (!replaces(use, entry) || entry.fixed_reason.empty()) return;
  if (entry.name.empty()) {
    DEEPCOMP_THROW(TypeError, c10::str(caller, ": the model itself is ", article(entry.type), " ", entry.type,
                                       ", which ", entry.fixed_reason));
  }
  DEEPCOMP_THROW(TypeError, c10::str(caller, ": layer '", entry.name, "' (", entry.type, ") ", entry.fixed_reason));
}

}  // namespace

const std::vector<LayerKind>& layer_kinds() {
  // The torch layers deepcomp changes, with the paper's codebook width for each: 5 bits for fully
  // connected layers (attention projections too), 8 for convolutions and for embeddings (a row is a
  // token's whole representation).
  struct Dense {
    std::string_view name;
    int64_t bits;
    InputLayout input;
    std::string_view weight_stem = "";
  };
  using enum InputLayout;
  static constexpr Dense dense[] = {
      {"Linear", kDefaultLinearBits, columns},
      {"Conv1d", kDefaultConvBits, channels},
      {"Conv2d", kDefaultConvBits, channels},
      {"Conv3d", kDefaultConvBits, channels},
      {"ConvTranspose1d", kDefaultConvBits, transposed_channels},
      {"ConvTranspose2d", kDefaultConvBits, transposed_channels},
      {"ConvTranspose3d", kDefaultConvBits, transposed_channels},
      {"Embedding", kDefaultConvBits, rows},
      {"EmbeddingBag", kDefaultConvBits, rows},
      {"MultiheadAttention", kDefaultLinearBits, columns, "in_proj_"},  // its packed in_proj_weight (3E, E)
  };
  static const std::vector<std::string> twin_names = [] {  // the storage of the twins' names
    std::vector<std::string> names;
    for (const auto& layer : dense) {
      names.push_back("Masked" + std::string(layer.name));
      names.push_back("Shared" + std::string(layer.name));
    }
    return names;
  }();
  static const std::vector<LayerKind> kinds = [] {
    using S = LayerStage;
    std::vector<LayerKind> table;
    for (const S stage : {S::dense, S::masked, S::shared}) {
      for (size_t i = 0; i < std::size(dense); ++i) {
        const std::string_view masked = twin_names[2 * i], shared = twin_names[2 * i + 1];
        const std::string_view name = stage == S::dense ? dense[i].name : stage == S::masked ? masked : shared;
        table.push_back(
            {name, dense[i].name, stage, stage == S::shared ? "" : masked, shared, dense[i].bits, dense[i].input,
             dense[i].weight_stem});
      }
    }
    return table;
  }();
  return kinds;
}

const LayerKind* find_layer_kind(std::string_view name) {
  if (name.empty()) return nullptr;
  for (const auto& kind : layer_kinds()) {
    if (kind.name == name) return &kind;
  }
  return nullptr;
}

size_t check_layer(const ModelEntries& model, LayerUse use, const std::string& caller, const std::string& name) {
  const size_t index = find_named(model, use, caller, name);
  const auto& entry = model[index];
  DEEPCOMP_CHECK_TYPE(entry.leave_reason.empty(), caller, ": layer '", name, "' (", entry.type, ") ",
                      entry.leave_reason);
  DEEPCOMP_CHECK_TYPE(
      accepts(use, entry), caller, ": layer '", name, "' is ", article(entry.type), " ", entry.type, "; ", caller,
      " accepts ", info(use).kinds,
      entry.subclass_of.empty() ? "" : " of exactly those types (a subclass may compute something else)");
  DEEPCOMP_CHECK_VALUE(entry.weight.numel() > 0, caller, ": layer '", name, "' (", entry.type,
                       ") has no weights (weight shape ", entry.weight.sizes(), "); leave it out");
  check_replaceable(entry, use, caller);
  return index;
}

LayerChoice choose_layers(const ModelEntries& model, LayerUse use, const std::string& caller,
                          const std::optional<std::vector<std::string>>& layers,
                          const std::vector<std::string>& exclude,
                          const std::optional<std::vector<std::string>>& only) {
  std::vector<bool> excluded(model.size(), false);
  for (const auto& name : exclude) excluded[find_named(model, use, caller, name)] = true;
  std::optional<std::vector<bool>> allowed;
  if (only) {
    allowed.emplace(model.size(), false);
    for (const auto& name : *only) (*allowed)[check_layer(model, use, caller, name)] = true;
  }

  LayerChoice choice;
  std::vector<bool> taken(model.size(), false);
  const auto take = [&](size_t index) {
    if (taken[index] || excluded[index] || (allowed && !(*allowed)[index])) return;
    taken[index] = true;
    choice.chosen.push_back(index);
  };
  if (layers) {
    for (const auto& name : *layers) take(check_layer(model, use, caller, name));
  } else {
    for (size_t i = 0; i < model.size(); ++i) {
      if (accepts(use, model[i]) && model[i].weight.numel() == 0) {
        if (!excluded[i]) choice.skipped.push_back({model[i].name, model[i].type, "it has no weights"});
      } else if (accepts(use, model[i])) {
        take(i);
        if (taken[i]) check_replaceable(model[i], use, caller);
      } else if ((model[i].has_weight_matrix || !model[i].kind.empty()) && !excluded[i]) {
        choice.skipped.push_back({model[i].name, model[i].type, skip_reason(use, model[i])});
      }
    }
  }
  if (choice.chosen.empty()) {
    std::ostringstream why;
    why << caller << ": no layer to change";
    if (!choice.skipped.empty()) why << "; skipped " << skipped_text(choice.skipped);
    why << ". It changes " << info(use).kinds << "; check layers=, exclude= and the per-layer values";
    DEEPCOMP_THROW(ValueError, why.str());
  }
  return choice;
}

std::string skipped_text(const std::vector<SkippedLayer>& skipped) {
  std::ostringstream text;
  for (size_t i = 0; i < skipped.size(); ++i) {
    text << (i ? "; " : "") << "'" << skipped[i].name << "' (" << skipped[i].type << "): " << skipped[i].reason;
  }
  return text.str();
}

}  // namespace deepcomp
