// Calibration statistics (deepcomp/calibration.h) and what prune and quantize make of them.
#include "helpers.h"
#include <deepcomp/deepcomp.h>

namespace {

using deepcomp::testing::relative_error;

deepcomp::ModuleEntry entry(const std::string& kind, at::IntArrayRef shape) {
  deepcomp::ModuleEntry layer;
  layer.name = "layer";
  layer.kind = kind;
  layer.weight = torch::randn(shape);
  return layer;
}

}  // namespace

TEST_CASE("input moments count each layer kind's input features", "[calibration]") {
  torch::manual_seed(41);
  deepcomp::InputMoments linear;
  const auto x = torch::randn({4, 3, 5});
  linear.add("Linear", {7, 5}, x);
  CHECK(linear.samples() == 12);
  CHECK(relative_error(linear.mean_square(), x.to(torch::kDouble).reshape({12, 5}).square().mean(0)) < 1e-12);

  deepcomp::InputMoments conv;  // a grouped convolution sees every input channel
  const auto image = torch::randn({2, 4, 5, 5});
  conv.add("MaskedConv2d", {6, 2, 3, 3}, image);
  conv.add("MaskedConv2d", {6, 2, 3, 3}, image[0]);  // one unbatched sample
  const auto image64 = image.to(torch::kDouble);
  const auto per_channel = (image64.square().sum({0, 2, 3}) + image64[0].square().sum({1, 2})) / 75.0;
  CHECK(conv.samples() == 75);
  CHECK(relative_error(conv.mean_square(), per_channel) < 1e-12);

  deepcomp::InputMoments embedding;  // one-hot: the fraction of lookups per row
  embedding.add("Embedding", {6, 3}, torch::tensor({0, 2, 2, 5, 2, 0}, torch::kLong).view({2, 3}));
  CHECK(torch::allclose(embedding.mean_square(), torch::tensor({2.0, 0.0, 3.0, 0.0, 0.0, 1.0}, torch::kDouble) / 6));

  deepcomp::InputMoments merged;
  merged.merge(linear);
  merged.merge(linear);
  CHECK(merged.samples() == 24);
  CHECK(relative_error(merged.mean_square(), linear.mean_square()) < 1e-12);
}

TEST_CASE("input moments refuse inputs that do not fit the layer", "[calibration][errors]") {
  deepcomp::InputMoments moments;
  CHECK_THROWS_WITH(moments.add("Linear", {7, 5}, torch::randn({3, 4})), Catch::Contains("5 inputs"));
  CHECK_THROWS_WITH(moments.add("Conv2d", {6, 2, 3, 3}, torch::randn({2, 3, 5, 5})), Catch::Contains("cannot take"));
  CHECK_THROWS_WITH(moments.add("ConvTranspose2d", {4, 2, 3, 3}, torch::randn({2, 2, 5, 5})),
                    Catch::Contains("cannot take"));
  CHECK_THROWS_WITH(moments.add("Embedding", {6, 3}, torch::tensor({6}, torch::kLong)), Catch::Contains("out of range"));
  CHECK_THROWS_WITH(moments.add("Lstm", {6, 3}, torch::randn({3})), Catch::Contains("unknown layer kind"));
}

