// Canonical length-limited Huffman coding (huffman.h): optimality, validity and the lane format.
#include <catch2/catch.hpp>

#include "codec/huffman.h"

#include <deepcomp/format_error.h>

#include <algorithm>
#include <functional>
#include <queue>
#include <random>
#include <stdexcept>

using namespace deepcomp::codec;
using deepcomp::FormatError;

namespace {

uint64_t cost(const std::vector<uint64_t>& frequencies, const std::vector<uint8_t>& lengths) {
  uint64_t bits = 0;
  for (size_t s = 0; s < frequencies.size(); ++s) bits += frequencies[s] * lengths[s];
  return bits;
}

// Kraft's sum in units of 2^-limit.
uint64_t kraft(const std::vector<uint8_t>& lengths, int limit) {
  uint64_t sum = 0;
  for (const uint8_t length : lengths) {
    if (length != 0) sum += uint64_t{1} << (limit - length);
  }
  return sum;
}

// The textbook Huffman code (no limit): its cost (the sum of the merged weights) and its depth.
std::pair<uint64_t, int> textbook_huffman(const std::vector<uint64_t>& frequencies) {
  using Node = std::pair<uint64_t, int>;  // weight, depth of the subtree
  std::priority_queue<Node, std::vector<Node>, std::greater<Node>> heap;
  for (const uint64_t f : frequencies) {
    if (f != 0) heap.push({f, 0});
  }
  uint64_t total = 0;
  while (heap.size() > 1) {
    const Node a = heap.top();
    heap.pop();
    const Node b = heap.top();
    heap.pop();
    total += a.first + b.first;
    heap.push({a.first + b.first, std::max(a.second, b.second) + 1});
  }
  return {total, heap.empty() ? 0 : heap.top().second};
}

// A valid length-limited code made the simple way (JPEG's Annex K.3 fix-up): textbook Huffman
// lengths, then codes deeper than the limit moved up by splitting a shallower leaf.
std::vector<uint8_t> naive_limited_lengths(const std::vector<uint64_t>& frequencies, int limit) {
  std::vector<int> order;
  for (size_t s = 0; s < frequencies.size(); ++s) {
    if (frequencies[s] != 0) order.push_back(static_cast<int>(s));
  }
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return frequencies[a] > frequencies[b]; });
  // Textbook depths, by merging with explicit parents.
  const size_t n = order.size();
  std::vector<int> parent(2 * n, -1);
  using Node = std::pair<uint64_t, int>;
  std::priority_queue<Node, std::vector<Node>, std::greater<Node>> heap;
  for (size_t i = 0; i < n; ++i) heap.push({frequencies[order[i]], static_cast<int>(i)});
  int next = static_cast<int>(n);
  while (heap.size() > 1) {
    const Node a = heap.top();
    heap.pop();
    const Node b = heap.top();
    heap.pop();
    parent[a.second] = parent[b.second] = next;
    heap.push({a.first + b.first, next++});
  }
  std::vector<int> count(64, 0);
  for (size_t i = 0; i < n; ++i) {
    int depth = 0;
    for (int node = static_cast<int>(i); parent[node] >= 0; node = parent[node]) ++depth;
    ++count[depth];
  }
  for (int i = 63; i > limit; --i) {
    while (count[i] > 0) {
      int j = i - 2;
      while (count[j] == 0) --j;
      count[i] -= 2;
      count[i - 1] += 1;
      count[j + 1] += 2;
      count[j] -= 1;
    }
  }
  std::vector<uint8_t> lengths(frequencies.size(), 0);
  size_t i = 0;
  for (int length = 1; length <= limit; ++length) {
    for (int k = 0; k < count[length]; ++k) lengths[order[i++]] = static_cast<uint8_t>(length);
  }
  return lengths;
}

// The cheapest complete code of used symbols with lengths in 1..limit, by trying them all.
uint64_t brute_force_cost(const std::vector<uint64_t>& frequencies, int limit) {
  std::vector<uint64_t> used;
  for (const uint64_t f : frequencies) {
    if (f != 0) used.push_back(f);
  }
  std::vector<int> lengths(used.size(), 1);
  uint64_t best = ~uint64_t{0};
  while (true) {
    uint64_t sum = 0, bits = 0;
    for (size_t i = 0; i < used.size(); ++i) {
      sum += uint64_t{1} << (limit - lengths[i]);
      bits += used[i] * static_cast<uint64_t>(lengths[i]);
    }
    if (sum == (uint64_t{1} << limit)) best = std::min(best, bits);
    size_t i = 0;
    while (i < lengths.size() && lengths[i] == limit) lengths[i++] = 1;
    if (i == lengths.size()) return best;
    ++lengths[i];
  }
}

