#include "helpers.h"
#include <deepcomp/ops.h>

#include <algorithm>
#include <limits>

namespace {

using deepcomp::testing::relative_error;

// Σ (value − its centroid)² in double.
double squared_error(const torch::Tensor& values, const torch::Tensor& codebook, const torch::Tensor& indices) {
  const auto decoded = codebook.to(torch::kDouble).index_select(0, indices.flatten().to(torch::kLong));
  return (values.flatten().to(torch::kDouble) - decoded).pow(2).sum().item<double>();
}

// The least (importance-weighted) squared error over every split of the sorted values into k contiguous runs.
double brute_force_optimum(const torch::Tensor& values, int64_t k, const torch::Tensor& importance = {}) {
  const auto [sorted, order] = values.to(torch::kDouble).sort();
  const auto weights = importance.defined() ? importance.to(torch::kDouble).index_select(0, order).contiguous()
                                            : torch::ones_like(sorted);
  const std::vector<double> x(sorted.data_ptr<double>(), sorted.data_ptr<double>() + sorted.numel());
  const std::vector<double> w(weights.data_ptr<double>(), weights.data_ptr<double>() + weights.numel());
  const auto n = static_cast<int64_t>(x.size());
  double best = std::numeric_limits<double>::infinity();
  std::vector<int64_t> cuts(k - 1);
  for (int64_t i = 0; i < k - 1; ++i) cuts[i] = i + 1;
  while (true) {
    double error = 0;
    int64_t begin = 0;
    for (int64_t c = 0; c < k; ++c) {
      const int64_t end = c < k - 1 ? cuts[c] : n;
      double mean = 0, total = 0;
      for (int64_t i = begin; i < end; ++i) mean += w[i] * x[i], total += w[i];
      mean /= total;
      for (int64_t i = begin; i < end; ++i) error += w[i] * (x[i] - mean) * (x[i] - mean);
      begin = end;
    }
    best = std::min(best, error);
    int64_t j = k - 2;  // next combination of cuts in 1..n-1
    while (j >= 0 && cuts[j] == n - (k - 1 - j)) --j;
    if (j < 0) break;
    ++cuts[j];
    for (int64_t i = j + 1; i < k - 1; ++i) cuts[i] = cuts[i - 1] + 1;
  }
  return best;
}

torch::Tensor heavy_tailed(int64_t n) {
  return 0.02 * torch::randn({n}) / (torch::randn({3, n}).pow(2).sum(0) / 3).sqrt();
}

}  // namespace

TEST_CASE("exact k-means matches brute force on small inputs", "[algorithms][kmeans]") {
  torch::manual_seed(10);
  for (int trial = 0; trial < 5; ++trial) {
    const auto values = heavy_tailed(13).to(torch::kDouble);
    const auto [codebook, indices] = deepcomp::ops::kmeans_quantize(values, std::nullopt, 2, "linear", "exact");
    CHECK(squared_error(values, codebook, indices) == Approx(brute_force_optimum(values, 4)).epsilon(1e-9));
  }
}

TEST_CASE("k-means assigns every kept weight its nearest centroid", "[algorithms][kmeans]") {
  torch::manual_seed(11);
  const auto weight = heavy_tailed(6000).reshape({60, 100});
  const auto mask = deepcomp::testing::random_mask({60, 100}, 0.6);
  for (const char* init : {"linear", "density", "random"}) {
    const auto [codebook, indices] = deepcomp::ops::kmeans_quantize(weight, mask, 5, init);
    REQUIRE(codebook.numel() == 32);
    const auto kept = weight.masked_select(mask).to(torch::kDouble).unsqueeze(1);
    const auto distance = (kept - codebook.to(torch::kDouble).unsqueeze(0)).abs();
    const auto mine = distance.gather(1, indices.masked_select(mask).to(torch::kLong).unsqueeze(1)).squeeze(1);
    CHECK((mine <= std::get<0>(distance.min(1)) + 1e-12).all().item<bool>());
    CHECK((indices.masked_select(~mask) == 0).all().item<bool>());
  }
}

