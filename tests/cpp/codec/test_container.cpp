// The .dcz container (container.h): round trips of every kind; the writer's and the reader's checks.
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

const DType kAllDTypes[] = {DType::float32, DType::float64, DType::float16, DType::bfloat16, DType::int8,
                            DType::uint8,   DType::int16,   DType::int32,   DType::int64,    DType::boolean};
const TensorKind kAllKinds[] = {TensorKind::raw, TensorKind::dense_codebook, TensorKind::sparse_codebook,
                                TensorKind::sparse_raw};

std::vector<TensorRecord> read(const Bytes& file, bool verify = true) {
  return read_container(file.data(), file.size(), ReadOptions{verify});
}

// The payloads of a file's records (the file is taken to be well framed).
std::vector<Bytes> payloads_of(const Bytes& file) {
  std::vector<Bytes> payloads;
  uint64_t at = kFileHeaderBytes;
  const uint64_t count = load_le(file.data() + 12, 4);
  for (uint64_t i = 0; i < count; ++i) {
    const uint64_t size = load_le(file.data() + at, 8);
    payloads.emplace_back(file.begin() + static_cast<int64_t>(at + 8), file.begin() + static_cast<int64_t>(at + 8 + size));
    at += size + kRecordFramingBytes;
  }
  return payloads;
}

void put(Bytes& out, uint64_t value, int count) {
  out.resize(out.size() + static_cast<size_t>(count));
  store_le(out.data() + out.size() - count, value, count);
}

// A file with these payloads, header fields and checksums all correct: damage that the checksums
// would hide reaches the parser.
Bytes file_of(const std::vector<Bytes>& payloads, uint64_t version = kUngroupedFormatVersion, uint64_t flags = 0) {
  Bytes out(kMagic.begin(), kMagic.end());
  put(out, version, 2);
  put(out, flags, 2);
  put(out, payloads.size(), 4);
  put(out, checksum(out.data(), 16), 8);
  for (const auto& payload : payloads) {
    put(out, payload.size(), 8);
    out.insert(out.end(), payload.begin(), payload.end());
    put(out, checksum(payload.data(), payload.size()), 8);
  }
  return out;
}

TensorRecord one(const std::string& name, TensorKind kind, DType dtype, std::vector<uint64_t> shape) {
  std::mt19937_64 rng(std::hash<std::string>{}(name));
  return random_record(rng, name, kind, dtype, std::move(shape), 3, 2, 30);
}

void check_round_trip(const std::vector<TensorRecord>& records, const WriteOptions& options = {}) {
  std::vector<RecordBytes> written, read_back;
  const auto file = write_container(records, options, &written);
  const auto back = read_container(file.data(), file.size(), {}, &read_back);
  REQUIRE(same_records(back, records));
  REQUIRE(written.size() == records.size());
  REQUIRE(read_back.size() == records.size());
  uint64_t total = kFileHeaderBytes;
  for (size_t i = 0; i < records.size(); ++i) {
    const auto& w = written[i];
    const auto& r = read_back[i];
    INFO("record " << records[i].name);
    CHECK(w.total == r.total);
    CHECK(w.codebook == r.codebook);
    CHECK(w.values == r.values);
    CHECK(w.index_stream == r.index_stream);
    CHECK(w.gap_stream == r.gap_stream);
    CHECK(w.gap_entries == r.gap_entries);
    CHECK(w.codebook == records[i].codebook.size());
    CHECK(w.values == records[i].values.size());
    CHECK((w.index_stream != 0) == has_codebook(records[i].kind));
    CHECK((w.gap_stream != 0) == is_sparse(records[i].kind));
    CHECK(w.total > w.codebook + w.values + w.index_stream + w.gap_stream + kRecordFramingBytes);
    total += w.total;
  }
  REQUIRE(total == file.size());
  REQUIRE(same_records(read(file, false), records));
}

}  // namespace

