#include "helpers.h"
#include <deepcomp/deepcomp.h>


namespace {

struct NetImpl : torch::nn::Module {
  NetImpl()
      : conv(register_module("conv", deepcomp::nn::MaskedConv2d(3, 8, 3))),
        fc(register_module("fc", deepcomp::nn::MaskedLinear(40, 10))),
        head(register_module("head", torch::nn::Linear(10, 2))),
        norm(register_module("norm", torch::nn::BatchNorm1d(10))) {}
  deepcomp::nn::MaskedConv2d conv;
  deepcomp::nn::MaskedLinear fc;
  torch::nn::Linear head;
  torch::nn::BatchNorm1d norm;
};
TORCH_MODULE(Net);

int64_t pruned_nonzeros(const torch::Tensor& weight, const torch::Tensor& mask) {
  return (weight.masked_select(~mask) != 0).sum().item<int64_t>();
}

}  // namespace

TEST_CASE("prune by sparsity drops exactly that fraction of each masked layer", "[prune]") {
  torch::manual_seed(7);
  Net net;
  const auto original = net->fc->weight.detach().clone();
  const auto report = deepcomp::prune(*net, {.sparsity = 0.75, .exclude = {"head"}});
  REQUIRE(report.layers.size() == 2);
  CHECK(report.criterion == "sparsity");
  CHECK(report.layers[1].kind == "Linear");
  CHECK(report.layers[0].name == "conv");
  CHECK(report.layers[0].kept == 216 - 162);  // floor(0.75 × 216) pruned
  CHECK(report.layers[1].kept == 400 - 300);
  CHECK(net->fc->mask.sum().item<int64_t>() == 100);
  CHECK(pruned_nonzeros(net->fc->weight, net->fc->mask) == 0);
  CHECK(pruned_nonzeros(net->conv->weight, net->conv->mask) == 0);
  // The survivors are the largest weights, unchanged.
  const auto& mask = net->fc->mask;
  CHECK(original.masked_select(mask).abs().min().item<float>() >=
        original.masked_select(~mask).abs().max().item<float>());
  CHECK(torch::equal(net->fc->weight.masked_select(mask), original.masked_select(mask)));
  CHECK(report.total_kept() == 154);
  CHECK(report.table().find("total") != std::string::npos);
}

TEST_CASE("prune by sensitivity uses the std of the surviving weights", "[prune]") {
  torch::manual_seed(8);
  Net net;
  const auto w = net->fc->weight.detach().clone();
  const double threshold = 0.8 * w.to(torch::kDouble).std().item<double>();
  const int64_t expected_kept = (w.abs() >= threshold).sum().item<int64_t>();
  deepcomp::prune(*net, {.sensitivity = std::map<std::string, double>{{"fc", 0.8}}});
  CHECK(net->fc->mask.sum().item<int64_t>() == expected_kept);
  CHECK(net->conv->mask.all().item<bool>());  // not named in the map
}

TEST_CASE("masks only shrink", "[prune]") {
  Net net;
  deepcomp::prune(*net, {.sparsity = 0.5});
  const auto mask = net->fc->mask.clone();
  deepcomp::prune(*net, {.sparsity = 0.3, .layers = std::vector<std::string>{"fc"}});
  CHECK(torch::equal(net->fc->mask, mask));
  deepcomp::prune(*net, {.sparsity = 0.9, .layers = std::vector<std::string>{"fc"}});
  CHECK(net->fc->mask.sum().item<int64_t>() == 40);
  CHECK((net->fc->mask <= mask).all().item<bool>());
}

TEST_CASE("enforce_masks zeroes pruned weights an optimizer moved", "[prune]") {
  Net net;
  deepcomp::prune(*net, {.sparsity = 0.5});
  torch::NoGradGuard no_grad;
  net->fc->weight.add_(1.0);
  deepcomp::enforce_masks(*net);
  CHECK(pruned_nonzeros(net->fc->weight, net->fc->mask) == 0);
}

