// The kmeans_quantize op (Deep Compression, stage 2): a layer's codebook and the index of every
// weight's nearest centroid. Registered as a composite kernel, so tensors on any device are clustered
// here on the CPU; CUDA tensors have their own kernel (cuda/kmeans_quantize.cu).
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <cmath>

#include "algorithms/kmeans1d.h"
#include "algorithms/kmeans_quantize.h"
#include "algorithms/radix_sort.h"

namespace deepcomp::ops {
namespace {

using algorithms::centroid_bounds, algorithms::check_all_finite, algorithms::check_kmeans_quantize;
using algorithms::kmeans1d, algorithms::nearest_centroid, algorithms::radix_sorted;

// Index of the nearest centroid of each kept weight (0 for pruned ones).
template <typename T>
void assign_nearest(const T* weight, const bool* keep, int64_t n, const at::Tensor& codebook, uint8_t* indices) {
  const auto bound = centroid_bounds(codebook);
  const int64_t k = codebook.numel();
  at::parallel_for(0, n, 1 << 14, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const int64_t index = nearest_centroid(static_cast<double>(weight[i]), bound.data(), k);
      indices[i] = (keep == nullptr || keep[i]) ? static_cast<uint8_t>(index) : 0;
    }
  });
}

std::tuple<at::Tensor, at::Tensor> kmeans_quantize(const at::Tensor& weight, const std::optional<at::Tensor>& mask,
                                                   int64_t bits, c10::string_view init, c10::string_view method,
                                                   int64_t seed) {
  const auto request = check_kmeans_quantize(weight, mask, bits, init, method, seed);
  const auto w = weight.detach().to(at::kCPU, request.work_type).contiguous();
  const auto keep = request.masked ? mask->to(at::kCPU).contiguous() : at::Tensor();
  const auto values = request.masked ? w.masked_select(keep) : w.view({-1});
  auto indices = at::empty(weight.sizes(), weight.options().device(at::kCPU).dtype(at::kByte));
  at::Tensor codebook;
  AT_DISPATCH_FLOATING_TYPES(request.work_type, "kmeans_quantize", [&] {
    const scalar_t* v = values.const_data_ptr<scalar_t>();
    int64_t non_finite = 0;
    for (int64_t i = 0; i < values.numel(); ++i) non_finite += !std::isfinite(v[i]);
    check_all_finite(non_finite, values.numel(), request.masked);
    const auto centroids = kmeans1d<scalar_t>(radix_sorted(v, values.numel()), request.k, request.init, request.method,
                                              static_cast<uint64_t>(seed));
    codebook = at::tensor(centroids, at::dtype(at::kDouble)).to(weight.scalar_type());
    assign_nearest(w.const_data_ptr<scalar_t>(), request.masked ? keep.const_data_ptr<bool>() : nullptr, w.numel(),
                   codebook, indices.mutable_data_ptr<uint8_t>());
  });
  return {codebook.to(weight.device()), indices.to(weight.device())};
}

}  // namespace

TORCH_LIBRARY_IMPL(deepcomp, CompositeExplicitAutograd, m) { m.impl("kmeans_quantize", &kmeans_quantize); }

}  // namespace deepcomp::ops
