#include "pipeline/weight_names.h"

#include <deepcomp/layers.h>

namespace deepcomp {
namespace {

constexpr std::string_view kWeight = "weight";
constexpr std::string_view kParts[] = {kWeight, "mask", "codebook", "indices"};

}  // namespace

std::optional<WeightPart> weight_part(const std::string& name) {
  const auto dot = name.rfind('.');
  const size_t leaf = dot == std::string::npos ? 0 : dot + 1;
  for (const auto part : kParts) {
    if (name.size() - leaf < part.size() || name.compare(name.size() - part.size(), part.size(), part) != 0) continue;
    const size_t stem_end = name.size() - part.size();
    if (stem_end != leaf && name[stem_end - 1] != '_') continue;
    return WeightPart{name.substr(0, stem_end) + std::string(kWeight), std::string(part)};
  }
  return std::nullopt;
}

std::string part_name(const std::string& weight, std::string_view part) {
  return weight.substr(0, weight.size() - kWeight.size()) + std::string(part);
}

std::string weight_stem(const torch::nn::Module& layer) {
  const auto parameters = layer.named_parameters(/*recurse=*/false);
  for (const auto& kind : layer_kinds()) {  // the table's stems
    const std::string stem(kind.weight_stem);
    if (parameters.contains(stem + "weight") || parameters.contains(stem + "codebook")) return stem;
  }
  return "";
}

}  // namespace deepcomp
