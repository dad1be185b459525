// Canonical, length-limited Huffman coding of byte symbols (alphabets of up to 256 symbols).
//
// A code is described by its code lengths alone (canonical: codes of one length are consecutive
// and ordered by symbol, as in DEFLATE). Encoded streams are split into kLanes interleaved lanes,
// symbol i going to lane i % kLanes, so that a decoder works on several independent bit streams at
// once; each lane is packed LSB-first (the first code's first bit is bit 0 of byte 0) and padded
// with zero bits to a whole byte. Decoding is table-driven: one lookup of max-length bits per symbol.
// Code construction is in huffman.cpp, the lane coder (encode, decode) in huffman_lanes.cpp.
#pragma once

#include <deepcomp/constants.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace deepcomp::codec {

constexpr int kMaxCodeLength = static_cast<int>(::deepcomp::kMaxCodeLength);
constexpr int kDefaultMaxCodeLength = static_cast<int>(::deepcomp::kDefaultMaxCodeLength);
constexpr int kLanes = 4;

// How often each byte value occurs in each lane (symbol i is in lane i % kLanes).
using LaneCounts = std::array<std::array<uint64_t, 256>, kLanes>;
LaneCounts lane_counts(const uint8_t* symbols, uint64_t count);

// How often each symbol < alphabet occurs (in all lanes); std::invalid_argument for a symbol
// outside the alphabet.
std::vector<uint64_t> symbol_frequencies(const LaneCounts& counts, int alphabet);
std::vector<uint64_t> symbol_frequencies(const uint8_t* symbols, uint64_t count, int alphabet);

// The code lengths (0 for unused symbols) of an optimal prefix code under a length limit, by
// package-merge. A lone used symbol gets length 1. Throws std::invalid_argument when max_length is
// outside 1..kMaxCodeLength or too small for the number of used symbols.
std::vector<uint8_t> huffman_code_lengths(const std::vector<uint64_t>& frequencies, int max_length);

// Throws FormatError, the message starting with `where`, unless lengths describe a complete prefix
// code (Kraft's sum exactly 1) with no length above max_length, or a lone symbol of length 1, or
// no symbol at all.
void check_code_lengths(const std::vector<uint8_t>& lengths, int max_length, const std::string& where);

struct HuffmanLanes {
  std::array<uint64_t, kLanes> sizes{};  // bytes of each lane, stored one after the other
  std::vector<uint8_t> bytes;
};

// Encodes symbols[0, count) with the code of `lengths` (which check_code_lengths accepts). Throws
// std::invalid_argument for a symbol that has no code.
HuffmanLanes huffman_encode(const uint8_t* symbols, uint64_t count, const std::vector<uint8_t>& lengths);

// The same in two steps, for a caller that writes the lanes into its own buffer: the bytes of each
// lane for symbols with these lane counts (std::invalid_argument for a symbol without a code), then
// the lanes themselves into out[0, sum of sizes).
std::array<uint64_t, kLanes> huffman_lane_sizes(const LaneCounts& counts, const std::vector<uint8_t>& lengths);
void huffman_encode_into(const uint8_t* symbols, uint64_t count, const std::vector<uint8_t>& lengths,
                         const std::array<uint64_t, kLanes>& sizes, uint8_t* out);

// Decodes `count` symbols into out from lanes of the given sizes (data holds their sum of bytes).
// Throws FormatError (starting with `where`) when a lane holds a bit pattern that is no code, runs
// out of bits, has bytes left over, or non-zero padding. lengths must pass check_code_lengths.
void huffman_decode(const uint8_t* data, const std::array<uint64_t, kLanes>& sizes,
                    const std::vector<uint8_t>& lengths, uint8_t* out, uint64_t count, const std::string& where);

}  // namespace deepcomp::codec
