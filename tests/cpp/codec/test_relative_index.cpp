// The sparse layout (relative_index.h): worked examples of the filler, round trips, decode errors.
#include <catch2/catch.hpp>

#include "codec/relative_index.h"

#include <deepcomp/format_error.h>

#include <random>
#include <stdexcept>

using namespace deepcomp::codec;
using deepcomp::FormatError;
using Bytes = std::vector<uint8_t>;

namespace {

Bytes gaps_of(const Bytes& mask, int gap_bits) { return encode_gaps(mask.data(), mask.size(), gap_bits); }

uint64_t count_kept(const Bytes& mask) {
  uint64_t kept = 0;
  for (const uint8_t m : mask) kept += m != 0;
  return kept;
}

Bytes mask_of(const Bytes& gaps, int gap_bits, uint64_t numel, uint64_t kept) {
  Bytes mask(numel, 0xee);
  decode_gaps(gaps.data(), gaps.size(), gap_bits, numel, kept, mask.data(), "gaps");
  return mask;
}

// encode_gaps gives `gaps`, and decode_gaps gives the mask back.
void check_pair(const Bytes& mask, int gap_bits, const Bytes& gaps) {
  INFO("gap bits " << gap_bits << ", " << mask.size() << " elements");
  CHECK(gaps_of(mask, gap_bits) == gaps);
  CHECK(mask_of(gaps, gap_bits, mask.size(), count_kept(mask)) == mask);
}

Bytes zeros_then(uint64_t zeros, Bytes tail) {
  Bytes mask(zeros, 0);
  mask.insert(mask.end(), tail.begin(), tail.end());
  return mask;
}

}  // namespace

TEST_CASE("encode_gaps and decode_gaps on worked examples", "[relative_index]") {
  // gap_bits 2: F = 3.
  check_pair({1, 0, 0, 1}, 2, {0, 2});                   // a gap of F - 1
  check_pair({0, 0, 0, 1}, 2, {3, 0});                   // a gap of F: a filler, then a kept one
  check_pair({0, 0, 0, 0, 1}, 2, {3, 1});                // F + 1
  check_pair(zeros_then(6, {1}), 2, {3, 3, 0});          // 2F
  check_pair(zeros_then(7, {1, 1}), 2, {3, 3, 1, 0});    // 2F + 1, then none
  check_pair({1, 0, 0}, 2, {0});                         // a trailing run < F is implied
  check_pair({1, 0, 0, 0}, 2, {0, 3});                   // = F takes a filler
  check_pair({1, 0, 0, 0, 0}, 2, {0, 3});                // > F: a filler and an implied rest
  check_pair({1, 0, 0, 0, 0, 0, 0}, 2, {0, 3, 3});       // = 2F
  check_pair(Bytes(7, 0), 2, {3, 3});                    // all pruned
  check_pair(Bytes(6, 0), 2, {3, 3});
  check_pair(Bytes(2, 0), 2, {});
  check_pair({}, 2, {});                                 // no element
  check_pair({1, 1, 1}, 2, {0, 0, 0});
  // gap_bits 1: F = 1, every pruned position is a filler.
  check_pair({1, 0, 1, 0}, 1, {0, 1, 0, 1});
  check_pair({0, 0, 0}, 1, {1, 1, 1});
  check_pair({1}, 1, {0});
  // gap_bits 8: F = 255.
  check_pair(zeros_then(254, {1}), 8, {254});
  check_pair(zeros_then(255, {1}), 8, {255, 0});
  check_pair(zeros_then(300, {1}), 8, {255, 45});
  check_pair(zeros_then(510, {1}), 8, {255, 255, 0});
  check_pair(Bytes(254, 0), 8, {});
  check_pair(Bytes(255, 0), 8, {255});
  check_pair(Bytes(600, 0), 8, {255, 255});
  // Any non-zero byte is a kept position; the decoded mask holds 0 and 1.
  CHECK(gaps_of({0, 2, 0, 0, 255}, 2) == Bytes{1, 2});
}

