// libFuzzer target: read_container on arbitrary bytes, with checksums off (so mutations reach the
// record parser) and on. Only deepcomp::FormatError may escape the reader; anything else (another
// exception, a crash, a sanitizer report) is a finding. A file that reads is written again and must
// read back to the same records: the reader accepts nothing the writer cannot produce.
#include "codec/container.h"

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

void read_and_rewrite(const uint8_t* data, size_t size, bool verify_checksums) {
  std::vector<TensorRecord> records;
  try {
    records = read_container(data, size, ReadOptions{verify_checksums});
  } catch (const deepcomp::FormatError&) {
    return;
  }
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
