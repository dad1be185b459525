// Catching unwritten outputs: fills `bytes` of the CUDA caching allocator's memory with NaN and frees
// it, so the outputs an op allocates next (of at most that size) start as NaN, not as whatever an
// earlier test left there, which could be the right answer.
#pragma once

#include "../helpers.h"

namespace deepcomp::testing {

inline void poison_cuda_memory(int64_t bytes) {
  torch::full({(bytes + 3) / 4}, std::numeric_limits<float>::quiet_NaN(), torch::kCUDA);
  torch::cuda::synchronize();
}

}  // namespace deepcomp::testing
