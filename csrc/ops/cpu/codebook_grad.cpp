// CPU kernel of codebook_grad, the per-cluster gradient reduction: each thread sums into its own
// 256 accumulators (in double for float; any uint8 index fits), which are added up at the end; the
// groups of a grouped codebook are shared out among the threads whole instead. O(n) time,
// O(threads × 256) memory. The sums are added to grad_codebook, so that shared_linear can reduce a
// block of rows at a time into one gradient. Pruned weights are skipped by a branch: measured faster than
// branch-free adds of 0 or interleaved accumulator sets, dense or 90% pruned.
#include <ATen/AccumulateType.h>
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <vector>

#include "ops/codebook_entry.h"
#include "ops/codebook_layout.h"
#include "ops/cpu/codebook_rows.h"

namespace deepcomp::ops {
namespace {

bool codebook_grad_into_cpu(at::Tensor& grad_codebook, const at::Tensor& grad_weight, const at::Tensor& indices,
                            const at::Tensor& mask) {
  return grad_rows_cpu(grad_codebook, grad_weight, indices, mask, 0, rows_of(indices));
}

}  // namespace

bool grad_rows_cpu(at::Tensor& grad_codebook, const at::Tensor& grad_weight, const at::Tensor& indices,
                   const at::Tensor& mask, int64_t first_row, int64_t rows) {
  const int64_t n = indices.numel(), k = codebook_codes(grad_codebook), groups = codebook_groups(grad_codebook);
  const int64_t block_rows = rows_of(indices), row_numel = n == 0 ? 1 : n / block_rows;
  const uint8_t* index = indices.const_data_ptr<uint8_t>();
  const bool* keep = mask.const_data_ptr<bool>();
  std::atomic<bool> in_range{true};
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, grad_weight.scalar_type(), "codebook_grad_cpu", [&] {
    using acc_t = at::acc_type<scalar_t, /*is_cuda=*/false>;
    const scalar_t* grad = grad_weight.const_data_ptr<scalar_t>();
    scalar_t* out = grad_codebook.mutable_data_ptr<scalar_t>();
    // Adds elements [begin, end) into sum[0, 256).
    const auto accumulate = [&](int64_t begin, int64_t end, acc_t* sum) {
      uint8_t largest = 0;
      for (int64_t i = begin; i < end; ++i) largest = std::max(largest, index[i]);
      if (largest >= k) in_range = false;
      for (int64_t i = begin; i < end; ++i) {
        if (keep[i]) sum[index[i]] += static_cast<acc_t>(grad[i]);
      }
    };
    // Codes past 255 no uint8 index reaches: they stay as they are.
    const int64_t codes = std::min<int64_t>(k, 256);
    if (groups == 1) {
      const int64_t threads = at::get_num_threads();
      std::vector<acc_t> partial(static_cast<size_t>(threads * 256), acc_t(0));
      at::parallel_for(0, n, at::internal::GRAIN_SIZE, [&](int64_t begin, int64_t end) {
        accumulate(begin, end, partial.data() + at::get_thread_num() * 256);
      });
      for (int64_t c = 0; c < codes; ++c) {
        acc_t total = 0;
        for (int64_t thread = 0; thread < threads; ++thread) total += partial[thread * 256 + c];
        out[c] = static_cast<scalar_t>(static_cast<acc_t>(out[c]) + total);
      }
      return;
    }
    if (n == 0) return;
    const int64_t first_group = group_of_row(first_row, groups, rows);
    const int64_t end_group = group_of_row(first_row + block_rows - 1, groups, rows) + 1;
    const int64_t grain = std::max<int64_t>(1, at::internal::GRAIN_SIZE * (end_group - first_group) / n);
    at::parallel_for(first_group, end_group, grain, [&](int64_t first, int64_t last) {
      std::array<acc_t, 256> sum;
      for (int64_t group = first; group < last; ++group) {
        const int64_t begin = std::max<int64_t>(0, group_start(group, groups, rows) - first_row);
        const int64_t end = std::min(block_rows, group_start(group + 1, groups, rows) - first_row);
        sum.fill(acc_t(0));
        accumulate(begin * row_numel, end * row_numel, sum.data());
        scalar_t* row = out + group * k;
        for (int64_t c = 0; c < codes; ++c) row[c] = static_cast<scalar_t>(static_cast<acc_t>(row[c]) + sum[c]);
      }
    });
  });
  return in_range;
}

TORCH_LIBRARY_IMPL(deepcomp, CPU, m) { m.impl("codebook_grad", &codebook_grad_entry<codebook_grad_into_cpu>); }

}  // namespace deepcomp::ops
