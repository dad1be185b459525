#include "algorithms/kmeans1d.h"

#include <c10/util/Exception.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>
#include <queue>
#include <random>
#include <tuple>
#include <unordered_set>

#include "check.h"

namespace deepcomp::algorithms {
namespace {

// Lloyd runs until its clusters stop changing; in 1-D each step is cheap (k galloping searches),
// so this cap is only a guard against cycling on ties.
constexpr int kMaxLloydIterations = 100000;
// The exact DP keeps one split point per (cluster, group): at most this many (128 MiB of int32).
// More distinct values than fit are merged into groups of neighbours (see neighbour_groups()).
constexpr int64_t kMaxDpCells = int64_t{1} << 25;

// Prefix sums of (x - shift) over a sorted sequence, shift the median: a run's size, mean and
// squared error in O(1), in double, without the cancellation of large sums. Over single elements
// (count empty: a run's size is end - begin) or over groups of them, or weighted (count holds the
// groups' sizes or the weights; sum and sum_sq are then weighted too).
struct PrefixSums {
  double shift = 0;
  std::vector<double> count, sum, sum_sq;  // prefix arrays, size m + 1

  int64_t size() const { return static_cast<int64_t>(sum.size()) - 1; }
  double weight(int64_t begin, int64_t end) const {
    return count.empty() ? static_cast<double>(end - begin) : count[end] - count[begin];
  }
  double mean(int64_t begin, int64_t end) const { return shift + (sum[end] - sum[begin]) / weight(begin, end); }
  double squared_error(int64_t begin, int64_t end) const {  // of the elements (groups) [begin, end)
    const double s = sum[end] - sum[begin];
    return std::max(0.0, sum_sq[end] - sum_sq[begin] - s * s / weight(begin, end));
  }
};

// Prefix sums over groups of sorted values, group g being [starts[g], starts[g + 1]); weights: see kmeans1d.
template <typename T>
PrefixSums group_sums(std::span<const T> sorted, const std::vector<int64_t>& starts, std::span<const double> weights) {
  PrefixSums sums;
  sums.shift = sorted[sorted.size() / 2];
  const size_t m = starts.size() - 1;
  sums.count.assign(m + 1, 0);
  sums.sum.assign(m + 1, 0);
  sums.sum_sq.assign(m + 1, 0);
  for (size_t g = 0; g < m; ++g) {
    double w = 0, s = 0, s2 = 0;
    for (int64_t i = starts[g]; i < starts[g + 1]; ++i) {
      const double x = static_cast<double>(sorted[i]) - sums.shift;
      const double weight = weights.empty() ? 1.0 : weights[i];
      w += weight;
      s += weight * x;
      s2 += weight * x * x;
    }
    sums.count[g + 1] = sums.count[g] + w;
    sums.sum[g + 1] = sums.sum[g] + s;
    sums.sum_sq[g + 1] = sums.sum_sq[g] + s2;
  }
  return sums;
}

// Prefix sums over the single values (unweighted: without the count array).
template <typename T>
PrefixSums element_sums(std::span<const T> sorted, std::span<const double> weights) {
  if (!weights.empty()) {
    std::vector<int64_t> each(sorted.size() + 1);
    for (size_t i = 0; i < each.size(); ++i) each[i] = static_cast<int64_t>(i);
    return group_sums(sorted, each, weights);
  }
  PrefixSums sums;
  sums.shift = sorted[sorted.size() / 2];
  sums.sum.assign(sorted.size() + 1, 0);
  sums.sum_sq.assign(sorted.size() + 1, 0);
  for (size_t i = 0; i < sorted.size(); ++i) {
    const double x = static_cast<double>(sorted[i]) - sums.shift;
    sums.sum[i + 1] = sums.sum[i] + x;
    sums.sum_sq[i + 1] = sums.sum_sq[i] + x * x;
  }
  return sums;
}

// Where each run of equal values starts (and n at the end).
template <typename T>
std::vector<int64_t> distinct_runs(std::span<const T> sorted) {
  std::vector<int64_t> starts{0};
  for (size_t i = 1; i < sorted.size(); ++i) {
    if (sorted[i] != sorted[i - 1]) starts.push_back(static_cast<int64_t>(i));
  }
  starts.push_back(static_cast<int64_t>(sorted.size()));
  return starts;
}

// The first index i in [0, n] with sorted[i] >= bound, galloping out from `hint`: between Lloyd
// steps a boundary moves little, so this touches a few cache lines instead of log2(n).
template <typename T>
int64_t first_at_least(std::span<const T> sorted, double bound, int64_t hint) {
  const auto n = static_cast<int64_t>(sorted.size());
  const auto below = [&](int64_t i) { return static_cast<double>(sorted[i]) < bound; };
  int64_t lo = hint, hi = hint;  // the answer lies in [lo, hi]
  int64_t step = 1;
  if (hint < n && below(hint)) {  // right of hint
    lo = hi = hint + 1;
    while (hi < n && below(hi)) lo = hi + 1, hi = std::min(n, lo + step), step *= 2;
  } else {  // hint or left of it
    while (lo > 0 && !below(lo - 1)) hi = lo - 1, lo = std::max<int64_t>(0, hi - step), step *= 2;
  }
  const auto first = std::partition_point(sorted.begin() + lo, sorted.begin() + hi,
                                          [&](T x) { return static_cast<double>(x) < bound; });
  return first - sorted.begin();
}

// Lloyd's iterations on sorted values: cluster j is the run [start[j], start[j + 1]) between the
// midpoints to its neighbours, its new centroid the run's mean. Centroids stay sorted; an empty
// cluster keeps its centroid. Stops when no boundary moves (a fixed point: the same runs give the
// same means).
template <typename T>
void lloyd_iterations(std::span<const T> sorted, const PrefixSums& sums, std::vector<double>& centroids,
                      std::vector<int64_t>& start) {
  const auto k = static_cast<int64_t>(centroids.size());
  for (int iteration = 0; iteration < kMaxLloydIterations; ++iteration) {
    bool moved = iteration == 0;
    for (int64_t j = 1; j < k; ++j) {
      const int64_t first = first_at_least(sorted, 0.5 * (centroids[j - 1] + centroids[j]), start[j]);
      moved |= first != start[j];
      start[j] = first;
    }
    if (!moved) return;
    for (int64_t j = 0; j < k; ++j) {
      if (start[j + 1] > start[j]) centroids[j] = sums.mean(start[j], start[j + 1]);
    }
  }
}

// Gives each empty cluster a use: it splits the cluster with the largest squared error at that
// cluster's mean (scikit-learn relocates empty clusters too). With linear init on heavy-tailed
// weights most centroids start where no weight is; without this they would stay unused. Returns
// whether any centroid moved (then the centroids are the sorted means of the new runs).
template <typename T>
bool fill_empty_clusters(std::span<const T> sorted, const PrefixSums& sums, std::vector<double>& centroids,
                         const std::vector<int64_t>& start) {
  const auto k = static_cast<int64_t>(centroids.size());
  std::priority_queue<std::tuple<double, int64_t, int64_t>> runs;  // (squared error, begin, end)
  std::vector<double> unused;
  for (int64_t j = 0; j < k; ++j) {
    if (start[j + 1] > start[j]) {
      runs.emplace(sums.squared_error(start[j], start[j + 1]), start[j], start[j + 1]);
    } else {
      unused.push_back(centroids[j]);
    }
  }
  bool split = false;
  while (!unused.empty() && std::get<0>(runs.top()) > 0) {
    const auto [error, begin, end] = runs.top();
    runs.pop();
    const int64_t middle = first_at_least(sorted, sums.mean(begin, end), begin);
    if (middle <= begin || middle >= end) {  // rounding put the mean on an end: nothing to split
      runs.emplace(0.0, begin, end);
      continue;
    }
    runs.emplace(sums.squared_error(begin, middle), begin, middle);
    runs.emplace(sums.squared_error(middle, end), middle, end);
    unused.pop_back();
    split = true;
  }
  if (!split) return false;
  centroids = unused;
  for (; !runs.empty(); runs.pop()) centroids.push_back(sums.mean(std::get<1>(runs.top()), std::get<2>(runs.top())));
  std::sort(centroids.begin(), centroids.end());
  return true;
}

// Lloyd's iterations with empty clusters refilled, until neither changes anything. Each round
// lowers the squared error, so this ends; the cap guards against rounding.
template <typename T>
void lloyd(std::span<const T> sorted, std::span<const double> weights, std::vector<double>& centroids) {
  const auto k = static_cast<int64_t>(centroids.size());
  const auto sums = element_sums(sorted, weights);
  std::vector<int64_t> start(k + 1, 0);
  start[k] = static_cast<int64_t>(sorted.size());
  for (int64_t round = 0; round <= 4 * k; ++round) {
    lloyd_iterations(sorted, sums, centroids, start);
    if (!fill_empty_clusters(sorted, sums, centroids, start)) return;
  }
}

// The optimal clustering of the groups of `sums` into k contiguous runs (k < number of groups):
// D[c][j] = min over i of D[c-1][i-1] + error(groups i..j). The best i is monotone in j, so each
// row is solved by divide and conquer in O(m log m). Returns each cluster's mean.
std::vector<double> optimal_runs(const PrefixSums& sums, int64_t k) {
  const int64_t m = sums.size();
  std::vector<double> previous(m), current(m);
  for (int64_t j = 0; j < m; ++j) previous[j] = sums.squared_error(0, j + 1);
  std::vector<int32_t> split(static_cast<size_t>((k - 1) * m));  // first group of cluster c, per j
  for (int64_t c = 1; c < k; ++c) {
    int32_t* row = split.data() + (c - 1) * m;
    const std::function<void(int64_t, int64_t, int64_t, int64_t)> solve = [&](int64_t lo, int64_t hi,
                                                                              int64_t opt_lo, int64_t opt_hi) {
      if (lo > hi) return;
      const int64_t mid = lo + (hi - lo) / 2;
      double best = std::numeric_limits<double>::infinity();
      int64_t best_i = opt_lo;
      for (int64_t i = opt_lo; i <= std::min(mid, opt_hi); ++i) {
        const double cost = previous[i - 1] + sums.squared_error(i, mid + 1);
        if (cost < best) best = cost, best_i = i;
      }
      current[mid] = best;
      row[mid] = static_cast<int32_t>(best_i);
      solve(lo, mid - 1, opt_lo, best_i);
      solve(mid + 1, hi, best_i, opt_hi);
    };
    solve(c, m - 1, c, m - 1);
    previous.swap(current);
  }
  std::vector<double> centroids(k);
  int64_t end = m;  // clusters c..k-1 cover groups [end, m)
  for (int64_t c = k - 1; c >= 1; --c) {
    const int64_t first = split[(c - 1) * m + (end - 1)];
    centroids[c] = sums.mean(first, end);
    end = first;
  }
  centroids[0] = sums.mean(0, end);
  return centroids;
}

// Where groups of neighbouring values start when there are too many distinct values for the DP:
// half the boundaries at equal counts (fine where weights are dense), half at equal widths (fine
// in the sparse tails, where a few large weights would otherwise share one wide group).
template <typename T>
std::vector<int64_t> neighbour_groups(std::span<const T> sorted, int64_t max_groups) {
  const auto n = static_cast<int64_t>(sorted.size());
  const int64_t half = max_groups / 2;
  const double lo = sorted.front(), hi = sorted.back();
  std::vector<int64_t> starts{n};
  for (int64_t g = 0; g < half; ++g) {
    starts.push_back(g * n / half);
    const double bound = lo + (hi - lo) * static_cast<double>(g) / static_cast<double>(half);
    starts.push_back(first_at_least(sorted, bound, g * n / half));
  }
  std::sort(starts.begin(), starts.end());
  starts.erase(std::unique(starts.begin(), starts.end()), starts.end());
  return starts;
}

// Exact when the distinct values fit the DP's memory; beyond that, the DP runs over groups of
// neighbouring values (optimal among clusterings that keep groups whole), and Lloyd's iterations
// then refine on the individual values.
template <typename T>
std::vector<double> exact(std::span<const T> sorted, std::span<const double> weights, const std::vector<int64_t>& runs,
                          int64_t k) {
  const int64_t max_groups = kMaxDpCells / (k - 1);
  const bool fits = static_cast<int64_t>(runs.size()) - 1 <= max_groups;
  auto centroids = optimal_runs(group_sums(sorted, fits ? runs : neighbour_groups(sorted, max_groups), weights), k);
  lloyd(sorted, weights, centroids);
  return centroids;
}

// A draw in [0, bound) from one 64-bit word (Lemire's multiply-shift): the same on every platform,
// unlike std::uniform_int_distribution.
uint64_t below(uint64_t word, uint64_t bound) {
  return static_cast<uint64_t>((static_cast<unsigned __int128>(word) * bound) >> 64);
}

template <typename T>
std::vector<double> initial_codebook(std::span<const T> sorted, std::span<const double> weights, int64_t k,
                                     CodebookInit init, uint64_t seed) {
  const auto n = static_cast<int64_t>(sorted.size());
  std::vector<double> centroids(k);
  switch (init) {
    case CodebookInit::linear: {
      const double lo = sorted.front(), hi = sorted.back();
      for (int64_t j = 0; j < k; ++j) centroids[j] = lo + (hi - lo) * static_cast<double>(j) / static_cast<double>(k - 1);
      break;
    }
    case CodebookInit::density:
      if (weights.empty()) {
        for (int64_t j = 0; j < k; ++j) centroids[j] = sorted[std::min(n - 1, (2 * j + 1) * n / (2 * k))];
      } else {  // the (2j + 1) / 2k quantiles of the weights' distribution
        std::vector<double> cumulative(weights.begin(), weights.end());
        std::partial_sum(cumulative.begin(), cumulative.end(), cumulative.begin());
        for (int64_t j = 0; j < k; ++j) {
          const double target = cumulative.back() * static_cast<double>(2 * j + 1) / static_cast<double>(2 * k);
          const auto at = std::upper_bound(cumulative.begin(), cumulative.end(), target) - cumulative.begin();
          centroids[j] = sorted[std::min<int64_t>(n - 1, at)];
        }
      }
      break;
    case CodebookInit::random: {
      // Floyd's sampling of k distinct positions of the sorted values: independent of the order
      // of the weights in the layer, so the same weights give the same codebook.
      std::mt19937_64 engine(seed);
      std::unordered_set<int64_t> picked;
      for (int64_t j = n - k; j < n; ++j) {
        const auto t = static_cast<int64_t>(below(engine(), static_cast<uint64_t>(j + 1)));
        picked.insert(picked.contains(t) ? j : t);
      }
      std::vector<int64_t> positions(picked.begin(), picked.end());
      std::sort(positions.begin(), positions.end());
      for (int64_t j = 0; j < k; ++j) centroids[j] = sorted[positions[j]];
      break;
    }
  }
  return centroids;
}

}  // namespace

CodebookInit parse_codebook_init(const std::string& name) {
  if (name == "linear") return CodebookInit::linear;
  if (name == "density") return CodebookInit::density;
  if (name == "random") return CodebookInit::random;
  DEEPCOMP_THROW(ValueError, "unknown codebook init '" + name + "'; use 'linear', 'density' or 'random'");
}

KMeansMethod parse_kmeans_method(const std::string& name) {
  if (name == "lloyd") return KMeansMethod::lloyd;
  if (name == "exact") return KMeansMethod::exact;
  DEEPCOMP_THROW(ValueError, "unknown k-means method '" + name + "'; use 'lloyd' or 'exact'");
}

template <typename T>
std::vector<double> kmeans1d(std::span<const T> sorted, int64_t k, CodebookInit init, KMeansMethod method,
                             uint64_t seed, std::span<const double> weights) {
  DEEPCOMP_CHECK_VALUE(k >= 2, "k-means needs k >= 2 centroids, got ", k);
  DEEPCOMP_CHECK_VALUE(weights.empty() || weights.size() == sorted.size(), "k-means: ", weights.size(),
                       " weights for ", sorted.size(), " values");
  if (sorted.empty()) return std::vector<double>(k, 0.0);
  const auto runs = distinct_runs(sorted);
  if (static_cast<int64_t>(runs.size()) - 1 <= k) {  // one centroid per distinct value; the rest repeat the last
    std::vector<double> centroids(k, static_cast<double>(sorted.back()));
    for (size_t r = 0; r + 1 < runs.size(); ++r) centroids[r] = sorted[runs[r]];
    return centroids;
  }
  if (method == KMeansMethod::exact) return exact(sorted, weights, runs, k);
  auto centroids = initial_codebook(sorted, weights, k, init, seed);
  lloyd(sorted, weights, centroids);
  return centroids;
}

template std::vector<double> kmeans1d<float>(std::span<const float>, int64_t, CodebookInit, KMeansMethod, uint64_t,
                                             std::span<const double>);
template std::vector<double> kmeans1d<double>(std::span<const double>, int64_t, CodebookInit, KMeansMethod, uint64_t,
                                              std::span<const double>);

}  // namespace deepcomp::algorithms
