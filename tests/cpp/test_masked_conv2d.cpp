#include "helpers.h"
#include <deepcomp/nn/masked_conv2d.h>
#include <deepcomp/ops.h>


using deepcomp::testing::random_mask;
using deepcomp::testing::relative_error;

TEST_CASE("masked_conv2d forward and backward match conv2d with the masked weight", "[ops][masked_conv2d]") {
  torch::manual_seed(5);
  const auto x = torch::randn({2, 4, 9, 11}, torch::kDouble).requires_grad_();
  const auto w = torch::randn({6, 2, 3, 3}, torch::kDouble).requires_grad_();
  const auto b = torch::randn({6}, torch::kDouble).requires_grad_();
  const auto mask = random_mask({6, 2, 3, 3});
  const std::vector<int64_t> stride{2, 1}, padding{1, 2}, dilation{1, 2};

  const auto out = deepcomp::ops::masked_conv2d(x, w, mask, b, stride, padding, dilation, 2);
  const auto expected = torch::conv2d(x, w * mask, b, stride, padding, dilation, 2);
  CHECK(relative_error(out, expected) < 1e-12);

  const auto upstream = torch::randn_like(expected);
  const auto grads = torch::autograd::grad({out}, {x, w, b}, {upstream});
  const auto expected_grads = torch::autograd::grad({expected}, {x, w, b}, {upstream});
  for (size_t i = 0; i < 3; ++i) CHECK(relative_error(grads[i], expected_grads[i]) < 1e-12);
  CHECK((grads[1].masked_select(~mask) == 0).all().item<bool>());
}

TEST_CASE("masked_conv2d accepts an unbatched input", "[ops][masked_conv2d]") {
  const auto x = torch::randn({3, 8, 8}, torch::kDouble).requires_grad_();
  const auto w = torch::randn({5, 3, 3, 3}, torch::kDouble);
  const auto mask = random_mask({5, 3, 3, 3});
  const auto out = deepcomp::ops::masked_conv2d(x, w, mask, std::nullopt, {1, 1}, {1, 1}, {1, 1}, 1);
  CHECK(out.sizes() == std::vector<int64_t>{5, 8, 8});
  const auto grad = torch::autograd::grad({out.sum()}, {x})[0];
  const auto expected = torch::autograd::grad({torch::conv2d(x, w * mask, {}, 1, 1).sum()}, {x})[0];
  CHECK(relative_error(grad, expected) < 1e-12);
}

TEST_CASE("MaskedConv2d matches torch::nn::Conv2d for every padding form and mode", "[nn][masked_conv2d]") {
  torch::manual_seed(6);
  const auto x = torch::randn({2, 3, 10, 12});
  std::vector<torch::nn::Conv2dOptions> cases{
      torch::nn::Conv2dOptions(3, 4, 3).padding(1),
      torch::nn::Conv2dOptions(3, 4, {4, 3}).padding(torch::kSame),
      torch::nn::Conv2dOptions(3, 4, {4, 2}).padding(torch::kSame).dilation(2),
      torch::nn::Conv2dOptions(3, 4, 3).padding(torch::kValid).stride(2),
      torch::nn::Conv2dOptions(3, 6, 3).padding(2).padding_mode(torch::kReflect).groups(3),
      torch::nn::Conv2dOptions(3, 4, 3).padding({1, 2}).padding_mode(torch::kCircular).bias(false),
      torch::nn::Conv2dOptions(3, 4, 3).padding(1).padding_mode(torch::kReplicate),
  };
  for (const auto& options : cases) {
    torch::nn::Conv2d dense(options);
    deepcomp::nn::MaskedConv2d masked(dense);
    CHECK(relative_error(masked(x), dense(x)) < 1e-6);
  }
}
