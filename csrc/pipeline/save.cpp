// save: a state dict (or a model's parameters and buffers) to a .dcz file.
#include <c10/util/Exception.h>
#include <deepcomp/io.h>

#include <functional>
#include <map>
#include <optional>

#include "check.h"
#include "codec/container.h"
#include "codec/file_io.h"
#include "pipeline/file_report.h"
#include "pipeline/tensor_records.h"
#include "pipeline/weight_names.h"

namespace deepcomp {
namespace {

// What the paper uses: 8-bit gaps in conv layers, 5-bit ones in fully connected layers.
int default_gap_bits(const at::Tensor& weight) { return weight.dim() > 2 ? 8 : 5; }

// A compressed weight and the state-dict entries it stands for.
struct Group {
  std::string weight_name;
  std::vector<size_t> members;
  std::function<codec::TensorRecord(int gap_bits)> record;
  at::Tensor shape_of;  // the weight (or its indices): picks the default gap width
};

bool same_shape(const at::Tensor& a, const at::Tensor& b) { return a.sizes() == b.sizes(); }

// The groups of a state dict: `<layer>.<stem>codebook`, `<stem>indices`, `<stem>mask` of a shared
// weight, and `<stem>weight`, `<stem>mask` of a masked one that is zero wherever the mask is false
// (pipeline/weight_names.h). Anything that does not fit these patterns exactly is saved raw.
std::vector<Group> find_groups(const NamedTensors& state) {
  std::map<std::string, size_t> position;
  for (size_t i = 0; i < state.size(); ++i) position.emplace(state[i].first, i);
  auto find = [&](const std::string& name) -> std::optional<size_t> {
    const auto at = position.find(name);
    if (at == position.end()) return std::nullopt;
    return at->second;
  };
  std::vector<Group> groups;
  for (size_t i = 0; i < state.size(); ++i) {
    const auto part = weight_part(state[i].first);
    if (!part) continue;
    const std::string& name = part->weight;
    const auto mask_at = find(part_name(name, "mask"));
    if (!mask_at) continue;
    const auto& mask = state[*mask_at].second;
    if (mask.scalar_type() != at::kBool) continue;
    if (part->part == "codebook") {
      const auto& codebook = state[i].second;
      const auto indices_at = find(part_name(name, "indices"));
      const int64_t k = codebook.dim() >= 1 ? codebook.size(-1) : 0;
      if (!indices_at || find(name) || codebook.dim() < 1 || codebook.dim() > 2 ||
          !codebook.is_floating_point() || k < 2 || k > 256 || (k & (k - 1)) != 0) {
        continue;
      }
      const auto& indices = state[*indices_at].second;
      const bool groups_fit = codebook.dim() == 1 || (indices.dim() >= 1 && codebook.size(0) >= 1 &&
                                                      codebook.size(0) <= indices.size(0));
      if (indices.scalar_type() != at::kByte || !same_shape(indices, mask) || !groups_fit ||
          indices.max().item<int64_t>() >= k) {
        continue;
      }
      groups.push_back({name, {i, *indices_at, *mask_at},
                        [=](int gap_bits) { return codebook_record(name, codebook, indices, mask, gap_bits); },
                        indices});
    } else if (part->part == "weight") {
      const auto& weight = state[i].second;
      if (!same_shape(weight, mask) || !weight.is_floating_point() ||
          weight.masked_select(mask.logical_not()).count_nonzero().item<int64_t>() != 0) {
        continue;
      }
      groups.push_back({name, {i, *mask_at},
                        [=](int gap_bits) { return sparse_record(name, weight, mask, gap_bits); },
                        weight});
    }
  }
  return groups;
}

}  // namespace

FileReport save_state(const NamedTensors& state, const std::string& path, const SaveOptions& options) {
  DEEPCOMP_CHECK_VALUE(!options.gap_bits || (*options.gap_bits >= kMinGapBits && *options.gap_bits <= kMaxGapBits),
                       "save: gap_bits must be in ", kMinGapBits, "..", kMaxGapBits, ", got ", *options.gap_bits);
  DEEPCOMP_CHECK_VALUE(options.max_code_length >= 1 && options.max_code_length <= kMaxCodeLength,
                       "save: max_code_length must be in 1..", kMaxCodeLength, ", got ", options.max_code_length);
  // Each tensor goes where its first state-dict entry was: a group where any member was.
  const auto groups = find_groups(state);
  std::vector<std::optional<size_t>> group_of(state.size());
  for (size_t g = 0; g < groups.size(); ++g) {
    for (const size_t member : groups[g].members) group_of[member] = g;
  }
  std::vector<codec::TensorRecord> records;
  std::vector<bool> written(groups.size(), false);
  for (size_t i = 0; i < state.size(); ++i) {
    if (!group_of[i]) {
      records.push_back(raw_record(state[i].first, state[i].second));
      continue;
    }
    const size_t g = *group_of[i];
    if (written[g]) continue;
    written[g] = true;
    const auto& group = groups[g];
    records.push_back(group.record(static_cast<int>(options.gap_bits.value_or(default_gap_bits(group.shape_of)))));
  }
  std::vector<codec::RecordBytes> sizes;
  std::vector<uint8_t> bytes;
  try {
    codec::WriteOptions write;
    write.max_code_length = static_cast<int>(options.max_code_length);
    bytes = codec::write_container(records, write, &sizes);
  } catch (const std::invalid_argument& error) {
    DEEPCOMP_CHECK_VALUE(false, "save: ", error.what());
  }
  codec::write_file_atomically(path, bytes.data(), bytes.size());
  // The size written, not the path's size now: another writer may have replaced it since.
  return file_report(records, sizes, static_cast<int64_t>(bytes.size()));
}

FileReport save(const torch::nn::Module& model, const std::string& path, const SaveOptions& options) {
  NamedTensors state;
  for (const auto& item : model.named_parameters()) state.emplace_back(item.key(), item.value());
  for (const auto& item : model.named_buffers()) state.emplace_back(item.key(), item.value());
  return save_state(state, path, options);
}

}  // namespace deepcomp
