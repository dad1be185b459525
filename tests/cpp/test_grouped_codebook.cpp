// codebook_decode and codebook_grad with per-group codebooks (groups, k) against the 1-D ops on
// each group's slices of the weight's first dimension (runs as even as possible when groups does not
// divide it), and the codebook's gradient through autograd.
#include <deepcomp/ops.h>

#include "grouped_reference.h"
#include "helpers.h"

using deepcomp::testing::group_slice;
using deepcomp::testing::grouped_decode_reference;
using deepcomp::testing::per_slice_codebook_grad;
using deepcomp::testing::random_mask;
using deepcomp::testing::relative_error;

namespace {

struct Case {
  std::vector<int64_t> shape;
  std::vector<int64_t> groups;
};

// A Linear and a Conv weight in groups that divide their rows and groups that do not (7 rows in
// 3: 3, 2, 2), a 1-D one with a group per element, weights of more than one thread's chunk of
// elements (chunks start inside groups), one with a group per row, and an empty one.
const std::vector<Case> kCases{{{6, 5}, {1, 2, 3, 4, 6}},
                               {{7, 4}, {2, 3, 5}},
                               {{12, 3, 3, 3}, {4, 5, 12}},
                               {{7}, {3, 7}},
                               {{3000, 50}, {3, 7}},
                               {{64, 600}, {64}},
                               {{0, 4}, {1}}};

double tolerance(torch::ScalarType dtype) {
  return dtype == torch::kDouble ? 1e-12 : dtype == torch::kFloat ? 1e-6 : 1e-2;
}

}  // namespace

TEST_CASE("codebook_decode with per-group codebooks decodes each slice with its own", "[ops][codebook][groups]") {
  torch::manual_seed(60);
  for (const auto& [shape, group_counts] : kCases) {
    for (const int64_t groups : group_counts) {
      for (const int64_t k : {4, 256}) {
        for (const auto dtype : {torch::kFloat, torch::kDouble, torch::kHalf, torch::kBFloat16}) {
          const auto indices = torch::randint(0, k, shape, torch::kByte);
          const auto mask = random_mask(shape, 0.6);
          const auto codebook = torch::randn({groups, k}).to(dtype);
          const auto decoded = deepcomp::ops::codebook_decode(indices, mask, codebook);
          std::vector<torch::Tensor> slices;
          for (int64_t g = 0; g < groups; ++g) {
            slices.push_back(deepcomp::ops::codebook_decode(group_slice(indices, g, groups),
                                                            group_slice(mask, g, groups), codebook[g]));
          }
          INFO("shape " << indices.sizes() << ", groups " << groups << ", k " << k << ", dtype " << dtype);
          CHECK(decoded.scalar_type() == dtype);
          CHECK(torch::equal(decoded, torch::cat(slices)));
          CHECK(torch::equal(decoded, grouped_decode_reference(indices, mask, codebook)));
        }
      }
    }
  }
}

TEST_CASE("a (1, k) codebook decodes as the 1-D one", "[ops][codebook][groups]") {
  torch::manual_seed(61);
  const auto indices = torch::randint(0, 16, {40, 9}, torch::kByte);
  const auto mask = random_mask({40, 9});
  const auto codebook = torch::randn({16});
  CHECK(torch::equal(deepcomp::ops::codebook_decode(indices, mask, codebook.unsqueeze(0)),
                     deepcomp::ops::codebook_decode(indices, mask, codebook)));
}

TEST_CASE("codebook_grad per group equals the 1-D reduction of each slice, stacked", "[ops][codebook][groups]") {
  torch::manual_seed(62);
  for (const auto& [shape, group_counts] : kCases) {
    for (const int64_t groups : group_counts) {
      for (const int64_t k : {4, 256, 300}) {  // 300: codes no uint8 index reaches stay 0
        for (const auto dtype : {torch::kFloat, torch::kDouble, torch::kHalf}) {
          const auto indices = torch::randint(0, std::min<int64_t>(k, 256), shape, torch::kByte);
          const auto mask = random_mask(shape, 0.6);
          const auto grad = torch::randn(shape).to(dtype);
          const auto result = deepcomp::ops::codebook_grad(grad, indices, mask, k, groups);
          const auto expected = per_slice_codebook_grad(grad, indices, mask, k, groups);
          INFO("shape " << indices.sizes() << ", groups " << groups << ", k " << k << ", dtype " << dtype);
          // One group: the 1-D shape (num_codes), as without num_groups.
          REQUIRE(result.sizes() == (groups == 1 ? expected[0].sizes() : expected.sizes()));
          CHECK(result.scalar_type() == dtype);
          CHECK(relative_error(result, groups == 1 ? expected[0] : expected) < tolerance(dtype));
          if (k > 256) CHECK(torch::all(result.narrow(-1, 256, k - 256) == 0).item<bool>());
        }
      }
    }
  }
}

