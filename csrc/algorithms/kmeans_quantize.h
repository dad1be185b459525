// What the CPU and CUDA kernels of kmeans_quantize share: the checked arguments and the errors.
#pragma once

#include <ATen/ATen.h>

#include <vector>

#include "algorithms/kmeans1d.h"

#if defined(__CUDACC__)
#define DEEPCOMP_HOST_DEVICE __host__ __device__
#else
#define DEEPCOMP_HOST_DEVICE
#endif

namespace deepcomp::algorithms {

struct KMeansRequest {
  int64_t k;
  CodebookInit init;
  KMeansMethod method;
  bool masked;
  at::ScalarType work_type;  // float64 weights are clustered in double, every other type in float
};

// Raises c10::ValueError (or c10::Error for tensor mismatches) naming the bad argument.
KMeansRequest check_kmeans_quantize(const at::Tensor& weight, const std::optional<at::Tensor>& mask, int64_t bits,
                                    c10::string_view init, c10::string_view method, int64_t seed);

// Raises c10::ValueError when the values to cluster hold NaN or Inf.
void check_all_finite(int64_t non_finite, int64_t values, bool masked);

// The importance of each kept weight (keep undefined: all), float64 on the CPU in the weight's
// order, floored at 1e-6 of their mean (see ops::kmeans_quantize). c10::ValueError for an importance
// that is not broadcastable to the weight, negative, NaN or Inf.
at::Tensor checked_importance(const at::Tensor& importance, const at::Tensor& weight, const at::Tensor& keep);

// Between the k = 2^bits ascending centroids of `codebook`, as its dtype holds them: bound[0] = -inf,
// bound[j] = the midpoint of centroids j - 1 and j.
std::vector<double> centroid_bounds(const at::Tensor& codebook);

// The index of the centroid nearest to x: how many of bound[1..k) are <= x (a branch-free binary search).
DEEPCOMP_HOST_DEVICE inline int64_t nearest_centroid(double x, const double* bound, int64_t k) {
  int64_t index = 0;
  for (int64_t step = k / 2; step > 0; step /= 2) index += x >= bound[index + step] ? step : 0;
  return index;
}

}  // namespace deepcomp::algorithms
