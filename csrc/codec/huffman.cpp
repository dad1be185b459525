// Huffman code construction: symbol counts, optimal length-limited code lengths, canonical codes.
#include "codec/huffman.h"

#include "codec/huffman_internal.h"

#include <deepcomp/format_error.h>

#include <algorithm>
#include <stdexcept>

namespace deepcomp::codec {

LaneCounts lane_counts(const uint8_t* symbols, uint64_t count) {
  // One table per lane: also four independent counters, so runs of one symbol do not serialise.
  LaneCounts counts{};
  uint64_t i = 0;
  for (; i + kLanes <= count; i += kLanes) {
    ++counts[0][symbols[i]];
    ++counts[1][symbols[i + 1]];
    ++counts[2][symbols[i + 2]];
    ++counts[3][symbols[i + 3]];
  }
  for (; i < count; ++i) ++counts[i % kLanes][symbols[i]];
  return counts;
}

std::vector<uint64_t> symbol_frequencies(const LaneCounts& counts, int alphabet) {
  std::vector<uint64_t> frequencies(256, 0);
  for (const auto& lane : counts) {
    for (int s = 0; s < 256; ++s) frequencies[s] += lane[s];
  }
  for (int s = alphabet; s < 256; ++s) {
    if (frequencies[s] != 0) {
      throw std::invalid_argument("symbol " + std::to_string(s) + " is outside the alphabet of " +
                                  std::to_string(alphabet) + " symbols");
    }
  }
  frequencies.resize(static_cast<size_t>(alphabet));
  return frequencies;
}

std::vector<uint64_t> symbol_frequencies(const uint8_t* symbols, uint64_t count, int alphabet) {
  return symbol_frequencies(lane_counts(symbols, count), alphabet);
}

std::vector<uint8_t> huffman_code_lengths(const std::vector<uint64_t>& frequencies, int max_length) {
  if (max_length < 1 || max_length > kMaxCodeLength) {
    throw std::invalid_argument("Huffman max code length must be in 1.." + std::to_string(kMaxCodeLength) +
                                ", got " + std::to_string(max_length));
  }
  std::vector<uint32_t> used;
  for (size_t symbol = 0; symbol < frequencies.size(); ++symbol) {
    if (frequencies[symbol] != 0) used.push_back(static_cast<uint32_t>(symbol));
  }
  std::vector<uint8_t> lengths(frequencies.size(), 0);
  if (used.size() == 1) lengths[used[0]] = 1;
  if (used.size() <= 1) return lengths;
  if (used.size() > (size_t{1} << max_length)) {
    throw std::invalid_argument(std::to_string(used.size()) + " symbols do not fit in codes of at most " +
                                std::to_string(max_length) + " bits");
  }
  std::stable_sort(used.begin(), used.end(),
                   [&](uint32_t a, uint32_t b) { return frequencies[a] < frequencies[b]; });

  // Package-merge: the list of each depth, deepest first, merges the leaves (lightest first) with
  // the packages formed by pairing the list one level deeper. is_package[d] records the merge order.
  const size_t n = used.size();
  std::vector<std::vector<bool>> is_package(static_cast<size_t>(max_length));
  std::vector<uint64_t> deeper;
  for (int depth = max_length; depth >= 1; --depth) {
    std::vector<uint64_t> merged;
    auto& kinds = is_package[static_cast<size_t>(depth - 1)];
    merged.reserve(2 * n);
    size_t leaf = 0, pair = 0;
    while (leaf < n || pair + 1 < deeper.size()) {
      const bool take_package = pair + 1 < deeper.size() &&
                                (leaf == n || deeper[pair] + deeper[pair + 1] < frequencies[used[leaf]]);
      if (take_package) {
        merged.push_back(deeper[pair] + deeper[pair + 1]);
        pair += 2;
      } else {
        merged.push_back(frequencies[used[leaf]]);
        ++leaf;
      }
      kinds.push_back(take_package);
    }
    deeper = std::move(merged);
  }
  // The 2n - 2 lightest items of the top list make the code; each package taken at one depth takes
  // the two items it was made of at the next. A leaf's length is the number of depths it is taken at.
  size_t take = 2 * n - 2;
  for (int depth = 1; depth <= max_length && take > 0; ++depth) {
    const auto& kinds = is_package[static_cast<size_t>(depth - 1)];
    size_t leaves = 0, packages = 0;
    for (size_t i = 0; i < take; ++i) (kinds[i] ? packages : leaves) += 1;
    for (size_t i = 0; i < leaves; ++i) ++lengths[used[i]];
    take = 2 * packages;
  }
  return lengths;
}

void check_code_lengths(const std::vector<uint8_t>& lengths, int max_length, const std::string& where) {
  if (max_length < 1 || max_length > kMaxCodeLength) {
    throw FormatError(where + ": maximum code length " + std::to_string(max_length) + " is outside 1.." +
                      std::to_string(kMaxCodeLength));
  }
  // Kraft's sum in units of 2^-max_length.
  uint64_t kraft = 0;
  size_t used = 0;
  for (size_t symbol = 0; symbol < lengths.size(); ++symbol) {
    const int length = lengths[symbol];
    if (length == 0) continue;
    if (length > max_length) {
      throw FormatError(where + ": symbol " + std::to_string(symbol) + " has a code of " + std::to_string(length) +
                        " bits, above the stream's limit of " + std::to_string(max_length));
    }
    ++used;
    kraft += uint64_t{1} << (max_length - length);
  }
  const uint64_t complete = uint64_t{1} << max_length;
  if (used == 1 && kraft == complete / 2) return;  // the lone symbol's 1-bit code
  if (used != 0 && kraft != complete) {
    throw FormatError(where + ": code lengths violate Kraft's equality (sum " + std::to_string(kraft) + "/" +
                      std::to_string(complete) + (kraft > complete ? ", not a prefix code)" : ", an incomplete code)"));
  }
}

// Canonical codes, bit-reversed so that writing them LSB-first puts their first bit first.
std::vector<uint32_t> reversed_canonical_codes(const std::vector<uint8_t>& lengths) {
  std::array<uint32_t, kMaxCodeLength + 2> per_length{};
  for (const uint8_t length : lengths) ++per_length[length];
  per_length[0] = 0;
  std::array<uint32_t, kMaxCodeLength + 2> next{};
  uint32_t code = 0;
  for (int length = 1; length <= kMaxCodeLength; ++length) {
    code = (code + per_length[length - 1]) << 1;
    next[length] = code;
  }
  std::vector<uint32_t> codes(lengths.size(), 0);
  for (size_t symbol = 0; symbol < lengths.size(); ++symbol) {
    const int length = lengths[symbol];
    if (length == 0) continue;
    const uint32_t canonical = next[length]++;
    uint32_t reversed = 0;
    for (int bit = 0; bit < length; ++bit) reversed |= ((canonical >> bit) & 1u) << (length - 1 - bit);
    codes[symbol] = reversed;
  }
  return codes;
}

}  // namespace deepcomp::codec
