// Damaged input must give a FormatError, never a crash or another error: every truncation and
// many bit flips of a small file of all four kinds, and the fuzzers' findings (tests/fuzz/).
#include <catch2/catch.hpp>

#include "codec/byte_io.h"
#include "codec/container.h"
#include "codec/stream.h"
#include "sample_records.h"

#include <deepcomp/format_error.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>

using namespace deepcomp::codec;
using namespace deepcomp::codec::testing;
using deepcomp::FormatError;
using Bytes = std::vector<uint8_t>;

namespace {

enum class Outcome { format_error, same, different };

// Reads bytes; a record set that reads must also write and read back unchanged.
Outcome outcome(const Bytes& bytes, const std::vector<TensorRecord>& original, bool verify) {
  std::vector<TensorRecord> records;
  try {
    records = read_container(bytes.data(), bytes.size(), ReadOptions{verify});
  } catch (const FormatError&) {
    return Outcome::format_error;
  }
  const auto again = write_container(records);
  REQUIRE(same_records(read_container(again.data(), again.size()), records));
  return same_records(records, original) ? Outcome::same : Outcome::different;
}

}  // namespace

TEST_CASE("the sample file holds every kind", "[robustness]") {
  const auto records = sample_records();
  for (const auto kind : {TensorKind::raw, TensorKind::dense_codebook, TensorKind::sparse_codebook, TensorKind::sparse_raw}) {
    CHECK(std::any_of(records.begin(), records.end(), [&](const TensorRecord& r) { return r.kind == kind; }));
  }
  const auto file = write_container(records);
  CHECK(file.size() < 2000);
  CHECK(same_records(read_container(file.data(), file.size()), records));
}

TEST_CASE("every truncation of a file is a FormatError", "[robustness]") {
  const auto records = sample_records();
  const auto file = write_container(records);
  for (uint64_t size = 0; size < file.size(); ++size) {
    INFO("the first " << size << " of " << file.size() << " bytes");
    const Bytes prefix(file.begin(), file.begin() + static_cast<int64_t>(size));
    REQUIRE_THROWS_AS(read_container(prefix.data(), prefix.size()), FormatError);
    REQUIRE_THROWS_AS(read_container(prefix.data(), prefix.size(), ReadOptions{false}), FormatError);
  }
}

TEST_CASE("bit flips are caught by the checksums, and the parser behind them survives them", "[robustness]") {
  const auto records = sample_records();
  const auto file = write_container(records);
  std::mt19937_64 rng(31);
  int undetected = 0, parsed_without_checksums = 0;
  for (int trial = 0; trial < 10000; ++trial) {
    Bytes bytes = file;
    const uint64_t bit = rng() % (bytes.size() * 8);
    bytes[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    INFO("flip of bit " << bit % 8 << " of byte " << bit / 8);
    const Outcome checked = outcome(bytes, records, true);
    REQUIRE(checked != Outcome::different);
    undetected += checked == Outcome::same;
    Outcome unchecked = Outcome::format_error;
    REQUIRE_NOTHROW(unchecked = outcome(bytes, records, false));
    parsed_without_checksums += unchecked != Outcome::format_error;
  }
  // XXH64 over every byte but itself: no single flip goes unnoticed.
  CHECK(undetected == 0);
  // Without checksums, flips in values and codebooks read as other values.
  CHECK(parsed_without_checksums > 1000);
}

TEST_CASE("the fuzzers' findings read or raise FormatError", "[robustness]") {
  const std::filesystem::path folder = DEEPCOMP_FUZZ_REGRESSIONS_DIR;
  REQUIRE(std::filesystem::is_directory(folder));
  int replayed = 0;
  for (const auto& entry : std::filesystem::directory_iterator(folder)) {
    if (!entry.is_regular_file() || entry.path().extension() == ".md") continue;
    std::ifstream in(entry.path(), std::ios::binary);
    const Bytes bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::string name = entry.path().filename().string();
    INFO(name);
    ++replayed;
    if (name.rfind("stream-", 0) == 0) {
      // fuzz_read_stream's input: a byte choosing the alphabet, then the stream.
      if (bytes.empty()) continue;
      ByteReader reader(bytes.data() + 1, bytes.size() - 1, "regression");
      try {
        read_stream(reader, 1 + bytes[0] % 8, kAnyCount, "stream");
      } catch (const FormatError&) {
      }
      continue;
    }
    for (const bool verify : {false, true}) {
      try {
        const auto records = read_container(bytes.data(), bytes.size(), ReadOptions{verify});
        const auto again = write_container(records);
        CHECK(same_records(read_container(again.data(), again.size()), records));
      } catch (const FormatError&) {
      }
    }
  }
  SUCCEED(replayed << " regression input(s) replayed");
}
