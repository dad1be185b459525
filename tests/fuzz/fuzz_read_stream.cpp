// libFuzzer target: one self-describing stream (stream.h). The first input byte picks the alphabet
// (1..8 bits), the rest is the stream. Only deepcomp::FormatError may escape read_stream. A Huffman
// stream that decodes must be exactly what huffman_encode makes of its symbols with its code lengths
// (a canonical code's encoding is unique): the decoder accepts no second spelling. A fixed-width
// stream's symbols must each fit the alphabet.
#include "codec/byte_io.h"
#include "codec/huffman.h"
#include "codec/stream.h"

#include <deepcomp/format_error.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

using namespace deepcomp::codec;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const int alphabet_bits = 1 + data[0] % 8;
  ByteReader in(data + 1, size - 1, "fuzz");
  std::vector<uint8_t> symbols;
  try {
    symbols = read_stream(in, alphabet_bits, kAnyCount, "stream");
  } catch (const deepcomp::FormatError&) {
    return 0;
  }
  if (data[1] == kFixedWidthStream) {
    if (std::any_of(symbols.begin(), symbols.end(), [&](uint8_t symbol) { return symbol >> alphabet_bits; })) {
      std::fprintf(stderr, "fuzz_read_stream: a fixed-width symbol outside the alphabet\n");
      std::abort();
    }
    return 0;
  }
  // Parse the header again (read_stream accepted it) to get the lengths and the lanes.
  ByteReader header(data + 1, size - 1, "fuzz");
  header.u8("maximum code length");
  header.varint("symbol count");
  const int alphabet = 1 << alphabet_bits;
  const uint8_t* packed = header.take(static_cast<uint64_t>(alphabet + 1) / 2, "code lengths");
  std::vector<uint8_t> lengths(static_cast<size_t>(alphabet));
  for (int s = 0; s < alphabet; ++s) lengths[s] = (packed[s / 2] >> (4 * (s % 2))) & 15;
  std::array<uint64_t, kLanes> sizes{};
  uint64_t total = 0;
  for (auto& lane : sizes) total += lane = header.varint("lane size");
  const uint8_t* lanes = header.take(total, "lanes");
  const auto encoded = huffman_encode(symbols.data(), symbols.size(), lengths);
  if (encoded.sizes != sizes || !std::equal(encoded.bytes.begin(), encoded.bytes.end(), lanes)) {
    std::fprintf(stderr, "fuzz_read_stream: the decoder accepted lanes the encoder does not produce\n");
    std::abort();
  }
  return 0;
}