TEST_CASE("encode_gaps and decode_gaps round-trip random masks", "[relative_index]") {
  std::mt19937_64 rng(11);
  for (int trial = 0; trial < 600; ++trial) {
    const int gap_bits = 1 + trial % 8;
    const uint64_t numel = rng() % (trial % 10 == 0 ? 5000 : 300);
    const int keep_per_mille = static_cast<int>(rng() % 1001);
    Bytes mask(numel);
    for (auto& m : mask) m = static_cast<int>(rng() % 1000) < keep_per_mille ? 1 : 0;
    const auto gaps = gaps_of(mask, gap_bits);
    const uint64_t filler = (uint64_t{1} << gap_bits) - 1;
    INFO("trial " << trial);
    uint64_t fillers = 0;
    for (const uint8_t gap : gaps) {
      REQUIRE(gap <= filler);
      fillers += gap == filler;
    }
    REQUIRE(gaps.size() - fillers == count_kept(mask));
    REQUIRE(mask_of(gaps, gap_bits, numel, count_kept(mask)) == mask);
  }
}

TEST_CASE("decode_gaps rejects inconsistent gaps", "[relative_index]") {
  Bytes mask(8);
  auto decode = [&](const Bytes& gaps, int gap_bits, uint64_t numel, uint64_t kept) {
    mask.assign(numel, 0);
    decode_gaps(gaps.data(), gaps.size(), gap_bits, numel, kept, mask.data(), "where");
  };
  // Past the end: a kept position, a filler.
  CHECK_THROWS_WITH(decode({5}, 3, 3, 1), Catch::StartsWith("where") && Catch::Contains("past the tensor's 3"));
  CHECK_THROWS_WITH(decode({0, 0, 0}, 3, 2, 3), Catch::Contains("past the tensor's 2"));
  CHECK_THROWS_WITH(decode({3}, 2, 2, 0), Catch::Contains("runs past"));
  CHECK_THROWS_WITH(decode({0}, 2, 0, 1), Catch::Contains("past the tensor's 0"));
  CHECK_NOTHROW(decode({3}, 2, 3, 0));
  CHECK_NOTHROW(decode({2}, 2, 3, 1));
  // An uncovered tail of F or more positions.
  CHECK_THROWS_WITH(decode({0}, 2, 4, 1), Catch::Contains("cover 1 of 4"));
  CHECK_THROWS_WITH(decode({}, 2, 3, 0), Catch::Contains("cover 0 of 3"));
  CHECK_THROWS_WITH(decode({}, 1, 1, 0), Catch::Contains("cover 0 of 1"));
  CHECK_NOTHROW(decode({0}, 2, 3, 1));
  // The wrong number of kept positions.
  CHECK_THROWS_WITH(decode({0, 1}, 2, 3, 1), Catch::Contains("hold 2 kept weights, the record declares 1"));
  CHECK_THROWS_WITH(decode({0, 1}, 2, 3, 3), Catch::Contains("hold 2 kept"));
  CHECK_THROWS_WITH(decode({3}, 2, 3, 1), Catch::Contains("hold 0 kept"));
  // Symbols and gap bits out of range.
  CHECK_THROWS_WITH(decode({4}, 2, 8, 1), Catch::Contains("needs more than 2 bits"));
  CHECK_THROWS_WITH(decode({2}, 1, 8, 1), Catch::Contains("needs more than 1 bits"));
  CHECK_THROWS_AS(decode({}, 0, 0, 0), FormatError);
  CHECK_THROWS_AS(decode({}, 9, 0, 0), FormatError);
}

TEST_CASE("encode_gaps checks its gap bits", "[relative_index]") {
  const Bytes mask = {1, 0};
  CHECK_THROWS_AS(encode_gaps(mask.data(), mask.size(), 0), std::invalid_argument);
  CHECK_THROWS_AS(encode_gaps(mask.data(), mask.size(), 9), std::invalid_argument);
}
