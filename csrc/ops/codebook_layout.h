// How a codebook lays over a shared weight. A codebook is 1-D (k centroids for the whole weight) or
// 2-D (groups, k): per-group codebooks over the weight's first dimension of R rows (slices), split
// as evenly as possible: row r belongs to group r·groups / R (rounded down), so group g holds rows
// [group_start(g), group_start(g + 1)), R / groups of them when groups divides R. 1 <= groups <= R
// (ops/checks.h checks it).
#pragma once

#include <ATen/core/Tensor.h>

namespace deepcomp::ops {

inline int64_t codebook_groups(const at::Tensor& codebook) { return codebook.dim() == 2 ? codebook.size(0) : 1; }
inline int64_t codebook_codes(const at::Tensor& codebook) { return codebook.size(-1); }

// In 128 bits: row × groups may pass 2^63 for a weight read from a file.
inline int64_t group_of_row(int64_t row, int64_t groups, int64_t rows) {
  return static_cast<int64_t>(static_cast<__int128>(row) * groups / rows);
}
inline int64_t group_start(int64_t group, int64_t groups, int64_t rows) {
  return static_cast<int64_t>((static_cast<__int128>(group) * rows + groups - 1) / groups);
}

}  // namespace deepcomp::ops