TEST_CASE("each weight gets the moment of the input feature it multiplies", "[calibration]") {
  torch::manual_seed(42);
  deepcomp::Calibration calibration;
  const auto channels = torch::rand({4}, torch::kDouble) + 0.5;
  // a grouped convolution: 2 groups of 2 input channels, 3 output channels each
  calibration["layer"].add("Conv2d", {6, 2, 3, 3}, channels.sqrt().view({1, 4, 1, 1}).expand({1, 4, 3, 3}).to(torch::kFloat));
  const auto moments = deepcomp::weight_input_moments(entry("Conv2d", {6, 2, 3, 3}), calibration, "test");
  REQUIRE(moments.sizes() == std::vector<int64_t>{6, 2, 1, 1});
  for (int64_t o = 0; o < 6; ++o) {
    for (int64_t j = 0; j < 2; ++j) CHECK(moments[o][j].item<double>() == Approx(channels[o / 3 * 2 + j].item<double>()));
  }
  calibration.clear();
  calibration["layer"].add("ConvTranspose1d", {4, 3, 2}, torch::ones({2, 4, 7}));
  CHECK(deepcomp::weight_input_moments(entry("ConvTranspose1d", {4, 3, 2}), calibration, "test").sizes() ==
        std::vector<int64_t>{4, 1, 1});
  CHECK_THROWS_WITH(deepcomp::weight_input_moments(entry("Linear", {3, 5}), calibration, "test"),
                    Catch::Contains("calibration statistics of 4 input features"));
  CHECK_THROWS_WITH(deepcomp::weight_input_moments(entry("Linear", {3, 4}), deepcomp::Calibration{}, "test"),
                    Catch::Contains("no calibration statistics"));
}

TEST_CASE("activation-weighted pruning drops the weights of inputs that stay small", "[calibration][prune]") {
  torch::manual_seed(43);
  struct Model : torch::nn::Module {
    Model() { fc = register_module("fc", torch::nn::Linear(4, 3)); }
    torch::nn::Linear fc{nullptr};
  };
  auto model = std::make_shared<Model>();
  deepcomp::Calibration calibration;
  // input 0 never varies from 0, input 3 is large: its small weights matter more than input 0's large ones
  const auto inputs = torch::randn({64, 4}) * torch::tensor({0.0, 1.0, 1.0, 10.0});
  calibration["fc"].add("Linear", {3, 4}, inputs);
  {
    torch::NoGradGuard no_grad;
    model->fc->weight.copy_(torch::tensor({{5.0, 1.0, 1.0, 0.1}, {5.0, 1.0, 1.0, 0.1}, {5.0, 1.0, 1.0, 0.1}}));
  }
  const auto report =
      deepcomp::prune(*model, {.sparsity = 0.25, .criterion = "activation", .calibration = calibration});
  CHECK(report.score == "activation");
  const auto mask = model->named_buffers()["fc.mask"];
  CHECK(torch::equal(mask, torch::tensor({false, true, true, true}).expand({3, 4})));
  CHECK_THROWS_WITH(deepcomp::prune(*std::make_shared<Model>(), {.sparsity = 0.5, .criterion = "activation"}),
                    Catch::Contains("give the calibration statistics"));
  CHECK_THROWS_WITH(deepcomp::prune(*std::make_shared<Model>(), {.sparsity = 0.5, .criterion = "wanda"}),
                    Catch::Contains("'magnitude' or 'activation'"));
}

TEST_CASE("quantize weighs k-means by the given importance or the calibration", "[calibration][quantize]") {
  torch::manual_seed(44);
  struct Model : torch::nn::Module {
    Model() { fc = register_module("fc", torch::nn::Linear(16, 8)); }
    torch::nn::Linear fc{nullptr};
  };
  auto weighted = std::make_shared<Model>();
  const auto weight = weighted->fc->weight.detach().clone();
  deepcomp::Calibration calibration;
  calibration["fc"].add("Linear", {8, 16}, torch::randn({32, 16}) * torch::linspace(0.1, 3, 16));
  deepcomp::quantize(*weighted, {.bits = deepcomp::LayerBits(2), .calibration = calibration});
  const auto moments = calibration["fc"].mean_square().to(torch::kFloat).view({1, 16});
  const auto [codebook, indices] =
      deepcomp::ops::kmeans_quantize(weight, std::nullopt, 2, "linear", "lloyd", 0, moments);
  CHECK(torch::equal(weighted->named_parameters()["fc.codebook"], codebook));
  CHECK(torch::equal(weighted->named_buffers()["fc.indices"], indices));
  CHECK_THROWS_WITH(
      deepcomp::quantize(*std::make_shared<Model>(), {.importance = {{"head", torch::ones({1})}}}),
      Catch::Contains("no layer named 'head'"));
}