std::vector<uint64_t> random_frequencies(std::mt19937_64& rng, size_t alphabet, bool sparse) {
  std::vector<uint64_t> frequencies(alphabet);
  for (auto& f : frequencies) f = sparse && rng() % 3 == 0 ? 0 : 1 + rng() % 1000;
  return frequencies;
}

std::vector<uint8_t> random_symbols(std::mt19937_64& rng, uint64_t count, int alphabet, bool skewed) {
  std::vector<uint8_t> symbols(count);
  std::geometric_distribution<int> skew(0.25);
  for (auto& s : symbols) s = static_cast<uint8_t>(skewed ? skew(rng) % alphabet : static_cast<int>(rng() % alphabet));
  return symbols;
}

void check_round_trip(const std::vector<uint8_t>& symbols, int alphabet, int limit) {
  const auto frequencies = symbol_frequencies(symbols.data(), symbols.size(), alphabet);
  const auto lengths = huffman_code_lengths(frequencies, limit);
  REQUIRE_NOTHROW(check_code_lengths(lengths, limit, "test"));
  const auto lanes = huffman_encode(symbols.data(), symbols.size(), lengths);
  // Lane i holds the codes of symbols i, i + kLanes, ..., padded to a whole byte.
  std::array<uint64_t, kLanes> bits{};
  for (size_t i = 0; i < symbols.size(); ++i) bits[i % kLanes] += lengths[symbols[i]];
  uint64_t total = 0;
  for (int lane = 0; lane < kLanes; ++lane) {
    REQUIRE(lanes.sizes[lane] == (bits[lane] + 7) / 8);
    total += lanes.sizes[lane];
  }
  REQUIRE(total == lanes.bytes.size());
  std::vector<uint8_t> decoded(symbols.size(), 0xee);
  huffman_decode(lanes.bytes.data(), lanes.sizes, lengths, decoded.data(), decoded.size(), "test");
  REQUIRE(decoded == symbols);
}

struct Encoded {
  std::vector<uint8_t> symbols, lengths;
  HuffmanLanes lanes;
  std::array<uint64_t, kLanes> bits{};  // code bits in each lane
};

Encoded encode_random(uint64_t count, int alphabet, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Encoded e;
  e.symbols = random_symbols(rng, count, alphabet, true);
  e.lengths = huffman_code_lengths(symbol_frequencies(e.symbols.data(), count, alphabet), kDefaultMaxCodeLength);
  e.lanes = huffman_encode(e.symbols.data(), count, e.lengths);
  for (uint64_t i = 0; i < count; ++i) e.bits[i % kLanes] += e.lengths[e.symbols[i]];
  return e;
}

void decode(const std::vector<uint8_t>& bytes, const std::array<uint64_t, kLanes>& sizes,
            const std::vector<uint8_t>& lengths, uint64_t count) {
  std::vector<uint8_t> out(count);
  huffman_decode(bytes.data(), sizes, lengths, out.data(), count, "lanes");
}

}  // namespace

TEST_CASE("huffman_code_lengths is optimal when the limit does not bind", "[huffman]") {
  std::mt19937_64 rng(1);
  int compared = 0;
  for (int trial = 0; trial < 300; ++trial) {
    const size_t alphabet = 2 + rng() % 255;
    const auto frequencies = random_frequencies(rng, alphabet, trial % 2 == 1);
    const auto [textbook, depth] = textbook_huffman(frequencies);
    const auto lengths = huffman_code_lengths(frequencies, kMaxCodeLength);
    // (A lone symbol costs its 1-bit code, where the textbook tree is a bare root.)
    if (depth > kMaxCodeLength || std::count(lengths.begin(), lengths.end(), 0) + 1 >= static_cast<int64_t>(alphabet)) continue;
    ++compared;
    INFO("trial " << trial << ", alphabet " << alphabet);
    REQUIRE(cost(frequencies, lengths) == textbook);
    REQUIRE(kraft(lengths, kMaxCodeLength) == (uint64_t{1} << kMaxCodeLength));
    for (size_t s = 0; s < alphabet; ++s) REQUIRE((lengths[s] == 0) == (frequencies[s] == 0));
  }
  REQUIRE(compared > 250);
}

