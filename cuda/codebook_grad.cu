// CUDA kernel of codebook_grad, the per-cluster gradient reduction (twin: csrc/ops/cpu/codebook_grad.cpp):
// grad_codebook[c] = Σ grad_weight over the kept weights with index c.
//
// Each warp keeps its own 256 sums in shared memory. Per 32 weights, the lanes holding the same
// index find each other (__match_any_sync) and add their values in lane order, so one lane per
// index updates the warp's sums with no atomics and the same result on every run. The warps' sums
// are added in a fixed order, then each block adds its sums into the totals with one atomic per
// cluster; in deterministic mode (torch.use_deterministic_algorithms) it writes them out instead
// and a second kernel adds the blocks in order. Out-of-range indices make the result NaN
// (see ops/codebook_entry.h).
#include <ATen/AccumulateType.h>
#include <ATen/Context.h>
#include <ATen/Dispatch.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "codebook_table.cuh"
#include "common.cuh"
#include "ops/codebook_entry.h"

namespace deepcomp::ops {
namespace {

using cuda::kWarpSize;
using cuda::kWarpsPerBlock;
constexpr int kNoCluster = cuda::kCodebookTableSize;  // pruned, out of range, or past the end

// Each block's sums over its share of the weights: added into totals[0, bins), or written to
// block_sums[block][0, bins) when block_sums is not null. bins = min(k, 256).
template <typename scalar_t, typename acc_t>
__global__ void codebook_grad_blocks_kernel(acc_t* __restrict__ totals, acc_t* __restrict__ block_sums,
                                            int* __restrict__ out_of_range, const scalar_t* __restrict__ grad,
                                            const uint8_t* __restrict__ indices, const bool* __restrict__ keep,
                                            int64_t k, int bins, int64_t n) {
  __shared__ acc_t warp_sums[kWarpsPerBlock][cuda::kCodebookTableSize];
  const int warp = threadIdx.x / kWarpSize, lane = threadIdx.x % kWarpSize;
  for (int c = lane; c < cuda::kCodebookTableSize; c += kWarpSize) warp_sums[warp][c] = acc_t(0);
  __syncwarp();
  bool bad_index = false;
  const int64_t step = int64_t{gridDim.x} * kWarpsPerBlock * kWarpSize;
  for (int64_t base = (int64_t{blockIdx.x} * kWarpsPerBlock + warp) * kWarpSize; base < n; base += step) {
    const int64_t i = base + lane;
    int cluster = kNoCluster;
    acc_t value = acc_t(0);
    if (i < n && keep[i]) {
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
    if (cluster != kNoCluster && lane == __ffs(same) - 1) warp_sums[warp][cluster] += sum;
    __syncwarp();
  }
  if (bad_index) *out_of_range = 1;
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

// grad_codebook from the totals, or from the blocks' sums added in block order.
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

bool codebook_grad_into_cuda(at::Tensor& grad_codebook, const at::Tensor& grad_weight, const at::Tensor& indices,
                             const at::Tensor& mask) {
  const int64_t n = indices.numel(), k = grad_codebook.numel();
  if (n == 0) return true;
  const c10::cuda::CUDAGuard guard(grad_weight.device());
  const auto stream = at::cuda::getCurrentCUDAStream();
  const unsigned int blocks = cuda::blocks_for(n);
  const int bins = static_cast<int>(std::min<int64_t>(k, cuda::kCodebookTableSize));
  const bool deterministic = at::globalContext().deterministicAlgorithms();
  const auto out_of_range = at::zeros({1}, grad_weight.options().dtype(at::kInt));
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, grad_weight.scalar_type(), "codebook_grad_cuda", [&] {
    // The CPU twin's accumulator (double for float): sums over 10^8 weights lose nothing to rounding,
    // and the two twins agree to the last bits the tests can see. Double atomics are native on sm_60+.
    using acc_t = at::acc_type<scalar_t, /*is_cuda=*/false>;
    const auto acc_options = grad_weight.options().dtype(c10::CppTypeToScalarType<acc_t>::value);
    const auto totals = deterministic ? at::Tensor() : at::zeros({bins}, acc_options);
    const auto block_sums = deterministic ? at::empty({int64_t{blocks}, bins}, acc_options) : at::Tensor();
    acc_t* totals_ptr = deterministic ? nullptr : totals.mutable_data_ptr<acc_t>();
    acc_t* block_sums_ptr = deterministic ? block_sums.mutable_data_ptr<acc_t>() : nullptr;
    codebook_grad_blocks_kernel<scalar_t, acc_t><<<blocks, cuda::kThreadsPerBlock, 0, stream>>>(
        totals_ptr, block_sums_ptr, out_of_range.mutable_data_ptr<int>(), grad_weight.const_data_ptr<scalar_t>(),
        indices.const_data_ptr<uint8_t>(), mask.const_data_ptr<bool>(), k, bins, n);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    codebook_grad_finish_kernel<scalar_t, acc_t><<<1, cuda::kThreadsPerBlock, 0, stream>>>(
        grad_codebook.mutable_data_ptr<scalar_t>(), totals_ptr, block_sums_ptr, blocks,
        out_of_range.const_data_ptr<int>(), k, bins);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return true;
}

}  // namespace

TORCH_LIBRARY_IMPL(deepcomp, CUDA, m) { m.impl("codebook_grad", &codebook_grad_entry<codebook_grad_into_cuda>); }

}  // namespace deepcomp::ops
