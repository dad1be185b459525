// A codebook in shared memory, indexed by any uint8: entries past the k centroids hold NaN, so an
// index out of range yields NaN (visible in the result) rather than a read out of bounds.
// A grouped codebook (groups, k) (codebook_layout.cuh) is loaded one group's table at a time, or,
// by the kernels that give each output row to one warp, one table per warp for its row's group.
#pragma once

#include <cstdint>
#include <limits>

#include "codebook_layout.cuh"
#include "common.cuh"

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

// The tables of a block of a warp_row() kernel over `rows` rows, in dynamic shared memory: one table
// for a codebook of one group, loaded by the block, else one per warp, of its row's group
// (codebook_layout.cuh), loaded by the warp. Every thread of the block must call it (a block of
// kThreadsPerBlock); returns this warp's table.
template <typename table_t, typename scalar_t>
__device__ const table_t* load_row_codebook_tables(table_t* tables, const scalar_t* codebook, int64_t k,
                                                   int64_t groups, int64_t rows) {
  if (groups == 1) {
    load_codebook_table(tables, codebook, k);
    return tables;
  }
  const int warp = threadIdx.x / kWarpSize;
  // A warp past the last row loads any group's table: it returns without reading it.
  const int64_t own_row = int64_t{blockIdx.x} * kWarpsPerBlock + warp, row = own_row < rows ? own_row : rows - 1;
  const scalar_t* centroids = codebook + group_of_row(row, groups, rows) * k;
  table_t* table = tables + warp * kCodebookTableSize;
  for (int c = threadIdx.x % kWarpSize; c < kCodebookTableSize; c += kWarpSize) {
    table[c] = c < k ? static_cast<table_t>(centroids[c]) : static_cast<table_t>(NAN);
  }
  __syncwarp();  // only this warp reads its table
  return table;
}

// Dynamic shared memory for load_row_codebook_tables, in bytes.
template <typename table_t>
size_t row_codebook_tables_bytes(int64_t groups) {
  return sizeof(table_t) * kCodebookTableSize * (groups == 1 ? 1 : kWarpsPerBlock);
}

}  // namespace deepcomp::cuda
