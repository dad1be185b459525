// The checksum of every section of a .dcz file: XXH64 (seed 0) from the xxHash library.
#pragma once

#include <cstdint>

namespace deepcomp::codec {

uint64_t checksum(const uint8_t* data, uint64_t size);

}  // namespace deepcomp::codec
