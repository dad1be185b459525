// quantize with QuantizeOptions::group_size: which layers get per-group codebooks, the report, the
// errors, the quantized forward, and the squared error per-group codebooks save.
#include <deepcomp/deepcomp.h>

#include "grouped_reference.h"
#include "helpers.h"

using deepcomp::testing::group_slice;
using deepcomp::testing::grouped_decode_reference;
using deepcomp::testing::random_mask;
using deepcomp::testing::relative_error;

namespace {

// conv: 4 output channels; fc1: 64 rows; fc2: 3 rows. The forward calls the registered children.
struct NetImpl : torch::nn::Module {
  NetImpl() {
    register_module("conv", deepcomp::nn::MaskedConv2d(torch::nn::Conv2dOptions(1, 4, 3)));
    register_module("fc1", deepcomp::nn::MaskedLinear(144, 64));
    register_module("fc2", torch::nn::Linear(64, 3));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    using deepcomp::nn::forward_child;
    const auto features = torch::relu(forward_child(*this, "conv", x)).flatten(1);
    return forward_child(*this, "fc2", torch::relu(forward_child(*this, "fc1", features)));
  }
  template <typename Layer>
  Layer* layer(const std::string& name) {
    return named_children()[name]->as<Layer>();
  }
};
TORCH_MODULE(Net);

const deepcomp::LayerQuantizeStats& stats_of(const deepcomp::QuantizeReport& report, const std::string& name) {
  for (const auto& layer : report.layers) {
    if (layer.name == name) return layer;
  }
  FAIL("no layer " << name << " in the report");
  throw;
}

// Σ (w - its centroid)² over the kept weights of group g, in float64.
double group_error(const torch::Tensor& weight, const deepcomp::nn::SharedLinearImpl& shared, int64_t g,
                   int64_t groups) {
  const auto decoded = grouped_decode_reference(shared.indices, shared.mask, shared.codebook.detach());
  const auto mask = group_slice(shared.mask, g, groups);
  const auto diff = (group_slice(weight, g, groups) - group_slice(decoded, g, groups)).to(torch::kDouble);
  return diff.masked_select(mask).pow(2).sum().item<double>();
}

}  // namespace

TEST_CASE("quantize with group_size gives layers with more rows a codebook per group", "[pipeline][quantize][groups]") {
  torch::manual_seed(90);
  Net net;
  deepcomp::prune(*net, {.sparsity = 0.5, .layers = std::vector<std::string>{"fc1"}});
  const auto fc1_weight = net->layer<deepcomp::nn::MaskedLinearImpl>("fc1")->weight.detach().clone();
  const auto fc1_mask = net->layer<deepcomp::nn::MaskedLinearImpl>("fc1")->mask.clone();
  const auto report = deepcomp::quantize(*net, {.bits = int64_t{4}, .group_size = 16});

  auto* conv = net->layer<deepcomp::nn::SharedConv2dImpl>("conv");
  auto* fc1 = net->layer<deepcomp::nn::SharedLinearImpl>("fc1");
  auto* fc2 = net->layer<deepcomp::nn::SharedLinearImpl>("fc2");
  REQUIRE(conv != nullptr);
  REQUIRE(fc1 != nullptr);
  REQUIRE(fc2 != nullptr);
  CHECK(fc1->codebook.sizes() == torch::IntArrayRef({4, 16}));
  CHECK(conv->codebook.sizes() == torch::IntArrayRef({16}));  // 4 channels <= group_size
  CHECK(fc2->codebook.sizes() == torch::IntArrayRef({16}));
  CHECK(fc1->bits() == 4);
  CHECK(stats_of(report, "fc1").groups == 4);
  CHECK(stats_of(report, "conv").groups == 1);
  CHECK(stats_of(report, "fc2").groups == 1);
  CHECK(report.table().find("groups") != std::string::npos);

  // The layer is cluster_weight's per-group clustering of the pruned weights.
  const auto expected = deepcomp::nn::cluster_weight(fc1_weight, fc1_mask, 4, {}, {}, 4);
  CHECK(torch::equal(fc1->codebook.detach(), expected.codebook));
  CHECK(torch::equal(fc1->indices, expected.indices));
  CHECK(torch::equal(fc1->mask, fc1_mask));

  // The report's squared error is that of the per-group codebooks.
  double error = 0;
  for (int64_t g = 0; g < 4; ++g) error += group_error(fc1_weight, *fc1, g, 4);
  CHECK(std::abs(stats_of(report, "fc1").squared_error - error) <= 1e-9 * error);
  CHECK(stats_of(report, "fc1").kept == fc1_mask.sum().item<int64_t>());

  // The quantized model computes with the decoded weights.
  const auto x = torch::randn({3, 1, 8, 8});
  const auto features = torch::relu(torch::conv2d(x, conv->weight(), conv->bias)).flatten(1);
  const auto hidden = torch::relu(torch::linear(
      features, grouped_decode_reference(fc1->indices, fc1->mask, fc1->codebook.detach()), fc1->bias));
  CHECK(relative_error(net->forward(x), torch::linear(hidden, fc2->weight(), fc2->bias)) < 1e-5);
}

