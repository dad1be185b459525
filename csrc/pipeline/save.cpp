// save: a state dict (or a model's parameters and buffers) to a .dcz file.
#include <c10/util/Exception.h>
#include <deepcomp/io.h>

#include <functional>
#include <map>
#include <optional>

#include "check.h"
#include "codec/container.h"
#include "codec/file_io.h"
#include "pipeline/encode_state.h"
#include "pipeline/file_report.h"
#include "pipeline/tensor_records.h"
#include "pipeline/weight_names.h"

namespace deepcomp {
namespace {

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

int default_gap_bits(const at::Tensor& weight) { return weight.dim() > 2 ? 8 : 5; }

int64_t bytes_in_file(const codec::TensorRecord& record) {
  std::vector<codec::RecordBytes> sizes;
  codec::write_container({record}, {}, &sizes);
  return static_cast<int64_t>(sizes.front().total);
}

EncodedState encode_state(const NamedTensors& state, const SaveOptions& options, const std::string& caller) {
  DEEPCOMP_CHECK_VALUE(!options.gap_bits || (*options.gap_bits >= kMinGapBits && *options.gap_bits <= kMaxGapBits),
                       caller, ": gap_bits must be in ", kMinGapBits, "..", kMaxGapBits, ", got ", *options.gap_bits);
  DEEPCOMP_CHECK_VALUE(options.max_code_length >= 1 && options.max_code_length <= kMaxCodeLength, caller,
                       ": max_code_length must be in 1..", kMaxCodeLength, ", got ", options.max_code_length);
  // Each tensor goes where its first state-dict entry was: a group where any member was.
  const auto groups = find_groups(state);
  std::vector<std::optional<size_t>> group_of(state.size());
  for (size_t g = 0; g < groups.size(); ++g) {
    for (const size_t member : groups[g].members) group_of[member] = g;
  }
  EncodedState encoded;
  std::vector<bool> written(groups.size(), false);
  for (size_t i = 0; i < state.size(); ++i) {
    if (!group_of[i]) {
      encoded.records.push_back(raw_record(state[i].first, state[i].second));
      continue;
    }
    const size_t g = *group_of[i];
    if (written[g]) continue;
    written[g] = true;
    const auto& group = groups[g];
    encoded.records.push_back(
        group.record(static_cast<int>(options.gap_bits.value_or(default_gap_bits(group.shape_of)))));
  }
  try {
    codec::WriteOptions write;
    write.max_code_length = static_cast<int>(options.max_code_length);
    encoded.bytes = codec::write_container(encoded.records, write, &encoded.sizes);
  } catch (const std::invalid_argument& error) {
    DEEPCOMP_CHECK_VALUE(false, caller, ": ", error.what());
  }
  return encoded;
}

FileReport save_state(const NamedTensors& state, const std::string& path, const SaveOptions& options) {
  const auto encoded = encode_state(state, options);
  codec::write_file_atomically(path, encoded.bytes.data(), encoded.bytes.size());
  // The size written, not the path's size now: another writer may have replaced it since.
  return file_report(encoded.records, encoded.sizes, static_cast<int64_t>(encoded.bytes.size()));
}

NamedTensors named_tensors(const torch::nn::Module& model) {
  NamedTensors state;
  for (const auto& item : model.named_parameters()) state.emplace_back(item.key(), item.value());
  for (const auto& item : model.named_buffers()) state.emplace_back(item.key(), item.value());
  return state;
}

FileReport save(const torch::nn::Module& model, const std::string& path, const SaveOptions& options) {
  return save_state(named_tensors(model), path, options);
}

}  // namespace deepcomp
