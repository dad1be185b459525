// shared_linear (forward and backward), shared_conv2d and compressed_linear with per-group
// codebooks against torch's linear / conv2d on the decoded weight and the per-slice reduction.
#include <deepcomp/ops.h>

#include "grouped_reference.h"
#include "helpers.h"

using deepcomp::testing::grouped_decode_reference;
using deepcomp::testing::per_slice_codebook_grad;
using deepcomp::testing::random_mask;
using deepcomp::testing::relative_error;

namespace {

struct LinearCase {
  int64_t out_features, in_features, groups;
  double keep;
  const char* what;
};

// The CPU kernel decodes blocks of about 2^18 weights (at least one row per input row): 1024 rows
// of 256 inputs, 6553 rows of 40. Groups smaller and larger than a block, across its edges or not.
const std::vector<LinearCase> kLinearCases{
    {3072, 256, 8, 0.5, "groups of 384 rows, across the blocks' edges"},
    {3072, 256, 2, 0.5, "groups of 1536 rows, larger than a block"},
    {3000, 256, 7, 0.5, "groups of 428 or 429 rows (7 does not divide 3000)"},
    {3072, 256, 3072, 0.5, "a group per row"},
    {8000, 40, 16, 0.5, "few inputs: two blocks, the last one short"},
    {8000, 40, 1, 0.5, "one group as a (1, k) codebook"},
    {3072, 256, 6, 0.05, "95 % pruned: the blocks, not the packed rows"},
    {3000, 256, 7, 0.05, "95 % pruned, uneven groups"},
};

}  // namespace

TEST_CASE("shared_linear with per-group codebooks equals linear on the decoded weight, with its gradients",
          "[ops][shared_linear][groups]") {
  torch::manual_seed(70);
  const int64_t k = 16;
  for (const auto& c : kLinearCases) {
    INFO(c.what << ": out " << c.out_features << ", in " << c.in_features << ", groups " << c.groups);
    const auto indices = torch::randint(0, k, {c.out_features, c.in_features}, torch::kByte);
    const auto mask = random_mask({c.out_features, c.in_features}, c.keep);
    const auto codebook = torch::randn({c.groups, k}, torch::kDouble).requires_grad_();
    const auto bias = torch::randn({c.out_features}, torch::kDouble).requires_grad_();
    const auto x = torch::randn({2, 3, c.in_features}, torch::kDouble).requires_grad_();
    const auto upstream = torch::randn({2, 3, c.out_features}, torch::kDouble);

    const auto out = deepcomp::ops::shared_linear(x, indices, mask, codebook, bias);
    const auto weight = grouped_decode_reference(indices, mask, codebook.detach());
    const auto xr = x.detach().clone().requires_grad_(), br = bias.detach().clone().requires_grad_();
    const auto expected = torch::linear(xr, weight, br);
    REQUIRE(out.sizes() == expected.sizes());
    CHECK(relative_error(out, expected) < 1e-12);

    const auto grads = torch::autograd::grad({out}, {x, codebook, bias}, {upstream});
    const auto want = torch::autograd::grad({expected}, {xr, br}, {upstream});
    const auto grad_weight = upstream.reshape({-1, c.out_features}).t().mm(x.detach().reshape({-1, c.in_features}));
    const auto want_codebook = per_slice_codebook_grad(grad_weight, indices, mask, k, c.groups);
    CHECK(grads[1].sizes() == codebook.sizes());
    CHECK(relative_error(grads[0], want[0]) < 1e-12);
    CHECK(relative_error(grads[1], want_codebook) < 1e-12);
    CHECK(relative_error(grads[2], want[1]) < 1e-12);

    // The backward op alone, asked for the codebook's gradient only, in float.
    const auto [grad_input, grad_codebook, grad_bias] = deepcomp::ops::shared_linear_backward(
        upstream.to(torch::kFloat), x.detach().to(torch::kFloat), indices, mask,
        codebook.detach().to(torch::kFloat), {false, true, false});
    CHECK_FALSE(grad_input.defined());
    CHECK_FALSE(grad_bias.defined());
    CHECK(grad_codebook.sizes() == codebook.sizes());
    CHECK(relative_error(grad_codebook, want_codebook) < 1e-5);
    CHECK(relative_error(deepcomp::ops::shared_linear(x.detach().to(torch::kFloat), indices, mask,
                                                      codebook.detach().to(torch::kFloat), std::nullopt),
                         torch::linear(x.detach(), weight)) < 1e-5);
  }
}

TEST_CASE("shared_linear refuses a codebook of more groups than out_features", "[ops][shared_linear][groups][errors]") {
  const auto indices = torch::randint(0, 4, {10, 3}, torch::kByte);
  const auto mask = random_mask({10, 3});
  CHECK_THROWS_WITH(deepcomp::ops::shared_linear(torch::randn({2, 3}), indices, mask, torch::randn({11, 4}), {}),
                    Catch::Contains("11 groups has more groups than the weight's first dimension 10"));
}

