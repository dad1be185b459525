// ops/codebook_layout.h for device code: the group of a grouped codebook (groups, k) that a row of
// the weight's first dimension (R rows) belongs to. Row r is in group r·groups / R (rounded down),
// so group g holds rows [ceil(g·R / groups), ceil((g + 1)·R / groups)): groups need not divide R.
#pragma once

#include <cstdint>

namespace deepcomp::cuda {

// In unsigned 128 bits, as the host twins are (nvcc accepts __int128 in device code since CUDA
// 11.5): row × groups passes 2^63 once R passes 3·10^9, a one-column uint8 weight that fits on a
// 141 GB device. The 128-bit division is a software routine: the kernels call these once per group
// or per warp, never per element.
__host__ __device__ inline int64_t group_of_row(int64_t row, int64_t groups, int64_t rows) {
  using u128 = unsigned __int128;
  return static_cast<int64_t>(static_cast<u128>(row) * static_cast<u128>(groups) / static_cast<u128>(rows));
}

__host__ __device__ inline int64_t group_start(int64_t group, int64_t groups, int64_t rows) {
  using u128 = unsigned __int128;
  return static_cast<int64_t>((static_cast<u128>(group) * static_cast<u128>(rows) + static_cast<u128>(groups - 1)) /
                              static_cast<u128>(groups));
}

// The most rows a group holds: ceil(R / groups).
__host__ __device__ inline int64_t max_group_rows(int64_t groups, int64_t rows) { return (rows + groups - 1) / groups; }

}  // namespace deepcomp::cuda
