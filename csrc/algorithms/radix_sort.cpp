#include "algorithms/radix_sort.h"

#include <array>
#include <cstring>
#include <type_traits>
#include <utility>

namespace deepcomp::algorithms {
namespace {

constexpr int kDigitBits = 11;  // 2048 buckets: the counts stay in L1, three passes for float
constexpr uint32_t kBuckets = 1u << kDigitBits;

template <typename T>
using KeyOf = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;

// An unsigned key that orders like the value: flip all bits of negatives, the sign bit of the rest.
template <typename T>
KeyOf<T> to_key(T value) {
  using Key = KeyOf<T>;
  constexpr Key sign = Key{1} << (8 * sizeof(T) - 1);
  Key bits;
  std::memcpy(&bits, &value, sizeof bits);
  return (bits & sign) ? ~bits : (bits | sign);
}

template <typename T>
T from_key(KeyOf<T> key) {
  using Key = KeyOf<T>;
  constexpr Key sign = Key{1} << (8 * sizeof(T) - 1);
  const Key bits = (key & sign) ? (key ^ sign) : ~key;
  T value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

}  // namespace

template <typename T>
std::vector<T> radix_sorted(const T* values, int64_t n) {
  using Key = KeyOf<T>;
  constexpr int kPasses = (8 * sizeof(T) + kDigitBits - 1) / kDigitBits;
  std::vector<Key> keys(n), scratch(n);
  std::vector<std::array<int64_t, kBuckets>> counts(kPasses);
  for (auto& count : counts) count.fill(0);
  for (int64_t i = 0; i < n; ++i) {
    const Key key = to_key(values[i]);
    keys[i] = key;
    for (int pass = 0; pass < kPasses; ++pass) ++counts[pass][(key >> (pass * kDigitBits)) & (kBuckets - 1)];
  }
  for (int pass = 0; pass < kPasses; ++pass) {
    auto& count = counts[pass];
    const int shift = pass * kDigitBits;
    if (n == 0 || count[(keys[0] >> shift) & (kBuckets - 1)] == n) continue;  // one bucket: nothing moves
    int64_t offset = 0;
    for (auto& c : count) offset += std::exchange(c, offset);
    for (int64_t i = 0; i < n; ++i) {
      const Key key = keys[i];
      scratch[count[(key >> shift) & (kBuckets - 1)]++] = key;
    }
    keys.swap(scratch);
  }
  scratch = {};
  std::vector<T> sorted(n);
  for (int64_t i = 0; i < n; ++i) sorted[i] = from_key<T>(keys[i]);
  return sorted;
}

template std::vector<float> radix_sorted<float>(const float*, int64_t);
template std::vector<double> radix_sorted<double>(const double*, int64_t);

}  // namespace deepcomp::algorithms
