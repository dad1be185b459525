// Stage 3 of Deep Compression: the compressed model file (.dcz, docs/format.md).
//
// save() writes every parameter and buffer of a model. A layer's weight is stored compressed:
//   - shared layers (codebook, indices, mask): the kept positions as Huffman-coded relative gaps
//     and a Huffman-coded codebook index per kept weight (sparse_codebook), or an index per weight
//     where nothing is pruned (dense_codebook);
//   - masked layers (weight, mask): the coded gaps and the kept values (sparse_raw);
// and everything else (biases, batch-norm buffers, plain layers) raw. Layers are recognised by
// their tensors' names (`<layer>.codebook`, `.indices`, `.mask`, `.weight`), so a model built in
// C++ and one built in Python save alike, and each loads the other's file.
//
// load() gives back a dense state dict, or fills a model: plain layers get the decoded dense
// weight, masked layers their weight and mask, shared layers their codebook, indices and mask
// exactly (indices of pruned weights are 0), so fine-tuning can go on.
#pragma once

#include <deepcomp/constants.h>
#include <deepcomp/format_error.h>

#include <torch/nn/module.h>
#include <torch/ordered_dict.h>
#include <torch/types.h>

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace deepcomp {

struct SaveOptions {
  // Bits per relative index (gap) of sparse weights, 1..8; default 8 for conv weights (rank > 2)
  // and 5 for linear ones, the paper's widths.
  std::optional<int64_t> gap_bits;
  // The longest Huffman code, 1..15 bits (decoding tables have 2^max_code_length entries).
  int64_t max_code_length = kDefaultMaxCodeLength;
};

// One tensor of a .dcz file: a row of the paper's Tables 2-5.
struct TensorFileStats {
  std::string name;
  std::string kind;  // "raw", "dense_codebook", "sparse_codebook" or "sparse_raw"
  std::vector<int64_t> shape;
  int64_t weights = 0;  // elements
  int64_t kept = 0;     // elements stored: the unpruned ones of a sparse kind, else all
  int64_t index_bits = 0;         // codebook kinds: bits per index before Huffman coding
  int64_t codebook_groups = 0;    // codebook kinds: codebooks, each for an equal slice of the first dimension
  double index_bits_coded = 0;    // ... and after: index stream bits / kept
  int64_t gap_bits = 0;           // sparse kinds: bits per gap before Huffman coding
  double gap_bits_coded = 0;      // ... and after: gap stream bits / gap entries
  int64_t gap_entries = 0;        // kept weights and fillers
  int64_t name_bytes = 0;  // the tensor's name and its length
  int64_t codebook_bytes = 0;
  int64_t index_bytes = 0;  // the index stream with its code description
  int64_t gap_bytes = 0;    // the gap stream with its code description
  int64_t value_bytes = 0;  // raw values
  int64_t bytes = 0;        // all of the tensor's record in the file
  // The data without Huffman coding (the paper's "P+Q" columns): each stream at fixed width, in
  // whole bytes (indices at index_bits per kept weight, gaps at gap_bits per entry), and their sum
  // with the codebook and values as stored.
  int64_t index_bytes_before_huffman = 0;
  int64_t gap_bytes_before_huffman = 0;
  int64_t bytes_before_huffman = 0;
  double kept_fraction() const { return weights == 0 ? 1.0 : static_cast<double>(kept) / weights; }
  // fp32 bytes of the dense tensor over its bytes in the file
  double rate() const { return bytes == 0 ? 0.0 : 4.0 * static_cast<double>(weights) / static_cast<double>(bytes); }
  double rate_before_huffman() const {
    return bytes_before_huffman == 0 ? 0.0 : 4.0 * static_cast<double>(weights) / static_cast<double>(bytes_before_huffman);
  }
};

struct FileReport {
  std::vector<TensorFileStats> tensors;  // in file order
  int64_t file_bytes = 0;   // the file's real size
  int64_t dense_bytes = 0;  // fp32 bytes of every tensor the file holds
  double rate() const {
    return file_bytes == 0 ? 0.0 : static_cast<double>(dense_bytes) / static_cast<double>(file_bytes);
  }
  // A row per compressed tensor, one for all raw ones, and the file's total.
  std::string table() const;
};
std::ostream& operator<<(std::ostream& stream, const FileReport& report);

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

// Writes the named tensors (a state dict: `<layer>.<tensor>` names) to path atomically (a
// temporary file beside it, fsync, rename) and reports the file. Throws c10::ValueError for bad
// options or names, an OSError-like std::system_error when the file cannot be written.
FileReport save_state(const NamedTensors& state, const std::string& path, const SaveOptions& options = {});
// The model's parameters and buffers by qualified name: what save stores.
NamedTensors named_tensors(const torch::nn::Module& model);
// save_state of the model's parameters and buffers.
FileReport save(const torch::nn::Module& model, const std::string& path, const SaveOptions& options = {});

// The decoding limit DczFile uses unless told another: 256 × the file's size, at least 1 GiB. An
// honest file decodes to well under it (the paper's rates are 35-49× fp32); a hostile one, which can
// declare ~2,000 elements per byte, is refused before it is decoded.
int64_t default_max_decoded_bytes(int64_t file_bytes);

// A .dcz file read and checked once, to be asked several things: what it holds (report()) and then
// the tensors a model needs (state()). load, load_state and inspect below each read one for a
// single answer. Only regular files are opened, and the magic bytes are checked before the rest is
// read. max_bytes: the most bytes its decoded tensors may take (codec::decoded_bytes: the dense
// tensors plus a byte per element of each mask and index stream); default
// default_max_decoded_bytes(file size). Throws FormatError for a malformed file or one that decodes
// to more than max_bytes (naming the tensor and the figures), std::system_error when it cannot be read.
class DczFile {
 public:
  explicit DczFile(const std::string& path, std::optional<int64_t> max_bytes = std::nullopt);
  ~DczFile();

  const std::string& path() const { return path_; }
  FileReport report() const;
  // Every tensor as a dense state dict (shared and masked layers' weights decoded).
  torch::OrderedDict<std::string, torch::Tensor> dense() const;
  // For each of `names` (a model's state-dict names), its tensor from the file: `<layer>.codebook`,
  // `.indices` and `.mask` from a compressed `<layer>.weight`, anything else by its own name,
  // decoded to dense. Throws c10::ValueError naming the tensors the file lacks or that no name uses.
  NamedTensors state(const std::vector<std::string>& names) const;

 private:
  struct Contents;
  std::string path_;
  std::unique_ptr<const Contents> contents_;
};

// DczFile(path).dense()
torch::OrderedDict<std::string, torch::Tensor> load(const std::string& path);
// DczFile(path).state(names)
NamedTensors load_state(const std::string& path, const std::vector<std::string>& names);
// Loads the file into model's parameters and buffers (shapes must match; dtypes are converted).
void load(const std::string& path, torch::nn::Module& model);

// DczFile(path).report(): the report of an existing file, without loading it into a model.
FileReport inspect(const std::string& path);

}  // namespace deepcomp
