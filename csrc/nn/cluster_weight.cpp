#include <deepcomp/nn/shared_layer.h>
#include <deepcomp/ops.h>

#include <vector>

#include "check.h"
#include "ops/codebook_layout.h"

namespace deepcomp::nn {

SharedWeight cluster_weight(const torch::Tensor& weight, const torch::Tensor& mask, int64_t bits,
                            const ClusterOptions& cluster, const torch::Tensor& importance, int64_t groups) {
  DEEPCOMP_CHECK_VALUE(mask.sizes() == weight.sizes(), "mask shape ", mask.sizes(), " differs from weight shape ",
                       weight.sizes());
  DEEPCOMP_CHECK_VALUE(groups == 1 || (groups >= 1 && weight.dim() >= 1 && groups <= weight.size(0)),
                       "cannot split the weight's first dimension (shape ", weight.sizes(), ") into ", groups,
                       " codebook groups");
  torch::NoGradGuard no_grad;
  const auto clustered = [&](const torch::Tensor& w, const torch::Tensor& m, const torch::Tensor& i) {
    return ops::kmeans_quantize(w.detach(), m, bits, cluster.init, cluster.method, cluster.seed,
                                i.defined() ? std::optional(i) : std::nullopt);
  };
  if (groups == 1) {
    auto [codebook, indices] = clustered(weight, mask, importance);
    return {codebook, indices, mask};
  }
  const int64_t rows = weight.size(0);
  const auto each_importance = importance.defined() ? importance.expand(weight.sizes()) : torch::Tensor();
  std::vector<torch::Tensor> codebooks, indices;
  for (int64_t group = 0; group < groups; ++group) {
    const int64_t first = ops::group_start(group, groups, rows), last = ops::group_start(group + 1, groups, rows);
    const auto slice = [&](const torch::Tensor& t) { return t.defined() ? t.narrow(0, first, last - first) : t; };
    auto [codebook, index] = clustered(slice(weight), slice(mask), slice(each_importance));
    codebooks.push_back(codebook);
    indices.push_back(index);
  }
  return {torch::stack(codebooks), torch::cat(indices), mask};
}

}  // namespace deepcomp::nn
