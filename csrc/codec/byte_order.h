// Explicit little-endian loads and stores, whatever the host's byte order (compilers turn these
// into single moves on little-endian machines).
#pragma once

#include <cstdint>

namespace deepcomp::codec {

inline uint64_t load_le(const uint8_t* bytes, int count) {
  uint64_t value = 0;
  for (int i = 0; i < count; ++i) value |= uint64_t{bytes[i]} << (8 * i);
  return value;
}

inline void store_le(uint8_t* bytes, uint64_t value, int count) {
  for (int i = 0; i < count; ++i) bytes[i] = static_cast<uint8_t>(value >> (8 * i));
}

}  // namespace deepcomp::codec
