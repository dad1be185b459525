// The one include of every Catch2 test: LibTorch, Catch2, random inputs (never zeros), relative error.
#pragma once

#include <torch/torch.h>
// c10's logging defines a glog-style CHECK(condition); the tests mean Catch2's.
#undef CHECK
#include <catch2/catch.hpp>

namespace deepcomp::testing {

// A bool mask of `shape` with about `keep` of the entries true.
inline torch::Tensor random_mask(at::IntArrayRef shape, double keep = 0.5) {
  return torch::rand(shape) < keep;
}

// ‖a − b‖ / ‖b‖ in float64 (0 when both are empty or zero).
inline double relative_error(const torch::Tensor& a, const torch::Tensor& b) {
  const auto denom = b.to(torch::kDouble).norm().item<double>();
  const auto diff = (a.to(torch::kDouble) - b.to(torch::kDouble)).norm().item<double>();
  return denom == 0 ? diff : diff / denom;
}

}  // namespace deepcomp::testing
