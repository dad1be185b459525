// Internal to the Huffman codec: helpers shared by code construction and the lane coder.
#pragma once

#include <cstdint>
#include <vector>

namespace deepcomp::codec {

// Canonical codes, bit-reversed so that writing them LSB-first puts their first bit first
// (0 for unused symbols). Defined in huffman.cpp.
std::vector<uint32_t> reversed_canonical_codes(const std::vector<uint8_t>& lengths);

}  // namespace deepcomp::codec
