// CPU kernel of compressed_linear (twin: cuda/compressed_linear.cu): the reference of the CUDA
// kernel and the CPU's sparse inference path. Rows spread over the threads. A row's entries are
// read once per tile of up to kBatchTile inputs, from the input laid out (in_features, batch) so
// that the inputs one kept weight multiplies are contiguous; at batch 1 that layout is the input.
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <array>
#include <atomic>

#include "ops/compressed_linear_entry.h"

namespace deepcomp::ops {
namespace {

constexpr int64_t kBatchTile = 16;

bool offsets_well_formed(const int64_t* row_ptr, int64_t rows, int64_t entries) {
  if (row_ptr[0] != 0 || row_ptr[rows] != entries) return false;
  for (int64_t r = 0; r < rows; ++r) {
    if (row_ptr[r + 1] < row_ptr[r]) return false;
  }
  return true;
}

bool compressed_linear_into_cpu(at::Tensor& out, const at::Tensor& input, const at::Tensor& row_ptr,
                                const at::Tensor& entries, const at::Tensor& codebook, const at::Tensor& bias) {
  const int64_t batch = input.size(0), in_features = input.size(1), rows = row_ptr.numel() - 1;
  const int64_t k = codebook.numel();
  const int64_t* offsets = row_ptr.const_data_ptr<int64_t>();
  if (!offsets_well_formed(offsets, rows, entries.numel())) return false;
  if (batch == 0 || rows == 0) return true;
  const auto* entry = reinterpret_cast<const uint32_t*>(entries.const_data_ptr<int32_t>());
  std::atomic<bool> in_range{true};
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, input.scalar_type(), "compressed_linear_cpu", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    const auto columns = input.t().to(c10::CppTypeToScalarType<acc_t>::value).contiguous();
    const acc_t* x = columns.const_data_ptr<acc_t>();
    std::array<acc_t, 256> table{};
    const scalar_t* centroid = codebook.const_data_ptr<scalar_t>();
    std::transform(centroid, centroid + k, table.begin(), [](scalar_t c) { return static_cast<acc_t>(c); });
    const scalar_t* shift = bias.defined() ? bias.const_data_ptr<scalar_t>() : nullptr;
    scalar_t* y = out.mutable_data_ptr<scalar_t>();
    const int64_t work_per_row = std::max<int64_t>(1, entries.numel() / rows * batch);
    const int64_t grain = std::max<int64_t>(1, at::internal::GRAIN_SIZE / work_per_row);
    at::parallel_for(0, rows, grain, [&](int64_t first, int64_t last) {
      bool ok = true;
      // Calls add(j, weight, column) for each entry of row r; entries with a column or index out of
      // range are skipped and reported (the row is wrong anyway).
      const auto for_each_kept = [&](int64_t r, auto&& add) {
        for (int64_t j = offsets[r]; j < offsets[r + 1]; ++j) {
          const uint32_t column = entry[j] >> 8, index = entry[j] & 0xffu;
          if (column >= in_features || index >= k) {
            ok = false;
            continue;
          }
          add(j, table[index], column);
        }
      };
      for (int64_t r = first; r < last; ++r) {
        const acc_t b = shift == nullptr ? acc_t(0) : static_cast<acc_t>(shift[r]);
        if (batch == 1) {  // four partial sums: consecutive multiply-adds need not wait for each other
          std::array<acc_t, 4> sum{};
          for_each_kept(r, [&](int64_t j, acc_t w, uint32_t column) { sum[j & 3] += w * x[column]; });
          y[r] = static_cast<scalar_t>((sum[0] + sum[1]) + (sum[2] + sum[3]) + b);
          continue;
        }
        for (int64_t b0 = 0; b0 < batch; b0 += kBatchTile) {
          const int64_t tile = std::min(kBatchTile, batch - b0);
          std::array<acc_t, kBatchTile> sum{};
          for_each_kept(r, [&](int64_t, acc_t w, uint32_t column) {
            const acc_t* xs = x + column * batch + b0;
            for (int64_t t = 0; t < tile; ++t) sum[t] += w * xs[t];
          });
          for (int64_t t = 0; t < tile; ++t) y[(b0 + t) * rows + r] = static_cast<scalar_t>(sum[t] + b);
        }
      }
      if (!ok) in_range = false;
    });
  });
  return in_range;
}

}  // namespace

TORCH_LIBRARY_IMPL(deepcomp, CPU, m) {
  m.impl("compressed_linear", &compressed_linear_entry<compressed_linear_into_cpu>);
}

}  // namespace deepcomp::ops
