// cluster_weight with groups (each group's slices of the first dimension clustered on their own, in
// runs as even as possible) and the shared modules built from a grouped SharedWeight.
#include <deepcomp/nn/shared_conv2d.h>
#include <deepcomp/nn/shared_layer.h>
#include <deepcomp/nn/shared_linear.h>
#include <deepcomp/nn/torch_layer_twins.h>
#include <deepcomp/ops.h>

#include <functional>

#include "grouped_reference.h"
#include "helpers.h"

using deepcomp::nn::ClusterOptions;
using deepcomp::nn::cluster_weight;
using deepcomp::testing::group_slice;
using deepcomp::testing::grouped_decode_reference;
using deepcomp::testing::random_mask;
using deepcomp::testing::relative_error;

namespace {

// Rows of very different scales, so that each group's codebook differs.
torch::Tensor scaled_rows(std::vector<int64_t> shape) {
  const int64_t rows = shape[0];
  std::vector<int64_t> scale_shape(shape.size(), 1);
  scale_shape[0] = rows;
  return torch::randn(shape) * torch::logspace(-2, 2, rows).view(scale_shape);
}

// Each slice of `shared` is kmeans_quantize of that slice alone (with that slice's importance).
void check_per_slice(const deepcomp::nn::SharedWeight& shared, const torch::Tensor& weight, const torch::Tensor& mask,
                     int64_t bits, int64_t groups, const ClusterOptions& cluster,
                     const std::function<torch::Tensor(int64_t)>& importance_of = {}) {
  REQUIRE(shared.codebook.sizes() == torch::IntArrayRef({groups, int64_t{1} << bits}));
  CHECK(torch::equal(shared.mask, mask));
  for (int64_t g = 0; g < groups; ++g) {
    const auto importance = importance_of ? std::optional(importance_of(g)) : std::nullopt;
    const auto [codebook, indices] =
        deepcomp::ops::kmeans_quantize(group_slice(weight, g, groups), group_slice(mask, g, groups), bits,
                                       cluster.init, cluster.method, cluster.seed, importance);
    INFO("group " << g << " of " << groups);
    CHECK(torch::equal(shared.codebook[g], codebook));
    CHECK(torch::equal(group_slice(shared.indices, g, groups), indices));
  }
}

}  // namespace

TEST_CASE("cluster_weight with groups clusters each slice of the first dimension on its own",
          "[nn][cluster][groups]") {
  torch::manual_seed(80);
  for (const auto& shape : std::vector<std::vector<int64_t>>{{12, 20}, {8, 3, 3, 3}}) {
    const auto weight = scaled_rows(shape);
    const auto mask = random_mask(shape, 0.7);
    for (const int64_t groups : {int64_t{2}, int64_t{3}, int64_t{5}, shape[0]}) {  // 5: uneven
      for (const ClusterOptions& cluster : {ClusterOptions{}, ClusterOptions{"density", "exact", 0},
                                            ClusterOptions{"random", "lloyd", 5}}) {
        INFO("shape " << weight.sizes() << ", groups " << groups << ", init " << cluster.init << ", method "
                      << cluster.method);
        check_per_slice(cluster_weight(weight, mask, 3, cluster, {}, groups), weight, mask, 3, groups, cluster);
      }
    }
  }
}

TEST_CASE("cluster_weight with groups broadcasts the importance and slices it", "[nn][cluster][groups]") {
  torch::manual_seed(81);
  const auto weight = scaled_rows({12, 20});
  const auto mask = random_mask({12, 20}, 0.8);
  const int64_t groups = 3;
  const auto per_column = torch::rand({20}) + 0.1;      // broadcast to every row
  const auto per_row = torch::rand({12, 1}) + 0.1;      // sliced with the rows
  const auto per_weight = torch::rand({12, 20}) + 0.1;  // sliced
  check_per_slice(cluster_weight(weight, mask, 2, {}, per_column, groups), weight, mask, 2, groups, {},
                  [&](int64_t) { return per_column; });
  check_per_slice(cluster_weight(weight, mask, 2, {}, per_row, groups), weight, mask, 2, groups, {},
                  [&](int64_t g) { return group_slice(per_row, g, groups); });
  check_per_slice(cluster_weight(weight, mask, 2, {}, per_weight, groups), weight, mask, 2, groups, {},
                  [&](int64_t g) { return group_slice(per_weight, g, groups); });
  // The importance counts: a lopsided one moves the centroids.
  CHECK_FALSE(torch::equal(cluster_weight(weight, mask, 2, {}, per_weight, groups).codebook,
                           cluster_weight(weight, mask, 2, {}, {}, groups).codebook));
}

TEST_CASE("cluster_weight gives a slice with nothing kept a codebook of zeros", "[nn][cluster][groups]") {
  torch::manual_seed(82);
  const auto weight = scaled_rows({9, 10});
  auto mask = random_mask({9, 10}, 0.7);
  mask.narrow(0, 3, 3).fill_(false);
  const auto shared = cluster_weight(weight, mask, 2, {}, {}, 3);
  CHECK(torch::equal(shared.codebook[1], torch::zeros({4})));
  CHECK(torch::all(shared.indices.narrow(0, 3, 3) == 0).item<bool>());
  CHECK(torch::all(shared.codebook[0] != 0).item<bool>());
  CHECK(torch::all(shared.codebook[2] != 0).item<bool>());
}

