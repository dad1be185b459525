// What both masked modules register: their weight, bias (an undefined "bias" when there is none,
// as torch::nn::Linear and Conv2d do) and an all-true mask of the weight's shape.
#pragma once

#include <torch/nn/module.h>

namespace deepcomp::nn {

template <typename Layer>
void register_masked(Layer& self, const torch::Tensor& weight, const torch::Tensor& bias) {
  self.weight = self.register_parameter("weight", weight);
  self.bias = self.register_parameter("bias", bias, /*requires_grad=*/bias.defined());
  self.mask = self.register_buffer("mask", torch::ones_like(weight, torch::kBool));
}

}  // namespace deepcomp::nn
