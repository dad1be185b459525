// The inner loops of compressed_linear on float sums, over one compressed row (entries
// column << 8 | codebook index; table: the codebook as floats):
//   dot:  Σ_j table[index_j] · x[column_j]                      (batch 1: x is the input);
//   tile: sum[t] += Σ_j table[index_j] · x[column_j * stride + t], t < width, width 8, 16, 32 or 64
//         (a tile of a batch: x laid out (in_features, batch), stride the batch).
// The entries are streamed once; at batch 1 the input (and past 32 centroids the codebook) is
// gathered by SIMD lanes. Variants for AVX-512 and AVX2 (x86-64) and a portable one, chosen once
// (cpu_isa.h).
//
// Entries must be valid (column inside x, index < table_size): compressed_linear checks them once
// per change of the tensors.
#pragma once

#include <cstdint>

namespace deepcomp::ops {

struct CompressedRowKernels {
  float (*dot)(const uint32_t* entries, int64_t count, const float* x, const float* table, int64_t table_size);
  void (*tile)(const uint32_t* entries, int64_t count, const float* x, int64_t stride, const float* table, float* sum,
               int64_t width);
  const char* name;  // "avx512", "avx2" or "portable"
};

const CompressedRowKernels& compressed_row_kernels();

}  // namespace deepcomp::ops
