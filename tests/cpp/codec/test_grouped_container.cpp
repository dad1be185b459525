// Per-group codebooks in the .dcz container (container.h, TensorRecord::codebook_groups: 1 to one
// per slice of the first dimension): version 3 is written only when a record has several codebooks;
// the writer's and the reader's checks.
#include <catch2/catch.hpp>

#include "codec/byte_order.h"
#include "codec/checksum.h"
#include "codec/container.h"
#include "sample_records.h"

#include <deepcomp/format_error.h>

#include <random>
#include <stdexcept>

using namespace deepcomp::codec;
using namespace deepcomp::codec::testing;
using deepcomp::FormatError;
using Bytes = std::vector<uint8_t>;

namespace {

// A codebook record of `kind` with `groups` codebooks of 2^bits random values.
TensorRecord grouped(const std::string& name, TensorKind kind, DType dtype, std::vector<uint64_t> shape,
                     uint64_t groups, int bits = 3) {
  std::mt19937_64 rng(std::hash<std::string>{}(name));
  auto record = random_record(rng, name, kind, dtype, std::move(shape), bits, 2, 40);
  record.codebook_groups = groups;
  record.codebook = random_bytes(rng, groups * (uint64_t{1} << bits) * static_cast<uint64_t>(dtype_size(dtype)));
  return record;
}

TensorRecord raw(const std::string& name) {
  std::mt19937_64 rng(std::hash<std::string>{}(name));
  return random_record(rng, name, TensorKind::raw, DType::float32, {6});
}

int version_of(const Bytes& file) { return static_cast<int>(load_le(file.data() + 8, 2)); }

std::vector<TensorRecord> read(const Bytes& file) { return read_container(file.data(), file.size()); }

// The payloads of a well-framed file's records.
std::vector<Bytes> payloads_of(const Bytes& file) {
  std::vector<Bytes> payloads;
  uint64_t at = kFileHeaderBytes;
  for (uint64_t i = 0, count = load_le(file.data() + 12, 4); i < count; ++i) {
    const uint64_t size = load_le(file.data() + at, 8);
    const auto first = file.begin() + static_cast<int64_t>(at + 8);
    payloads.emplace_back(first, first + static_cast<int64_t>(size));
    at += size + kRecordFramingBytes;
  }
  return payloads;
}

// A file of these payloads with every checksum right, so that damage behind them reaches the parser.
Bytes file_of(const std::vector<Bytes>& payloads, uint64_t version) {
  Bytes out(kMagic.begin(), kMagic.end());
  const auto put = [&](uint64_t value, int count) {
    out.resize(out.size() + static_cast<size_t>(count));
    store_le(out.data() + out.size() - count, value, count);
  };
  put(version, 2);
  put(0, 2);
  put(payloads.size(), 4);
  put(checksum(out.data(), 16), 8);
  for (const auto& payload : payloads) {
    put(payload.size(), 8);
    out.insert(out.end(), payload.begin(), payload.end());
    put(checksum(payload.data(), payload.size()), 8);
  }
  return out;
}

void check_same(const std::vector<TensorRecord>& back, const std::vector<TensorRecord>& records) {
  REQUIRE(same_records(back, records));
  for (size_t i = 0; i < records.size(); ++i) {
    INFO(records[i].name);
    CHECK(back[i].codebook_groups == records[i].codebook_groups);
  }
}

}  // namespace

TEST_CASE("records with several codebooks round-trip in a version 3 file", "[container][groups]") {
  const std::vector<TensorRecord> records{
      grouped("fc.weight", TensorKind::dense_codebook, DType::float32, {6, 5}, 3),
      grouped("uneven.weight", TensorKind::sparse_codebook, DType::float32, {7, 3}, 3, 2),  // 3 does not divide 7
      grouped("conv.weight", TensorKind::sparse_codebook, DType::float16, {12, 2, 3, 3}, 12, 5),
      grouped("one.weight", TensorKind::sparse_codebook, DType::float64, {8, 4}, 1, 8),
      grouped("all.weight", TensorKind::dense_codebook, DType::bfloat16, {7}, 7, 1),
      raw("fc.bias"),
  };
  std::vector<RecordBytes> written, read_back;
  const auto file = write_container(records, {}, &written);
  CHECK(version_of(file) == 3);
  const auto back = read_container(file.data(), file.size(), {}, &read_back);
  check_same(back, records);
  for (size_t i = 0; i < records.size(); ++i) {
    INFO(records[i].name);
    CHECK(written[i].codebook == records[i].codebook.size());
    CHECK(read_back[i].codebook == written[i].codebook);
    CHECK(read_back[i].total == written[i].total);
  }
  CHECK(written[0].codebook == 3 * 8 * 4);
  CHECK(written[1].codebook == 3 * 4 * 4);
  CHECK(written[2].codebook == 12 * 32 * 2);
}

