// Explicit little-endian loads and stores, whatever the host's byte order.
#pragma once

#include <cstdint>
#include <cstring>

namespace deepcomp::codec {

inline uint64_t load_le(const uint8_t* bytes, int count) {
  uint64_t value = 0;
  for (int i = 0; i < count; ++i) value |= uint64_t{bytes[i]} << (8 * i);
  return value;
}

inline void store_le(uint8_t* bytes, uint64_t value, int count) {
  for (int i = 0; i < count; ++i) bytes[i] = static_cast<uint8_t>(value >> (8 * i));
}

// 8 bytes as single moves: GCC does not merge load_le's loop into one load inside the Huffman
// decoder's unrolled loop.
inline uint64_t load64(const uint8_t* bytes) {
  uint64_t value;
  std::memcpy(&value, bytes, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  value = __builtin_bswap64(value);
#endif
  return value;
}

inline void store64(uint8_t* bytes, uint64_t value) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  value = __builtin_bswap64(value);
#endif
  std::memcpy(bytes, &value, 8);
}

}  // namespace deepcomp::codec
