// What both shared modules register: the codebook and indices from clustering `weight` where
// `mask`, a copy of the mask, and the bias (undefined "bias" when there is none, as torch does).
#pragma once

#include <deepcomp/nn/shared_layer.h>
#include <deepcomp/ops.h>

#include <torch/nn/module.h>

namespace deepcomp::nn {

template <typename Layer>
void register_shared(Layer& self, const torch::Tensor& weight, const torch::Tensor& mask, const torch::Tensor& bias,
                     int64_t bits, const ClusterOptions& cluster) {
  TORCH_CHECK_VALUE(mask.sizes() == weight.sizes(), self.name(), ": mask shape ", mask.sizes(),
                    " differs from weight shape ", weight.sizes());
  torch::NoGradGuard no_grad;
  auto [codebook, indices] = ops::kmeans_quantize(weight.detach(), mask, bits, cluster.init, cluster.method, cluster.seed);
  self.codebook = self.register_parameter("codebook", codebook);
  self.indices = self.register_buffer("indices", indices);
  self.mask = self.register_buffer("mask", mask.clone());
  self.bias = self.register_parameter("bias", bias, /*requires_grad=*/bias.defined());
}

}  // namespace deepcomp::nn
