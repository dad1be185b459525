// CPU kernel of compressed_linear (twin: cuda/compressed_linear.cu): the reference of the CUDA
// kernel and the CPU's sparse inference path. Rows spread over the threads. At batch 1 each row is
// one SIMD pass over its entries; otherwise a row's entries are read once per tile of 64, 32, 16
// or 8 inputs (then the rest), from the input laid out (in_features, batch) so that the inputs one
// kept weight multiplies are contiguous (compressed_rows_simd.h). The entries are checked once per
// change of the tensors (tensor_memo.h), not in the loops. A grouped codebook gives each row the
// centroids of its group (ops/codebook_layout.h).
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <array>
#include <utility>
#include <vector>

#include "ops/codebook_layout.h"
#include "ops/compressed_linear_entry.h"
#include "ops/cpu/compressed_rows_check.h"
#include "ops/cpu/compressed_rows_simd.h"

namespace deepcomp::ops {
namespace {

// One row at batch 1 (row_dot) and one tile of a batch (row_tile): the SIMD kernels for float sums,
// the portable loops for double.
float row_dot(const uint32_t* entries, int64_t count, const float* x, const float* table, int64_t k) {
  return compressed_row_kernels().dot(entries, count, x, table, k);
}

DEEPCOMP_SCALAR_LOADS double row_dot(const uint32_t* entries, int64_t count, const double* x, const double* table,
                                      int64_t) {
  return row_dot_portable(entries, count, x, table);
}

void row_tile(const uint32_t* entries, int64_t count, const float* x, int64_t stride, const float* table, float* sum,
              int64_t width) {
  compressed_row_kernels().tile(entries, count, x, stride, table, sum, width);
}

void row_tile(const uint32_t* entries, int64_t count, const double* x, int64_t stride, const double* table,
              double* sum, int64_t width) {
  row_tile_portable(entries, count, x, stride, table, sum, width);
}

bool compressed_linear_into_cpu(at::Tensor& out, const at::Tensor& input, const at::Tensor& row_ptr,
                                const at::Tensor& entries, const at::Tensor& codebook, const at::Tensor& bias) {
  const int64_t batch = input.size(0), in_features = input.size(1), rows = row_ptr.numel() - 1;
  const int64_t k = codebook_codes(codebook), groups = codebook_groups(codebook);
  if (!compressed_rows_well_formed(row_ptr, entries, in_features, k)) return false;
  if (batch == 0 || rows == 0) return true;
  const int64_t* offsets = row_ptr.const_data_ptr<int64_t>();
  const auto* entry = reinterpret_cast<const uint32_t*>(entries.const_data_ptr<int32_t>());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, input.scalar_type(), "compressed_linear_cpu", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    const auto columns = input.t().to(c10::CppTypeToScalarType<acc_t>::value).contiguous();
    const acc_t* x = columns.const_data_ptr<acc_t>();
    std::vector<acc_t> tables(codebook.numel());  // one row of k per group
    const scalar_t* centroid = codebook.const_data_ptr<scalar_t>();
    std::transform(centroid, centroid + tables.size(), tables.begin(), [](scalar_t c) { return acc_t(c); });
    const scalar_t* shift = bias.defined() ? bias.const_data_ptr<scalar_t>() : nullptr;
    scalar_t* y = out.mutable_data_ptr<scalar_t>();
    const int64_t work_per_row = std::max<int64_t>(1, entries.numel() / rows * batch);
    const int64_t grain = std::max<int64_t>(1, at::internal::GRAIN_SIZE / work_per_row);
    at::parallel_for(0, rows, grain, [&](int64_t first, int64_t last) {
      for (int64_t r = first; r < last; ++r) {
        const acc_t b = shift == nullptr ? acc_t(0) : static_cast<acc_t>(shift[r]);
        const acc_t* table = tables.data() + group_of_row(r, groups, rows) * k;
        if (batch == 1) {
          y[r] = static_cast<scalar_t>(
              row_dot(entry + offsets[r], offsets[r + 1] - offsets[r], x, table, k) + b);
          continue;
        }
        for (int64_t b0 = 0; b0 < batch;) {
          // 64, 32, 16 or 8 inputs at a time (constant widths, unrolled into SIMD), then the rest.
          const int64_t remaining = batch - b0;
          int64_t tile = 64;
          while (tile > remaining && tile > 8) tile /= 2;
          std::array<acc_t, 64> sum{};
          const uint32_t* first_entry = entry + offsets[r];
          const int64_t count = offsets[r + 1] - offsets[r];
          if (tile <= remaining) {
            row_tile(first_entry, count, x + b0, batch, table, sum.data(), tile);
          } else {
            tile = remaining;
            row_tile_portable(first_entry, count, x + b0, batch, table, sum.data(), tile);
          }
          for (int64_t t = 0; t < tile; ++t) y[(b0 + t) * rows + r] = static_cast<scalar_t>(sum[t] + b);
          b0 += tile;
        }
      }
    });
  });
  return true;
}

}  // namespace

TORCH_LIBRARY_IMPL(deepcomp, CPU, m) {
  m.impl("compressed_linear", &compressed_linear_entry<compressed_linear_into_cpu>);
}

}  // namespace deepcomp::ops
