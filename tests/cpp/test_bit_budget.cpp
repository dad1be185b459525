// Mixed precision under a file-size budget: SensitivityReport::bits_for_budget.
#include "saved_file.h"

#include <deepcomp/deepcomp.h>

namespace {

struct NetImpl : torch::nn::Module {
  NetImpl()
      : conv(register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 8, 3)))),
        fc1(register_module("fc1", deepcomp::nn::MaskedLinear(288, 64))),
        fc2(register_module("fc2", torch::nn::Linear(64, 10))) {}
  torch::Tensor forward(const torch::Tensor& x) {
    return deepcomp::nn::forward_child(*this, "fc2",
                                       deepcomp::nn::forward_child(*this, "fc1", conv(x).relu().flatten(1)).relu());
  }
  torch::nn::Conv2d conv;
  deepcomp::nn::MaskedLinear fc1;
  torch::nn::Linear fc2;
};
TORCH_MODULE(Net);

int64_t file_size(const std::string& path) { return static_cast<int64_t>(std::filesystem::file_size(path)); }

}  // namespace

TEST_CASE("bits_for_budget picks widths whose file is the size it estimates, within the budget",
          "[sensitivity][budget]") {
  torch::manual_seed(11);
  Net net;
  deepcomp::prune(*net, {.sparsity = 0.6, .layers = std::vector<std::string>{"fc1"}});
  const auto input = torch::randn({32, 3, 8, 8});
  torch::NoGradGuard no_grad;
  const auto reference = net->forward(input);
  // Higher is better: the output's cosine to the original's.
  const auto cosine = [&](torch::nn::Module&) {
    return torch::nn::functional::cosine_similarity(net->forward(input), reference).mean().item<double>();
  };
  deepcomp::SensitivityOptions options{.sparsities = std::nullopt, .bits = std::vector<int64_t>{2, 4, 6}};
  options.quantize.method = "exact";
  options.quantize.group_size = 16;  // fc1: 4 codebooks, conv and fc2 one (a file of both kinds)
  const auto report = deepcomp::sensitivity(*net, cosine, options);
  REQUIRE(report.points.size() == 3 * 3);
  for (const auto& point : report.points) {
    INFO(point.layer << " " << point.value);
    CHECK(point.bytes > 0);
    CHECK(point.codebooks == (point.layer == "fc1" ? 4 : 1));
  }
  CHECK(report.points[0].bytes < report.points[1].bytes);  // narrower, fewer bytes

  const auto widest = report.bits_for_budget(*net, std::numeric_limits<int64_t>::max());
  CHECK(widest.bits == std::map<std::string, int64_t>{{"conv", 6}, {"fc1", 6}, {"fc2", 6}});
  const auto narrowest = report.bits_for_budget(*net, 1 + widest.file_bytes / 4 * 3);  // forces some narrowing
  CHECK(narrowest.file_bytes <= 1 + widest.file_bytes / 4 * 3);
  CHECK(narrowest.file_bytes < widest.file_bytes);
  CHECK(narrowest.metric <= widest.metric);

  // The estimate is the file quantize + save then write.
  deepcomp::QuantizeOptions quantize{.bits = narrowest.bits, .method = "exact", .group_size = 16};
  deepcomp::quantize(*net, quantize);
  deepcomp::testing::SavedFile saved(*net, "bit_budget.dcz");
  CHECK(file_size(saved.path) == narrowest.file_bytes);
}