TEST_CASE("cluster_weight refuses more groups than the first dimension has slices", "[nn][cluster][groups][errors]") {
  const auto weight = torch::randn({12, 5});
  const auto mask = torch::ones({12, 5}, torch::kBool);
  for (const int64_t groups : {0, -1, 13, 24}) {
    INFO("groups " << groups);
    CHECK_THROWS_AS(cluster_weight(weight, mask, 2, {}, {}, groups), c10::ValueError);
  }
  CHECK_THROWS_WITH(cluster_weight(weight, mask, 2, {}, {}, 13),
                    Catch::Contains("(shape [12, 5]) into 13 codebook groups"));
  CHECK_THROWS_AS(cluster_weight(torch::tensor(1.5f), torch::tensor(true), 2, {}, {}, 2), c10::ValueError);
}

TEST_CASE("SharedLinear and SharedConv2d with a grouped codebook compute with the decoded weight",
          "[nn][shared_linear][shared_conv2d][groups]") {
  torch::manual_seed(83);
  const auto weight = scaled_rows({12, 20});
  const auto mask = random_mask({12, 20}, 0.6);
  const auto bias = torch::randn({12});
  deepcomp::nn::SharedLinear linear(torch::nn::LinearOptions(20, 12), cluster_weight(weight, mask, 3, {}, {}, 5),
                                    bias);
  CHECK(linear->codebook.sizes() == torch::IntArrayRef({5, 8}));
  CHECK(linear->bits() == 3);
  const auto x = torch::randn({5, 20});
  const auto decoded = grouped_decode_reference(linear->indices, linear->mask, linear->codebook.detach());
  CHECK(torch::equal(linear->weight().detach(), decoded));
  CHECK(relative_error(linear->forward(x), torch::linear(x, decoded, bias)) < 1e-6);
  linear->forward(x).sum().backward();
  CHECK(linear->codebook.grad().sizes() == torch::IntArrayRef({5, 8}));
  const auto copy = std::dynamic_pointer_cast<deepcomp::nn::SharedLinearImpl>(linear->clone());
  CHECK(copy->codebook.sizes() == torch::IntArrayRef({5, 8}));
  CHECK(torch::equal(copy->forward(x), linear->forward(x)));

  const auto conv_weight = scaled_rows({6, 2, 3, 3});
  deepcomp::nn::SharedConv2d conv(torch::nn::Conv2dOptions(2, 6, 3).padding(1),
                                  cluster_weight(conv_weight, torch::ones({6, 2, 3, 3}, torch::kBool), 4, {}, {}, 6),
                                  torch::randn({6}));
  CHECK(conv->codebook.sizes() == torch::IntArrayRef({6, 16}));
  const auto image = torch::randn({2, 2, 7, 7});
  const auto conv_decoded = grouped_decode_reference(conv->indices, conv->mask, conv->codebook.detach());
  CHECK(relative_error(conv->forward(image), torch::conv2d(image, conv_decoded, conv->bias, 1, 1)) < 1e-6);

  const deepcomp::nn::SharedWeight one_group{torch::randn({1, 8}), linear->indices, linear->mask};
  deepcomp::nn::SharedLinear single(torch::nn::LinearOptions(20, 12), one_group, bias);
  CHECK(single->codebook.sizes() == torch::IntArrayRef({8}));  // stored 1-D, so it saves and loads as it is
  CHECK(torch::equal(single->codebook.detach(), one_group.codebook[0]));

  const deepcomp::nn::SharedWeight too_many{torch::randn({13, 8}), linear->indices, linear->mask};
  CHECK_THROWS_AS(deepcomp::nn::SharedLinear(torch::nn::LinearOptions(20, 12), too_many, bias), c10::ValueError);
  CHECK_THROWS_WITH(deepcomp::nn::SharedLinear(torch::nn::LinearOptions(20, 12), too_many, bias),
                    Catch::Contains("13 codebook groups for a weight of shape [12, 20]"));
}

TEST_CASE("the torch layer twins take a grouped codebook", "[nn][twins][groups]") {
  torch::manual_seed(84);
  torch::nn::Embedding plain(10, 6);
  const auto mask = random_mask({10, 6}, 0.8);
  deepcomp::nn::SharedEmbedding embedding(*plain, cluster_weight(plain->weight, mask, 2, {}, {}, 4), torch::Tensor());
  CHECK(embedding->codebook.sizes() == torch::IntArrayRef({4, 4}));
  const auto ids = torch::randint(0, 10, {3, 4}, torch::kLong);
  const auto decoded = grouped_decode_reference(embedding->indices, embedding->mask, embedding->codebook.detach());
  CHECK(torch::equal(embedding->forward(ids), torch::embedding(decoded, ids)));

  torch::nn::ConvTranspose1d transposed(torch::nn::ConvTranspose1dOptions(4, 3, 3));  // weight (4, 3, 3)
  deepcomp::nn::SharedConvTranspose1d shared(
      *transposed, cluster_weight(transposed->weight, torch::ones({4, 3, 3}, torch::kBool), 3, {}, {}, 2),
      transposed->bias);
  const auto x = torch::randn({2, 4, 8});
  shared->forward(x, std::nullopt).sum().backward();
  CHECK(shared->codebook.grad().sizes() == torch::IntArrayRef({2, 8}));
  CHECK(relative_error(shared->forward(x, std::nullopt),
                       torch::conv_transpose1d(x, grouped_decode_reference(shared->indices, shared->mask,
                                                                            shared->codebook.detach()),
                                               transposed->bias)) < 1e-6);
}
