// The kmeans_quantize op (Deep Compression, stage 2): a layer's codebook and the index of every
// weight's nearest centroid. Registered as a composite kernel, so tensors on any device are clustered
// here on the CPU; CUDA tensors have their own kernel (cuda/kmeans_quantize.cu).
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "algorithms/kmeans1d.h"
#include "algorithms/kmeans_quantize.h"
#include "algorithms/radix_sort.h"

namespace deepcomp::ops {
namespace {

using algorithms::centroid_bounds, algorithms::check_all_finite, algorithms::check_kmeans_quantize,
    algorithms::checked_importance;
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

// The kept values in ascending order with their importance in the same order.
template <typename T>
std::pair<std::vector<T>, std::vector<double>> sorted_with_importance(const at::Tensor& values,
                                                                      const at::Tensor& importance) {
  const T* v = values.const_data_ptr<T>();
  const double* w = importance.const_data_ptr<double>();
  std::vector<int64_t> order(values.numel());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return v[a] < v[b]; });
  std::pair<std::vector<T>, std::vector<double>> sorted;
  sorted.first.reserve(order.size());
  sorted.second.reserve(order.size());
  for (const int64_t i : order) sorted.first.push_back(v[i]), sorted.second.push_back(w[i]);
  return sorted;
}

std::tuple<at::Tensor, at::Tensor> kmeans_quantize(const at::Tensor& weight, const std::optional<at::Tensor>& mask,
                                                   int64_t bits, c10::string_view init, c10::string_view method,
                                                   int64_t seed, const std::optional<at::Tensor>& importance) {
  const auto request = check_kmeans_quantize(weight, mask, bits, init, method, seed);
  const auto w = weight.detach().to(at::kCPU, request.work_type).contiguous();
  const auto keep = request.masked ? mask->to(at::kCPU).contiguous() : at::Tensor();
  const auto values = request.masked ? w.masked_select(keep) : w.view({-1});
  const bool weighted = importance.has_value() && importance->defined();
  const auto kept_importance = weighted ? checked_importance(*importance, weight, keep) : at::Tensor();
  auto indices = at::empty(weight.sizes(), weight.options().device(at::kCPU).dtype(at::kByte));
  at::Tensor codebook;
  AT_DISPATCH_FLOATING_TYPES(request.work_type, "kmeans_quantize", [&] {
    const scalar_t* v = values.const_data_ptr<scalar_t>();
    int64_t non_finite = 0;
    for (int64_t i = 0; i < values.numel(); ++i) non_finite += !std::isfinite(v[i]);
    check_all_finite(non_finite, values.numel(), request.masked);
    std::vector<double> centroids;
    if (weighted) {
      const auto [sorted, weights] = sorted_with_importance<scalar_t>(values, kept_importance);
      centroids = kmeans1d<scalar_t>(sorted, request.k, request.init, request.method, static_cast<uint64_t>(seed),
                                     weights);
    } else {
      centroids = kmeans1d<scalar_t>(radix_sorted(v, values.numel()), request.k, request.init, request.method,
                                     static_cast<uint64_t>(seed));
    }
    codebook = at::tensor(centroids, at::dtype(at::kDouble)).to(weight.scalar_type());
    assign_nearest(w.const_data_ptr<scalar_t>(), request.masked ? keep.const_data_ptr<bool>() : nullptr, w.numel(),
                   codebook, indices.mutable_data_ptr<uint8_t>());
  });
  return {codebook.to(weight.device()), indices.to(weight.device())};
}

}  // namespace

TORCH_LIBRARY_IMPL(deepcomp, CompositeExplicitAutograd, m) { m.impl("kmeans_quantize", &kmeans_quantize); }

}  // namespace deepcomp::ops
