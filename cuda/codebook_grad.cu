// CUDA kernel of codebook_grad, the per-cluster gradient reduction (twin: csrc/ops/cpu/codebook_grad.cpp):
// grad_codebook[g][c] = Σ grad_weight over the kept weights of group g with index c (one group for a
// 1-D codebook; a group is a run of consecutive rows of the weight's first dimension, as even in
// length as the group count allows, codebook_layout.cuh).
//
// Each warp keeps its own 256 sums in shared memory. Per 32 weights, the lanes holding the same
// index find each other (__match_any_sync) and add their values in lane order, so one lane per
// index updates the warp's sums with no atomics and the same result on every run. The warps' sums
// are added in a fixed order. With one group, each block then adds its sums into the totals with
// one atomic per cluster; in deterministic mode (torch.use_deterministic_algorithms) it writes them
// out instead and a second kernel adds the blocks in order. With several groups, the grid's rows
// stride over the groups: a group that has a single block gets its sums written directly; several
// blocks per group (few large groups) write theirs out, added in order by a second kernel. No
// atomics, so grouped results are the same on every run in either mode. An out-of-range index
// makes the result NaN: all of it with one group, its group's row with several (ops/codebook_entry.h).
#include <ATen/AccumulateType.h>
#include <ATen/Context.h>
#include <ATen/Dispatch.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "codebook_layout.cuh"
#include "codebook_table.cuh"
#include "common.cuh"
#include "ops/codebook_entry.h"

