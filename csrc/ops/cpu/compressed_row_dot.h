// One compressed row times a float input vector, the inner loop of compressed_linear at batch 1:
// Σ_j table[entry[j] & 0xff] · x[entry[j] >> 8]. The entries are streamed once; the input and the
// codebook (table) are gathered by SIMD lanes. Variants for AVX-512 and AVX2 (x86-64) and a portable
// one; the widest that ATen uses on this machine (ATEN_CPU_CAPABILITY overrides it, as for ATen's
// own kernels) is chosen once, at the first call.
//
// Entries must be valid (column < x's length, index < table's length): compressed_linear checks
// them once per change of the tensors.
#pragma once

#include <cstdint>

namespace deepcomp::ops {

using CompressedRowDot = float (*)(const uint32_t* entries, int64_t count, const float* x, const float* table,
                                   int64_t table_size);

CompressedRowDot compressed_row_dot();

}  // namespace deepcomp::ops
