#include <deepcomp/ops.h>

#include "../helpers.h"

using deepcomp::testing::random_mask;
using deepcomp::testing::relative_error;

TEST_CASE("apply_mask on CUDA equals the CPU kernel, in and out of place", "[cuda][apply_mask]") {
  torch::manual_seed(10);
  for (const int64_t n : {1, 255, 256, 257, 100003, 3 * 1024 * 1024 + 7}) {
    for (const auto dtype : {torch::kFloat, torch::kDouble, torch::kHalf, torch::kBFloat16}) {
      const auto weight = torch::randn({n}).to(dtype);
      const auto mask = random_mask({n});
      const auto expected = deepcomp::ops::apply_mask(weight, mask);
      CHECK(torch::equal(deepcomp::ops::apply_mask(weight.cuda(), mask.cuda()).cpu(), expected));
      auto in_place = weight.cuda();
      deepcomp::ops::apply_mask_(in_place, mask.cuda());
      CHECK(torch::equal(in_place.cpu(), expected));
    }
  }
}

TEST_CASE("apply_mask_ on CUDA handles a non-contiguous weight", "[cuda][apply_mask]") {
  const auto weight = torch::randn({300, 200});
  const auto mask = random_mask({200, 300});
  auto transposed = weight.cuda().t();
  deepcomp::ops::apply_mask_(transposed, mask.cuda());
  CHECK(torch::equal(transposed.cpu(), deepcomp::ops::apply_mask(weight.t(), mask)));
}

TEST_CASE("masked_linear and masked_conv2d on CUDA match the CPU path", "[cuda][masked_linear][masked_conv2d]") {
  torch::manual_seed(11);
  for (const auto dtype : {torch::kFloat, torch::kBFloat16}) {
    const double tolerance = dtype == torch::kFloat ? 1e-4 : 2e-2;
    const auto x = torch::randn({64, 300});
    const auto w = torch::randn({100, 300});
    const auto b = torch::randn({100});
    const auto mask = random_mask({100, 300}, 0.1);
    const auto cuda_out = deepcomp::ops::masked_linear(x.cuda().to(dtype), w.cuda().to(dtype), mask.cuda(),
                                                       b.cuda().to(dtype));
    CHECK(relative_error(cuda_out.cpu(), deepcomp::ops::masked_linear(x, w, mask, b)) < tolerance);

    const auto g = torch::randn({64, 100});
    const auto [gi, gw, gb] = deepcomp::ops::masked_linear_backward(g.cuda().to(dtype), x.cuda().to(dtype),
                                                                    w.cuda().to(dtype), mask.cuda(), {true, true, true});
    const auto [ci, cw, cb] = deepcomp::ops::masked_linear_backward(g, x, w, mask, {true, true, true});
    CHECK(relative_error(gi.cpu(), ci) < tolerance);
    CHECK(relative_error(gw.cpu(), cw) < tolerance);
    CHECK(relative_error(gb.cpu(), cb) < tolerance);

    const auto cx = torch::randn({4, 16, 14, 14});
    const auto cwt = torch::randn({32, 16, 3, 3});
    const auto cmask = random_mask({32, 16, 3, 3}, 0.3);
    const auto conv_cuda = deepcomp::ops::masked_conv2d(cx.cuda().to(dtype), cwt.cuda().to(dtype), cmask.cuda(),
                                                        std::nullopt, {1, 1}, {1, 1}, {1, 1}, 1);
    const auto conv_cpu = deepcomp::ops::masked_conv2d(cx, cwt, cmask, std::nullopt, {1, 1}, {1, 1}, {1, 1}, 1);
    CHECK(relative_error(conv_cuda.cpu(), conv_cpu) < tolerance);
  }
}
