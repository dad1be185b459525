// The C++ twins of Conv1d, Conv3d, ConvTranspose1d/2d/3d, Embedding and EmbeddingBag through prune, retraining,
// quantize, save/load, clone and to_plain; the reference is the torch layer with the weight set by hand.
#include "helpers.h"
#include "saved_file.h"
#include <deepcomp/deepcomp.h>

#include <filesystem>

namespace {

using deepcomp::testing::relative_error;

// A model of one layer called "layer", called through forward_child.
template <typename Holder>
struct OneLayer : torch::nn::Module {
  explicit OneLayer(Holder layer) { register_module("layer", layer); }
  torch::Tensor forward(const torch::Tensor& x) { return deepcomp::nn::forward_child(*this, "layer", x); }
  std::shared_ptr<torch::nn::Module> layer() { return named_children()["layer"]; }
};

// What the torch layer of `twin` computes on x with `weight` (and the twin's bias).
template <typename Twin>
torch::Tensor reference(const Twin& twin, const torch::Tensor& weight, const torch::Tensor& x,
                        torch::Tensor* grad_weight = nullptr) {
  auto plain = twin.make_plain();
  torch::NoGradGuard no_grad;
  plain->weight.copy_(weight);
  if constexpr (requires { plain->bias; }) {
    if (twin.bias.defined()) plain->bias.copy_(twin.bias);
  }
  torch::Tensor output;
  {
    torch::AutoGradMode grad(true);
    output = deepcomp::nn::forward_child(*std::make_shared<OneLayer<decltype(plain)>>(plain), "layer", x);
    if (grad_weight) {
      const auto upstream = torch::linspace(-1, 1, output.numel()).view_as(output);
      *grad_weight = torch::autograd::grad({output}, {plain->weight}, {upstream})[0];
    }
  }
  return output.detach();
}

template <typename Plain>
void check_the_pipeline(std::shared_ptr<Plain> dense, const torch::Tensor& x) {
  using Masked = deepcomp::nn::MaskedImpl<Plain>;
  using Shared = deepcomp::nn::SharedImpl<Plain>;
  torch::manual_seed(3);
  auto model = std::make_shared<OneLayer<std::shared_ptr<Plain>>>(dense);
  const auto expected_dense = model->forward(x);

  const auto pruned = deepcomp::prune(*model, {.sparsity = 0.5});
  REQUIRE(pruned.layers.size() == 1);
  auto* masked = model->layer()->template as<Masked>();
  REQUIRE(masked != nullptr);
  CHECK(masked->weight.is_same(dense->weight));  // the Parameters an optimizer holds
  CHECK((masked->weight.masked_select(~masked->mask) == 0).all().template item<bool>());
  // forward and gradient: the torch layer with the masked weight, the gradient masked
  const auto output = model->forward(x);
  torch::Tensor grad_reference;
  CHECK(relative_error(output, reference(*masked, masked->weight * masked->mask, x, &grad_reference)) < 1e-6);
  const auto upstream = torch::linspace(-1, 1, output.numel()).view_as(output);
  const auto grad = torch::autograd::grad({output}, {masked->weight}, {upstream})[0];
  CHECK(relative_error(grad, grad_reference * masked->mask) < 1e-6);
  CHECK((grad.masked_select(~masked->mask) == 0).all().template item<bool>());
  CHECK(relative_error(expected_dense, model->forward(x)) > 0);  // pruning changed something

  const auto quantized = deepcomp::quantize(*model, {.bits = deepcomp::LayerBits(3)});
  REQUIRE(quantized.layers.size() == 1);
  auto* shared = model->layer()->template as<Shared>();
  REQUIRE(shared != nullptr);
  CHECK(shared->bits() == 3);
  const auto weight = shared->weight().detach();
  const auto shared_output = model->forward(x);
  CHECK(relative_error(shared_output, reference(*shared, weight, x, &grad_reference)) < 1e-6);
  const auto grad_codebook = torch::autograd::grad({shared_output}, {shared->codebook}, {upstream})[0];
  const auto per_cluster = torch::zeros({8}).index_add_(0, shared->indices.masked_select(shared->mask).to(torch::kLong),
                                                      grad_reference.masked_select(shared->mask));
  CHECK(relative_error(grad_codebook, per_cluster) < 1e-5);

  // clone: an independent copy computing the same
  const auto copy = std::dynamic_pointer_cast<Shared>(shared->clone());
  REQUIRE(copy != nullptr);
  CHECK(!copy->codebook.is_same(shared->codebook));
  CHECK(torch::equal(OneLayer<std::shared_ptr<Shared>>(copy).forward(x), shared_output.detach()));

  // save, and load into a model of the same kinds: the same tensors, the same output
  const auto path = (std::filesystem::temp_directory_path() / ("twins_" + shared->name() + ".dcz")).string();
  deepcomp::save(*model, path);
  auto other = std::make_shared<OneLayer<std::shared_ptr<Plain>>>(shared->make_plain());
  deepcomp::prune(*other, {.sparsity = 0.5});
  deepcomp::quantize(*other, {.bits = deepcomp::LayerBits(3)});
  deepcomp::load(path, *other);
  std::filesystem::remove(path);
  deepcomp::testing::check_same_state(*model, *other);
  CHECK(torch::equal(other->forward(x), shared_output.detach()));

  // to_plain: the torch layer with the decoded weight
  deepcomp::to_plain(*other);
  REQUIRE(other->layer()->template as<Plain>() != nullptr);
  CHECK(relative_error(other->forward(x), shared_output.detach()) < 1e-6);
}

}  // namespace

