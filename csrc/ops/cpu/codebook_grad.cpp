// CPU kernel of codebook_grad, the per-cluster gradient reduction: each thread sums into its own
// 256 accumulators (in double for float; any uint8 index fits), which are added up at the end.
// O(n) time, O(threads × 256) memory. Pruned weights are skipped by a branch: measured faster than
// branch-free adds of 0 or interleaved accumulator sets, dense or 90% pruned.
#include <ATen/AccumulateType.h>
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <atomic>
#include <vector>

#include "ops/codebook_entry.h"

namespace deepcomp::ops {
namespace {

bool codebook_grad_into_cpu(at::Tensor& grad_codebook, const at::Tensor& grad_weight, const at::Tensor& indices,
                            const at::Tensor& mask) {
  const int64_t n = indices.numel(), k = grad_codebook.numel();
  const uint8_t* index = indices.const_data_ptr<uint8_t>();
  const bool* keep = mask.const_data_ptr<bool>();
  std::atomic<bool> in_range{true};
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, grad_weight.scalar_type(), "codebook_grad_cpu", [&] {
    using acc_t = at::acc_type<scalar_t, /*is_cuda=*/false>;
    const scalar_t* grad = grad_weight.const_data_ptr<scalar_t>();
    const int64_t threads = at::get_num_threads();
    std::vector<acc_t> partial(static_cast<size_t>(threads * 256), acc_t(0));
    at::parallel_for(0, n, at::internal::GRAIN_SIZE, [&](int64_t begin, int64_t end) {
      acc_t* sum = partial.data() + at::get_thread_num() * 256;
      uint8_t largest = 0;
      for (int64_t i = begin; i < end; ++i) largest = std::max(largest, index[i]);
      if (largest >= k) in_range = false;
      for (int64_t i = begin; i < end; ++i) {
        if (keep[i]) sum[index[i]] += static_cast<acc_t>(grad[i]);
      }
    });
    scalar_t* out = grad_codebook.mutable_data_ptr<scalar_t>();
    // Codes past 255 no uint8 index reaches: they stay 0 (and partial has 256 per thread).
    for (int64_t c = 0; c < std::min<int64_t>(k, 256); ++c) {
      acc_t total = 0;
      for (int64_t thread = 0; thread < threads; ++thread) total += partial[thread * 256 + c];
      out[c] = static_cast<scalar_t>(total);
    }
  });
  return in_range;
}

}  // namespace

TORCH_LIBRARY_IMPL(deepcomp, CPU, m) { m.impl("codebook_grad", &codebook_grad_entry<codebook_grad_into_cpu>); }

}  // namespace deepcomp::ops
