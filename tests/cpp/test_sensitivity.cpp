#include "helpers.h"
#include <deepcomp/deepcomp.h>

#include <sstream>
#include <stdexcept>

namespace {

struct NetImpl : torch::nn::Module {
  NetImpl()
      : conv(register_module("conv", deepcomp::nn::MaskedConv2d(3, 4, 3))),
        fc(register_module("fc", torch::nn::Linear(36, 10))),
        norm(register_module("norm", torch::nn::BatchNorm1d(10))) {}
  torch::Tensor forward(const torch::Tensor& x) { return norm(fc(conv(x).flatten(1))); }
  deepcomp::nn::MaskedConv2d conv;
  torch::nn::Linear fc;
  torch::nn::BatchNorm1d norm;
};
TORCH_MODULE(Net);

std::vector<torch::Tensor> weights(Net& net) {
  return {net->conv->weight.detach().clone(), net->conv->mask.clone(), net->fc->weight.detach().clone()};
}

bool same(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  for (size_t i = 0; i < a.size(); ++i) {
    if (!torch::equal(a[i], b[i])) return false;
  }
  return true;
}

int64_t zeros(const torch::Tensor& t) { return (t == 0).sum().item<int64_t>(); }

}  // namespace

TEST_CASE("sensitivity measures every layer at every sparsity, one layer at a time", "[sensitivity]") {
  torch::manual_seed(3);
  Net net;
  // the conv layer is masked: pruned further on top of its mask
  deepcomp::prune(*net, {.sparsity = 0.5, .layers = std::vector<std::string>{"conv"}});
  const auto before = weights(net);
  std::vector<std::pair<int64_t, int64_t>> seen;  // zero weights of (conv, fc) at each call
  const auto evaluate = [&](torch::nn::Module&) {
    seen.emplace_back(zeros(net->conv->weight), zeros(net->fc->weight));
    return static_cast<double>(seen.size());
  };
  const auto report = deepcomp::sensitivity(*net, evaluate, {.sparsities = std::vector<double>{0.25, 0.75}});
  CHECK(report.baseline == 1.0);
  REQUIRE(report.points.size() == 2 * 2);
  CHECK(report.points[0].layer == "conv");
  CHECK(report.points[0].kind == "prune");
  CHECK(report.points[1].value == 0.75);
  CHECK(report.points[3].layer == "fc");
  CHECK(report.points[3].metric == 5.0);
  // conv: 108 weights, 54 already pruned; fc: 360 weights, none pruned.
  const std::vector<std::pair<int64_t, int64_t>> expected{{54, 0}, {54, 0}, {81, 0}, {54, 90}, {54, 270}};
  CHECK(seen == expected);
  CHECK(same(weights(net), before));

  const auto curves = report.curves("prune");
  REQUIRE(curves.size() == 2);
  CHECK(curves.at("fc").size() == 2);
  CHECK(report.curves("quantize").empty());
  std::istringstream table(report.table());
  std::string line;
  std::vector<std::string> lines;
  while (std::getline(table, line)) lines.push_back(line);
  REQUIRE(lines.size() == 4);  // header, rule, conv, fc
  CHECK(lines[0].find("25%") != std::string::npos);
  CHECK(lines[0].find("75%") != std::string::npos);
  CHECK(lines[3].rfind("fc", 0) == 0);
  std::ostringstream text;
  text << report;
  CHECK(text.str().find("baseline") != std::string::npos);
}

TEST_CASE("sensitivity quantizes one layer at a time and restores it bit for bit", "[sensitivity]") {
  torch::manual_seed(4);
  Net net;
  const auto before = weights(net);
  std::vector<int64_t> distinct;
  const auto report = deepcomp::sensitivity(
      *net,
      [&](torch::nn::Module&) {
        distinct.push_back(std::get<0>(at::_unique(net->fc->weight.detach())).numel());
        return 0.5;
      },
      {.sparsities = std::nullopt, .bits = std::vector<int64_t>{2, 3}, .layers = std::vector<std::string>{"fc"}});
  REQUIRE(report.points.size() == 2);
  CHECK(report.points[1].kind == "quantize");
  CHECK(report.points[1].value == 3.0);
  CHECK(distinct == std::vector<int64_t>{360, 4, 8});
  CHECK(same(weights(net), before));
  CHECK(report.table("quantize").find("3 bits") != std::string::npos);
}

TEST_CASE("sensitivity restores the model when evaluate throws", "[sensitivity]") {
  Net net;
  const auto before = weights(net);
  int calls = 0;
  const auto evaluate = [&](torch::nn::Module&) -> double {
    if (++calls == 3) throw std::runtime_error("evaluation failed");
    return 1.0;
  };
  CHECK_THROWS_WITH(deepcomp::sensitivity(*net, evaluate, {.bits = std::vector<int64_t>{4}}),
                    Catch::Contains("evaluation failed"));
  CHECK(calls == 3);
  CHECK(same(weights(net), before));
}

TEST_CASE("sensitivity checks its options before evaluating", "[sensitivity][errors]") {
  Net net;
  int calls = 0;
  const auto evaluate = [&](torch::nn::Module&) { return static_cast<double>(++calls); };
  using Strings = std::vector<std::string>;
  CHECK_THROWS_WITH(deepcomp::sensitivity(*net, evaluate, {.sparsities = std::vector<double>{0.5, 1.0}}),
                    Catch::Contains("[0, 1), got 1"));
  CHECK_THROWS_WITH(deepcomp::sensitivity(*net, evaluate, {.bits = std::vector<int64_t>{9}}),
                    Catch::Contains("1..8"));
  CHECK_THROWS_WITH(deepcomp::sensitivity(*net, evaluate, {.sparsities = std::nullopt}),
                    Catch::Contains("nothing to measure"));
  CHECK_THROWS_WITH(deepcomp::sensitivity(*net, evaluate, {.layers = Strings{"fcc"}}),
                    Catch::Contains("no layer named 'fcc'") && Catch::Contains("'fc'"));
  CHECK_THROWS_WITH(deepcomp::sensitivity(*net, evaluate, {.layers = Strings{"norm"}}),
                    Catch::Contains("layer 'norm' is a torch::nn::BatchNorm1d"));
  CHECK_THROWS_AS(deepcomp::sensitivity(*net, evaluate, {.layers = Strings{"norm"}}), c10::TypeError);
  CHECK(calls == 0);
  {
    torch::NoGradGuard no_grad;
    net->fc->weight[0][0] = std::nan("");
  }
  CHECK_THROWS_WITH(deepcomp::sensitivity(*net, evaluate), Catch::Contains("layer 'fc'") && Catch::Contains("NaN"));
}