TEST_CASE("huffman_code_lengths under a binding limit: valid, complete, no worse than other codes", "[huffman]") {
  std::mt19937_64 rng(2);
  SECTION("against every code of a small alphabet") {
    for (int trial = 0; trial < 400; ++trial) {
      const size_t alphabet = 2 + rng() % 6;
      const int limit = 1 + static_cast<int>(rng() % 4);
      if ((size_t{1} << limit) < alphabet) continue;
      std::vector<uint64_t> frequencies(alphabet);
      // Powers make deep textbook trees, so that the limit binds often.
      for (auto& f : frequencies) f = uint64_t{1} << (rng() % 12);
      const auto lengths = huffman_code_lengths(frequencies, limit);
      INFO("trial " << trial << ", limit " << limit);
      REQUIRE(*std::max_element(lengths.begin(), lengths.end()) <= limit);
      REQUIRE(kraft(lengths, limit) == (uint64_t{1} << limit));
      REQUIRE(cost(frequencies, lengths) == brute_force_cost(frequencies, limit));
    }
  }
  SECTION("against a fixed-up textbook code of large alphabets") {
    int binding = 0;
    for (int trial = 0; trial < 200; ++trial) {
      const size_t alphabet = 2 + rng() % 255;
      std::vector<uint64_t> frequencies(alphabet);
      for (auto& f : frequencies) f = rng() % 4 == 0 ? 0 : (uint64_t{1} << (rng() % 30)) + rng() % 7;
      size_t used = std::count_if(frequencies.begin(), frequencies.end(), [](uint64_t f) { return f != 0; });
      if (used < 2) continue;
      int limit = 1;
      while ((size_t{1} << limit) < used) ++limit;
      limit += static_cast<int>(rng() % 4);
      limit = std::min(limit, kMaxCodeLength);
      const auto lengths = huffman_code_lengths(frequencies, limit);
      const auto naive = naive_limited_lengths(frequencies, limit);
      INFO("trial " << trial << ", limit " << limit << ", used " << used);
      REQUIRE(kraft(naive, limit) == (uint64_t{1} << limit));  // the comparison code is valid
      REQUIRE(*std::max_element(lengths.begin(), lengths.end()) <= limit);
      REQUIRE(kraft(lengths, limit) == (uint64_t{1} << limit));
      REQUIRE(cost(frequencies, lengths) <= cost(frequencies, naive));
      REQUIRE(cost(frequencies, lengths) >= textbook_huffman(frequencies).first);
      if (textbook_huffman(frequencies).second > limit) ++binding;
    }
    REQUIRE(binding > 100);
  }
  SECTION("Fibonacci frequencies, the deepest textbook tree") {
    std::vector<uint64_t> frequencies = {1, 1};
    while (frequencies.size() < 40) frequencies.push_back(frequencies[frequencies.size() - 1] + frequencies[frequencies.size() - 2]);
    for (int limit = 6; limit <= kMaxCodeLength; ++limit) {
      const auto lengths = huffman_code_lengths(frequencies, limit);
      REQUIRE(*std::max_element(lengths.begin(), lengths.end()) <= limit);
      REQUIRE(kraft(lengths, limit) == (uint64_t{1} << limit));
      REQUIRE(cost(frequencies, lengths) <= cost(frequencies, naive_limited_lengths(frequencies, limit)));
    }
  }
}

TEST_CASE("huffman_code_lengths edge cases", "[huffman]") {
  CHECK(huffman_code_lengths({}, 12).empty());
  CHECK(huffman_code_lengths({0, 0, 0}, 12) == std::vector<uint8_t>{0, 0, 0});
  CHECK(huffman_code_lengths({0, 0, 7, 0}, 12) == std::vector<uint8_t>{0, 0, 1, 0});
  CHECK(huffman_code_lengths({5, 0, 1}, 1) == std::vector<uint8_t>{1, 0, 1});
  CHECK(huffman_code_lengths({1, 1000000}, 15) == std::vector<uint8_t>{1, 1});
  CHECK(huffman_code_lengths({1, 1, 1, 1}, 2) == std::vector<uint8_t>{2, 2, 2, 2});
  std::vector<uint64_t> all(256);
  std::mt19937_64 rng(3);
  for (auto& f : all) f = 1 + rng() % (uint64_t{1} << 40);
  CHECK(huffman_code_lengths(all, 8) == std::vector<uint8_t>(256, 8));

  CHECK_THROWS_AS(huffman_code_lengths({1, 1}, 0), std::invalid_argument);
  CHECK_THROWS_AS(huffman_code_lengths({1, 1}, 16), std::invalid_argument);
  CHECK_THROWS_AS(huffman_code_lengths({1}, -1), std::invalid_argument);
  CHECK_THROWS_AS(huffman_code_lengths({1, 1, 1}, 1), std::invalid_argument);
  CHECK_THROWS_AS(huffman_code_lengths({1, 1, 1, 1, 1}, 2), std::invalid_argument);
  CHECK_THROWS_AS(huffman_code_lengths(std::vector<uint64_t>(257, 1), 8), std::invalid_argument);
  CHECK_NOTHROW(huffman_code_lengths(std::vector<uint64_t>(257, 1), 9));
}

