// Helpers shared by deepcomp's CUDA kernels.
#pragma once

#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>

#include <algorithm>
#include <cstdint>

namespace deepcomp::cuda {

constexpr int kThreadsPerBlock = 256;

// Enough blocks for a grid-stride loop over n elements, capped so huge tensors reuse threads.
inline unsigned int blocks_for(int64_t n) {
  const int64_t wanted = (n + kThreadsPerBlock - 1) / kThreadsPerBlock;
  const int64_t cap = int64_t{32} * at::cuda::getCurrentDeviceProperties()->multiProcessorCount;
  return static_cast<unsigned int>(std::max<int64_t>(1, std::min(wanted, cap)));
}

}  // namespace deepcomp::cuda