TEST_CASE("k-means edge cases: few distinct values, all pruned, bad input", "[algorithms][kmeans][errors]") {
  const auto few = torch::tensor({0.5f, -1.0f, 0.5f, 2.0f}).repeat({5});
  const auto [codebook, indices] = deepcomp::ops::kmeans_quantize(few, std::nullopt, 4);
  CHECK(squared_error(few, codebook, indices) == 0);
  const auto [empty_codebook, empty_indices] =
      deepcomp::ops::kmeans_quantize(torch::randn({3, 3}), torch::zeros({3, 3}, torch::kBool), 2);
  CHECK(empty_codebook.numel() == 4);
  CHECK((empty_indices == 0).all().item<bool>());
  CHECK_THROWS_WITH(deepcomp::ops::kmeans_quantize(torch::randn({8}), std::nullopt, 9),
                    Catch::Contains("bits must be in 1..8"));
  CHECK_THROWS_WITH(deepcomp::ops::kmeans_quantize(torch::randn({8}), std::nullopt, 3, "fancy"),
                    Catch::Contains("unknown codebook init 'fancy'"));
  auto bad = torch::randn({8});
  bad[3] = std::numeric_limits<float>::infinity();
  CHECK_THROWS_WITH(deepcomp::ops::kmeans_quantize(bad, std::nullopt, 3), Catch::Contains("NaN/Inf"));
}

TEST_CASE("importance of ones is plain k-means, bit for bit", "[algorithms][kmeans]") {
  torch::manual_seed(31);
  const auto weight = heavy_tailed(3000).view({60, 50});
  const auto mask = deepcomp::testing::random_mask({60, 50}, 0.4);
  for (const auto* init : {"linear", "density", "random"}) {
    for (const auto* method : {"lloyd", "exact"}) {
      const auto [codebook, indices] = deepcomp::ops::kmeans_quantize(weight, mask, 4, init, method, 7);
      const auto [weighted, weighted_indices] =
          deepcomp::ops::kmeans_quantize(weight, mask, 4, init, method, 7, torch::ones({1, 50}));
      CHECK(torch::equal(codebook, weighted));
      CHECK(torch::equal(indices, weighted_indices));
    }
  }
}

TEST_CASE("weighted exact k-means matches brute force of the weighted error", "[algorithms][kmeans]") {
  torch::manual_seed(32);
  for (int trial = 0; trial < 20; ++trial) {
    const auto values = torch::randn({10}, torch::kDouble);
    const auto importance = torch::rand({10}, torch::kDouble) * 10 + 0.1;
    const auto [codebook, indices] = deepcomp::ops::kmeans_quantize(values, std::nullopt, 2, "linear", "exact", 0,
                                                                    importance);
    const auto decoded = codebook.index_select(0, indices.to(torch::kLong));
    const double error = (importance * (values - decoded).pow(2)).sum().item<double>();
    CHECK(error == Approx(brute_force_optimum(values, 4, importance)).epsilon(1e-9));
  }
}

TEST_CASE("an integer importance weighs a value as that many copies of it", "[algorithms][kmeans]") {
  torch::manual_seed(33);
  const auto values = torch::randn({200}, torch::kDouble);
  const auto copies = torch::randint(1, 4, {200}, torch::kLong);
  const auto repeated = values.repeat_interleave(copies);
  for (const auto* method : {"lloyd", "exact"}) {
    const auto weighted = std::get<0>(
        deepcomp::ops::kmeans_quantize(values, std::nullopt, 3, "linear", method, 0, copies.to(torch::kDouble)));
    const auto plain = std::get<0>(deepcomp::ops::kmeans_quantize(repeated, std::nullopt, 3, "linear", method));
    CHECK(relative_error(weighted, plain) < 1e-12);
  }
}

TEST_CASE("kmeans_quantize checks its importance", "[algorithms][kmeans][errors]") {
  const auto weight = torch::randn({4, 6});
  CHECK_THROWS_WITH(deepcomp::ops::kmeans_quantize(weight, std::nullopt, 2, "linear", "lloyd", 0, torch::ones({5})),
                    Catch::Contains("does not broadcast"));
  CHECK_THROWS_WITH(deepcomp::ops::kmeans_quantize(weight, std::nullopt, 2, "linear", "lloyd", 0, -torch::ones({6})),
                    Catch::Contains("finite and >= 0"));
  CHECK_THROWS_WITH(deepcomp::ops::kmeans_quantize(weight, std::nullopt, 2, "linear", "lloyd", 0,
                                                   torch::full({4, 1}, std::numeric_limits<float>::quiet_NaN())),
                    Catch::Contains("finite and >= 0"));
  // zero importance everywhere weighs nothing: plain k-means
  CHECK(torch::equal(std::get<0>(deepcomp::ops::kmeans_quantize(weight, std::nullopt, 2, "linear", "lloyd", 0,
                                                                torch::zeros({1}))),
                     std::get<0>(deepcomp::ops::kmeans_quantize(weight, std::nullopt, 2))));
}
