// The .dcz container: a file header, then one checksummed record per tensor (docs/format.md).
//
// A record holds a tensor in one of four kinds: raw values; a codebook and one Huffman-coded index
// per element (dense_codebook); a codebook, the Huffman-coded gaps of the kept positions (see
// relative_index.h) and one Huffman-coded index per kept element (sparse_codebook); or the coded
// gaps and the raw kept values (sparse_raw). TensorRecord is the decoded form: the writer encodes
// it, the reader checks every size against the bytes present before it allocates, and decodes.
#pragma once

#include "codec/huffman.h"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace deepcomp::codec {

constexpr std::array<uint8_t, 8> kMagic = {0x89, 'D', 'C', 'Z', '\r', '\n', 0x1a, '\n'};
// 2: a stream may be fixed-width (stream.h). 3: a codebook record says how many codebooks it holds
// (per-group codebooks); written only by files that have one with several, so that others stay
// readable by version-2 readers. Version 1 and 2 files still read.
constexpr uint16_t kFormatVersion = 3;
constexpr uint16_t kUngroupedFormatVersion = 2;
constexpr uint16_t kOldestFormatVersion = 1;
constexpr uint64_t kFileHeaderBytes = 24;   // magic, version, flags, record count, checksum
constexpr uint64_t kRecordFramingBytes = 16;  // payload size and checksum
constexpr int kMaxRank = 16;
constexpr uint64_t kMaxNameBytes = 4096;
constexpr int kMinIndexBits = 1;
constexpr int kMaxIndexBits = 8;

enum class TensorKind : uint8_t { raw = 0, dense_codebook = 1, sparse_codebook = 2, sparse_raw = 3 };
enum class DType : uint8_t {
  float32 = 0, float64 = 1, float16 = 2, bfloat16 = 3,
  int8 = 4, uint8 = 5, int16 = 6, int32 = 7, int64 = 8, boolean = 9,
};

const char* kind_name(TensorKind kind);  // "raw", "dense_codebook", ...
// text with its control bytes (NUL, ESC, ...) written as \xNN, for messages: a name from a user or a
// file must not cut a message short or drive a terminal.
std::string printable(const std::string& text);
const char* dtype_name(DType dtype);     // "float32", ...
int dtype_size(DType dtype);             // bytes per element
bool is_floating(DType dtype);
bool has_codebook(TensorKind kind);
bool is_sparse(TensorKind kind);

struct TensorRecord {
  std::string name;  // UTF-8, 1..kMaxNameBytes bytes, unique in a file
  TensorKind kind = TensorKind::raw;
  DType dtype = DType::float32;  // of the values and the codebook (floating for codebook kinds)
  std::vector<uint64_t> shape;
  std::vector<uint8_t> values;    // raw: every element; sparse_raw: the kept ones (little-endian)
  int index_bits = 0;             // codebook kinds: 1..8
  // Codebook kinds: how many codebooks, each for a run of slices of the first dimension as even as
  // possible (slice r reads codebook r · groups / shape[0]; groups <= shape[0]); 1: one for the tensor.
  uint64_t codebook_groups = 1;
  std::vector<uint8_t> codebook;  // codebook kinds: codebook_groups × 2^index_bits values (little-endian)
  std::vector<uint8_t> indices;   // codebook kinds: per element (dense) or per kept element (sparse)
  int gap_bits = 0;               // sparse kinds: 1..8
  std::vector<uint8_t> mask;      // sparse kinds: one 0/1 byte per element

  uint64_t numel() const;
  uint64_t kept() const;  // elements stored: numel, or the kept ones of a sparse kind
};

// Where one record's bytes go in the file.
struct RecordBytes {
  uint64_t total = 0;         // all of it: framing, header, codebook, streams, values
  uint64_t name = 0;  // the name and its length
  uint64_t codebook = 0;
  uint64_t values = 0;
  uint64_t index_stream = 0;  // code lengths, lane sizes and lanes of the index stream
  uint64_t gap_stream = 0;
  uint64_t gap_entries = 0;   // gap symbols: kept weights and fillers
};

struct WriteOptions {
  int max_code_length = kDefaultMaxCodeLength;
};

struct ReadOptions {
  // Off only for fuzzing the parser behind the checksums.
  bool verify_checksums = true;
  // The most bytes the decoded records may take, all together (decoded_bytes of each); a record that
  // would go past it is refused (FormatError) before anything of it is allocated.
  uint64_t max_decoded_bytes = UINT64_MAX;
};

// What a record decodes to: its dense tensor (numel × dtype size) and the bytes it is decoded
// through, one mask byte per element for sparse kinds and one index byte for codebook kinds.
uint64_t decoded_bytes(TensorKind kind, DType dtype, uint64_t numel);

// The bytes of a .dcz file holding records (in order). Throws std::invalid_argument for a record
// that is not self-consistent (sizes, bits, names). `bytes`, when given, gets each record's sizes.
std::vector<uint8_t> write_container(const std::vector<TensorRecord>& records, const WriteOptions& options = {},
                                     std::vector<RecordBytes>* bytes = nullptr);

// Throws FormatError unless data starts with kMagic (read_container checks it too; a reader can
// check a file's first bytes before it reads the rest).
void check_magic(const uint8_t* data, uint64_t size);

// The records of a .dcz file's bytes. Throws FormatError naming the section and the problem.
std::vector<TensorRecord> read_container(const uint8_t* data, uint64_t size, const ReadOptions& options = {},
                                         std::vector<RecordBytes>* bytes = nullptr);

}  // namespace deepcomp::codec
