// The Huffman lane coder: symbols to kLanes interleaved LSB-first bit lanes and back (table-driven).
#include "codec/huffman.h"

#include "codec/byte_order.h"
#include "codec/huffman_internal.h"

#include <deepcomp/format_error.h>

#include <algorithm>
#include <stdexcept>

namespace deepcomp::codec {
namespace {

// Entry (symbol << 8 | length) for every value of the next `bits` input bits. Only used for
// complete codes (at least two symbols), where every entry is a code.
std::vector<uint16_t> decoding_table(const std::vector<uint8_t>& lengths, int bits) {
  std::vector<uint16_t> table(size_t{1} << bits, 0);
  const auto codes = reversed_canonical_codes(lengths);
  for (size_t symbol = 0; symbol < lengths.size(); ++symbol) {
    const int length = lengths[symbol];
    if (length == 0) continue;
    const auto entry = static_cast<uint16_t>(symbol << 8 | length);
    for (size_t index = codes[symbol]; index < table.size(); index += size_t{1} << length) table[index] = entry;
  }
  return table;
}

// One lane of the encoder, writing into exactly the lane's bytes [out, end). Codes accumulate in
// a 64-bit window; flush() keeps only the bits of an unfinished byte. While 8 bytes are left it
// stores all 8 at once (the bytes past the finished ones are written again later), near the end
// only the finished ones. At most 7 bits stay, so 56 more fit before the next flush.
struct LaneWriter {
  uint8_t* out = nullptr;
  uint8_t* end = nullptr;
  uint64_t window = 0;
  int bits = 0;

  // entry: code << 8 | length (see huffman_encode_into).
  void put(uint32_t entry) {
    window |= uint64_t{entry >> 8} << bits;
    bits += static_cast<int>(entry & 15);
  }
  void flush() {
    if (end - out >= 8) {
      store64(out, window);
    } else {
      store_le(out, window, bits >> 3);
    }
    out += bits >> 3;
    window >>= bits & ~7;
    bits &= 7;
  }
  // The last, unfinished byte.
  void finish() {
    store_le(out, window, (bits + 7) / 8);
    out += (bits + 7) / 8;
  }
};

// Appends the codes of symbols[0], symbols[kLanes], ... (`codes` of them) to one lane, K codes
// between flushes (as many as fit in 56 bits). One lane at a time: the state of four did not fit
// in registers.
template <int K>
void encode_lane(LaneWriter& lane, const uint8_t* symbols, uint64_t codes, const uint32_t* table) {
  LaneWriter w = lane;  // a local, so that it stays in registers despite the byte stores
  uint64_t j = 0;
  for (; j + K <= codes; j += K) {
#pragma GCC unroll 8
    for (int r = 0; r < K; ++r) w.put(table[symbols[(j + r) * kLanes]]);
    w.flush();
  }
  for (; j < codes; ++j) {
    w.put(table[symbols[j * kLanes]]);
    w.flush();
  }
  lane = w;
}

// The moving part of a decoder lane: the bit position `pos` in the data of all four lanes (one
// base pointer for all, so that the hot loop keeps each lane in two registers) and the bits from
// pos on.
struct LaneBits {
  uint64_t pos = 0;
  uint64_t window = 0;  // at least 57 valid bits after a refill

  // Needs 8 bytes from pos / 8 on. A fresh load, not bits ORed into the old window: the load then
  // waits only for pos, whose additions run beside the chain of table lookups.
  void refill_fast(const uint8_t* data) { window = load64(data + pos / 8) >> (pos % 8); }

  // Consumes the next code and returns its symbol (table: decoding_table).
  uint8_t decode(const uint16_t* table, uint64_t mask) {
    const uint16_t entry = table[window & mask];
    window >>= entry & 63;  // the length; x86 masks shift counts by 63 anyway, so this is free
    pos += entry & 0xff;
    return static_cast<uint8_t>(entry >> 8);
  }
};

// One lane of the decoder: data[begin, end), read with zero bits past end (which finish() rejects
// if a code used them).
struct LaneReader {
  uint64_t begin = 0;  // bytes
  uint64_t end = 0;
  LaneBits bits;

  void refill(const uint8_t* data) {
    const uint64_t at = bits.pos / 8;
    if (at + 8 <= end) return bits.refill_fast(data);
    uint64_t bytes = 0;
    for (uint64_t k = 0; k < 8 && at + k < end; ++k) bytes |= uint64_t{data[at + k]} << (8 * k);
    bits.window = bytes >> (bits.pos % 8);
  }

  // How many fast refills, each followed by codes of at most 56 bits (7 bytes), stay inside.
  uint64_t fast_refills() const {
    const uint64_t at = bits.pos / 8;
    return at + 8 <= end ? (end - at - 8) / 7 + 1 : 0;
  }