TEST_CASE("quantize with group_size 1 gives every output channel its own codebook", "[pipeline][quantize][groups]") {
  torch::manual_seed(91);
  Net net;
  const auto report = deepcomp::quantize(*net, {.bits = int64_t{3}, .group_size = 1});
  CHECK(net->layer<deepcomp::nn::SharedConv2dImpl>("conv")->codebook.sizes() == torch::IntArrayRef({4, 8}));
  CHECK(net->layer<deepcomp::nn::SharedLinearImpl>("fc1")->codebook.sizes() == torch::IntArrayRef({64, 8}));
  CHECK(net->layer<deepcomp::nn::SharedLinearImpl>("fc2")->codebook.sizes() == torch::IntArrayRef({3, 8}));
  CHECK(stats_of(report, "fc1").groups == 64);
  // group_size = the row count: one codebook.
  Net other;
  CHECK(stats_of(deepcomp::quantize(*other, {.group_size = 64}), "fc1").groups == 1);
  CHECK(other->layer<deepcomp::nn::SharedLinearImpl>("fc1")->codebook.dim() == 1);
}

TEST_CASE("a group_size that does not divide a layer's rows gives runs as even as possible, none longer",
          "[pipeline][quantize][groups]") {
  torch::manual_seed(92);
  Net net;  // fc1: 64 rows: ceil(64 / 24) = 3 groups of 22, 21 and 21 rows
  const auto weight = net->layer<deepcomp::nn::MaskedLinearImpl>("fc1")->weight.detach().clone();
  const auto report = deepcomp::quantize(*net, {.bits = int64_t{3}, .group_size = 24});
  CHECK(stats_of(report, "fc1").groups == 3);
  CHECK(stats_of(report, "conv").groups == 1);
  const auto* fc1 = net->layer<deepcomp::nn::SharedLinearImpl>("fc1");
  REQUIRE(fc1->codebook.sizes() == torch::IntArrayRef({3, 8}));
  for (int64_t g = 0; g < 3; ++g) {
    const auto slice = group_slice(weight, g, 3);
    INFO("group " << g);
    CHECK(slice.size(0) <= 24);
    const auto [codebook, indices] = deepcomp::ops::kmeans_quantize(slice, torch::ones_like(slice, torch::kBool), 3);
    CHECK(torch::equal(fc1->codebook[g].detach(), codebook));
    CHECK(torch::equal(group_slice(fc1->indices, g, 3), indices));
  }
}

TEST_CASE("quantize refuses a group_size below 1, before changing anything", "[pipeline][quantize][groups][errors]") {
  torch::manual_seed(93);
  Net net;
  for (const int64_t group_size : {0, -4}) {
    INFO("group_size " << group_size);
    CHECK_THROWS_AS(deepcomp::quantize(*net, {.group_size = group_size}), c10::ValueError);
    CHECK_THROWS_WITH(deepcomp::quantize(*net, {.group_size = group_size}),
                      Catch::Contains("group_size must be >= 1, got " + std::to_string(group_size)));
  }
  CHECK(net->layer<deepcomp::nn::MaskedConv2dImpl>("conv") != nullptr);
  CHECK(net->layer<deepcomp::nn::MaskedLinearImpl>("fc1") != nullptr);
  CHECK(net->layer<torch::nn::LinearImpl>("fc2") != nullptr);
}

TEST_CASE("per-group codebooks fit rows of very different scales better than one codebook",
          "[pipeline][quantize][groups]") {
  torch::manual_seed(94);
  // 4 groups of 16 rows, scaled 0.01, 0.1, 1 and 10: one codebook of 4 centroids spends them on
  // the largest rows and leaves the small ones a single centroid near 0.
  const auto weight =
      torch::randn({64, 32}) * torch::tensor({0.01f, 0.1f, 1.0f, 10.0f}).repeat_interleave(16).view({64, 1});
  const auto make = [&] {
    auto model = std::make_shared<torch::nn::Module>();
    torch::nn::Linear fc(32, 64);
    torch::NoGradGuard no_grad;
    fc->weight.copy_(weight);
    model->register_module("fc", fc);
    return model;
  };
  for (const std::string method : {"lloyd", "exact"}) {
    auto grouped = make(), single = make();
    const auto grouped_report = deepcomp::quantize(*grouped, {.bits = int64_t{2}, .method = method, .group_size = 16});
    const auto single_report = deepcomp::quantize(*single, {.bits = int64_t{2}, .method = method});
    const double grouped_error = grouped_report.layers.at(0).squared_error;
    const double single_error = single_report.layers.at(0).squared_error;
    INFO("method " << method << ": " << grouped_error << " per group, " << single_error << " with one codebook");
    CHECK(grouped_report.layers.at(0).groups == 4);
    CHECK(single_report.layers.at(0).groups == 1);
    CHECK(grouped_error < 0.9 * single_error);
    const auto& g = *grouped->named_children()["fc"]->as<deepcomp::nn::SharedLinearImpl>();
    const auto& s = *single->named_children()["fc"]->as<deepcomp::nn::SharedLinearImpl>();
    double sum = 0;
    for (int64_t group = 0; group < 4; ++group) {
      const double own = group_error(weight, g, group, 4), shared = group_error(weight, s, group, 4);
      INFO("group " << group << ": " << own << " with its own codebook, " << shared << " with the shared one");
      sum += own;
      if (group < 2) CHECK(own < 0.2 * shared);  // the small rows: 4 centroids where they had about 1
      // "exact" is optimal per slice: no slice does worse than under the shared codebook.
      if (method == "exact") CHECK(own <= shared * (1 + 1e-6));
    }
    CHECK(std::abs(sum - grouped_error) <= 1e-9 * grouped_error);
  }
}
