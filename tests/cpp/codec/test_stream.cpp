// Byte-level parsing (byte_io.h) and the self-describing Huffman stream (stream.h).
#include <catch2/catch.hpp>

#include "codec/byte_io.h"
#include "codec/huffman.h"
#include "codec/stream.h"

#include <deepcomp/format_error.h>

#include <random>

using namespace deepcomp::codec;
using deepcomp::FormatError;
using Bytes = std::vector<uint8_t>;

namespace {

uint64_t read_varint(const Bytes& bytes) {
  ByteReader in(bytes.data(), bytes.size(), "section");
  const uint64_t value = in.varint("field");
  CHECK(in.remaining() == 0);
  return value;
}

Bytes stream_of(const Bytes& symbols, int bits, int limit = kDefaultMaxCodeLength) {
  ByteWriter out;
  write_stream(out, symbols, bits, limit);
  return out.bytes();
}

Bytes read(const Bytes& stream, int bits, uint64_t expected = kAnyCount) {
  ByteReader in(stream.data(), stream.size(), "record 0");
  return read_stream(in, bits, expected, "'w' index stream");
}

}  // namespace

TEST_CASE("ByteWriter and ByteReader: fixed integers and minimal varints", "[byte_io]") {
  for (const uint64_t value : {uint64_t{0}, uint64_t{1}, uint64_t{127}, uint64_t{128}, uint64_t{300},
                               uint64_t{1} << 35, (uint64_t{1} << 63) - 1, uint64_t{1} << 63, ~uint64_t{0}}) {
    ByteWriter out;
    out.varint(value);
    out.fixed(value, 8);
    out.fixed(value & 0xffff, 2);
    ByteReader in(out.bytes().data(), out.size(), "s");
    CHECK(in.varint("v") == value);
    CHECK(in.fixed(8, "f") == value);
    CHECK(in.fixed(2, "f") == (value & 0xffff));
    CHECK(in.remaining() == 0);
  }
  CHECK(read_varint({0x80, 0x01}) == 128);
  CHECK_THROWS_WITH(read_varint({0x80, 0x00}), Catch::Equals("section: field is not a minimal varint"));
  CHECK_THROWS_WITH(read_varint({0xff, 0x80, 0x00}), Catch::Contains("not a minimal varint"));
  Bytes eleven(10, 0xff);
  eleven.push_back(0x01);
  CHECK_THROWS_WITH(read_varint(eleven), Catch::Contains("does not fit 64 bits"));
  Bytes too_big(9, 0xff);
  too_big.push_back(0x02);
  CHECK_THROWS_WITH(read_varint(too_big), Catch::Contains("does not fit 64 bits"));
  Bytes long_zero(10, 0x80);
  long_zero.push_back(0x00);
  CHECK_THROWS_AS(read_varint(long_zero), FormatError);
  CHECK_THROWS_WITH(read_varint({0x80}), Catch::Contains("field needs 1 byte(s), 0 left"));
  const Bytes three = {1, 2, 3};
  ByteReader in(three.data(), three.size(), "s");
  CHECK_THROWS_WITH(in.take(4, "run"), Catch::Equals("s: run needs 4 byte(s), 3 left"));
  CHECK_THROWS_AS(in.take(~uint64_t{0}, "run"), FormatError);
  CHECK(in.take(3, "run") == three.data());
}

TEST_CASE("write_stream and read_stream round-trip", "[stream]") {
  std::mt19937_64 rng(41);
  for (int bits = 1; bits <= 8; ++bits) {
    for (const uint64_t count : {0, 1, 2, 7, 100, 5000}) {
      Bytes symbols(count);
      for (auto& s : symbols) s = static_cast<uint8_t>(rng() % (1u << bits));
      for (const int limit : {bits, kDefaultMaxCodeLength, kMaxCodeLength}) {
        INFO(bits << " bits, " << count << " symbols, limit " << limit);
        const auto stream = stream_of(symbols, bits, limit);
        CHECK((stream[0] == limit || stream[0] == kFixedWidthStream));
        // Never more than the fixed-width symbols: their bytes, the first byte and the count.
        CHECK(stream.size() <= 1 + (count < 128 ? 1 : 2) + (count * static_cast<uint64_t>(bits) + 7) / 8);
        CHECK(read(stream, bits) == symbols);
        CHECK(read(stream, bits, count) == symbols);
      }
    }
  }
}

