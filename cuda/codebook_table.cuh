// A codebook in shared memory, indexed by any uint8: entries past the k centroids hold NaN, so an
// index out of range yields NaN (visible in the result) rather than a read out of bounds.
#pragma once

#include <cstdint>
#include <limits>

namespace deepcomp::cuda {

constexpr int kCodebookTableSize = 256;

// Fills table[0, 256) from codebook[0, k) and NaN; every thread of the block must call it.
template <typename table_t, typename scalar_t>
__device__ void load_codebook_table(table_t* table, const scalar_t* codebook, int64_t k) {
  for (int c = threadIdx.x; c < kCodebookTableSize; c += blockDim.x) {
    table[c] = c < k ? static_cast<table_t>(codebook[c]) : static_cast<table_t>(NAN);
  }
  __syncthreads();
}

}  // namespace deepcomp::cuda
