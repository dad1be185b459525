// What deepcomp::nn::SharedLinear and SharedConv2d share: how a dense weight is clustered into a
// codebook. A shared layer's weight is codebook[indices] where mask, else exactly 0; the codebook
// (2^bits centroids, or (groups, 2^bits): one codebook per equal slice of the weight's first
// dimension, see deepcomp/ops.h) is its only weight Parameter, so any optimizer fine-tunes the centroids.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <string>

namespace deepcomp::nn {

// How to cluster (see deepcomp::ops::kmeans_quantize).
struct ClusterOptions {
  std::string init = "linear";  // "linear" | "density" | "random"
  std::string method = "lloyd";  // "lloyd" | "exact"
  int64_t seed = 0;             // for init = "random"
};

// A clustered weight: the codebook (2^bits centroids, or (groups, 2^bits), the weight's dtype), the
// uint8 index of each weight's centroid, and the bool mask (false = pruned, exactly 0), both of the
// weight's shape.
struct SharedWeight {
  torch::Tensor codebook;
  torch::Tensor indices;
  torch::Tensor mask;
};

// `weight`'s kept entries (where `mask`) clustered into 2^bits centroids (deepcomp::ops::kmeans_quantize;
// weighted by `importance` when it is defined). groups > 1: the weight's first dimension is split
// into `groups` runs of slices as even as possible (deepcomp/ops.h), each clustered on its own, into a
// (groups, 2^bits) codebook; groups <= that dimension. A group with nothing kept gets zeros.
SharedWeight cluster_weight(const torch::Tensor& weight, const torch::Tensor& mask, int64_t bits,
                            const ClusterOptions& cluster = {}, const torch::Tensor& importance = {},
                            int64_t groups = 1);

}  // namespace deepcomp::nn
