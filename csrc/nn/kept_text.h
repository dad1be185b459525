// "kept=K/N": what the masked and shared twins print of their mask.
#pragma once

#include <torch/types.h>

#include <string>

namespace deepcomp::nn {

inline std::string kept_text(const torch::Tensor& mask) {
  return "kept=" + std::to_string(mask.sum().item<int64_t>()) + "/" + std::to_string(mask.numel());
}

}  // namespace deepcomp::nn
