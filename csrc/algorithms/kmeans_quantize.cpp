// What the CPU and CUDA kernels of kmeans_quantize share (algorithms/kmeans_quantize.h): argument
// checks, the errors, and the centroid bounds of the nearest-centroid search.
#include "algorithms/kmeans_quantize.h"

#include <ATen/ATen.h>
#include <deepcomp/constants.h>

#include <limits>

#include "check.h"
#include "ops/checks.h"

namespace deepcomp::algorithms {

KMeansRequest check_kmeans_quantize(const at::Tensor& weight, const std::optional<at::Tensor>& mask, int64_t bits,
                                    c10::string_view init, c10::string_view method, int64_t seed) {
  DEEPCOMP_CHECK_VALUE(bits >= kMinBits && bits <= kMaxBits, "kmeans_quantize: bits must be in ", kMinBits, "..",
                       kMaxBits, " (a codebook of 2^bits centroids, uint8 indices), got ", bits);
  DEEPCOMP_CHECK_VALUE(seed >= 0, "kmeans_quantize: seed must be >= 0, got ", seed);
  DEEPCOMP_CHECK(weight.is_floating_point(), "kmeans_quantize: weight must be a floating-point tensor, got ",
                 weight.scalar_type());
  const bool masked = mask.has_value() && mask->defined();
  if (masked) ops::check_weight_and_mask("kmeans_quantize", weight, *mask);
  return {int64_t{1} << bits, parse_codebook_init(std::string(init)), parse_kmeans_method(std::string(method)),
          masked, weight.scalar_type() == at::kDouble ? at::kDouble : at::kFloat};
}

std::vector<double> centroid_bounds(const at::Tensor& codebook) {
  const auto centroids = codebook.to(at::kCPU, at::kDouble).contiguous();
  const double* c = centroids.const_data_ptr<double>();
  std::vector<double> bound(codebook.numel(), -std::numeric_limits<double>::infinity());
  for (size_t j = 1; j < bound.size(); ++j) bound[j] = 0.5 * (c[j - 1] + c[j]);
  return bound;
}

at::Tensor checked_importance(const at::Tensor& importance, const at::Tensor& weight, const at::Tensor& keep) {
  DEEPCOMP_CHECK_VALUE(importance.is_floating_point(), "kmeans_quantize: importance must be floating point, got ",
                       importance.scalar_type());
  DEEPCOMP_CHECK_VALUE(at::is_expandable_to(importance.sizes(), weight.sizes()), "kmeans_quantize: importance of shape ",
                       importance.sizes(), " does not broadcast to the weight's ", weight.sizes());
  const auto all = importance.detach().to(at::kCPU, at::kDouble).expand(weight.sizes());
  auto kept = (keep.defined() ? all.masked_select(keep) : all.reshape({-1})).contiguous();
  DEEPCOMP_CHECK_VALUE(at::isfinite(kept).all().item<bool>() && (kept >= 0).all().item<bool>(),
                       "kmeans_quantize: importance must be finite and >= 0");
  if (kept.numel() == 0) return kept;
  const double floor = 1e-6 * kept.mean().item<double>();
  return floor > 0 ? kept.clamp_min(floor) : at::ones_like(kept);  // all zero: nothing to weigh by
}

void check_all_finite(int64_t non_finite, int64_t values, bool masked) {
  DEEPCOMP_CHECK_VALUE(non_finite == 0, "kmeans_quantize: the weights hold ", non_finite, " NaN/Inf value(s) among ",
                       values, masked ? " unpruned" : "", "; k-means needs finite weights");
}

}  // namespace deepcomp::algorithms