TEST_CASE("read_stream rejects inconsistent streams", "[stream]") {
  Bytes symbols(120, 3);  // skewed: a Huffman code beats 2 bits a symbol
  for (size_t i = 0; i < 20; ++i) symbols[i * 6] = static_cast<uint8_t>(i % 3);
  const auto stream = stream_of(symbols, 2);
  // Layout: limit, count (1 byte), 2 bytes of code lengths, 4 lane sizes (1 byte each), lanes.
  REQUIRE(stream[0] == kDefaultMaxCodeLength);
  REQUIRE(stream[1] == symbols.size());
  CHECK_THROWS_WITH(read(stream, 2, 9), Catch::StartsWith("record 0: 'w' index stream declares 120 symbols"));
  auto bad = stream;
  bad[0] = 16;
  CHECK_THROWS_WITH(read(bad, 2), Catch::Contains("maximum code length 16"));
  bad = stream;
  bad[2] = 0x11;  // lengths 1, 1, 2, 2: over-subscribed
  CHECK_THROWS_WITH(read(bad, 2), Catch::Contains("Kraft"));
  bad = stream;
  bad[4] = static_cast<uint8_t>(bad.size());  // a lane past the end
  CHECK_THROWS_WITH(read(bad, 2), Catch::Contains("past its end"));
  bad = stream;
  bad[1] = 5;  // fewer symbols than the lanes hold
  CHECK_THROWS_AS(read(bad, 2), FormatError);
  bad = stream;
  bad[1] = 0xff;
  bad.insert(bad.begin() + 2, 0x7f);  // a count of 16383 symbols in a few bytes: refused before allocating
  CHECK_THROWS_WITH(read(bad, 2), Catch::Contains("declares 16383 symbols in"));
  // No code at all, yet symbols.
  ByteWriter out;
  out.u8(12);
  out.varint(3);
  out.u8(0);
  for (int lane = 0; lane < kLanes; ++lane) out.varint(0);
  CHECK_THROWS_AS(read(out.bytes(), 2), FormatError);
  for (uint64_t size = 0; size < stream.size(); ++size) {
    const Bytes prefix(stream.begin(), stream.begin() + static_cast<int64_t>(size));
    CHECK_THROWS_AS(read(prefix, 2), FormatError);
  }
}

TEST_CASE("a stream a Huffman code would not shrink is stored at fixed width", "[stream]") {
  const Bytes symbols = {0, 1, 1, 2, 3, 3, 3, 3, 0, 2};  // 20 bits: 3 bytes, less than any code description
  const auto stream = stream_of(symbols, 2);
  // Layout: kFixedWidthStream, count, the symbols two bits each, LSB-first.
  REQUIRE(stream == Bytes{kFixedWidthStream, 10, 0b10010100, 0b11111111, 0b1000});
  CHECK(read(stream, 2) == symbols);
  CHECK_THROWS_WITH(read(stream, 2, 11), Catch::Contains("declares 10 symbols"));
  auto bad = stream;
  bad.back() |= 0x80;  // a padding bit set
  CHECK_THROWS_WITH(read(bad, 2), Catch::Contains("non-zero padding bits"));
  bad = stream;
  bad[1] = 0x7f;  // 127 symbols in 3 bytes: refused before allocating
  CHECK_THROWS_WITH(read(bad, 2), Catch::Contains("declares 127 symbols of 2 bits in 3 bytes"));
  for (uint64_t size = 0; size < stream.size(); ++size) {
    CHECK_THROWS_AS(read(Bytes(stream.begin(), stream.begin() + static_cast<int64_t>(size)), 2), FormatError);
  }
  const Bytes flat = {5, 200, 17, 90, 255, 0, 33, 128};  // 8 distinct bytes: Huffman cannot win
  CHECK(stream_of(flat, 8)[0] == kFixedWidthStream);
  CHECK(read(stream_of(flat, 8), 8) == flat);
}
