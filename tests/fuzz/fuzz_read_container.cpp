// libFuzzer target: read_container on arbitrary bytes, with checksums off (so mutations reach the
// record parser) and on, under a decoding limit. Only deepcomp::FormatError may escape the reader;
// anything else (another exception, a crash, a sanitizer report, memory past -rss_limit_mb) is a
// finding. Every record that reads is decoded to its dense elements and indices as a loader does
// (dense.h: what tensor_records puts into tensors), and the file is written again and must read back
// to the same records: the reader accepts nothing the writer cannot produce.
#include "codec/container.h"
#include "codec/dense.h"

#include <deepcomp/format_error.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <vector>

using namespace deepcomp::codec;

namespace {

bool same(const TensorRecord& a, const TensorRecord& b) {
  return a.name == b.name && a.kind == b.kind && a.dtype == b.dtype && a.shape == b.shape && a.values == b.values &&
         a.index_bits == b.index_bits && a.codebook == b.codebook && a.indices == b.indices &&
         a.gap_bits == b.gap_bits && a.mask == b.mask;
}

[[noreturn]] void finding(const char* what) {
  std::fprintf(stderr, "fuzz_read_container: %s\n", what);
  std::abort();
}

// Far below -rss_limit_mb: a file that declares more is refused, as deepcomp::DczFile refuses one
// over its max_bytes.
constexpr uint64_t kDecodingLimit = uint64_t{64} << 20;

void decode(const TensorRecord& record) {
  std::vector<uint8_t> dense(record.numel() * static_cast<uint64_t>(dtype_size(record.dtype)));
  decode_dense(record, dense.data());
  if (has_codebook(record.kind)) {
    std::vector<uint8_t> indices(record.numel());
    decode_indices(record, indices.data());
    const uint64_t codes = uint64_t{1} << record.index_bits;
    for (const uint8_t index : indices) {
      if (index >= codes) finding("a decoded index is outside the codebook");
    }
  }
}

void read_and_rewrite(const uint8_t* data, size_t size, bool verify_checksums) {
  std::vector<TensorRecord> records;
  try {
    records = read_container(data, size, ReadOptions{verify_checksums, kDecodingLimit});
  } catch (const deepcomp::FormatError&) {
    return;
  }
  for (const auto& record : records) decode(record);
  std::vector<uint8_t> again;
  try {
    again = write_container(records);
  } catch (const std::invalid_argument& error) {
    std::fprintf(stderr, "%s\n", error.what());
    finding("write_container rejects records that read_container accepted");
  }
  const auto back = read_container(again.data(), again.size());
  if (back.size() != records.size()) finding("a rewritten file holds another number of records");
  for (size_t i = 0; i < back.size(); ++i) {
    if (!same(back[i], records[i])) finding("a rewritten record reads back different");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  read_and_rewrite(data, size, false);
  read_and_rewrite(data, size, true);
  return 0;
}
