// Helpers shared by deepcomp's CUDA kernels.
#pragma once

#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>

#include <algorithm>
#include <cstdint>

namespace deepcomp::cuda {

constexpr int kThreadsPerBlock = 256;
constexpr int kWarpSize = 32;
constexpr int kWarpsPerBlock = kThreadsPerBlock / kWarpSize;

// Enough blocks for a grid-stride loop over n elements, capped so huge tensors reuse threads.
inline unsigned int blocks_for(int64_t n) {
  const int64_t wanted = (n + kThreadsPerBlock - 1) / kThreadsPerBlock;
  const int64_t cap = int64_t{32} * at::cuda::getCurrentDeviceProperties()->multiProcessorCount;
  return static_cast<unsigned int>(std::max<int64_t>(1, std::min(wanted, cap)));
}

// Kernels that give each output row to one warp: this thread's lane, and its warp's row.
struct WarpRow {
  int lane;
  int64_t row;
};

__device__ inline WarpRow warp_row() {
  return {static_cast<int>(threadIdx.x % kWarpSize), int64_t{blockIdx.x} * kWarpsPerBlock + threadIdx.x / kWarpSize};
}

inline unsigned int blocks_for_rows(int64_t rows) {
  return static_cast<unsigned int>((rows + kWarpsPerBlock - 1) / kWarpsPerBlock);
}

// The sum of `value` over the warp, in every lane (all 32 lanes must call it).
template <typename T>
__device__ T warp_sum(T value) {
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) value += __shfl_xor_sync(0xffffffffu, value, offset);
  return value;
}

}  // namespace deepcomp::cuda
