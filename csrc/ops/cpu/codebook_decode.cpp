// CPU kernel of codebook_decode: a shared layer's dense weight, codebook[indices] where mask.
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <atomic>

#include "ops/codebook_entry.h"

namespace deepcomp::ops {
namespace {

bool codebook_decode_into_cpu(at::Tensor& weight, const at::Tensor& indices, const at::Tensor& mask,
                              const at::Tensor& codebook) {
  const int64_t n = indices.numel(), k = codebook.numel();
  const uint8_t* index = indices.const_data_ptr<uint8_t>();
  const bool* keep = mask.const_data_ptr<bool>();
  std::atomic<bool> in_range{true};
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, codebook.scalar_type(), "codebook_decode_cpu", [&] {
    const scalar_t* centroid = codebook.const_data_ptr<scalar_t>();
    scalar_t* w = weight.mutable_data_ptr<scalar_t>();
    at::parallel_for(0, n, at::internal::GRAIN_SIZE, [&](int64_t begin, int64_t end) {
      uint8_t largest = 0;
      for (int64_t i = begin; i < end; ++i) {
        largest = std::max(largest, index[i]);
        w[i] = keep[i] ? centroid[std::min<int64_t>(index[i], k - 1)] : scalar_t(0);
      }
      if (largest >= k) in_range = false;
    });
  });
  return in_range;
}

}  // namespace

TORCH_LIBRARY_IMPL(deepcomp, CPU, m) { m.impl("codebook_decode", &codebook_decode_entry<codebook_decode_into_cpu>); }

}  // namespace deepcomp::ops
