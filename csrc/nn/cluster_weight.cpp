#include <deepcomp/nn/shared_layer.h>
#include <deepcomp/ops.h>

#include "check.h"

namespace deepcomp::nn {

SharedWeight cluster_weight(const torch::Tensor& weight, const torch::Tensor& mask, int64_t bits,
                            const ClusterOptions& cluster, const torch::Tensor& importance) {
  DEEPCOMP_CHECK_VALUE(mask.sizes() == weight.sizes(), "mask shape ", mask.sizes(), " differs from weight shape ",
                       weight.sizes());
  torch::NoGradGuard no_grad;
  auto [codebook, indices] = ops::kmeans_quantize(weight.detach(), mask, bits, cluster.init, cluster.method,
                                                  cluster.seed,
                                                  importance.defined() ? std::optional(importance) : std::nullopt);
  return {codebook, indices, mask};
}

}  // namespace deepcomp::nn
