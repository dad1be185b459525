#include "ops/cpu/compressed_row_dot.h"

#include <deepcomp/ops.h>

#include <ATen/Version.h>

#include <array>
#include <string>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace deepcomp::ops {
namespace {

float row_dot_portable(const uint32_t* entries, int64_t count, const float* x, const float* table, int64_t) {
  std::array<float, 4> sum{};  // four partial sums: consecutive multiply-adds need not wait for each other
  for (int64_t j = 0; j < count; ++j) sum[j & 3] += table[entries[j] & 0xffu] * x[entries[j] >> 8];
  return (sum[0] + sum[1]) + (sum[2] + sum[3]);
}

#if defined(__x86_64__)

__attribute__((target("avx2,fma"))) float row_dot_avx2(const uint32_t* entries, int64_t count, const float* x,
                                                        const float* table, int64_t) {
  const __m256i low_byte = _mm256_set1_epi32(0xff);
  __m256 sum0 = _mm256_setzero_ps(), sum1 = _mm256_setzero_ps();
  int64_t j = 0;
  for (; j + 16 <= count; j += 16) {
    const __m256i e0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(entries + j));
    const __m256i e1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(entries + j + 8));
    const __m256 w0 = _mm256_i32gather_ps(table, _mm256_and_si256(e0, low_byte), 4);
    const __m256 w1 = _mm256_i32gather_ps(table, _mm256_and_si256(e1, low_byte), 4);
    sum0 = _mm256_fmadd_ps(w0, _mm256_i32gather_ps(x, _mm256_srli_epi32(e0, 8), 4), sum0);
    sum1 = _mm256_fmadd_ps(w1, _mm256_i32gather_ps(x, _mm256_srli_epi32(e1, 8), 4), sum1);
  }
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, _mm256_add_ps(sum0, sum1));
  float total = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
  for (; j < count; ++j) total += table[entries[j] & 0xffu] * x[entries[j] >> 8];
  return total;
}

// Up to 32 centroids live in two registers (low, high), looked up by one permute; more are gathered.
__attribute__((target("avx512f"))) inline __m512 centroids(__m512i index, bool in_registers, __m512 low, __m512 high,
                                                           const float* table) {
  return in_registers ? _mm512_permutex2var_ps(low, index, high) : _mm512_i32gather_ps(index, table, 4);
}

__attribute__((target("avx512f"))) float row_dot_avx512(const uint32_t* entries, int64_t count, const float* x,
                                                         const float* table, int64_t table_size) {
  const __m512i low_byte = _mm512_set1_epi32(0xff);
  const bool in_registers = table_size <= 32;
  alignas(64) float padded[32] = {};
  for (int64_t c = 0; c < table_size && c < 32; ++c) padded[c] = table[c];
  const __m512 low = _mm512_load_ps(padded), high = _mm512_load_ps(padded + 16);
  __m512 sum0 = _mm512_setzero_ps(), sum1 = _mm512_setzero_ps();
  int64_t j = 0;
  for (; j + 32 <= count; j += 32) {
    const __m512i e0 = _mm512_loadu_si512(entries + j), e1 = _mm512_loadu_si512(entries + j + 16);
    sum0 = _mm512_fmadd_ps(centroids(_mm512_and_si512(e0, low_byte), in_registers, low, high, table),
                           _mm512_i32gather_ps(_mm512_srli_epi32(e0, 8), x, 4), sum0);
    sum1 = _mm512_fmadd_ps(centroids(_mm512_and_si512(e1, low_byte), in_registers, low, high, table),
                           _mm512_i32gather_ps(_mm512_srli_epi32(e1, 8), x, 4), sum1);
  }
  for (; j < count; j += 16) {  // the last 0..31 entries, 16 lanes at a time with the rest masked off
    const __mmask16 lanes = count - j >= 16 ? __mmask16(0xffff) : __mmask16((1u << (count - j)) - 1);
    const __m512i e = _mm512_maskz_loadu_epi32(lanes, entries + j);
    const __m512 xs = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), lanes, _mm512_srli_epi32(e, 8), x, 4);
    sum0 = _mm512_mask3_fmadd_ps(centroids(_mm512_and_si512(e, low_byte), in_registers, low, high, table), xs, sum0, lanes);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(sum0, sum1));
}

#endif

struct Variant {
  CompressedRowDot dot;
  const char* name;
};

Variant choose() {
#if defined(__x86_64__)
  const std::string capability = at::get_cpu_capability();
  __builtin_cpu_init();
  if (capability == "AVX512" && __builtin_cpu_supports("avx512f")) return {row_dot_avx512, "avx512"};
  if ((capability == "AVX512" || capability == "AVX2") && __builtin_cpu_supports("avx2") &&
      __builtin_cpu_supports("fma")) {
    return {row_dot_avx2, "avx2"};
  }
#endif
  return {row_dot_portable, "portable"};
}

const Variant& chosen() {
  static const Variant variant = choose();
  return variant;
}

}  // namespace

CompressedRowDot compressed_row_dot() { return chosen().dot; }

std::string compressed_linear_cpu_isa() { return chosen().name; }

}  // namespace deepcomp::ops
