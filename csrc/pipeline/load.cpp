// load and inspect: a .dcz file back to tensors, a model, or its report.
#include <c10/util/Exception.h>
#include <deepcomp/io.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <algorithm>
#include <map>
#include <sstream>

#include "check.h"
#include "codec/container.h"
#include "codec/file_io.h"
#include "pipeline/file_report.h"
#include "pipeline/tensor_records.h"
#include "pipeline/weight_names.h"

namespace deepcomp {

struct DczFile::Contents {
  std::vector<codec::TensorRecord> records;
  std::vector<codec::RecordBytes> sizes;
  int64_t file_bytes = 0;
};

namespace {

std::string quoted_list(const std::vector<std::string>& names) {
  std::ostringstream text;
  for (size_t i = 0; i < names.size() && i < 8; ++i) text << (i ? ", " : "") << "'" << names[i] << "'";
  if (names.size() > 8) text << " and " << names.size() - 8 << " more";
  return text.str();
}

}  // namespace

int64_t default_max_decoded_bytes(int64_t file_bytes) {
  return std::max<int64_t>(int64_t{1} << 30, 256 * file_bytes);
}

DczFile::DczFile(const std::string& path, std::optional<int64_t> max_bytes) : path_(path) {
  DEEPCOMP_CHECK_VALUE(!max_bytes || *max_bytes >= 0, "DczFile: max_bytes must be >= 0, got ", *max_bytes);
  auto contents = std::make_unique<Contents>();
  try {
    const auto bytes = codec::read_file(path, codec::kMagic.size(), codec::check_magic);
    contents->file_bytes = static_cast<int64_t>(bytes.size());
    codec::ReadOptions options;
    options.max_decoded_bytes =
        static_cast<uint64_t>(max_bytes ? *max_bytes : default_max_decoded_bytes(contents->file_bytes));
    contents->records = codec::read_container(bytes.data(), bytes.size(), options, &contents->sizes);
  } catch (const FormatError& error) {
    throw FormatError("'" + path + "': " + error.what());
  }
  contents_ = std::move(contents);
}

DczFile::~DczFile() = default;

FileReport DczFile::report() const {
  return file_report(contents_->records, contents_->sizes, contents_->file_bytes);
}

torch::OrderedDict<std::string, torch::Tensor> DczFile::dense() const {
  torch::OrderedDict<std::string, torch::Tensor> state;
  for (const auto& record : contents_->records) state.insert(record.name, dense_tensor(record));
  return state;
}

NamedTensors DczFile::state(const std::vector<std::string>& names) const {
  const auto& records = contents_->records;
  std::map<std::string, const codec::TensorRecord*> by_name;
  for (const auto& record : records) by_name.emplace(record.name, &record);
  std::map<std::string, bool> used;
  NamedTensors state;
  std::vector<std::string> missing;
  for (const auto& name : names) {
    if (const auto own = by_name.find(name); own != by_name.end()) {
      state.emplace_back(name, dense_tensor(*own->second));
      used[name] = true;
      continue;
    }
    // `<layer>.<stem>codebook`, `<stem>indices`, `<stem>mask` come from a compressed `<layer>.<stem>weight`.
    const auto part = weight_part(name);
    const std::string leaf = part ? part->part : "";
    const auto weight = part ? by_name.find(part->weight) : by_name.end();
    const auto* record = weight == by_name.end() ? nullptr : weight->second;
    const bool codebook = record != nullptr && codec::has_codebook(record->kind);
    if (codebook && leaf == "codebook") {
      state.emplace_back(name, codebook_tensor(*record));
    } else if (codebook && leaf == "indices") {
      state.emplace_back(name, indices_tensor(*record));
    } else if (record != nullptr && leaf == "mask" && (codebook || codec::is_sparse(record->kind))) {
      state.emplace_back(name, mask_tensor(*record));
    } else {
      missing.push_back(name);
      continue;
    }
    used[record->name] = true;
  }
  std::vector<std::string> unused;
  for (const auto& record : records) {
    if (!used.count(record.name)) unused.push_back(record.name);
  }
  DEEPCOMP_CHECK_VALUE(
      missing.empty() && unused.empty(), "load: '", path_,
      "' does not match the model: ", missing.empty() ? "" : "the file has nothing for " + quoted_list(missing),
      missing.empty() || unused.empty() ? "" : "; ",
      unused.empty() ? "" : "the model has nothing for the file's " + quoted_list(unused),
      " (a shared layer needs a weight saved with its codebook, a masked layer one saved with its mask)");
  return state;
}

torch::OrderedDict<std::string, torch::Tensor> load(const std::string& path) { return DczFile(path).dense(); }

NamedTensors load_state(const std::string& path, const std::vector<std::string>& names) {
  return DczFile(path).state(names);
}

void load(const std::string& path, torch::nn::Module& model) {
  std::vector<std::string> names;
  std::vector<torch::Tensor> targets;
  for (const auto& item : model.named_parameters()) {
    names.push_back(item.key());
    targets.push_back(item.value());
  }
  for (const auto& item : model.named_buffers()) {
    names.push_back(item.key());
    targets.push_back(item.value());
  }
  const auto state = load_state(path, names);
  for (size_t i = 0; i < state.size(); ++i) {
    DEEPCOMP_CHECK_VALUE(state[i].second.sizes() == targets[i].sizes(), "load: '", names[i], "' has shape ",
                         targets[i].sizes(), " in the model and ", state[i].second.sizes(), " in '", path, "'");
  }
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < state.size(); ++i) targets[i].copy_(state[i].second);
}

FileReport inspect(const std::string& path) { return DczFile(path).report(); }

}  // namespace deepcomp
