// The one pass that checks a compressed weight (row_ptr, entries) before a CPU kernel trusts it in
// its loops, remembered until either tensor changes (tensor_memo.h).
#pragma once

#include <ATen/ATen.h>

namespace deepcomp::ops {

// Whether row_ptr rises from 0 to entries.numel() and every entry's column is < in_features and its
// index < num_codes.
bool compressed_rows_well_formed(const at::Tensor& row_ptr, const at::Tensor& entries, int64_t in_features,
                                 int64_t num_codes);

}  // namespace deepcomp::ops
