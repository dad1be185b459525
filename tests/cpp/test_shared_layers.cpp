#include "helpers.h"
#include <deepcomp/nn/shared_conv2d.h>
#include <deepcomp/nn/shared_linear.h>
#include <deepcomp/ops.h>

using deepcomp::testing::random_mask;
using deepcomp::testing::relative_error;

TEST_CASE("the codebook gradient is the per-cluster sum of the weight gradient", "[ops][codebook]") {
  torch::manual_seed(20);
  const auto indices = torch::randint(0, 16, {31, 17}, torch::kByte);
  const auto mask = random_mask({31, 17});
  const auto codebook = torch::randn({16}, torch::kDouble).requires_grad_();
  const auto upstream = torch::randn({31, 17}, torch::kDouble);
  const auto decoded = deepcomp::ops::codebook_decode(indices, mask, codebook);
  const auto reference = codebook.index_select(0, indices.flatten().to(torch::kLong)).view({31, 17}) * mask;
  CHECK(torch::equal(decoded, reference));
  const auto got = torch::autograd::grad({decoded}, {codebook}, {upstream})[0];
  const auto want = torch::autograd::grad({reference}, {codebook}, {upstream})[0];
  CHECK(relative_error(got, want) < 1e-12);
}

TEST_CASE("codebook_grad leaves codes no uint8 index reaches at zero", "[ops][codebook]") {
  torch::manual_seed(21);
  const auto indices = torch::randint(0, 256, {100003}, torch::kByte);  // every thread sees most codes
  const auto mask = random_mask({100003});
  const auto grad = torch::randn({100003});
  const auto result = deepcomp::ops::codebook_grad(grad, indices, mask, 300);
  CHECK(torch::equal(result.narrow(0, 0, 256), deepcomp::ops::codebook_grad(grad, indices, mask, 256)));
  CHECK(torch::all(result.narrow(0, 256, 44) == 0).item<bool>());
}

TEST_CASE("shared_linear forward and backward equal the decoded-weight reference", "[ops][shared_linear]") {
  torch::manual_seed(21);
  const auto indices = torch::randint(0, 8, {13, 29}, torch::kByte);
  const auto mask = random_mask({13, 29});
  const auto codebook = torch::randn({8}, torch::kDouble).requires_grad_();
  const auto x = torch::randn({4, 29}, torch::kDouble).requires_grad_();
  const auto b = torch::randn({13}, torch::kDouble).requires_grad_();
  const auto out = deepcomp::ops::shared_linear(x, indices, mask, codebook, b);
  const auto weight = codebook.index_select(0, indices.flatten().to(torch::kLong)).view({13, 29}) * mask;
  const auto expected = torch::linear(x, weight, b);
  CHECK(relative_error(out, expected) < 1e-12);
  const auto upstream = torch::randn({4, 13}, torch::kDouble);
  const auto grads = torch::autograd::grad({out}, {x, codebook, b}, {upstream});
  const auto want = torch::autograd::grad({expected}, {x, codebook, b}, {upstream});
  for (size_t i = 0; i < 3; ++i) CHECK(relative_error(grads[i], want[i]) < 1e-12);
}

TEST_CASE("SharedLinear from a masked layer keeps its pruned weights at zero", "[nn][shared_linear]") {
  torch::manual_seed(22);
  deepcomp::nn::MaskedLinear masked(20, 10);
  masked->mask.copy_(random_mask({10, 20}, 0.4));
  deepcomp::nn::SharedLinear shared(masked, 3);
  CHECK(shared->codebook.numel() == 8);
  CHECK(shared->indices.scalar_type() == torch::kByte);
  CHECK(torch::equal(shared->mask, masked->mask));
  CHECK((shared->weight().masked_select(~masked->mask) == 0).all().item<bool>());
  CHECK(shared->bias.is_same(masked->bias));
  const auto x = torch::randn({5, 20});
  CHECK(relative_error(shared->forward(x), torch::linear(x, shared->weight(), masked->bias)) < 1e-6);
  const auto copy = std::dynamic_pointer_cast<deepcomp::nn::SharedLinearImpl>(shared->clone());
  CHECK(torch::equal(copy->forward(x), shared->forward(x)));
}

TEST_CASE("SharedConv2d matches Conv2d with the decoded weight", "[nn][shared_conv2d]") {
  torch::manual_seed(23);
  torch::nn::Conv2d dense(torch::nn::Conv2dOptions(4, 6, 3).padding(1).groups(2));
  deepcomp::nn::SharedConv2d shared(dense, 8);
  CHECK(shared->codebook.numel() == 256);
  torch::NoGradGuard no_grad;
  dense->weight.copy_(shared->weight());
  const auto x = torch::randn({2, 4, 9, 7});
  CHECK(relative_error(shared->forward(x), dense->forward(x)) < 1e-6);
}

TEST_CASE("fine-tuning a SharedLinear moves only its codebook", "[nn][shared_linear][training]") {
  torch::manual_seed(24);
  deepcomp::nn::SharedLinear layer(8, 4, 2);
  const auto indices = layer->indices.clone();
  const auto codebook = layer->codebook.detach().clone();
  torch::optim::Adam optimizer(layer->parameters(), torch::optim::AdamOptions(1e-2));
  const auto x = torch::randn({64, 8});
  const auto y = torch::randn({64, 4});
  for (int step = 0; step < 5; ++step) {
    optimizer.zero_grad();
    torch::mse_loss(layer->forward(x), y).backward();
    optimizer.step();
  }
  CHECK(torch::equal(layer->indices, indices));
  CHECK_FALSE(torch::equal(layer->codebook.detach(), codebook));
}
