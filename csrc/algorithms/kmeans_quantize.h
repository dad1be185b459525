// What the CPU and CUDA kernels of kmeans_quantize share: the checked arguments and the errors.
#pragma once

#include <ATen/ATen.h>

#include "algorithms/kmeans1d.h"

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

}  // namespace deepcomp::algorithms