TEST_CASE("symbol_frequencies counts and checks the alphabet", "[huffman]") {
  const std::vector<uint8_t> symbols = {0, 3, 3, 1, 3, 0, 3};
  CHECK(symbol_frequencies(symbols.data(), symbols.size(), 4) == std::vector<uint64_t>{2, 1, 0, 4});
  CHECK(symbol_frequencies(symbols.data(), 0, 2) == std::vector<uint64_t>{0, 0});
  CHECK_THROWS_AS(symbol_frequencies(symbols.data(), symbols.size(), 3), std::invalid_argument);
}

TEST_CASE("check_code_lengths accepts complete codes and rejects the rest", "[huffman]") {
  CHECK_NOTHROW(check_code_lengths({}, 12, "t"));
  CHECK_NOTHROW(check_code_lengths({0, 0, 0}, 12, "t"));
  CHECK_NOTHROW(check_code_lengths({0, 1, 0}, 12, "t"));  // a lone symbol of length 1
  CHECK_NOTHROW(check_code_lengths({1, 1}, 1, "t"));
  CHECK_NOTHROW(check_code_lengths({1, 2, 3, 3}, 3, "t"));
  CHECK_NOTHROW(check_code_lengths({2, 2, 2, 2}, 2, "t"));
  CHECK_NOTHROW(check_code_lengths(std::vector<uint8_t>(256, 8), 8, "t"));

  CHECK_THROWS_WITH(check_code_lengths({1, 1, 1}, 12, "here"), Catch::StartsWith("here") && Catch::Contains("not a prefix code"));
  CHECK_THROWS_WITH(check_code_lengths({1, 2}, 12, "here"), Catch::StartsWith("here") && Catch::Contains("incomplete"));
  CHECK_THROWS_WITH(check_code_lengths({1, 2, 0, 3}, 12, "here"), Catch::Contains("incomplete"));
  CHECK_THROWS_WITH(check_code_lengths({2, 2, 2, 2}, 1, "here"), Catch::Contains("above the stream's limit"));
  CHECK_THROWS_WITH(check_code_lengths({1, 2, 4, 4, 4, 4}, 3, "here"), Catch::Contains("above the stream's limit"));
  CHECK_THROWS_AS(check_code_lengths({0, 2}, 12, "here"), FormatError);      // a lone symbol of length 2
  CHECK_THROWS_AS(check_code_lengths({0, 0, 15}, 15, "here"), FormatError);  // a lone symbol of length 15
  CHECK_THROWS_AS(check_code_lengths({1, 1}, 0, "here"), FormatError);
  CHECK_THROWS_AS(check_code_lengths({1, 1}, 16, "here"), FormatError);
  CHECK_THROWS_AS(check_code_lengths({}, 16, "here"), FormatError);
}

TEST_CASE("huffman_encode and huffman_decode round-trip random data", "[huffman]") {
  std::vector<uint64_t> sizes = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 100000};
  // Around multiples of the lanes and of every refill group (56 / table bits codes per lane).
  for (const uint64_t base : {12, 16, 20, 24, 28, 32, 36, 44, 56, 72, 112, 224, 448, 4096}) {
    for (const uint64_t size : {base - 1, base, base + 1}) sizes.push_back(size);
  }
  std::mt19937_64 rng(4);
  for (const int alphabet : {2, 3, 5, 16, 100, 255, 256}) {
    for (const bool skewed : {false, true}) {
      for (const uint64_t size : sizes) {
        INFO("alphabet " << alphabet << (skewed ? ", skewed" : ", uniform") << ", " << size << " symbols");
        const auto symbols = random_symbols(rng, size, alphabet, skewed);
        int tight = 1;
        while ((1 << tight) < alphabet) ++tight;
        for (const int limit : {kDefaultMaxCodeLength, kMaxCodeLength, std::max(tight, 8), std::min(tight + 1, 15)}) {
          if (size > 5000 && limit != kDefaultMaxCodeLength) continue;
          check_round_trip(symbols, alphabet, limit);
        }
      }
    }
  }
}