namespace deepcomp::ops {
namespace {

using cuda::kWarpSize;
using cuda::kWarpsPerBlock;
constexpr int kNoCluster = cuda::kCodebookTableSize;  // pruned, out of range, or past the end
constexpr int64_t kMaxGridY = 65535;

// Adds the kept weights of [begin, end) into this warp's sums[0, 256), 32 at a time: the chunks at
// first, first + step, ... (the same in every lane; all 32 lanes must call it). Returns whether
// this lane met an index >= k.
template <typename scalar_t, typename acc_t>
__device__ bool warp_accumulate(acc_t* sums, const scalar_t* __restrict__ grad, const uint8_t* __restrict__ indices,
                                const bool* __restrict__ keep, int64_t k, int64_t first, int64_t end, int64_t step,
                                int lane) {
  bool bad_index = false;
  for (int64_t base = first; base < end; base += step) {
    const int64_t i = base + lane;
    int cluster = kNoCluster;
    acc_t value = acc_t(0);
    if (i < end && keep[i]) {
      const int index = indices[i];
      bad_index |= index >= k;
      if (index < k) cluster = index, value = static_cast<acc_t>(grad[i]);
    }
    const unsigned same = __match_any_sync(0xffffffffu, cluster);
    acc_t sum = acc_t(0);
    for (int source = 0; source < kWarpSize; ++source) {  // in lane order: deterministic
      const acc_t other = __shfl_sync(0xffffffffu, value, source);
      if ((same >> source) & 1u) sum += other;
    }
    if (cluster != kNoCluster && lane == __ffs(same) - 1) sums[cluster] += sum;
    __syncwarp();
  }
  return bad_index;
}

// One group: each block's sums over its share of the weights, added into totals[0, bins), or
// written to block_sums[block][0, bins) when block_sums is not null. bins = min(k, 256).
template <typename scalar_t, typename acc_t>
__global__ void codebook_grad_blocks_kernel(acc_t* __restrict__ totals, acc_t* __restrict__ block_sums,
                                            int* __restrict__ out_of_range, const scalar_t* __restrict__ grad,
                                            const uint8_t* __restrict__ indices, const bool* __restrict__ keep,
                                            int64_t k, int bins, int64_t n) {
  __shared__ acc_t warp_sums[kWarpsPerBlock][cuda::kCodebookTableSize];
  const int warp = threadIdx.x / kWarpSize, lane = threadIdx.x % kWarpSize;
  for (int c = lane; c < cuda::kCodebookTableSize; c += kWarpSize) warp_sums[warp][c] = acc_t(0);
  __syncwarp();
  const int64_t step = int64_t{gridDim.x} * kWarpsPerBlock * kWarpSize;
  const int64_t first = (int64_t{blockIdx.x} * kWarpsPerBlock + warp) * kWarpSize;
  if (warp_accumulate(warp_sums[warp], grad, indices, keep, k, first, n, step, lane)) *out_of_range = 1;
  __syncthreads();
  for (int c = threadIdx.x; c < bins; c += blockDim.x) {
    acc_t sum = acc_t(0);
    for (int w = 0; w < kWarpsPerBlock; ++w) sum += warp_sums[w][c];
    if (block_sums != nullptr) {
      block_sums[int64_t{blockIdx.x} * bins + c] = sum;
    } else {
      atomicAdd(totals + c, sum);
    }
  }
}

// One group: grad_codebook from the totals, or from the blocks' sums added in block order.
template <typename scalar_t, typename acc_t>
__global__ void codebook_grad_finish_kernel(scalar_t* __restrict__ grad_codebook, const acc_t* __restrict__ totals,
                                            const acc_t* __restrict__ block_sums, int64_t blocks,
                                            const int* __restrict__ out_of_range, int64_t k, int bins) {
  for (int64_t c = threadIdx.x; c < k; c += blockDim.x) {
    acc_t sum = acc_t(0);
    if (c < bins) {
      if (block_sums != nullptr) {
        for (int64_t b = 0; b < blocks; ++b) sum += block_sums[b * bins + c];
      } else {
        sum = totals[c];
      }
    }
    grad_codebook[c] = *out_of_range ? static_cast<scalar_t>(NAN) : static_cast<scalar_t>(sum);
  }
}

// Several groups: block (x, y) sums the x-th share of groups y, y + gridDim.y, ... (group g's weights
// are [group_start(g) · row_numel, group_start(g + 1) · row_numel)) into
// grad_codebook[group][0, bins) when it is the group's only block (block_sums null), else into
// block_sums[group][x][0, bins). Sums of a block that met an index >= k are NaN.
template <typename scalar_t, typename acc_t>
__global__ void codebook_grad_groups_kernel(scalar_t* __restrict__ grad_codebook, acc_t* __restrict__ block_sums,
                                            const scalar_t* __restrict__ grad, const uint8_t* __restrict__ indices,
                                            const bool* __restrict__ keep, int64_t k, int bins, int64_t groups,
                                            int64_t rows, int64_t row_numel) {
  __shared__ acc_t warp_sums[kWarpsPerBlock][cuda::kCodebookTableSize];
  const int warp = threadIdx.x / kWarpSize, lane = threadIdx.x % kWarpSize;
  const int64_t step = int64_t{gridDim.x} * kWarpsPerBlock * kWarpSize;
  for (int64_t group = blockIdx.y; group < groups; group += gridDim.y) {
    for (int c = lane; c < cuda::kCodebookTableSize; c += kWarpSize) warp_sums[warp][c] = acc_t(0);
    __syncwarp();
    const int64_t begin = cuda::group_start(group, groups, rows) * row_numel;
    const int64_t end = cuda::group_start(group + 1, groups, rows) * row_numel;
    const int64_t first = begin + (int64_t{blockIdx.x} * kWarpsPerBlock + warp) * kWarpSize;
    const bool bad_index =
        __syncthreads_or(warp_accumulate(warp_sums[warp], grad, indices, keep, k, first, end, step, lane));
    for (int c = threadIdx.x; c < bins; c += blockDim.x) {
      acc_t sum = acc_t(0);
      for (int w = 0; w < kWarpsPerBlock; ++w) sum += warp_sums[w][c];
      if (bad_index) sum = static_cast<acc_t>(NAN);
      if (block_sums != nullptr) {
        block_sums[(group * gridDim.x + blockIdx.x) * bins + c] = sum;
      } else {
        grad_codebook[group * k + c] = static_cast<scalar_t>(sum);
      }
    }
    __syncthreads();  // the sums are read before the next group clears them
  }
}

// Several groups, several blocks each: grad_codebook[group][c] = the blocks' sums added in order.
template <typename scalar_t, typename acc_t>
__global__ void codebook_grad_groups_finish_kernel(scalar_t* __restrict__ grad_codebook,
                                                   const acc_t* __restrict__ block_sums, int64_t blocks, int64_t k,
                                                   int bins, int64_t groups) {
  const int64_t stride = int64_t{blockDim.x} * gridDim.x;
  for (int64_t e = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; e < groups * bins; e += stride) {
    const int64_t group = e / bins, c = e % bins;
    acc_t sum = acc_t(0);
    for (int64_t b = 0; b < blocks; ++b) sum += block_sums[(group * blocks + b) * bins + c];
    grad_codebook[group * k + c] = static_cast<scalar_t>(sum);
  }
}

bool codebook_grad_into_cuda(at::Tensor& grad_codebook, const at::Tensor& grad_weight, const at::Tensor& indices,
                             const at::Tensor& mask) {
  const int64_t n = indices.numel(), k = codebook_codes(grad_codebook), groups = codebook_groups(grad_codebook);
  if (n == 0) return true;
  const c10::cuda::CUDAGuard guard(grad_weight.device());
  const auto stream = at::cuda::getCurrentCUDAStream();
  const unsigned int blocks = cuda::blocks_for(n);
  const int bins = static_cast<int>(std::min<int64_t>(k, cuda::kCodebookTableSize));
  const bool deterministic = at::globalContext().deterministicAlgorithms();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, grad_weight.scalar_type(), "codebook_grad_cuda", [&] {
    // The CPU twin's accumulator (double for float): sums over 10^8 weights lose nothing to rounding,
    // and the two twins agree to the last bits the tests can see. Double atomics are native on sm_60+.
    using acc_t = at::acc_type<scalar_t, /*is_cuda=*/false>;
    const auto acc_options = grad_weight.options().dtype(c10::CppTypeToScalarType<acc_t>::value);
    scalar_t* out = grad_codebook.mutable_data_ptr<scalar_t>();
    const scalar_t* grad = grad_weight.const_data_ptr<scalar_t>();
    const uint8_t* index = indices.const_data_ptr<uint8_t>();
    const bool* keep = mask.const_data_ptr<bool>();
    if (groups > 1) {
      // A 1-D codebook's blocks shared out among the groups (a grid row each, rows striding over the
      // groups past 65535), and no more in a row than its largest group has chunks of 32 weights for.
      // A 2-D codebook comes with indices of at least one dimension (ops/checks.h).
      const int64_t rows = indices.size(0), row_numel = n / rows, grid_rows = std::min(groups, kMaxGridY);
      const int64_t group_numel = cuda::max_group_rows(groups, rows) * row_numel;
      const int64_t per_group =
          std::max<int64_t>(1, std::min(int64_t{blocks} / grid_rows,
                                        (group_numel + cuda::kThreadsPerBlock - 1) / cuda::kThreadsPerBlock));
      const auto block_sums = per_group > 1 ? at::empty({groups, per_group, bins}, acc_options) : at::Tensor();
      acc_t* block_sums_ptr = per_group > 1 ? block_sums.mutable_data_ptr<acc_t>() : nullptr;
      const dim3 grid(static_cast<unsigned int>(per_group), static_cast<unsigned int>(grid_rows));
      codebook_grad_groups_kernel<scalar_t, acc_t><<<grid, cuda::kThreadsPerBlock, 0, stream>>>(
          out, block_sums_ptr, grad, index, keep, k, bins, groups, rows, row_numel);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
      if (per_group > 1) {
        codebook_grad_groups_finish_kernel<scalar_t, acc_t>
            <<<cuda::blocks_for(groups * bins), cuda::kThreadsPerBlock, 0, stream>>>(out, block_sums_ptr, per_group,
                                                                                    k, bins, groups);
        C10_CUDA_KERNEL_LAUNCH_CHECK();
      }
      return;
    }
    const auto out_of_range = at::zeros({1}, grad_weight.options().dtype(at::kInt));
    const auto totals = deterministic ? at::Tensor() : at::zeros({bins}, acc_options);
    const auto block_sums = deterministic ? at::empty({int64_t{blocks}, bins}, acc_options) : at::Tensor();
    acc_t* totals_ptr = deterministic ? nullptr : totals.mutable_data_ptr<acc_t>();
    acc_t* block_sums_ptr = deterministic ? block_sums.mutable_data_ptr<acc_t>() : nullptr;
    codebook_grad_blocks_kernel<scalar_t, acc_t><<<blocks, cuda::kThreadsPerBlock, 0, stream>>>(
        totals_ptr, block_sums_ptr, out_of_range.mutable_data_ptr<int>(), grad, index, keep, k, bins, n);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    codebook_grad_finish_kernel<scalar_t, acc_t><<<1, cuda::kThreadsPerBlock, 0, stream>>>(
        out, totals_ptr, block_sums_ptr, blocks, out_of_range.const_data_ptr<int>(), k, bins);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return true;
}

}  // namespace

TORCH_LIBRARY_IMPL(deepcomp, CUDA, m) { m.impl("codebook_grad", &codebook_grad_entry<codebook_grad_into_cuda>); }

}  // namespace deepcomp::ops
