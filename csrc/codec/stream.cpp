#include "codec/stream.h"

#include "codec/huffman.h"

#include <algorithm>
#include <array>
#include <stdexcept>

namespace deepcomp::codec {
namespace {

uint64_t varint_bytes(uint64_t value) {
  uint64_t bytes = 1;
  while (value >= 0x80) {
    value >>= 7;
    ++bytes;
  }
  return bytes;
}

uint64_t fixed_width_bytes(uint64_t count, int alphabet_bits) {
  return (count / 8) * static_cast<uint64_t>(alphabet_bits) + (count % 8 * static_cast<uint64_t>(alphabet_bits) + 7) / 8;
}

// symbols[0, count) at alphabet_bits each, LSB-first, the last byte padded with zero bits.
void pack_fixed(const uint8_t* symbols, uint64_t count, int alphabet_bits, uint8_t* out) {
  uint64_t buffer = 0;
  int filled = 0;
  for (uint64_t i = 0; i < count; ++i) {
    buffer |= static_cast<uint64_t>(symbols[i]) << filled;
    filled += alphabet_bits;
    while (filled >= 8) {
      *out++ = static_cast<uint8_t>(buffer);
      buffer >>= 8;
      filled -= 8;
    }
  }
  if (filled > 0) *out = static_cast<uint8_t>(buffer);
}

}  // namespace

void write_stream(ByteWriter& out, const std::vector<uint8_t>& symbols, int alphabet_bits, int max_code_length) {
  write_stream(out, symbols.data(), symbols.size(), alphabet_bits, max_code_length);
}

void write_stream(ByteWriter& out, const uint8_t* symbols, uint64_t count, int alphabet_bits, int max_code_length) {
  const int alphabet = 1 << alphabet_bits;
  const auto counts = lane_counts(symbols, count);
  const auto frequencies = symbol_frequencies(counts, alphabet);
  // A limit too short for the symbols in use is raised to the shortest that fits them.
  const auto used = std::count_if(frequencies.begin(), frequencies.end(), [](uint64_t f) { return f != 0; });
  while ((int64_t{1} << max_code_length) < used) ++max_code_length;
  const auto lengths = huffman_code_lengths(frequencies, max_code_length);
  const auto sizes = huffman_lane_sizes(counts, lengths);
  // Never more than the fixed-width code: a short or flat stream does not pay for a code description.
  uint64_t huffman_bytes = static_cast<uint64_t>(alphabet) / 2;
  for (const uint64_t size : sizes) huffman_bytes += varint_bytes(size) + size;
  const uint64_t fixed_bytes = fixed_width_bytes(count, alphabet_bits);
  if (fixed_bytes < huffman_bytes) {
    out.u8(kFixedWidthStream);
    out.varint(count);
    pack_fixed(symbols, count, alphabet_bits, out.extend(fixed_bytes));
    return;
  }
  out.u8(static_cast<uint64_t>(max_code_length));
  out.varint(count);
  for (int s = 0; s < alphabet; s += 2) out.u8(lengths[s] | lengths[s + 1] << 4);
  for (const uint64_t size : sizes) out.varint(size);
  // The lanes go straight into the output, no copy.
  huffman_encode_into(symbols, count, lengths, sizes, out.extend(sizes[0] + sizes[1] + sizes[2] + sizes[3]));
}

namespace {

// read_stream's body; output(count) says where the symbols go, once the count has been checked.
template <class Output>
void read_stream_to(ByteReader& in, int alphabet_bits, uint64_t expected, const std::string& where, Output output) {
  const int max_length = in.u8("maximum code length");
  const uint64_t count = in.varint("symbol count");
  if (expected != kAnyCount && count != expected) {
    in.fail(where + " declares " + std::to_string(count) + " symbols, the record needs " + std::to_string(expected));
  }
  if (max_length == kFixedWidthStream) {
    if (count / 8 > in.remaining() / static_cast<uint64_t>(alphabet_bits)) {
      in.fail(where + " declares " + std::to_string(count) + " symbols of " + std::to_string(alphabet_bits) +
              " bits in " + std::to_string(in.remaining()) + " bytes");
    }
    const uint64_t bytes = fixed_width_bytes(count, alphabet_bits);
    const uint8_t* data = in.take(bytes, "fixed-width symbols");
    const int padding = static_cast<int>(bytes * 8 - count * static_cast<uint64_t>(alphabet_bits));
    if (bytes != 0 && (data[bytes - 1] >> (8 - padding)) != 0) in.fail(where + ": non-zero padding bits");
    uint8_t* symbols = output(count);
    const uint64_t mask = (uint64_t{1} << alphabet_bits) - 1;
    uint64_t buffer = 0;
    int filled = 0;
    for (uint64_t i = 0; i < count; ++i) {
      while (filled < alphabet_bits) {
        buffer |= static_cast<uint64_t>(*data++) << filled;
        filled += 8;
      }
      symbols[i] = static_cast<uint8_t>(buffer & mask);
      buffer >>= alphabet_bits;
      filled -= alphabet_bits;
    }
    return;
  }
  const int alphabet = 1 << alphabet_bits;
  const uint8_t* packed = in.take(static_cast<uint64_t>(alphabet) / 2, "code lengths");
  std::vector<uint8_t> lengths(static_cast<size_t>(alphabet));
  for (int s = 0; s < alphabet; ++s) lengths[s] = (packed[s / 2] >> (4 * (s % 2))) & 15;
  check_code_lengths(lengths, max_length, in.section() + ": " + where);
  std::array<uint64_t, kLanes> sizes{};
  uint64_t total = 0;
  for (auto& size : sizes) {
    size = in.varint("lane size");
    if (size > in.remaining()) in.fail(where + " declares a lane of " + std::to_string(size) + " bytes, past its end");
    total += size;
  }
  const uint8_t* data = in.take(total, "lanes");
  const bool any_code = std::any_of(lengths.begin(), lengths.end(), [](uint8_t l) { return l != 0; });
  // Every code is at least one bit: a count the lanes cannot hold is rejected before allocating.
  if (count != 0 && (!any_code || count / 8 > total)) {
    in.fail(where + " declares " + std::to_string(count) + " symbols in " + std::to_string(total) + " bytes");
  }
  huffman_decode(data, sizes, lengths, output(count), count, in.section() + ": " + where);
}

}  // namespace

std::vector<uint8_t> read_stream(ByteReader& in, int alphabet_bits, uint64_t expected, const std::string& where) {
  std::vector<uint8_t> symbols;
  read_stream_to(in, alphabet_bits, expected, where, [&](uint64_t count) {
    symbols.resize(count);
    return symbols.data();
  });
  return symbols;
}

void read_stream_into(ByteReader& in, int alphabet_bits, uint8_t* out, uint64_t count, const std::string& where) {
  if (count == kAnyCount) throw std::invalid_argument("read_stream_into needs the symbol count out holds");
  read_stream_to(in, alphabet_bits, count, where, [&](uint64_t) { return out; });
}

}  // namespace deepcomp::codec
