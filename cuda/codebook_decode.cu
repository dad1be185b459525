// CUDA kernel of codebook_decode (twin: csrc/ops/cpu/codebook_decode.cpp): a shared layer's dense
// weight, codebook[indices] where mask, else 0. The codebook sits in shared memory; entries past
// the k centroids hold NaN, so an out-of-range index shows in the weight instead of stalling the
// stream on a check (see ops/codebook_entry.h). A grouped codebook (groups, k) decodes each group's
// rows of the weight's first dimension, split as evenly as groups allow (codebook_layout.cuh): the
// grid's rows stride over the groups, each block loading a group's table and its columns striding
// over that group's weights.
#include <ATen/AccumulateType.h>
#include <ATen/Dispatch.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "codebook_layout.cuh"
#include "codebook_table.cuh"
#include "common.cuh"
#include "ops/codebook_entry.h"

namespace deepcomp::ops {
namespace {

constexpr int64_t kMaxGridY = 65535;

// Group g's weights are the consecutive [group_start(g) · row_numel, group_start(g + 1) · row_numel).
template <typename scalar_t>
__global__ void codebook_decode_kernel(scalar_t* __restrict__ weight, const uint8_t* __restrict__ indices,
                                       const bool* __restrict__ keep, const scalar_t* __restrict__ codebook,
                                       int64_t k, int64_t groups, int64_t rows, int64_t row_numel) {
  using table_t = at::acc_type<scalar_t, /*is_cuda=*/true>;  // not Half: no constructors in __shared__
  __shared__ table_t table[cuda::kCodebookTableSize];
  const int64_t stride = int64_t{blockDim.x} * gridDim.x;
  for (int64_t group = blockIdx.y; group < groups; group += gridDim.y) {
    cuda::load_codebook_table(table, codebook + group * k, k);
    const int64_t begin = cuda::group_start(group, groups, rows) * row_numel;
    const int64_t end = cuda::group_start(group + 1, groups, rows) * row_numel;
    for (int64_t i = begin + int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < end; i += stride) {
      weight[i] = keep[i] ? static_cast<scalar_t>(table[indices[i]]) : scalar_t(0);
    }
    __syncthreads();  // every thread is done with this table before the next group's replaces it
  }
}

bool codebook_decode_into_cuda(at::Tensor& weight, const at::Tensor& indices, const at::Tensor& mask,
                               const at::Tensor& codebook) {
  const int64_t n = indices.numel(), groups = codebook_groups(codebook);
  if (n == 0) return true;
  const int64_t rows = indices.dim() == 0 ? 1 : indices.size(0), row_numel = n / rows;
  const c10::cuda::CUDAGuard guard(codebook.device());
  const auto stream = at::cuda::getCurrentCUDAStream();
  // The blocks of a 1-D codebook, shared out among the groups (a grid row each, rows striding over
  // the groups past 65535), and no more in a row than its largest group has weights for.
  const int64_t grid_rows = std::min(groups, kMaxGridY);
  const int64_t group_numel = cuda::max_group_rows(groups, rows) * row_numel;
  const int64_t columns = std::min((group_numel + cuda::kThreadsPerBlock - 1) / cuda::kThreadsPerBlock,
                                   (cuda::blocks_for(n) + grid_rows - 1) / grid_rows);
  const dim3 grid(static_cast<unsigned int>(columns), static_cast<unsigned int>(grid_rows));
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, codebook.scalar_type(), "codebook_decode_cuda", [&] {
    codebook_decode_kernel<scalar_t><<<grid, cuda::kThreadsPerBlock, 0, stream>>>(
        weight.mutable_data_ptr<scalar_t>(), indices.const_data_ptr<uint8_t>(), mask.const_data_ptr<bool>(),
        codebook.const_data_ptr<scalar_t>(), codebook_codes(codebook), groups, rows, row_numel);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return true;
}

}  // namespace

TORCH_LIBRARY_IMPL(deepcomp, CUDA, m) {
  m.impl("codebook_decode", &codebook_decode_entry<codebook_decode_into_cuda>);
}

}  // namespace deepcomp::ops
