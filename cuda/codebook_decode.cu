// CUDA kernel of codebook_decode (twin: csrc/ops/cpu/codebook_decode.cpp): a shared layer's dense
// weight, codebook[indices] where mask, else 0. The codebook sits in shared memory; entries past
// the k centroids hold NaN, so an out-of-range index shows in the weight instead of stalling the
// stream on a check (see ops/codebook_entry.h).
#include <ATen/AccumulateType.h>
#include <ATen/Dispatch.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "codebook_table.cuh"
#include "common.cuh"
#include "ops/codebook_entry.h"

namespace deepcomp::ops {
namespace {

template <typename scalar_t>
__global__ void codebook_decode_kernel(scalar_t* __restrict__ weight, const uint8_t* __restrict__ indices,
                                       const bool* __restrict__ keep, const scalar_t* __restrict__ codebook,
                                       int64_t k, int64_t n) {
  using table_t = at::acc_type<scalar_t, /*is_cuda=*/true>;  // not Half: no constructors in __shared__
  __shared__ table_t table[cuda::kCodebookTableSize];
  cuda::load_codebook_table(table, codebook, k);
  const int64_t stride = int64_t{blockDim.x} * gridDim.x;
  for (int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < n; i += stride) {
    weight[i] = keep[i] ? static_cast<scalar_t>(table[indices[i]]) : scalar_t(0);
  }
}

bool codebook_decode_into_cuda(at::Tensor& weight, const at::Tensor& indices, const at::Tensor& mask,
                               const at::Tensor& codebook) {
  const int64_t n = indices.numel();
  if (n == 0) return true;
  const c10::cuda::CUDAGuard guard(codebook.device());
  const auto stream = at::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, codebook.scalar_type(), "codebook_decode_cuda", [&] {
    codebook_decode_kernel<scalar_t><<<cuda::blocks_for(n), cuda::kThreadsPerBlock, 0, stream>>>(
        weight.mutable_data_ptr<scalar_t>(), indices.const_data_ptr<uint8_t>(), mask.const_data_ptr<bool>(),
        codebook.const_data_ptr<scalar_t>(), codebook.numel(), n);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return true;
}

}  // namespace

TORCH_LIBRARY_IMPL(deepcomp, CUDA, m) {
  m.impl("codebook_decode", &codebook_decode_entry<codebook_decode_into_cuda>);
}

}  // namespace deepcomp::ops