TEST_CASE("prune errors name the layer and the value, and change nothing", "[prune][errors]") {
  Net net;
  const auto fc_mask = net->fc->mask.clone();
  CHECK_THROWS_WITH(deepcomp::prune(*net, {}), Catch::Contains("exactly one"));
  CHECK_THROWS_WITH(deepcomp::prune(*net, {.sensitivity = 1.0, .sparsity = 0.5}), Catch::Contains("exactly one"));
  CHECK_THROWS_WITH(deepcomp::prune(*net, {.sparsity = 1.0}), Catch::Contains("layer 'conv'") &&
                                                                 Catch::Contains("[0, 1), got 1"));
  CHECK_THROWS_WITH(deepcomp::prune(*net, {.sensitivity = -0.5}), Catch::Contains(">= 0, got -0.5"));
  CHECK_THROWS_WITH(deepcomp::prune(*net, {.sparsity = 0.5, .layers = std::vector<std::string>{"nope"}}),
                    Catch::Contains("no layer named 'nope'"));
  CHECK_THROWS_AS(deepcomp::prune(*net, {.sparsity = 0.5, .layers = std::vector<std::string>{"norm"}}),
                  c10::TypeError);
  CHECK_THROWS_WITH(deepcomp::prune(*net, {.sparsity = 0.5, .layers = std::vector<std::string>{"norm"}}),
                    Catch::Contains("layer 'norm' is a torch::nn::BatchNorm1d"));
  {
    torch::NoGradGuard no_grad;
    net->fc->weight[0][0] = NAN;
  }
  CHECK_THROWS_WITH(deepcomp::prune(*net, {.sparsity = 0.5}), Catch::Contains("layer 'fc'") && Catch::Contains("NaN"));
  CHECK(net->conv->mask.all().item<bool>());  // checked all layers before changing any
  CHECK(torch::equal(net->fc->mask, fc_mask));
}

TEST_CASE("prune replaces a plain Linear by its masked twin, sharing its Parameters", "[prune]") {
  torch::manual_seed(9);
  Net net;
  const auto head_weight = net->head->weight;
  const auto report = deepcomp::prune(*net, {.sparsity = 0.5, .layers = std::vector<std::string>{"head"}});
  REQUIRE(report.layers.size() == 1);
  auto* head = net->named_children()["head"]->as<deepcomp::nn::MaskedLinearImpl>();
  REQUIRE(head != nullptr);
  CHECK(head->weight.is_same(head_weight));  // optimizers built before pruning keep working
  CHECK(head->mask.sum().item<int64_t>() == 10);
  CHECK(pruned_nonzeros(head->weight, head->mask) == 0);
}

TEST_CASE("prune refuses a plain layer inside a Sequential and says what to do", "[prune][errors]") {
  torch::nn::Sequential plain(torch::nn::Linear(4, 4), torch::nn::ReLU(), torch::nn::Linear(4, 2));
  CHECK_THROWS_AS(deepcomp::prune(*plain, {.sparsity = 0.5}), c10::TypeError);
  CHECK_THROWS_WITH(deepcomp::prune(*plain, {.sparsity = 0.5}),
                    Catch::Contains("torch::nn::Sequential") && Catch::Contains("forward_child"));
  CHECK((*plain)[0]->as<torch::nn::LinearImpl>() != nullptr);
  // Masked layers in a Sequential are pruned in place, and the Sequential runs them.
  torch::nn::Sequential masked(deepcomp::nn::MaskedLinear(4, 4), torch::nn::ReLU(), deepcomp::nn::MaskedLinear(4, 2));
  const auto report = deepcomp::prune(*masked, {.sparsity = 0.5});
  CHECK(report.total_kept() == 12);
  CHECK((*masked)[0]->as<deepcomp::nn::MaskedLinearImpl>()->mask.sum().item<int64_t>() == 8);
}

TEST_CASE("prune skips weighted layers it cannot change, and refuses to change nothing", "[prune]") {
  struct Model : torch::nn::Module {
    Model() {
      register_module("lstm", torch::nn::LSTM(4, 4));
      register_module("fc", torch::nn::Linear(4, 2));
    }
  };
  auto model = std::make_shared<Model>();
  const auto report = deepcomp::prune(*model, {.sparsity = 0.5});
  REQUIRE(report.layers.size() == 1);
  REQUIRE(report.skipped.size() == 1);
  CHECK(report.skipped[0].name == "lstm");
  CHECK(report.skipped[0].reason.find("does not handle") != std::string::npos);
  CHECK_THROWS_WITH(deepcomp::prune(*model, {.sparsity = 0.5, .exclude = {"fc"}}),
                    Catch::Contains("no layer to change") && Catch::Contains("'lstm'"));
}

TEST_CASE("deepcomp's errors carry the message alone, without a C++ backtrace", "[prune][errors]") {
  Net net;
  const auto message_of = [](const auto& call) {
    try {
      call();
    } catch (const c10::Error& error) {
      CHECK(std::string(error.what()) == error.what_without_backtrace());
      return std::string(error.what());
    }
    FAIL("no error");
    return std::string();
  };
  const auto from_pipeline = message_of([&] { deepcomp::prune(*net, {.sparsity = 1.5}); });
  const auto from_an_op = message_of([] {
    deepcomp::ops::masked_linear(torch::randn({2, 3}), torch::randn({4, 5}), torch::ones({4, 5}, torch::kBool), {});
  });
  CHECK_THAT(from_an_op, Catch::Matchers::StartsWith("masked_linear: input shape [2, 3]"));
  for (const auto& message : {from_pipeline, from_an_op}) {
    INFO(message);
    CHECK(message.find("Exception raised from") == std::string::npos);
    CHECK(message.find("frame #") == std::string::npos);
    CHECK(message.find('\n') == std::string::npos);
  }
}
