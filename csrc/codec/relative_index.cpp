#include "codec/relative_index.h"

#include <deepcomp/format_error.h>

#include <algorithm>
#include <stdexcept>

namespace deepcomp::codec {

std::vector<uint8_t> encode_gaps(const uint8_t* mask, uint64_t numel, int gap_bits) {
  if (gap_bits < kMinGapBits || gap_bits > kMaxGapBits) {
    throw std::invalid_argument("gap bits must be in " + std::to_string(kMinGapBits) + ".." +
                                std::to_string(kMaxGapBits) + ", got " + std::to_string(gap_bits));
  }
  const uint64_t filler = (uint64_t{1} << gap_bits) - 1;
  std::vector<uint8_t> gaps;
  uint64_t run = 0;  // pruned positions since the last entry
  for (uint64_t i = 0; i < numel; ++i) {
    if (mask[i] == 0) {
      if (++run == filler) {
        gaps.push_back(static_cast<uint8_t>(filler));
        run = 0;
      }
      continue;
    }
    gaps.push_back(static_cast<uint8_t>(run));
    run = 0;
  }
  return gaps;
}

void decode_gaps(const uint8_t* gaps, uint64_t count, int gap_bits, uint64_t numel, uint64_t kept, uint8_t* mask,
                 const std::string& where) {
  if (gap_bits < kMinGapBits || gap_bits > kMaxGapBits) {
    throw FormatError(where + ": gap bits " + std::to_string(gap_bits) + " outside " + std::to_string(kMinGapBits) +
                      ".." + std::to_string(kMaxGapBits));
  }
  const uint64_t filler = (uint64_t{1} << gap_bits) - 1;
  std::fill_n(mask, numel, uint8_t{0});
  uint64_t position = 0;  // the next position not yet covered
  uint64_t found = 0;
  for (uint64_t i = 0; i < count; ++i) {
    const uint64_t gap = gaps[i];
    if (gap > filler) {
      throw FormatError(where + ": gap " + std::to_string(gap) + " at entry " + std::to_string(i) + " needs more than " +
                        std::to_string(gap_bits) + " bits");
    }
    if (gap == filler) {
      position += filler;
      if (position > numel) {
        throw FormatError(where + ": filler at entry " + std::to_string(i) + " runs past the tensor's " +
                          std::to_string(numel) + " elements");
      }
      continue;
    }
    position += gap;
    if (position >= numel) {
      throw FormatError(where + ": kept position " + std::to_string(position) + " at entry " + std::to_string(i) +
                        " is past the tensor's " + std::to_string(numel) + " elements");
    }
    mask[position++] = 1;
    ++found;
  }
  if (numel - position >= filler) {
    throw FormatError(where + ": the gaps cover " + std::to_string(position) + " of " + std::to_string(numel) +
                      " elements (a run of " + std::to_string(filler) + " or more pruned ones needs a filler)");
  }
  if (found != kept) {
    throw FormatError(where + ": the gaps hold " + std::to_string(found) + " kept weights, the record declares " +
                      std::to_string(kept));
  }
}

}  // namespace deepcomp::codec
