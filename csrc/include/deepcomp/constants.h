// The domain constants of Deep Compression as deepcomp implements it, in one place; Python reads
// them from deepcomp._C (deepcomp.constants).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace deepcomp {

// A codebook has 2^bits centroids; indices are uint8, so 1..8 bits.
inline constexpr int64_t kMinBits = 1;
inline constexpr int64_t kMaxBits = 8;
// The paper's widths: 8 bits for conv layers, 5 for fully connected ones.
inline constexpr int64_t kDefaultConvBits = 8;
inline constexpr int64_t kDefaultLinearBits = 5;
// Initial codebooks (linear: evenly spaced from min to max, the paper's best; density: evenly spaced
// in the CDF; random: Forgy) and k-means methods (Lloyd's iterations; exact dynamic programming).
inline constexpr std::array<std::string_view, 3> kCodebookInits{"linear", "density", "random"};
inline constexpr std::array<std::string_view, 2> kKMeansMethods{"lloyd", "exact"};
// Relative-index gaps in a .dcz file: 1..8 bits (the paper's 8 for conv, 5 for fc).
inline constexpr int64_t kMinGapBits = 1;
inline constexpr int64_t kMaxGapBits = 8;
// The longest Huffman code a .dcz stream may use, and the default limit (its decoding table of 4096
// entries stays in L1).
inline constexpr int64_t kMaxCodeLength = 15;
inline constexpr int64_t kDefaultMaxCodeLength = 12;

}  // namespace deepcomp
