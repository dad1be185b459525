// The inner loops of compressed_linear on float sums, over one compressed row (entries
// column << 8 | codebook index; table: the codebook as floats):
//   dot:  Σ_j table[index_j] · x[column_j]                      (batch 1: x is the input);
//   tile: sum[t] += Σ_j table[index_j] · x[column_j * stride + t], t < width, width 8, 16, 32 or 64
//         (a tile of a batch: x laid out (in_features, batch), stride the batch).
// The entries are streamed once; at batch 1 the AVX-512 variant gathers the input (and past 32
// centroids the codebook) by SIMD lanes, the others load them one entry at a time. Variants for
// AVX-512 and AVX2 (x86-64) and a portable one, chosen once (cpu_isa.h).
//
// Entries must be valid (column inside x, index < table_size): compressed_linear checks them once
// per change of the tensors.
#pragma once

#include <array>
#include <cstdint>

namespace deepcomp::ops {

struct CompressedRowKernels {
  float (*dot)(const uint32_t* entries, int64_t count, const float* x, const float* table, int64_t table_size);
  void (*tile)(const uint32_t* entries, int64_t count, const float* x, int64_t stride, const float* table, float* sum,
               int64_t width);
};

const CompressedRowKernels& compressed_row_kernels();

// The portable loops, for any sum type: the portable variant's, and compressed_linear's for double
// sums and for the last inputs of a batch (fewer than 8). Always inlined, so that each variant compiles
// them for its own instruction set (with fused multiply-adds for AVX2).
//
// row_dot_portable wants one scalar load per input and centroid: the functions that inline it are
// DEEPCOMP_SCALAR_LOADS, since GCC's vectoriser otherwise emulates gathers there with inserts and
// shuffles (measured 2x slower on the AVX2 variant).
#define DEEPCOMP_SCALAR_LOADS __attribute__((optimize("no-tree-vectorize")))
template <typename T>
__attribute__((always_inline)) inline T row_dot_portable(const uint32_t* entries, int64_t count, const T* x,
                                                         const T* table) {
  // Four partial sums, so that consecutive multiply-adds need not wait for each other; unrolled by hand
  // (an array indexed by j & 3 kept them in memory: a store-to-load chain twice as slow).
  const auto term = [&](int64_t j) { return table[entries[j] & 0xffu] * x[entries[j] >> 8]; };
  T sum0{}, sum1{}, sum2{}, sum3{};
  int64_t j = 0;
  for (; j + 4 <= count; j += 4) {
    sum0 += term(j);
    sum1 += term(j + 1);
    sum2 += term(j + 2);
    sum3 += term(j + 3);
  }
  for (; j < count; ++j) sum0 += term(j);
  return (sum0 + sum1) + (sum2 + sum3);
}

// width <= 64. The sums live in a local array while the entries stream by (sum may alias nothing,
// but the compiler cannot know that), which an inlined call with a constant width unrolls into SIMD.
template <typename T>
__attribute__((always_inline)) inline void row_tile_portable(const uint32_t* entries, int64_t count, const T* x,
                                                             int64_t stride, const T* table, T* sum, int64_t width) {
  std::array<T, 64> acc;
  for (int64_t t = 0; t < width; ++t) acc[t] = sum[t];
  for (int64_t j = 0; j < count; ++j) {
    const T w = table[entries[j] & 0xffu];
    const T* xs = x + static_cast<int64_t>(entries[j] >> 8) * stride;
    for (int64_t t = 0; t < width; ++t) acc[t] += w * xs[t];
  }
  for (int64_t t = 0; t < width; ++t) sum[t] = acc[t];
}

}  // namespace deepcomp::ops