TEST_CASE("Conv1d (grouped, reflect padding) through prune, quantize, clone, save/load and to_plain", "[nn][twins]") {
  check_the_pipeline(std::make_shared<torch::nn::Conv1dImpl>(
                         torch::nn::Conv1dOptions(8, 12, 3).groups(4).padding(1).padding_mode(torch::kReflect)),
                     torch::randn({2, 8, 11}));
}

TEST_CASE("Conv3d through prune, quantize, clone, save/load and to_plain", "[nn][twins]") {
  check_the_pipeline(std::make_shared<torch::nn::Conv3dImpl>(torch::nn::Conv3dOptions(2, 4, 3).stride({1, 2, 2})),
                     torch::randn({2, 2, 5, 6, 6}));
}

TEST_CASE("ConvTranspose1d/2d/3d through prune, quantize, clone, save/load and to_plain", "[nn][twins]") {
  check_the_pipeline(std::make_shared<torch::nn::ConvTranspose1dImpl>(
                         torch::nn::ConvTranspose1dOptions(6, 4, 3).stride(2).dilation(2)),
                     torch::randn({2, 6, 8}));
  check_the_pipeline(std::make_shared<torch::nn::ConvTranspose2dImpl>(
                         torch::nn::ConvTranspose2dOptions(4, 6, 3).stride(2).groups(2).bias(false)),
                     torch::randn({2, 4, 5, 5}));
  check_the_pipeline(std::make_shared<torch::nn::ConvTranspose3dImpl>(torch::nn::ConvTranspose3dOptions(2, 3, 2).stride(2)),
                     torch::randn({1, 2, 3, 3, 3}));
}

TEST_CASE("Embedding through prune, quantize, clone, save/load and to_plain", "[nn][twins]") {
  check_the_pipeline(std::make_shared<torch::nn::EmbeddingImpl>(torch::nn::EmbeddingOptions(30, 6).padding_idx(2)),
                     torch::tensor({0, 2, 5, 29, 7, 7}, torch::kLong).view({2, 3}));
}

TEST_CASE("EmbeddingBag (bags of a 2-D input) through prune, quantize, clone, save/load and to_plain", "[nn][twins]") {
  check_the_pipeline(std::make_shared<torch::nn::EmbeddingBagImpl>(
                         torch::nn::EmbeddingBagOptions(30, 6).mode(torch::kMax).padding_idx(1)),
                     torch::tensor({0, 1, 5, 29, 7, 1}, torch::kLong).view({2, 3}));
}

TEST_CASE("EmbeddingBag twins take offsets and per-sample weights as the torch layer does", "[nn][twins]") {
  torch::manual_seed(5);
  torch::nn::EmbeddingBag dense(torch::nn::EmbeddingBagOptions(30, 6).mode(torch::kSum));
  const auto input = torch::tensor({4, 0, 29, 7, 7, 2, 9}, torch::kLong);
  const auto offsets = torch::tensor({0, 3, 3, 5}, torch::kLong);
  const auto per_sample = torch::randn({7});
  deepcomp::nn::MaskedEmbeddingBag masked(dense);
  masked->mask.copy_(torch::rand({30, 6}) < 0.5);
  const auto masked_weight = masked->weight * masked->mask;
  const auto expected = torch::nn::functional::embedding_bag(
      input, masked_weight,
      torch::nn::functional::EmbeddingBagFuncOptions().offsets(offsets).mode(torch::kSum).per_sample_weights(per_sample));
  CHECK(relative_error(masked->forward(input, offsets, per_sample), expected) < 1e-6);

  deepcomp::nn::SharedEmbeddingBag shared(*masked, 3);
  const auto decoded = shared->weight().detach();
  const auto shared_expected = torch::nn::functional::embedding_bag(
      input, decoded,
      torch::nn::functional::EmbeddingBagFuncOptions().offsets(offsets).mode(torch::kSum).per_sample_weights(per_sample));
  CHECK(relative_error(shared->forward(input, offsets, per_sample), shared_expected) < 1e-6);
}

TEST_CASE("the twins refuse sparse embedding gradients, and print as deepcomp layers", "[nn][twins][errors]") {
  const torch::nn::Embedding sparse(torch::nn::EmbeddingOptions(10, 4).sparse(true));
  CHECK_THROWS_WITH(deepcomp::nn::MaskedEmbedding(sparse), Catch::Contains("sparse=true"));
  CHECK_THROWS_WITH(deepcomp::nn::SharedEmbedding(*sparse, 4), Catch::Contains("sparse=true"));
  const torch::nn::EmbeddingBag sparse_bags(torch::nn::EmbeddingBagOptions(10, 4).sparse(true));
  CHECK_THROWS_WITH(deepcomp::nn::MaskedEmbeddingBag(sparse_bags), Catch::Contains("sparse=true"));
  std::ostringstream printed;
  printed << *deepcomp::nn::SharedConv1d(torch::nn::Conv1dOptions(3, 5, 2), 4);
  CHECK(printed.str().rfind("deepcomp::nn::SharedConv1d(3, 5, kernel_size=2", 0) == 0);
  CHECK(printed.str().find("bits=4, kept=30/30)") != std::string::npos);
}
