// A torch layer's bias, undefined where it has none (Embedding) or was built without one.
#pragma once

#include <torch/types.h>

namespace deepcomp::nn {

template <typename Layer>
torch::Tensor bias_of(const Layer& layer) {
  if constexpr (requires { layer.bias; }) {
    return layer.bias;
  } else {
    return {};
  }
}

}  // namespace deepcomp::nn
