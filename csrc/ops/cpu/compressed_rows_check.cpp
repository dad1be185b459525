#include "ops/cpu/compressed_rows_check.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <utility>

#include "ops/tensor_memo.h"

namespace deepcomp::ops {
namespace {

// What a compressed weight needs: (largest column + 1, largest index + 1), or (-1, -1) when row_ptr
// does not rise from 0 to entries.numel().
std::pair<int64_t, int64_t> needs(const at::Tensor& row_ptr, const at::Tensor& entries) {
  const int64_t rows = row_ptr.numel() - 1;
  const int64_t* offsets = row_ptr.const_data_ptr<int64_t>();
  if (offsets[0] != 0 || offsets[rows] != entries.numel()) return {-1, -1};
  for (int64_t r = 0; r < rows; ++r) {
    if (offsets[r + 1] < offsets[r]) return {-1, -1};
  }
  const auto* entry = reinterpret_cast<const uint32_t*>(entries.const_data_ptr<int32_t>());
  return at::parallel_reduce(
      0, entries.numel(), at::internal::GRAIN_SIZE, std::pair<int64_t, int64_t>{0, 0},
      [&](int64_t begin, int64_t end, std::pair<int64_t, int64_t> most) {
        uint32_t column = 0, index = 0;
        for (int64_t j = begin; j < end; ++j) {
          column = std::max(column, entry[j] >> 8);
          index = std::max(index, entry[j] & 0xffu);
        }
        return std::pair<int64_t, int64_t>{std::max<int64_t>(most.first, int64_t{column} + 1),
                                           std::max<int64_t>(most.second, int64_t{index} + 1)};
      },
      [](auto a, auto b) { return std::pair{std::max(a.first, b.first), std::max(a.second, b.second)}; });
}

}  // namespace

bool compressed_rows_well_formed(const at::Tensor& row_ptr, const at::Tensor& entries, int64_t in_features,
                                 int64_t num_codes) {
  static auto* memo = new TensorMemo<std::pair<int64_t, int64_t>>();  // never destroyed: ops may run during exit
  auto need = memo->find(entries, row_ptr);
  if (!need) {
    need = needs(row_ptr, entries);
    memo->remember(entries, row_ptr, *need);
  }
  return need->first >= 0 && need->first <= in_features && need->second <= num_codes;
}

}  // namespace deepcomp::ops