TEST_CASE("the container round-trips every kind and dtype", "[container]") {
  const std::vector<std::vector<uint64_t>> shapes = {{}, {1}, {7}, {3, 5}, {2, 3, 4, 5}, {0}, {4, 0, 2}};
  std::vector<TensorRecord> all;
  for (const auto kind : kAllKinds) {
    for (const auto dtype : kAllDTypes) {
      if (has_codebook(kind) && !is_floating(dtype)) continue;
      for (size_t s = 0; s < shapes.size(); ++s) {
        const std::string name = std::string(kind_name(kind)) + "." + dtype_name(dtype) + "." + std::to_string(s);
        INFO(name);
        std::vector<TensorRecord> records = {one(name, kind, dtype, shapes[s])};
        check_round_trip(records);
        all.push_back(records[0]);
      }
    }
  }
  check_round_trip(all);
  check_round_trip({});
}

TEST_CASE("the container round-trips every index and gap width and code length limit", "[container]") {
  std::mt19937_64 rng(21);
  std::vector<TensorRecord> records;
  for (int bits = 1; bits <= 8; ++bits) {
    for (int keep : {0, 3, 50, 100}) {
      const std::string suffix = std::to_string(bits) + "." + std::to_string(keep);
      records.push_back(random_record(rng, "s" + suffix, TensorKind::sparse_codebook, DType::float16, {700}, bits, bits, keep));
      records.push_back(random_record(rng, "r" + suffix, TensorKind::sparse_raw, DType::float32, {33, 9}, 0, bits, keep));
    }
    records.push_back(random_record(rng, "d" + std::to_string(bits), TensorKind::dense_codebook, DType::float64, {257}, bits));
  }
  check_round_trip(records);
  check_round_trip(records, {kMaxCodeLength});
  check_round_trip(records, {8});
  CHECK_THROWS_AS(write_container(records, {0}), std::invalid_argument);
  CHECK_THROWS_AS(write_container(records, {16}), std::invalid_argument);
  // A large sparse tensor, of the paper's shape (most weights pruned).
  check_round_trip({random_record(rng, "big", TensorKind::sparse_codebook, DType::float32, {300, 400}, 5, 4, 8)});
}

TEST_CASE("the container keeps UTF-8 names, rank-0 and empty tensors", "[container]") {
  const auto scalar = one("\xc3\xa9tape", TensorKind::raw, DType::int64, {});
  CHECK(scalar.numel() == 1);
  CHECK(scalar.values.size() == 8);
  const auto empty_sparse = one("\xe6\xac\x8a\xe9\x87\x8d.weight", TensorKind::sparse_codebook, DType::float32, {0, 3});
  CHECK(empty_sparse.numel() == 0);
  check_round_trip({scalar, empty_sparse,
                    one("\xf0\x9f\x98\x80", TensorKind::dense_codebook, DType::bfloat16, {}),
                    one(std::string(kMaxNameBytes, 'n'), TensorKind::sparse_raw, DType::boolean, {0}),
                    one("empty", TensorKind::raw, DType::float32, {5, 0})});
}

TEST_CASE("write_container rejects inconsistent records", "[container]") {
  auto rejects = [](TensorRecord record, const char* what) {
    INFO(what);
    CHECK_THROWS_AS(write_container({record}), std::invalid_argument);
  };
  const auto raw = one("raw", TensorKind::raw, DType::float32, {2, 3});
  const auto dense = one("dense", TensorKind::dense_codebook, DType::float32, {2, 3});
  const auto sparse = one("sparse", TensorKind::sparse_codebook, DType::float16, {20});
  const auto sparse_raw = one("sparse_raw", TensorKind::sparse_raw, DType::int16, {20});
  REQUIRE_NOTHROW(write_container({raw, dense, sparse, sparse_raw}));
  CHECK_THROWS_AS(write_container({raw, raw}), std::invalid_argument);

  auto r = raw;
  r.name = "";
  rejects(r, "an empty name");
  r.name = std::string(kMaxNameBytes + 1, 'n');
  rejects(r, "a long name");
  for (const char* bad : {"\xff", "a\xc3", "\xc0\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\x80"}) {
    r.name = bad;
    rejects(r, "a name that is not UTF-8");
  }
  r.name = std::string("a\0b", 3);
  rejects(r, "a NUL in a name");
  r = raw;
  r.kind = static_cast<TensorKind>(4);
  rejects(r, "an unknown kind");
  r = raw;
  r.dtype = static_cast<DType>(10);
  rejects(r, "an unknown dtype");
  r = raw;
  r.shape.assign(kMaxRank + 1, 1);
  r.values.resize(4);
  rejects(r, "too many dimensions");
  r = raw;
  r.shape = {uint64_t{1} << 25, uint64_t{1} << 24};
  rejects(r, "too many elements");
  r = raw;
  r.values.pop_back();
  rejects(r, "a value byte short");

  auto d = dense;
  d.dtype = DType::int32;
  rejects(d, "a codebook of integers");
  for (const int bits : {0, 9}) {
    d = dense;
    d.index_bits = bits;
    rejects(d, "index bits out of range");
  }
  d = dense;
  d.codebook.pop_back();
  rejects(d, "a codebook of the wrong size");
  d = dense;
  d.indices.push_back(0);
  rejects(d, "an index too many");
  d = dense;
  d.indices[0] = 8;
  rejects(d, "an index past the codebook");

  auto s = sparse;
  for (const int bits : {0, 9}) {
    s = sparse;
    s.gap_bits = bits;
    rejects(s, "gap bits out of range");
  }
  s = sparse;
  s.mask.push_back(1);
  rejects(s, "a mask of the wrong size");
  s = sparse;
  s.mask[std::find(s.mask.begin(), s.mask.end(), 0) - s.mask.begin()] = 1;
  rejects(s, "a kept position without an index");
  auto sr = sparse_raw;
  sr.values.push_back(0);
  rejects(sr, "a value byte too many");
}

