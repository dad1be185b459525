// 1-D k-means over sorted values: the clustering of trained quantization (Deep Compression, stage 2).
// Sorted once, the values are split into k contiguous runs; with prefix sums a Lloyd step costs
// O(k log n) instead of O(n k), and the exact optimum is a dynamic programme over the runs.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace deepcomp::algorithms {

enum class CodebookInit {
  linear,   // evenly spaced between min and max: keeps the rare large weights (the paper's best)
  density,  // evenly spaced in the CDF: centroids where the weights are dense
  random,   // Forgy: k distinct weights drawn with the seed
};

enum class KMeansMethod {
  lloyd,  // Lloyd's iterations from the initial codebook until the clusters stop changing
  exact,  // the least within-cluster squared error, by dynamic programming (see kmeans1d.cpp)
};

// Parses "linear" | "density" | "random" and "lloyd" | "exact"; c10::ValueError otherwise.
CodebookInit parse_codebook_init(const std::string& name);
KMeansMethod parse_kmeans_method(const std::string& name);

// k centroids (ascending; duplicates only when fewer than k distinct values exist, or for
// clusters that ended up empty) for `sorted`, which is ascending and finite. Deterministic for
// a given seed. Every distinct value gets its own centroid when there are at most k of them.
// `weights` (empty: all 1; else one > 0 per value, in the same order) make it weighted k-means: the
// least sum of weight × squared error, each centroid its cluster's weighted mean, density init's
// quantiles those of the weights.
template <typename T>
std::vector<double> kmeans1d(std::span<const T> sorted, int64_t k, CodebookInit init, KMeansMethod method,
                             uint64_t seed, std::span<const double> weights = {});

}  // namespace deepcomp::algorithms
