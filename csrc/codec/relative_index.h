// The paper's sparse layout (Deep Compression, section 2): the kept positions of a tensor, in
// row-major order, as the gaps between them, each in a fixed number of bits.
//
// With F = 2^gap_bits - 1, gap symbol g < F means "g pruned positions, then a kept one", and F is
// the filler: "F pruned positions" with no kept one, used when a gap does not fit in gap_bits (the
// paper's filler zero; its weight index is not stored, since it is always zero). A run of fewer
// than F pruned positions at the end is implied by the tensor's size; longer runs there are fillers.
#pragma once

#include <deepcomp/constants.h>

#include <cstdint>
#include <string>
#include <vector>

namespace deepcomp::codec {

constexpr int kMinGapBits = static_cast<int>(::deepcomp::kMinGapBits);
constexpr int kMaxGapBits = static_cast<int>(::deepcomp::kMaxGapBits);

// The gap symbols of mask[0, numel) (non-zero bytes are kept positions). Throws
// std::invalid_argument for gap_bits outside kMinGapBits..kMaxGapBits.
std::vector<uint8_t> encode_gaps(const uint8_t* mask, uint64_t numel, int gap_bits);

// Writes the mask of gaps[0, count) into mask[0, numel) (one 0/1 byte per position). Throws
// FormatError (starting with `where`) when a gap symbol is out of range, the kept positions run
// past numel, the entries leave F or more positions uncovered at the end, or their number of kept
// positions is not `kept`.
void decode_gaps(const uint8_t* gaps, uint64_t count, int gap_bits, uint64_t numel, uint64_t kept, uint8_t* mask,
                 const std::string& where);

}  // namespace deepcomp::codec
