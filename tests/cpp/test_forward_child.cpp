#include "helpers.h"
#include <deepcomp/deepcomp.h>

#include <filesystem>

namespace {

// A model whose forward calls its layers through forward_child: built with masked layers (and one
// plain Linear) to be pruned and quantized, or with plain layers to load the .dcz file.
struct NetImpl : torch::nn::Module {
  explicit NetImpl(bool masked) {
    const auto conv_options = torch::nn::Conv2dOptions(1, 4, 3);
    if (masked) {
      register_module("conv", deepcomp::nn::MaskedConv2d(conv_options));
      register_module("fc1", deepcomp::nn::MaskedLinear(144, 20));
    } else {
      register_module("conv", torch::nn::Conv2d(conv_options));
      register_module("fc1", torch::nn::Linear(144, 20));
    }
    register_module("fc2", torch::nn::Linear(20, 3));
    register_module("act", torch::nn::ReLU());
  }
  torch::Tensor forward(const torch::Tensor& x) {
    using deepcomp::nn::forward_child;
    const auto features = torch::relu(forward_child(*this, "conv", x)).flatten(1);
    return forward_child(*this, "fc2", torch::relu(forward_child(*this, "fc1", features)));
  }
};
TORCH_MODULE(Net);

// The dense weight a layer computes with, whatever its type.
torch::Tensor weight_of(torch::nn::Module& layer) {
  if (auto* shared = layer.as<deepcomp::nn::SharedLinearImpl>()) return shared->weight();
  if (auto* shared = layer.as<deepcomp::nn::SharedConv2dImpl>()) return shared->weight();
  return layer.named_parameters(false)["weight"];  // a masked layer's pruned weights are exactly 0
}

// NetImpl::forward written out with the weights of the layers registered now.
torch::Tensor reference(Net& net, const torch::Tensor& x) {
  auto layers = net->named_children();
  const auto bias = [&](const char* name) { return layers[name]->named_parameters(false)["bias"]; };
  const auto weight = [&](const char* name) { return weight_of(*layers[name]); };
  const auto features = torch::relu(torch::conv2d(x, weight("conv"), bias("conv"))).flatten(1);
  return torch::linear(torch::relu(torch::linear(features, weight("fc1"), bias("fc1"))), weight("fc2"), bias("fc2"));
}

}  // namespace

TEST_CASE("forward_child calls the layer registered now: dense, pruned, quantized, reloaded",
          "[nn][forward_child]") {
  torch::manual_seed(40);
  Net net(/*masked=*/true);
  const auto x = torch::randn({5, 1, 8, 8});
  torch::NoGradGuard no_grad;
  CHECK(torch::allclose(net->forward(x), reference(net, x), 1e-5, 1e-6));

  const auto dense_output = net->forward(x);
  deepcomp::prune(*net, {.sparsity = 0.5, .layers = std::vector<std::string>{"conv", "fc1"}});
  const auto pruned_output = net->forward(x);
  CHECK(torch::allclose(pruned_output, reference(net, x), 1e-5, 1e-6));
  CHECK_FALSE(torch::allclose(pruned_output, dense_output));  // the pruned weights are gone

  deepcomp::quantize(*net);
  REQUIRE(net->named_children()["fc2"]->as<deepcomp::nn::SharedLinearImpl>() != nullptr);
  const auto quantized_output = net->forward(x);
  CHECK(torch::allclose(quantized_output, reference(net, x), 1e-5, 1e-6));
  CHECK_FALSE(torch::allclose(quantized_output, pruned_output));  // the weights are the centroids now

  // A plain copy (torch::nn::Linear / Conv2d) loads the file and computes the same.
  const auto path = (std::filesystem::temp_directory_path() / "test_forward_child.dcz").string();
  deepcomp::save(*net, path);
  Net plain(/*masked=*/false);
  deepcomp::load(path, *plain);
  std::filesystem::remove(path);
  CHECK(torch::allclose(plain->forward(x), quantized_output, 1e-5, 1e-6));
}

TEST_CASE("forward_child trains the codebooks of a quantized model", "[nn][forward_child]") {
  torch::manual_seed(41);
  Net net(/*masked=*/true);
  deepcomp::quantize(*net);
  net->forward(torch::randn({2, 1, 8, 8})).sum().backward();
  for (const char* name : {"conv", "fc1", "fc2"}) {
    const auto codebook = net->named_children()[name]->named_parameters(false)["codebook"];
    INFO(name);
    REQUIRE(codebook.grad().defined());
    CHECK(codebook.grad().abs().sum().item<double>() > 0);
  }
}

TEST_CASE("forward_child names an unknown child and a child of another type", "[nn][forward_child][errors]") {
  Net net(/*masked=*/true);
  const auto x = torch::randn({2, 20});
  CHECK_THROWS_AS(deepcomp::nn::forward_child(*net, "fc9", x), c10::ValueError);
  CHECK_THROWS_WITH(deepcomp::nn::forward_child(*net, "fc9", x),
                    Catch::Contains("no child named 'fc9'") && Catch::Contains("'conv' 'fc1' 'fc2' 'act'"));
  CHECK_THROWS_AS(deepcomp::nn::forward_child(*net, "act", x), c10::TypeError);
  CHECK_THROWS_WITH(deepcomp::nn::forward_child(*net, "act", x),
                    Catch::Contains("child 'act'") && Catch::Contains("ReLU"));
  torch::nn::Module empty;
  CHECK_THROWS_WITH(deepcomp::nn::forward_child(empty, "fc1", x), Catch::Contains("its children are: none"));
}

TEST_CASE("to_plain gives back torch layers computing the same function", "[nn][to_plain]") {
  torch::manual_seed(12);
  Net net(/*masked=*/true);
  net->eval();
  deepcomp::prune(*net, {.sparsity = 0.5});
  deepcomp::quantize(*net, {.layers = std::vector<std::string>{"conv", "fc1"}});  // fc2 stays masked
  const auto x = torch::randn({2, 1, 8, 8});
  const auto expected = net->forward(x);
  deepcomp::to_plain(*net);
  auto layers = net->named_children();
  CHECK(layers["conv"]->as<torch::nn::Conv2dImpl>() != nullptr);
  CHECK(layers["fc1"]->as<torch::nn::LinearImpl>() != nullptr);
  CHECK(layers["fc2"]->as<torch::nn::LinearImpl>() != nullptr);
  CHECK_FALSE(layers["fc1"]->is_training());
  CHECK(torch::allclose(net->forward(x), expected, 1e-5, 1e-6));
  torch::nn::Sequential held(deepcomp::nn::MaskedLinear(4, 4));
  CHECK_THROWS_AS(deepcomp::to_plain(*held), c10::TypeError);
  CHECK((*held)[0]->as<deepcomp::nn::MaskedLinearImpl>() != nullptr);
}