TEST_CASE("huffman round-trips deep codes and a lone symbol", "[huffman]") {
  // Fibonacci-like counts make every code length up to the limit appear.
  std::vector<uint8_t> symbols;
  uint64_t a = 1, b = 1;
  for (int s = 0; s < 20; ++s) {
    symbols.insert(symbols.end(), a, static_cast<uint8_t>(s));
    const uint64_t c = a + b;
    a = b;
    b = c;
  }
  std::shuffle(symbols.begin(), symbols.end(), std::mt19937_64(5));
  for (int limit = 5; limit <= kMaxCodeLength; ++limit) check_round_trip(symbols, 20, limit);
  for (const uint64_t count : {1, 2, 3, 4, 5, 17, 1000}) check_round_trip(std::vector<uint8_t>(count, 9), 16, 12);
}

TEST_CASE("huffman_encode rejects a symbol without a code", "[huffman]") {
  const std::vector<uint8_t> symbols = {0, 1, 2};
  CHECK_THROWS_AS(huffman_encode(symbols.data(), symbols.size(), {1, 1, 0}), std::invalid_argument);
  CHECK_THROWS_AS(huffman_encode(symbols.data(), symbols.size(), {1, 1}), std::invalid_argument);
}

TEST_CASE("huffman_decode rejects damaged lanes", "[huffman]") {
  for (const uint64_t count : {1, 5, 13, 64, 1001}) {
    for (const int alphabet : {2, 7, 200}) {
      const auto e = encode_random(count, alphabet, count * 1000 + alphabet);
      INFO(count << " symbols, alphabet " << alphabet);
      REQUIRE_NOTHROW(decode(e.lanes.bytes, e.lanes.sizes, e.lengths, count));
      std::array<uint64_t, kLanes> offset{};
      for (int lane = 1; lane < kLanes; ++lane) offset[lane] = offset[lane - 1] + e.lanes.sizes[lane - 1];
      for (int lane = 0; lane < kLanes; ++lane) {
        const uint64_t size = e.lanes.sizes[lane];
        if (size > 0) {
          // The lane's last byte dropped.
          auto bytes = e.lanes.bytes;
          bytes.erase(bytes.begin() + static_cast<int64_t>(offset[lane] + size - 1));
          auto sizes = e.lanes.sizes;
          --sizes[lane];
          CHECK_THROWS_AS(decode(bytes, sizes, e.lengths, count), FormatError);
          // One byte moved from this lane to the next (the total unchanged).
          sizes = e.lanes.sizes;
          --sizes[lane];
          ++sizes[(lane + 1) % kLanes];
          CHECK_THROWS_AS(decode(e.lanes.bytes, sizes, e.lengths, count), FormatError);
        }
        for (const uint8_t extra : {0x00, 0x01, 0x80}) {
          auto bytes = e.lanes.bytes;
          bytes.insert(bytes.begin() + static_cast<int64_t>(offset[lane] + size), extra);
          auto sizes = e.lanes.sizes;
          ++sizes[lane];
          CHECK_THROWS_WITH(decode(bytes, sizes, e.lengths, count), Catch::Contains("after its last code"));
        }
        if (e.bits[lane] % 8 != 0) {
          auto bytes = e.lanes.bytes;
          bytes[offset[lane] + e.bits[lane] / 8] |= static_cast<uint8_t>(0x80);
          CHECK_THROWS_WITH(decode(bytes, e.lanes.sizes, e.lengths, count), Catch::Contains("non-zero padding"));
        }
      }
      // Too many symbols asked of the lanes.
      CHECK_THROWS_AS(decode(e.lanes.bytes, e.lanes.sizes, e.lengths, count + kLanes * 8), FormatError);
    }
  }
}

TEST_CASE("huffman_decode rejects a '1' bit in a lone-symbol stream", "[huffman]") {
  const std::vector<uint8_t> lengths = {0, 0, 1, 0};
  const std::vector<uint8_t> symbols(10, 2);
  const auto lanes = huffman_encode(symbols.data(), symbols.size(), lengths);
  CHECK(lanes.sizes == std::array<uint64_t, kLanes>{1, 1, 1, 1});  // 3, 3, 2, 2 zero bits
  CHECK(lanes.bytes == std::vector<uint8_t>(4, 0));
  REQUIRE_NOTHROW(decode(lanes.bytes, lanes.sizes, lengths, 10));
  for (int bit = 0; bit < 8; ++bit) {
    auto bytes = lanes.bytes;
    bytes[2] = static_cast<uint8_t>(1 << bit);
    CHECK_THROWS_AS(decode(bytes, lanes.sizes, lengths, 10), FormatError);
  }
}
