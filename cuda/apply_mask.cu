// CUDA kernel of apply_mask / apply_mask_ (twin: csrc/ops/cpu/apply_mask.cpp).
#include <ATen/Dispatch.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "common.cuh"
#include "ops/apply_mask_entry.h"
#include "ops/mask_value.h"

namespace deepcomp::ops {
namespace {

// `out` may alias `weight` (the in-place variant), so neither is __restrict__.
template <typename scalar_t>
__global__ void apply_mask_kernel(scalar_t* out, const scalar_t* weight, const bool* __restrict__ keep,
                                  int64_t n) {
  const int64_t stride = int64_t{blockDim.x} * gridDim.x;
  for (int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < n; i += stride) {
    out[i] = masked_value(weight[i], keep[i]);
  }
}

void apply_mask_into_cuda(at::Tensor& out, const at::Tensor& weight, const at::Tensor& mask) {
  const int64_t n = weight.numel();
  if (n == 0) return;
  const c10::cuda::CUDAGuard guard(weight.device());
  const auto stream = at::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, weight.scalar_type(), "apply_mask_cuda", [&] {
    apply_mask_kernel<scalar_t><<<deepcomp::cuda::blocks_for(n), deepcomp::cuda::kThreadsPerBlock, 0, stream>>>(
        out.mutable_data_ptr<scalar_t>(), weight.const_data_ptr<scalar_t>(), mask.const_data_ptr<bool>(), n);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
}

}  // namespace

TORCH_LIBRARY_IMPL(deepcomp, CUDA, m) {
  m.impl("apply_mask", &apply_mask_entry<apply_mask_into_cuda>);
  m.impl("apply_mask_", &apply_mask_inplace_entry<apply_mask_into_cuda>);
}

}  // namespace deepcomp::ops
