// What deepcomp::nn::SharedLinear and SharedConv2d share: how a dense weight is clustered into a
// codebook. A shared layer's weight is codebook[indices] where mask, else exactly 0; the codebook
// (2^bits centroids) is its only weight Parameter, so any optimizer fine-tunes the centroids.
#pragma once

#include <cstdint>
#include <string>

namespace deepcomp::nn {

// How to cluster (see deepcomp::ops::kmeans_quantize).
struct ClusterOptions {
  std::string init = "linear";  // "linear" | "density" | "random"
  std::string method = "lloyd";  // "lloyd" | "exact"
  int64_t seed = 0;             // for init = "random"
};

}  // namespace deepcomp::nn
