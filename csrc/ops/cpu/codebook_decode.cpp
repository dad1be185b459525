// CPU kernel of codebook_decode: a shared layer's dense weight, codebook[indices] where mask.
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <array>
#include <atomic>

#include "ops/codebook_entry.h"
#include "ops/codebook_layout.h"
#include "ops/cpu/codebook_rows.h"

namespace deepcomp::ops {
namespace {

bool codebook_decode_into_cpu(at::Tensor& weight, const at::Tensor& indices, const at::Tensor& mask,
                              const at::Tensor& codebook) {
  return decode_rows_cpu(weight, indices, mask, codebook, 0, rows_of(indices));
}

}  // namespace

// One load per weight from a 512-entry table: entries 256 + c hold centroid c, entries 0..255 the
// 0 of a pruned weight, so (mask << 8 | index) picks the value without a branch. Out-of-range
// indices are found by a max reduction that vectorises. A grouped codebook's centroids are copied
// in at each group's first element.
bool decode_rows_cpu(at::Tensor& weight, const at::Tensor& indices, const at::Tensor& mask,
                     const at::Tensor& codebook, int64_t first_row, int64_t rows) {
  const int64_t n = indices.numel(), k = codebook_codes(codebook), groups = codebook_groups(codebook);
  const int64_t row_numel = n == 0 ? 1 : n / rows_of(indices);
  const uint8_t* index = indices.const_data_ptr<uint8_t>();
  const uint8_t* keep = reinterpret_cast<const uint8_t*>(mask.const_data_ptr<bool>());
  std::atomic<bool> in_range{true};
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, codebook.scalar_type(), "codebook_decode_cpu", [&] {
    const scalar_t* centroids = codebook.const_data_ptr<scalar_t>();
    scalar_t* w = weight.mutable_data_ptr<scalar_t>();
    at::parallel_for(0, n, at::internal::GRAIN_SIZE, [&](int64_t begin, int64_t end) {
      uint8_t largest = 0;
      for (int64_t i = begin; i < end; ++i) largest = std::max(largest, index[i]);
      if (largest >= k) in_range = false;
      std::array<scalar_t, 512> table;
      table.fill(scalar_t(0));
      for (int64_t first = begin; first < end;) {  // one group's elements at a time
        const int64_t group = group_of_row(first_row + first / row_numel, groups, rows);
        const int64_t last = std::min(end, (group_start(group + 1, groups, rows) - first_row) * row_numel);
        const scalar_t* centroid = centroids + group * k;
        std::copy(centroid, centroid + std::min<int64_t>(k, 256), table.begin() + 256);
        for (int64_t i = first; i < last; ++i) w[i] = table[(keep[i] << 8) | index[i]];
        first = last;
      }
    });
  });
  return in_range;
}

TORCH_LIBRARY_IMPL(deepcomp, CPU, m) { m.impl("codebook_decode", &codebook_decode_entry<codebook_decode_into_cpu>); }

}  // namespace deepcomp::ops