TEST_CASE("read_container rejects damaged files", "[container]") {
  const auto records = std::vector<TensorRecord>{one("a.w", TensorKind::dense_codebook, DType::float32, {4, 4}),
                                                 one("b.w", TensorKind::sparse_raw, DType::float32, {30})};
  const auto file = write_container(records);
  const auto payloads = payloads_of(file);
  REQUIRE(file_of(payloads) == file);

  SECTION("magic") {
    auto bad = file;
    bad[1] = 'X';
    CHECK_THROWS_WITH(read(bad), Catch::Contains("wrong magic"));
    CHECK_THROWS_WITH(read(Bytes(kMagic.begin(), kMagic.begin() + 5)), Catch::Contains("wrong magic"));
    CHECK_THROWS_WITH(read_container(nullptr, 0), Catch::Contains("wrong magic"));
    CHECK_THROWS_AS(read(Bytes(kMagic.begin(), kMagic.end())), FormatError);
  }
  SECTION("version and flags") {
    CHECK_THROWS_WITH(read(file_of(payloads, kFormatVersion + 1)),
                      Catch::Contains("format version " + std::to_string(kFormatVersion + 1) + " is not supported"));
    CHECK(same_records(read(file_of(payloads, 1)), records));  // version 1 files still read
    CHECK_THROWS_WITH(read(file_of(payloads, 0)), Catch::Contains("format version 0"));
    CHECK_THROWS_WITH(read(file_of(payloads, kFormatVersion, 1)), Catch::Contains("unknown flags"));
  }
  SECTION("trailing bytes and missing records") {
    auto bad = file;
    bad.push_back(0);
    CHECK_THROWS_WITH(read(bad), Catch::Contains("after the last record"));
    auto extra = payloads;
    extra.push_back(payloads[0]);
    auto joined = file_of(extra);
    store_le(joined.data() + 12, 2, 4);
    store_le(joined.data() + 16, checksum(joined.data(), 16), 8);
    CHECK_THROWS_WITH(read(joined), Catch::Contains("after the last record"));
    store_le(joined.data() + 12, 4, 4);
    store_le(joined.data() + 16, checksum(joined.data(), 16), 8);
    CHECK_THROWS_AS(read(joined), FormatError);
    store_le(joined.data() + 12, 0xffffffff, 4);
    store_le(joined.data() + 16, checksum(joined.data(), 16), 8);
    CHECK_THROWS_WITH(read(joined), Catch::Contains("records cannot fit"));
  }
  SECTION("duplicate names") {
    auto renamed = payloads;
    REQUIRE(renamed[1][0] == 3);  // the name's length, then "b.w"
    renamed[1][1] = 'a';
    CHECK_THROWS_WITH(read(file_of(renamed)), Catch::Contains("'a.w' appears twice"));
  }
  SECTION("checksums") {
    auto bad = file;
    bad[13] ^= 1;  // the record count
    CHECK_THROWS_WITH(read(bad), Catch::StartsWith("file header") && Catch::Contains("checksum mismatch"));
    bad = file;
    bad[kFileHeaderBytes + 8 + 2] ^= 0x10;  // inside the first payload
    CHECK_THROWS_WITH(read(bad), Catch::StartsWith("record 0") && Catch::Contains("checksum mismatch"));
    bad = file;
    bad[bad.size() - 1] ^= 0x80;  // the last record's checksum
    CHECK_THROWS_WITH(read(bad), Catch::StartsWith("record 1") && Catch::Contains("checksum mismatch"));
  }
  SECTION("record fields behind correct checksums") {
    const uint64_t name = 4;  // the name's length byte and "a.w": kind, dtype, rank follow
    auto edit = [&](uint64_t at, uint8_t value) {
      auto changed = payloads;
      changed[0][at] = value;
      return file_of(changed);
    };
    CHECK_THROWS_WITH(read(edit(name, 4)), Catch::Contains("unknown kind 4"));
    CHECK_THROWS_WITH(read(edit(name + 1, 10)), Catch::Contains("unknown dtype 10"));
    CHECK_THROWS_WITH(read(edit(name + 1, static_cast<uint8_t>(DType::int32))), Catch::Contains("not floating"));
    CHECK_THROWS_WITH(read(edit(name + 2, 17)), Catch::Contains("rank 17"));
    CHECK_THROWS_WITH(read(edit(0, 0)), Catch::Contains("name length 0"));
    CHECK_THROWS_WITH(read(edit(1, 0xff)), Catch::Contains("not UTF-8"));
    auto longer = payloads;
    longer[1].push_back(0);
    CHECK_THROWS_WITH(read(file_of(longer)), Catch::Contains("after the tensor's data"));
    auto shorter = payloads;
    shorter[1].pop_back();
    CHECK_THROWS_AS(read(file_of(shorter)), FormatError);
    CHECK_NOTHROW(read(file_of(payloads)));
  }
}

