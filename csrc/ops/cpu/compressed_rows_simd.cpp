#include "ops/cpu/compressed_rows_simd.h"

#include <deepcomp/ops.h>

#include <string>

#include "ops/cpu/cpu_isa.h"

namespace deepcomp::ops {
namespace {

// Isa::tile<width> for the width asked (8, 16, 32 or 64).
template <class Isa>
void tile(const uint32_t* entries, int64_t count, const float* x, int64_t stride, const float* table, float* sum,
          int64_t width) {
  switch (width) {
    case 64:
      return Isa::template tile<64>(entries, count, x, stride, table, sum);
    case 32:
      return Isa::template tile<32>(entries, count, x, stride, table, sum);
    case 16:
      return Isa::template tile<16>(entries, count, x, stride, table, sum);
    default:
      return Isa::template tile<8>(entries, count, x, stride, table, sum);
  }
}

struct Portable {
  // Baseline x86-64 has 16 SSE registers: more than 16 sums at once would spill, so wider tiles go
  // 16 inputs at a time.
  template <int64_t width>
  static void tile(const uint32_t* entries, int64_t count, const float* x, int64_t stride, const float* table,
                   float* sum) {
    constexpr int64_t step = width < 16 ? width : 16;
    for (int64_t t0 = 0; t0 < width; t0 += step) row_tile_portable(entries, count, x + t0, stride, table, sum + t0, step);
  }
};

DEEPCOMP_SCALAR_LOADS float row_dot_any(const uint32_t* entries, int64_t count, const float* x, const float* table,
                                        int64_t) {
  return row_dot_portable(entries, count, x, table);
}

#if defined(__x86_64__)

// The tile loop in explicit registers: width / lanes accumulators, one broadcast centroid and one
// multiply-add per register and entry. At least four chains of multiply-adds run side by side (a
// narrow tile splits the entries between several sets of accumulators), so that each waits less on
// the previous one's latency. (Left to itself, the vectoriser turned the entry loop into gathers,
// which at batch 64 ran 2.5x slower.) Written once, stamped out below for each register width: a
// target attribute cannot depend on a template parameter.
#define DEEPCOMP_TILE_LOOP(Vec, zero, load, broadcast, fma, add, store)                                      \
  constexpr int64_t lanes = sizeof(Vec) / sizeof(float), n = width / lanes, chains = n >= 4 ? 1 : 4 / n;     \
  Vec acc[chains][n];                                                                                        \
  for (int64_t c = 0; c < chains; ++c) {                                                                     \
    for (int64_t v = 0; v < n; ++v) acc[c][v] = c == 0 ? load(sum + v * lanes) : zero();                     \
  }                                                                                                          \
  for (int64_t j = 0; j < count; j += chains) {                                                             \
    for (int64_t c = 0; c < chains && j + c < count; ++c) {                                                  \
      const Vec w = broadcast(table[entries[j + c] & 0xffu]);                                                \
      const float* xs = x + static_cast<int64_t>(entries[j + c] >> 8) * stride;                              \
      for (int64_t v = 0; v < n; ++v) acc[c][v] = fma(w, load(xs + v * lanes), acc[c][v]);                  \
    }                                                                                                        \
  }                                                                                                          \
  for (int64_t c = 1; c < chains; ++c) {                                                                     \
    for (int64_t v = 0; v < n; ++v) acc[0][v] = add(acc[0][v], acc[c][v]);                                  \
  }                                                                                                          \
  for (int64_t v = 0; v < n; ++v) store(sum + v * lanes, acc[0][v]);

template <int64_t width>
__attribute__((target("avx2,fma"))) void tile_ymm(const uint32_t* entries, int64_t count, const float* x,
                                                  int64_t stride, const float* table, float* sum) {
  DEEPCOMP_TILE_LOOP(__m256, _mm256_setzero_ps, _mm256_loadu_ps, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps,
                    _mm256_storeu_ps)
}

template <int64_t width>
__attribute__((target("avx512f"))) void tile_zmm(const uint32_t* entries, int64_t count, const float* x,
                                                 int64_t stride, const float* table, float* sum) {
  DEEPCOMP_TILE_LOOP(__m512, _mm512_setzero_ps, _mm512_loadu_ps, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps,
                    _mm512_storeu_ps)
}

#undef DEEPCOMP_TILE_LOOP

struct Avx2 {
  template <int64_t width>
  static void tile(const uint32_t* entries, int64_t count, const float* x, int64_t stride, const float* table,
                   float* sum) {
    tile_ymm<width>(entries, count, x, stride, table, sum);
  }
};

struct Avx512 {
  template <int64_t width>
  static void tile(const uint32_t* entries, int64_t count, const float* x, int64_t stride, const float* table,
                   float* sum) {
    if constexpr (width < 16) {
      tile_ymm<width>(entries, count, x, stride, table, sum);
    } else {
      tile_zmm<width>(entries, count, x, stride, table, sum);
    }
  }
};

// Batch 1 without gathers: on AMD Zen 3, AVX2's gathers (two per 8 entries: inputs and centroids)
// ran 1.4-2x slower than one load each per entry (benchmarks/README.md), so the AVX2 variant is
// the portable loop, with fused multiply-adds.
__attribute__((target("avx2,fma"))) DEEPCOMP_SCALAR_LOADS float row_dot_avx2(const uint32_t* entries, int64_t count,
                                                                              const float* x, const float* table,
                                                                              int64_t) {
  return row_dot_portable(entries, count, x, table);
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

CompressedRowKernels choose() {
  switch (cpu_isa()) {
#if defined(__x86_64__)
    case CpuIsa::kAvx512:
      return {row_dot_avx512, tile<Avx512>};
    case CpuIsa::kAvx2:
      return {row_dot_avx2, tile<Avx2>};
#endif
    default:
      return {row_dot_any, tile<Portable>};
  }
}

}  // namespace

const CompressedRowKernels& compressed_row_kernels() {
  static const CompressedRowKernels chosen = choose();
  return chosen;
}

std::string compressed_linear_cpu_isa() { return cpu_isa_name(cpu_isa()); }

}  // namespace deepcomp::ops