  void finish(const uint8_t* data, int lane, const std::string& where) const {
    const uint64_t size = end - begin;
    const uint64_t consumed = bits.pos - 8 * begin;
    const uint64_t available = size * 8;
    if (consumed > available) {
      throw FormatError(where + ": lane " + std::to_string(lane) + " ends in the middle of a code (" +
                        std::to_string(size) + " bytes are too few for its symbols)");
    }
    const uint64_t padding = available - consumed;
    if (padding >= 8) {
      throw FormatError(where + ": lane " + std::to_string(lane) + " has " + std::to_string(padding / 8) +
                        " byte(s) after its last code");
    }
    if (padding != 0 && (data[end - 1] >> (8 - padding)) != 0) {
      throw FormatError(where + ": lane " + std::to_string(lane) + " has non-zero padding bits");
    }
  }
};

// Decodes whole groups (K codes per lane after each refill) of a complete code, whose table has
// no invalid entry, while every lane can refill without a bounds check; returns how many symbols
// it wrote. Each lane is a chain of dependent table lookups; the four chains, written one after
// the other, overlap in the CPU (interleaving them in the source made the compiler spill). The
// lanes' bits are copied into locals so that the byte stores to out cannot alias them.
template <int K>
uint64_t decode_groups(const uint8_t* data, std::array<LaneReader, kLanes>& lanes, const uint16_t* table,
                       uint64_t mask, uint8_t* out, uint64_t count) {
  // Only the positions carry over: every group starts with a refill (a live window would take
  // four more registers).
  LaneBits l0{lanes[0].bits.pos}, l1{lanes[1].bits.pos}, l2{lanes[2].bits.pos}, l3{lanes[3].bits.pos};
  uint64_t i = 0;
  for (;;) {
    lanes[0].bits.pos = l0.pos;
    lanes[1].bits.pos = l1.pos;
    lanes[2].bits.pos = l2.pos;
    lanes[3].bits.pos = l3.pos;
    uint64_t groups = (count - i) / (K * kLanes);
    for (const auto& lane : lanes) groups = std::min(groups, lane.fast_refills());
    if (groups == 0) return i;
    uint8_t* o = out + i;
    uint8_t* const o_end = o + groups * (K * kLanes);
    for (; o != o_end; o += K * kLanes) {
      l0.refill_fast(data);
      l1.refill_fast(data);
      l2.refill_fast(data);
      l3.refill_fast(data);
#pragma GCC unroll 8
      for (int r = 0; r < K; ++r) o[kLanes * r] = l0.decode(table, mask);
#pragma GCC unroll 8
      for (int r = 0; r < K; ++r) o[kLanes * r + 1] = l1.decode(table, mask);
#pragma GCC unroll 8
      for (int r = 0; r < K; ++r) o[kLanes * r + 2] = l2.decode(table, mask);
#pragma GCC unroll 8
      for (int r = 0; r < K; ++r) o[kLanes * r + 3] = l3.decode(table, mask);
    }
    i += groups * (K * kLanes);
  }
}

// The lone-symbol code (a single "0" per symbol) or no code at all: every symbol must be a zero
// bit, and a '1' is a bit pattern that is no code. Then the same end checks as any lane.
void decode_degenerate(const uint8_t* data, std::array<LaneReader, kLanes>& lanes, const std::vector<uint8_t>& lengths,
                       uint8_t* out, uint64_t count, const std::string& where) {
  const auto used = std::find_if(lengths.begin(), lengths.end(), [](uint8_t l) { return l != 0; });
  bool valid = used != lengths.end() || count == 0;
  for (int lane = 0; lane < kLanes && valid; ++lane) {
    auto& reader = lanes[lane];
    uint64_t codes = count / kLanes + (static_cast<uint64_t>(lane) < count % kLanes ? 1 : 0);
    while (codes > 0 && valid) {
      reader.refill(data);
      const uint64_t take = std::min<uint64_t>(codes, 56);
      valid = (reader.bits.window & ((uint64_t{1} << take) - 1)) == 0;
      reader.bits.pos += take;
      codes -= take;
    }
  }
  if (!valid) throw FormatError(where + ": a lane holds a bit pattern that is not a code");
  if (count != 0) std::fill_n(out, count, static_cast<uint8_t>(used - lengths.begin()));
  for (int lane = 0; lane < kLanes; ++lane) lanes[lane].finish(data, lane, where);
}

}  // namespace

std::array<uint64_t, kLanes> huffman_lane_sizes(const LaneCounts& counts, const std::vector<uint8_t>& lengths) {
  std::array<uint64_t, kLanes> sizes{};
  for (int lane = 0; lane < kLanes; ++lane) {
    uint64_t bits = 0;
    for (int s = 0; s < 256; ++s) {
      if (counts[lane][s] == 0) continue;
      const int length = static_cast<size_t>(s) < lengths.size() ? lengths[s] : 0;
      if (length == 0) throw std::invalid_argument("symbol " + std::to_string(s) + " has no Huffman code");
      bits += counts[lane][s] * static_cast<uint64_t>(length);
    }
    sizes[lane] = (bits + 7) / 8;
  }
  return sizes;
}

void huffman_encode_into(const uint8_t* symbols, uint64_t count, const std::vector<uint8_t>& lengths,
                         const std::array<uint64_t, kLanes>& sizes, uint8_t* out) {
  const auto codes = reversed_canonical_codes(lengths);
  // Per symbol, code << 8 | length (huffman_lane_sizes has checked that every symbol has one).
  std::array<uint32_t, 256> table{};
  int longest = 1;
  for (size_t symbol = 0; symbol < lengths.size() && symbol < table.size(); ++symbol) {
    if (lengths[symbol] == 0) continue;
    table[symbol] = codes[symbol] << 8 | lengths[symbol];
    longest = std::max<int>(longest, lengths[symbol]);
  }
  std::array<LaneWriter, kLanes> writers;
  for (int lane = 0; lane < kLanes; ++lane) {
    writers[lane].out = out;
    writers[lane].end = out + sizes[lane];
    out += sizes[lane];
  }
  // Blocks small enough to stay in L1 while each lane takes its symbols from them in turn.
  constexpr uint64_t kBlock = 4096 * kLanes;
  for (uint64_t start = 0; start < count; start += kBlock) {
    const uint64_t block = std::min(kBlock, count - start);
    for (int lane = 0; lane < kLanes && static_cast<uint64_t>(lane) < block; ++lane) {
      const uint64_t codes_in_lane = (block - static_cast<uint64_t>(lane) + kLanes - 1) / kLanes;
      // 7 leftover bits plus K codes must fit the 64-bit window.
      if (longest <= 14) {
        encode_lane<4>(writers[lane], symbols + start + lane, codes_in_lane, table.data());
      } else {
        encode_lane<3>(writers[lane], symbols + start + lane, codes_in_lane, table.data());
      }
    }
  }
  for (auto& writer : writers) writer.finish();
}

HuffmanLanes huffman_encode(const uint8_t* symbols, uint64_t count, const std::vector<uint8_t>& lengths) {
  HuffmanLanes lanes;
  lanes.sizes = huffman_lane_sizes(lane_counts(symbols, count), lengths);
  lanes.bytes.resize(lanes.sizes[0] + lanes.sizes[1] + lanes.sizes[2] + lanes.sizes[3]);
  huffman_encode_into(symbols, count, lengths, lanes.sizes, lanes.bytes.data());
  return lanes;
}

void huffman_decode(const uint8_t* data, const std::array<uint64_t, kLanes>& sizes,
                    const std::vector<uint8_t>& lengths, uint8_t* out, uint64_t count, const std::string& where) {
  std::array<LaneReader, kLanes> lanes;
  uint64_t offset = 0;
  for (int lane = 0; lane < kLanes; ++lane) {
    lanes[lane].begin = offset;
    lanes[lane].bits.pos = 8 * offset;
    offset += sizes[lane];
    lanes[lane].end = offset;
  }
  // Only a code of at most one symbol leaves table entries without a code; the rest need no check.
  if (std::count_if(lengths.begin(), lengths.end(), [](uint8_t l) { return l != 0; }) <= 1) {
    return decode_degenerate(data, lanes, lengths, out, count, where);
  }
  int table_bits = 1;
  for (const uint8_t length : lengths) table_bits = std::max<int>(table_bits, length);
  const auto table = decoding_table(lengths, table_bits);
  const uint64_t mask = (uint64_t{1} << table_bits) - 1;
  // Every fast refill leaves at least 57 bits, enough for K codes in each lane.
  uint64_t i = table_bits <= 14 ? decode_groups<4>(data, lanes, table.data(), mask, out, count)
                                : decode_groups<3>(data, lanes, table.data(), mask, out, count);
  // The last few codes of each lane, with refills that check the lane's end.
  for (; i < count; ++i) {
    auto& lane = lanes[i % kLanes];
    lane.refill(data);
    out[i] = lane.bits.decode(table.data(), mask);
  }
  for (int lane = 0; lane < kLanes; ++lane) lanes[lane].finish(data, lane, where);
}

}  // namespace deepcomp::codec