TEST_CASE("read_container refuses a record that decodes past the limit, before decoding it", "[container]") {
  // A fully pruned float64 tensor: its gap stream is fillers of one bit each, ~2,000 elements a byte.
  TensorRecord record;
  record.name = "hostile.weight";
  record.kind = TensorKind::sparse_raw;
  record.dtype = DType::float64;
  record.shape = {1u << 20};
  record.gap_bits = 8;
  record.mask.assign(record.numel(), 0);
  const auto file = write_container({record});
  const uint64_t decoded = decoded_bytes(record.kind, record.dtype, record.numel());
  CHECK(decoded == (uint64_t{1} << 20) * 9);  // float64 values and a mask byte per element
  CHECK(decoded > 1000 * file.size());
  ReadOptions options;
  options.max_decoded_bytes = decoded - 1;
  CHECK_THROWS_WITH(read_container(file.data(), file.size(), options),
                    Catch::Contains("'hostile.weight': decodes to 9437184 bytes") &&
                        Catch::Contains("decoding limit"));
  options.max_decoded_bytes = decoded;
  CHECK(read_container(file.data(), file.size(), options).at(0).numel() == record.numel());
  // The limit is for all the records together.
  auto second = record;
  second.name = "second.weight";
  const auto both = write_container({record, second});
  options.max_decoded_bytes = 2 * decoded - 1;
  CHECK_THROWS_WITH(read_container(both.data(), both.size(), options), Catch::Contains("'second.weight'"));
}

TEST_CASE("a dimension above 2^48 is refused even beside a 0 (no elements)", "[container]") {
  CHECK_THROWS_WITH(write_container({one("w", TensorKind::raw, DType::uint8, {0, uint64_t{1} << 62})}),
                    Catch::Contains("dimension above 2^48"));
  auto payloads = payloads_of(write_container({one("w", TensorKind::raw, DType::uint8, {0, 5})}));
  // name length, name, kind, dtype, rank, the dimensions 0 and 5: make the 5 a varint of 2^62.
  auto& payload = payloads.at(0);
  REQUIRE(payload.at(6) == 5);
  payload.erase(payload.begin() + 6);
  const Bytes huge{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40};
  payload.insert(payload.begin() + 6, huge.begin(), huge.end());
  CHECK_THROWS_WITH(read(file_of(payloads)), Catch::Contains("'w': a dimension above 2^48"));
}