TEST_CASE("codebook_grad with one group keeps its 1-D shape", "[ops][codebook][groups]") {
  torch::manual_seed(63);
  const auto indices = torch::randint(0, 8, {10, 7}, torch::kByte);
  const auto mask = random_mask({10, 7});
  const auto grad = torch::randn({10, 7}, torch::kDouble);
  const auto result = deepcomp::ops::codebook_grad(grad, indices, mask, 8, 1);
  CHECK(result.sizes() == torch::IntArrayRef({8}));
  CHECK(relative_error(result, deepcomp::ops::codebook_grad(grad, indices, mask, 8)) < 1e-12);
}

TEST_CASE("the gradient through codebook_decode has the codebook's shape", "[ops][codebook][autograd][groups]") {
  torch::manual_seed(64);
  for (const auto& codebook_shape : std::vector<std::vector<int64_t>>{{8}, {1, 8}, {3, 8}, {12, 8}}) {
    const auto indices = torch::randint(0, 8, {12, 5, 2}, torch::kByte);
    const auto mask = random_mask({12, 5, 2});
    const auto codebook = torch::randn(codebook_shape, torch::kDouble).requires_grad_();
    const auto upstream = torch::randn({12, 5, 2}, torch::kDouble);
    const auto decoded = deepcomp::ops::codebook_decode(indices, mask, codebook);
    const auto reference = grouped_decode_reference(indices, mask, codebook);
    const auto got = torch::autograd::grad({decoded}, {codebook}, {upstream})[0];
    const auto want = torch::autograd::grad({reference}, {codebook}, {upstream})[0];
    INFO("codebook " << codebook.sizes());
    CHECK(got.sizes() == codebook.sizes());
    CHECK(relative_error(got, want) < 1e-12);
  }
}

TEST_CASE("groups that do not divide the rows split them as evenly as possible", "[ops][codebook][groups]") {
  // 7 rows in 3 groups: rows 0-2, 3-4, 5-6 (row r in group r · 3 / 7).
  const auto indices = torch::zeros({7, 2}, torch::kByte);
  const auto mask = torch::ones({7, 2}, torch::kBool);
  const auto codebook = torch::tensor({{1.0f, 0.0f}, {2.0f, 0.0f}, {3.0f, 0.0f}});
  const auto decoded = deepcomp::ops::codebook_decode(indices, mask, codebook);
  CHECK(torch::equal(decoded.select(1, 0), torch::tensor({1.0f, 1.0f, 1.0f, 2.0f, 2.0f, 3.0f, 3.0f})));
  const auto grad = deepcomp::ops::codebook_grad(torch::ones({7, 2}), indices, mask, 2, 3);
  CHECK(torch::equal(grad, torch::tensor({{6.0f, 0.0f}, {4.0f, 0.0f}, {4.0f, 0.0f}})));
}

TEST_CASE("per-group codebook ops name what is wrong with the groups", "[ops][codebook][groups][errors]") {
  const auto indices = torch::randint(0, 4, {6, 5}, torch::kByte);
  const auto mask = random_mask({6, 5});
  CHECK_THROWS_WITH(deepcomp::ops::codebook_decode(indices, mask, torch::randn({7, 4})),
                    Catch::Contains("7 groups has more groups than the weight's first dimension 6"));
  CHECK_THROWS_WITH(deepcomp::ops::codebook_decode(indices, mask, torch::randn({0, 4})), Catch::Contains("non-empty"));
  CHECK_THROWS_WITH(deepcomp::ops::codebook_decode(indices, mask, torch::randn({2, 3, 4})),
                    Catch::Contains("1-D (k) or 2-D (groups, k)"));
  CHECK_THROWS_WITH(deepcomp::ops::codebook_decode(indices.flatten()[0], mask.flatten()[0], torch::randn({1, 4})),
                    Catch::Contains("2-D (grouped) codebook needs indices of at least one dimension"));
  auto past = indices.clone();
  past[4][1] = 3;  // group 2 of 3 holds 3 codes
  CHECK_THROWS_WITH(deepcomp::ops::codebook_decode(past, torch::ones({6, 5}, torch::kBool), torch::randn({3, 3})),
                    Catch::Contains("indices hold a value >= the codebook's 3 entries"));
  const auto grad = torch::randn({6, 5});
  CHECK_THROWS_AS(deepcomp::ops::codebook_grad(grad, indices, mask, 4, 7), c10::Error);
  CHECK_THROWS_WITH(deepcomp::ops::codebook_grad(grad, indices, mask, 4, 0),
                    Catch::Contains("num_groups must be >= 1"));
  CHECK_THROWS_WITH(deepcomp::ops::codebook_grad(grad, past, torch::ones({6, 5}, torch::kBool), 3, 3),
                    Catch::Contains("indices hold a value >= num_codes = 3"));
}