TEST_CASE("a file whose records each have one codebook is written as version 2", "[container][groups]") {
  const std::vector<TensorRecord> records{grouped("a.weight", TensorKind::dense_codebook, DType::float32, {6, 5}, 1),
                                          grouped("b.weight", TensorKind::sparse_codebook, DType::float32, {4}, 1)};
  const auto file = write_container(records);
  CHECK(version_of(file) == 2);
  check_same(read(file), records);
  // A raw record's codebook_groups means nothing and changes nothing.
  auto bias = raw("fc.bias");
  bias.codebook_groups = 3;
  CHECK(version_of(write_container({bias})) == 2);
}

TEST_CASE("write_container refuses codebook groups the first dimension cannot hold", "[container][groups]") {
  const auto good = grouped("fc.weight", TensorKind::dense_codebook, DType::float32, {6, 5}, 3);
  REQUIRE_NOTHROW(write_container({good}));
  const auto rejects = [](TensorRecord record, const char* what) {
    INFO(what);
    CHECK_THROWS_AS(write_container({record}), std::invalid_argument);
  };
  for (const uint64_t groups : {0, 7, 12}) {
    auto r = grouped("fc.weight", TensorKind::dense_codebook, DType::float32, {6, 5}, groups);
    INFO("groups " << groups);
    rejects(r, "no groups, or more than 6");
    CHECK_THROWS_WITH(write_container({r}), Catch::Contains("up to one per slice of the first dimension"));
  }
  auto r = good;
  r.codebook.resize(8 * 4);  // one group's worth
  rejects(r, "a codebook of one group for three");
  r = good;
  r.codebook.pop_back();
  rejects(r, "a codebook a byte short");
  rejects(grouped("s", TensorKind::sparse_codebook, DType::float32, {}, 2), "groups of a rank-0 tensor");
  rejects(grouped("s", TensorKind::sparse_codebook, DType::float32, {10, 4}, 11), "sparse, 11 groups of 10 rows");
  rejects(grouped("s", TensorKind::sparse_codebook, DType::float32, {0, 4}, 2), "2 groups of no rows");
}

TEST_CASE("read_container refuses a damaged codebook groups field", "[container][groups]") {
  // name length, "g.w", kind, dtype, rank, the dimensions 6 and 5, index bits, then the groups varint
  const auto record = grouped("g.w", TensorKind::dense_codebook, DType::float32, {6, 5}, 3);
  const auto payloads = payloads_of(write_container({record}));
  REQUIRE(payloads.size() == 1);
  const uint64_t at = 10;
  REQUIRE(payloads[0].at(7) == 6);
  REQUIRE(payloads[0].at(9) == 3);   // index bits
  REQUIRE(payloads[0].at(at) == 3);  // groups
  REQUIRE(file_of(payloads, 3) == write_container({record}));
  for (const uint8_t groups : {0, 7, 12}) {
    auto damaged = payloads;
    damaged[0][at] = groups;
    INFO("groups " << int{groups});
    CHECK_THROWS_AS(read(file_of(damaged, 3)), FormatError);
    CHECK_THROWS_WITH(read(file_of(damaged, 3)),
                      Catch::Contains("'g.w'") &&
                          Catch::Contains(std::to_string(groups) + " codebook groups for a first dimension of 6"));
  }
  // Possible, but the codebook then holds the wrong number of values: the rest no longer parses.
  for (const uint8_t groups : {2, 4}) {
    auto other = payloads;
    other[0][at] = groups;
    INFO("groups " << int{groups});
    CHECK_THROWS_AS(read(file_of(other, 3)), FormatError);
  }
  // A version-2 header does not have the field: the payload does not parse as one.
  CHECK_THROWS_AS(read(file_of(payloads, 2)), FormatError);
}
