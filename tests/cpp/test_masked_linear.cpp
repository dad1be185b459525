#include "helpers.h"
#include <deepcomp/nn/masked_linear.h>
#include <deepcomp/ops.h>


using deepcomp::testing::random_mask;
using deepcomp::testing::relative_error;

TEST_CASE("masked_linear forward equals linear with the masked weight", "[ops][masked_linear]") {
  torch::manual_seed(2);
  const auto weight = torch::randn({13, 29});
  const auto mask = random_mask({13, 29}, 0.3);
  const auto bias = torch::randn({13});
  for (const auto& input : {torch::randn({29}), torch::randn({7, 29}), torch::randn({3, 5, 29})}) {
    const auto out = deepcomp::ops::masked_linear(input, weight, mask, bias);
    const auto expected = torch::linear(input, weight * mask, bias);
    CHECK(out.sizes() == expected.sizes());
    CHECK(relative_error(out, expected) < 1e-6);
  }
  const auto x = torch::randn({4, 29});
  CHECK(relative_error(deepcomp::ops::masked_linear(x, weight, mask, std::nullopt),
                       torch::linear(x, weight * mask)) < 1e-6);
}

TEST_CASE("masked_linear backward gives the masked reference gradients", "[ops][masked_linear][autograd]") {
  torch::manual_seed(3);
  const auto x = torch::randn({2, 6, 29}, torch::kDouble).requires_grad_();
  const auto w = torch::randn({13, 29}, torch::kDouble).requires_grad_();
  const auto b = torch::randn({13}, torch::kDouble).requires_grad_();
  const auto mask = random_mask({13, 29});
  const auto upstream = torch::randn({2, 6, 13}, torch::kDouble);

  const auto grads = torch::autograd::grad({deepcomp::ops::masked_linear(x, w, mask, b)}, {x, w, b}, {upstream});
  const auto expected = torch::autograd::grad({torch::linear(x, w * mask, b)}, {x, w, b}, {upstream});
  for (size_t i = 0; i < 3; ++i) CHECK(relative_error(grads[i], expected[i]) < 1e-12);
  CHECK(torch::equal(grads[1].masked_select(~mask), torch::zeros({(~mask).sum().item<int64_t>()}, torch::kDouble)));
}

TEST_CASE("masked_linear_backward computes only the gradients asked for", "[ops][masked_linear]") {
  const auto x = torch::randn({4, 6});
  const auto w = torch::randn({3, 6});
  const auto mask = random_mask({3, 6});
  const auto g = torch::randn({4, 3});
  const auto [gi, gw, gb] = deepcomp::ops::masked_linear_backward(g, x, w, mask, {false, true, false});
  CHECK_FALSE(gi.defined());
  CHECK(gw.defined());
  CHECK_FALSE(gb.defined());
}

TEST_CASE("masked_linear rejects inputs of the wrong width", "[ops][masked_linear][errors]") {
  CHECK_THROWS_WITH(deepcomp::ops::masked_linear(torch::randn({4, 5}), torch::randn({3, 6}),
                                                 torch::ones({3, 6}, torch::kBool), std::nullopt),
                    Catch::Contains("in_features = 6"));
}

TEST_CASE("MaskedLinear module matches torch::nn::Linear when nothing is pruned", "[nn][masked_linear]") {
  torch::manual_seed(4);
  torch::nn::Linear dense(torch::nn::LinearOptions(10, 4));
  deepcomp::nn::MaskedLinear masked(dense);
  const auto x = torch::randn({8, 10});
  CHECK(torch::allclose(masked(x), dense(x)));
  CHECK(masked->weight.is_same(dense->weight));
  CHECK(masked->named_buffers().contains("mask"));

  deepcomp::nn::MaskedLinear no_bias(torch::nn::LinearOptions(10, 4).bias(false));
  CHECK_FALSE(no_bias->bias.defined());
  CHECK(no_bias(x).sizes() == std::vector<int64_t>{8, 4});
}

TEST_CASE("MaskedLinear clones and serialises its mask", "[nn][masked_linear]") {
  deepcomp::nn::MaskedLinear layer(6, 3);
  layer->mask.copy_(random_mask({3, 6}));
  const auto copy = std::dynamic_pointer_cast<deepcomp::nn::MaskedLinearImpl>(layer->clone());
  CHECK(torch::equal(copy->mask, layer->mask));
  CHECK(torch::equal(copy->weight, layer->weight));
  CHECK_FALSE(copy->weight.is_same(layer->weight));

  std::stringstream archive;
  torch::save(layer, archive);
  deepcomp::nn::MaskedLinear loaded(6, 3);
  torch::load(loaded, archive);
  CHECK(torch::equal(loaded->mask, layer->mask));
}
