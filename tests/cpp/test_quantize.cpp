#include "helpers.h"
#include <deepcomp/deepcomp.h>

namespace {

struct NetImpl : torch::nn::Module {
  NetImpl() {
    register_module("conv", deepcomp::nn::MaskedConv2d(torch::nn::Conv2dOptions(1, 4, 3)));
    register_module("fc1", deepcomp::nn::MaskedLinear(64, 20));
    register_module("fc2", torch::nn::Linear(20, 3));
    register_module("act", torch::nn::ReLU());
  }
  std::shared_ptr<torch::nn::Module> child(const std::string& name) { return named_children()[name]; }
};
TORCH_MODULE(Net);

}  // namespace

TEST_CASE("quantize replaces the layers with shared twins and reports each", "[pipeline][quantize]") {
  torch::manual_seed(30);
  Net net;
  deepcomp::prune(*net, {.sparsity = 0.5, .layers = std::vector<std::string>{"conv", "fc1"}});
  const auto fc1_mask = net->child("fc1")->as<deepcomp::nn::MaskedLinearImpl>()->mask.clone();
  const auto report = deepcomp::quantize(*net, {.bits = std::map<std::string, int64_t>{{"fc2", 3}}});
  REQUIRE(report.layers.size() == 3);
  auto* conv = net->child("conv")->as<deepcomp::nn::SharedConv2dImpl>();
  auto* fc1 = net->child("fc1")->as<deepcomp::nn::SharedLinearImpl>();
  auto* fc2 = net->child("fc2")->as<deepcomp::nn::SharedLinearImpl>();
  REQUIRE(conv != nullptr);
  REQUIRE(fc1 != nullptr);
  REQUIRE(fc2 != nullptr);
  CHECK(conv->bits() == 8);
  CHECK(fc1->bits() == 5);
  CHECK(fc2->bits() == 3);
  CHECK(torch::equal(fc1->mask, fc1_mask));
  CHECK((fc1->weight().masked_select(~fc1_mask) == 0).all().item<bool>());
  const auto& stats = report.layers[1];
  CHECK(stats.name == "fc1");
  CHECK(stats.kept == fc1_mask.sum().item<int64_t>());
  CHECK(stats.k() == 32);
  CHECK(stats.clusters_used <= 32);
  CHECK(stats.squared_error > 0);
  CHECK(report.table().find("entropy") != std::string::npos);
}

TEST_CASE("quantize checks everything before changing anything", "[pipeline][quantize][errors]") {
  Net net;
  CHECK_THROWS_WITH(deepcomp::quantize(*net, {.layers = std::vector<std::string>{"fc9"}}),
                    Catch::Contains("no layer named 'fc9'"));
  CHECK_THROWS_WITH(deepcomp::quantize(*net, {.layers = std::vector<std::string>{"act"}}),
                    Catch::Contains("layer 'act' is a"));
  CHECK_THROWS_WITH(deepcomp::quantize(*net, {.bits = std::map<std::string, int64_t>{{"fc2", 11}}}),
                    Catch::Contains("layer 'fc2'") && Catch::Contains("1..8"));
  CHECK_THROWS_WITH(deepcomp::quantize(*net, {.init = "uniform"}), Catch::Contains("unknown codebook init"));
  CHECK(net->child("conv")->as<deepcomp::nn::MaskedConv2dImpl>() != nullptr);
  CHECK(net->child("fc2")->as<torch::nn::LinearImpl>() != nullptr);
}

TEST_CASE("quantize refuses layers a Sequential would keep running, before changing any", "[pipeline][quantize][errors]") {
  // A Sequential calls its own list of modules, so a replaced layer would never run: the old layer would
  // go on computing, its codebook would get no gradient, and a saved .dcz would differ from the live model.
  torch::nn::Sequential model(deepcomp::nn::MaskedLinear(4, 4), torch::nn::ReLU(), deepcomp::nn::MaskedLinear(4, 2));
  CHECK_THROWS_AS(deepcomp::quantize(*model), c10::TypeError);
  CHECK_THROWS_WITH(deepcomp::quantize(*model),
                    Catch::Contains("layer '0'") && Catch::Contains("torch::nn::Sequential") &&
                        Catch::Contains("forward_child"));
  CHECK((*model)[0]->as<deepcomp::nn::MaskedLinearImpl>() != nullptr);
}

TEST_CASE("layers a torch module computes with through its own members are left alone", "[quantize][errors]") {
  // MultiheadAttention reads its out_proj member: a replaced (or changed) registered child would never
  // run. deepcomp's twin of the attention layer calls out_proj by name, so a second call takes it.
  struct Model : torch::nn::Module {
    Model() {
      register_module("attn", torch::nn::MultiheadAttention(8, 2));
      register_module("fc", torch::nn::Linear(8, 2));
    }
  };
  auto model = std::make_shared<Model>();
  CHECK_THROWS_WITH(deepcomp::prune(*model, {.sparsity = 0.5, .layers = std::vector<std::string>{"attn.out_proj"}}),
                    Catch::Contains("layer 'attn.out_proj'") && Catch::Contains("through its own member"));
  const auto report = deepcomp::quantize(*model, {});
  REQUIRE(report.layers.size() == 2);
  CHECK(report.layers[0].name == "attn");
  CHECK(report.layers[1].name == "fc");
  const auto skipped = std::find_if(report.skipped.begin(), report.skipped.end(),
                                    [](const auto& layer) { return layer.name == "attn.out_proj"; });
  REQUIRE(skipped != report.skipped.end());
  CHECK(skipped->reason.find("torch::nn::MultiheadAttention through its own member") != std::string::npos);
  CHECK(model->named_modules()["attn.out_proj"]->as<torch::nn::LinearImpl>() != nullptr);
  CHECK(deepcomp::quantize(*model, {.layers = std::vector<std::string>{"attn.out_proj"}}).layers.size() == 1);
  CHECK(model->named_modules()["attn.out_proj"]->as<deepcomp::nn::SharedLinearImpl>() != nullptr);
  // a plain torch::nn::Module as the parent is the user's own, calling its children as registered
  auto parent = std::make_shared<torch::nn::Module>();
  parent->register_module("fc", torch::nn::Linear(4, 2));
  CHECK(deepcomp::quantize(*parent, {}).layers.size() == 1);
}
