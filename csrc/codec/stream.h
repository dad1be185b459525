// A self-describing stream of symbols, as stored in a .dcz record: the length limit, the symbol
// count, the code lengths (two per byte, 4 bits each, for all 2^alphabet_bits symbols), the four
// lane sizes (LEB128) and the lanes (huffman.h) of a Huffman code; or, where that would take more
// bytes (short or flat streams), kFixedWidthStream in place of the limit, the symbol count and the
// symbols at alphabet_bits each, LSB-first, the last byte padded with zero bits (format version 2).
#pragma once

#include "codec/byte_io.h"

#include <cstdint>
#include <string>
#include <vector>

namespace deepcomp::codec {

// For read_stream: accept whatever symbol count the stream declares.
constexpr uint64_t kAnyCount = ~uint64_t{0};
// The first byte of a fixed-width stream (a Huffman stream's is its length limit, 1..15).
constexpr uint8_t kFixedWidthStream = 0;

// Appends symbols (each < 2^alphabet_bits, alphabet_bits in 1..8) coded with an optimal code of at
// most max_code_length bits (raised to the shortest limit that fits the symbols in use, if needed),
// or at fixed width when that is smaller: a stream never takes more than its fixed-width bytes plus
// its count.
void write_stream(ByteWriter& out, const std::vector<uint8_t>& symbols, int alphabet_bits, int max_code_length);
// The same for symbols[0, count), without a vector (for callers holding someone else's buffer).
void write_stream(ByteWriter& out, const uint8_t* symbols, uint64_t count, int alphabet_bits, int max_code_length);

// Reads and decodes a stream of `expected` symbols (or kAnyCount) over 2^alphabet_bits symbols.
// Throws FormatError naming the reader's section and `where` when anything is inconsistent; sizes
// are checked against the bytes present before anything is allocated.
std::vector<uint8_t> read_stream(ByteReader& in, int alphabet_bits, uint64_t expected, const std::string& where);
// read_stream with expected = count, decoding into out[0, count) (caller memory: no allocation).
void read_stream_into(ByteReader& in, int alphabet_bits, uint8_t* out, uint64_t count, const std::string& where);

}  // namespace deepcomp::codec