TEST_CASE("bits_for_budget picks the widths that lose the least in all within the budget", "[sensitivity][budget]") {
  torch::manual_seed(12);
  const deepcomp::NamedTensors state{{"a.weight", torch::randn({16, 16})}, {"b.weight", torch::randn({16, 16})},
                                     {"b.bias", torch::randn({16})}};
  const deepcomp::NamedTensors rest{{"b.bias", state[2].second}};
  deepcomp::testing::SavedFile rest_file(rest, "bit_budget_rest.dcz");
  const int64_t rest_bytes = file_size(rest_file.path);
  deepcomp::SensitivityReport report;
  report.baseline = 1.0;
  // a: 4 bits 400 bytes, 3 bits 300 (loses 0.1), 2 bits 200 (0.5); b: 4 bits 400, 3 bits 350 (0.01), 2 bits 100 (0.04).
  report.points = {{"a", "quantize", 4, 1.0, 400},  {"a", "quantize", 3, 0.9, 300}, {"a", "quantize", 2, 0.5, 200},
                   {"b", "quantize", 4, 0.99, 400}, {"b", "quantize", 3, 0.98, 350}, {"b", "quantize", 2, 0.95, 100}};
  const auto at = [&](int64_t budget) { return report.bits_for_budget(state, rest_bytes + budget); };
  // Within 700 bytes: b at 2 bits loses 0.04 more than at 4 (a at 3 bits would lose 0.1).
  const auto one = at(700);
  CHECK(one.bits == std::map<std::string, int64_t>{{"a", 4}, {"b", 2}});
  CHECK(one.file_bytes == rest_bytes + 500);
  CHECK(one.metric == Approx(1.0 - 0.05));
  // Within 450 bytes a must narrow too: 3 bits (0.1) rather than 2 (0.5).
  const auto two = at(450);
  CHECK(two.bits == std::map<std::string, int64_t>{{"a", 3}, {"b", 2}});
  CHECK(at(800).bits == std::map<std::string, int64_t>{{"a", 4}, {"b", 4}});
  CHECK(at(300).bits == std::map<std::string, int64_t>{{"a", 2}, {"b", 2}});
  // Lower is better (a loss): here every narrowing lowers it, so both go to 2 bits.
  const auto loss = report.bits_for_budget(state, rest_bytes + 700, /*higher_is_better=*/false);
  CHECK(loss.bits == std::map<std::string, int64_t>{{"a", 2}, {"b", 2}});
  CHECK(loss.metric == Approx(1.0 - 0.5 - 0.05));
}

TEST_CASE("bits_for_budget finds the best widths where narrowing by cost per byte would not",
          "[sensitivity][budget]") {
  const deepcomp::NamedTensors state{{"a.weight", torch::ones({4, 4})}, {"b.weight", torch::ones({4, 4})}};
  deepcomp::SensitivityReport report;
  report.baseline = 1.0;
  report.points = {{"a", "quantize", 4, 1.0, 400}, {"a", "quantize", 2, 0.97, 100},
                   {"b", "quantize", 4, 1.0, 400}, {"b", "quantize", 3, 0.98, 300}};
  const int64_t rest_bytes = report.bits_for_budget(state, 1 << 20).file_bytes - 800;
  // Within 700 bytes: a at 2 bits loses the least per byte saved (0.03 for 300), but b at 3 bits loses
  // less in all (0.02 for 100) and fits.
  const auto budget = report.bits_for_budget(state, rest_bytes + 700);
  CHECK(budget.bits == std::map<std::string, int64_t>{{"a", 4}, {"b", 3}});
  CHECK(budget.file_bytes == rest_bytes + 700);
  CHECK(budget.metric == Approx(0.98));
  CHECK(report.bits_for_budget(state, rest_bytes + 699).bits == std::map<std::string, int64_t>{{"a", 2}, {"b", 4}});
}

TEST_CASE("bits_for_budget refuses what it cannot answer", "[sensitivity][budget][errors]") {
  const deepcomp::NamedTensors state{{"a.weight", torch::randn({4, 4})}};
  deepcomp::SensitivityReport report;
  report.baseline = 1.0;
  report.points = {{"a", "prune", 0.5, 0.9}};
  CHECK_THROWS_WITH(report.bits_for_budget(state, 1000), Catch::Contains("no bits sweep"));
  report.points = {{"a", "quantize", 4, 0.9}};
  CHECK_THROWS_WITH(report.bits_for_budget(state, 1000), Catch::Contains("has no file size"));
  report.points = {{"a", "quantize", 4, 0.9, 100}, {"a", "quantize", 2, 0.5, 60}};
  CHECK_THROWS_WITH(report.bits_for_budget(state, 0), Catch::Contains("max_bytes must be > 0"));
  CHECK_THROWS_WITH(report.bits_for_budget(state, 10), Catch::Contains("no measured widths fit 10 bytes") &&
                                                           Catch::Contains("smallest file they make is"));
  CHECK_THROWS_AS(report.bits_for_budget(state, 10), c10::ValueError);
  const deepcomp::NamedTensors other{{"b.weight", torch::randn({4, 4})}};
  CHECK_THROWS_WITH(report.bits_for_budget(other, 1000), Catch::Contains("no weight of layer 'a'"));
  report.points = {{"a", "quantize", 4, std::nan(""), 100}};
  CHECK_THROWS_WITH(report.bits_for_budget(state, 1000), Catch::Contains("every width of layer 'a' measured NaN"));
}