TEST_CASE("shared_conv2d with per-group codebooks equals conv2d on the decoded weight, with its gradients",
          "[ops][shared_conv2d][groups]") {
  torch::manual_seed(71);
  const int64_t k = 8;
  for (const double keep : {0.6, 0.05}) {
    for (const int64_t groups : {1, 3, 5, 12}) {
      const auto indices = torch::randint(0, k, {12, 2, 3, 3}, torch::kByte);  // 4 inputs in 2 conv groups
      const auto mask = random_mask({12, 2, 3, 3}, keep);
      const auto codebook = torch::randn({groups, k}, torch::kDouble).requires_grad_();
      const auto bias = torch::randn({12}, torch::kDouble).requires_grad_();
      const auto x = torch::randn({2, 4, 9, 7}, torch::kDouble).requires_grad_();
      const auto out = deepcomp::ops::shared_conv2d(x, indices, mask, codebook, bias, {2, 1}, {1, 1}, {1, 2}, 2);
      const auto expected = torch::conv2d(x, grouped_decode_reference(indices, mask, codebook), bias, {2, 1},
                                          {1, 1}, {1, 2}, 2);
      const auto upstream = torch::randn(expected.sizes(), torch::kDouble);
      INFO("groups " << groups << ", kept " << keep);
      CHECK(relative_error(out, expected) < 1e-12);
      const auto grads = torch::autograd::grad({out}, {x, codebook, bias}, {upstream});
      const auto want = torch::autograd::grad({expected}, {x, codebook, bias}, {upstream});
      CHECK(grads[1].sizes() == codebook.sizes());
      for (size_t i = 0; i < 3; ++i) CHECK(relative_error(grads[i], want[i]) < 1e-12);
    }
  }
}

TEST_CASE("compressed_linear with per-group codebooks equals linear on the decoded weight",
          "[ops][compressed_linear][groups]") {
  torch::manual_seed(72);
  const int64_t rows = 96, columns = 300;
  for (const int64_t k : {16, 256}) {  // centroids in SIMD registers, and gathered from memory
    const auto indices = torch::randint(0, k, {rows, columns}, torch::kByte);
    const auto mask = random_mask({rows, columns}, 0.09);
    const auto [row_ptr, entries] = deepcomp::ops::compressed_linear_pack(indices, mask);
    const auto bias = torch::randn({rows}, torch::kDouble);
    for (const int64_t groups : {int64_t{1}, int64_t{4}, int64_t{7}, rows}) {  // 7: uneven
      const auto codebook = torch::randn({groups, k}, torch::kDouble);
      const auto weight = grouped_decode_reference(indices, mask, codebook);
      for (const int64_t batch : {1, 8, 70}) {
        const auto x = torch::randn({batch, columns}, torch::kDouble);
        const auto expected = torch::linear(x, weight, bias);
        INFO("k " << k << ", groups " << groups << ", batch " << batch);
        CHECK(relative_error(deepcomp::ops::compressed_linear(x, row_ptr, entries, codebook, bias), expected) < 1e-12);
        CHECK(relative_error(deepcomp::ops::compressed_linear(x.to(torch::kFloat), row_ptr, entries,
                                                              codebook.to(torch::kFloat), bias.to(torch::kFloat)),
                             expected) < 1e-5);
        CHECK(relative_error(deepcomp::ops::compressed_linear(x.to(torch::kFloat), row_ptr, entries,
                                                              codebook.to(torch::kFloat), std::nullopt),
                             torch::linear(x, weight)) < 1e-5);
      }
    }
  }
}

TEST_CASE("compressed_linear refuses a codebook of more groups than rows", "[ops][compressed_linear][groups][errors]") {
  const auto indices = torch::randint(0, 4, {6, 8}, torch::kByte);
  const auto [row_ptr, entries] = deepcomp::ops::compressed_linear_pack(indices, torch::ones({6, 8}, torch::kBool));
  CHECK_THROWS_WITH(
      deepcomp::ops::compressed_linear(torch::randn({2, 8}), row_ptr, entries, torch::randn({7, 4}), std::nullopt),
      Catch::Contains("7 groups has more groups than the weight's first dimension 6"));
  auto bad = entries.clone();
  bad[0] = (bad[0].item<int32_t>() & ~0xff) | 4;  // index 4 of 4 codes per group
  CHECK_THROWS_WITH(
      deepcomp::ops::compressed_linear(torch::randn({2, 8}), row_ptr, bad, torch::randn({3, 4}), std::nullopt),
      Catch::Contains("malformed compressed weight"));
}
