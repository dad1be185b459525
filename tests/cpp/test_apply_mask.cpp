#include "helpers.h"
#include <deepcomp/ops.h>


using deepcomp::testing::random_mask;

TEST_CASE("apply_mask keeps masked-in weights and zeroes the rest exactly", "[ops][apply_mask]") {
  torch::manual_seed(0);
  for (const auto dtype : {torch::kFloat, torch::kDouble, torch::kBFloat16, torch::kHalf}) {
    const auto weight = torch::randn({37, 53}).to(dtype);
    const auto mask = random_mask({37, 53});
    const auto out = deepcomp::ops::apply_mask(weight, mask);
    CHECK(out.scalar_type() == dtype);
    CHECK(torch::equal(out, torch::where(mask, weight, torch::zeros_like(weight))));
  }
}

TEST_CASE("apply_mask_ works in place, also on a non-contiguous weight", "[ops][apply_mask]") {
  torch::manual_seed(1);
  auto weight = torch::randn({20, 30});
  const auto mask = random_mask({20, 30});
  const auto expected = torch::where(mask, weight, torch::zeros_like(weight));
  deepcomp::ops::apply_mask_(weight, mask);
  CHECK(torch::equal(weight, expected));

  auto transposed = torch::randn({30, 20}).t();
  const auto expected_t = torch::where(mask, transposed, torch::zeros_like(transposed));
  deepcomp::ops::apply_mask_(transposed, mask);
  CHECK(torch::equal(transposed, expected_t));
}

TEST_CASE("apply_mask zeroes pruned NaN and Inf too", "[ops][apply_mask]") {
  const auto weight = torch::tensor({1.0f, NAN, INFINITY, -2.0f});
  const auto mask = torch::tensor({true, false, false, true});
  CHECK(torch::equal(deepcomp::ops::apply_mask(weight, mask), torch::tensor({1.0f, 0.0f, 0.0f, -2.0f})));
}

TEST_CASE("apply_mask rejects a mask of the wrong shape or dtype", "[ops][apply_mask][errors]") {
  const auto weight = torch::randn({4, 5});
  CHECK_THROWS_WITH(deepcomp::ops::apply_mask(weight, torch::ones({5, 4}, torch::kBool)),
                    Catch::Contains("mask shape"));
  CHECK_THROWS_WITH(deepcomp::ops::apply_mask(weight, torch::ones({4, 5})), Catch::Contains("bool"));
  CHECK_THROWS_WITH(deepcomp::ops::apply_mask(torch::ones({4, 5}, torch::kLong), torch::ones({4, 5}, torch::kBool)),
                    Catch::Contains("floating-point"));
}
