// CUDA kernel of kmeans_quantize (twin: csrc/algorithms/kmeans_quantize.cpp). The O(n) and
// O(n log n) parts run on the GPU: gathering the kept weights, the finiteness check, the sort
// (Thrust, on the current stream) and the assignment of every weight to its nearest centroid
// (a binary search over the midpoints, in shared memory). The clustering itself is the CPU's
// kmeans1d over the sorted values copied back, the same code on the same sorted values, so a
// layer gets bit for bit the codebook and indices it gets on the CPU.
#include <ATen/Dispatch.h>
#include <ATen/cuda/ThrustAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <deepcomp/ops.h>
#include <torch/library.h>
#include <thrust/execution_policy.h>
#include <thrust/sort.h>

#include "algorithms/kmeans1d.h"
#include "algorithms/kmeans_quantize.h"
#include "common.cuh"

namespace deepcomp::algorithms {
namespace {

constexpr int kMaxCentroids = 256;

// indices[i] = the nearest centroid of weight[i], 0 where pruned: the CPU's search, in the same
// double arithmetic.
template <typename T>
__global__ void assign_nearest_kernel(uint8_t* __restrict__ indices, const T* __restrict__ weight,
                                      const bool* __restrict__ keep, const double* __restrict__ bounds, int64_t k,
                                      int64_t n) {
  __shared__ double bound[kMaxCentroids];
  for (int64_t j = threadIdx.x; j < k; j += blockDim.x) bound[j] = bounds[j];
  __syncthreads();
  const int64_t stride = int64_t{blockDim.x} * gridDim.x;
  for (int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < n; i += stride) {
    const int64_t index = nearest_centroid(static_cast<double>(weight[i]), bound, k);
    indices[i] = (keep == nullptr || keep[i]) ? static_cast<uint8_t>(index) : 0;
  }
}

std::tuple<at::Tensor, at::Tensor> kmeans_quantize_cuda(const at::Tensor& weight, const std::optional<at::Tensor>& mask,
                                                        int64_t bits, c10::string_view init, c10::string_view method,
                                                        int64_t seed, const std::optional<at::Tensor>& importance) {
  if (importance.has_value() && importance->defined()) {  // weighted k-means runs on the CPU (ops.h)
    const auto cpu_mask = mask.has_value() && mask->defined() ? std::optional(mask->cpu()) : std::nullopt;
    const auto [codebook, indices] = deepcomp::ops::kmeans_quantize(weight.cpu(), cpu_mask, bits, std::string(init),
                                                                    std::string(method), seed, importance->cpu());
    return {codebook.to(weight.device()), indices.to(weight.device())};
  }
  const auto request = check_kmeans_quantize(weight, mask, bits, init, method, seed);
  const c10::cuda::CUDAGuard guard(weight.device());
  const auto stream = at::cuda::getCurrentCUDAStream();
  const auto w = weight.detach().to(request.work_type).contiguous();
  const auto keep = request.masked ? mask->contiguous() : at::Tensor();
  auto values = (request.masked ? w.masked_select(keep) : w.view({-1}).clone()).contiguous();
  check_all_finite((~at::isfinite(values)).sum().item<int64_t>(), values.numel(), request.masked);
  auto indices = at::empty(weight.sizes(), weight.options().dtype(at::kByte));
  at::Tensor codebook;
  AT_DISPATCH_FLOATING_TYPES(request.work_type, "kmeans_quantize_cuda", [&] {
    scalar_t* data = values.mutable_data_ptr<scalar_t>();
    at::cuda::ThrustAllocator allocator;
    thrust::sort(thrust::cuda::par(allocator).on(stream), data, data + values.numel());
    const auto sorted_on_host = values.cpu();
    const scalar_t* host = sorted_on_host.const_data_ptr<scalar_t>();
    const auto centroids = kmeans1d<scalar_t>({host, static_cast<size_t>(values.numel())}, request.k, request.init,
                                              request.method, static_cast<uint64_t>(seed));
    codebook = at::tensor(centroids, at::dtype(at::kDouble)).to(weight.scalar_type());
    const auto device_bounds = at::tensor(centroid_bounds(codebook), at::dtype(at::kDouble)).to(weight.device());
    const int64_t n = w.numel();
    if (n > 0) {
      assign_nearest_kernel<scalar_t><<<cuda::blocks_for(n), cuda::kThreadsPerBlock, 0, stream>>>(
          indices.mutable_data_ptr<uint8_t>(), w.const_data_ptr<scalar_t>(),
          request.masked ? keep.const_data_ptr<bool>() : nullptr, device_bounds.const_data_ptr<double>(), request.k, n);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    }
  });
  return {codebook.to(weight.device()), indices};
}

}  // namespace

TORCH_LIBRARY_IMPL(deepcomp, CUDA, m) { m.impl("kmeans_quantize", &kmeans_quantize_cuda); }

}  // namespace deepcomp::algorithms
