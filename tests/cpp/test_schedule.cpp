#include "helpers.h"

#include <deepcomp/deepcomp.h>

namespace {

struct MlpImpl : torch::nn::Module {
  MlpImpl()
      : fc1(register_module("fc1", deepcomp::nn::MaskedLinear(20, 40))),
        fc2(register_module("fc2", deepcomp::nn::MaskedLinear(40, 10))) {}
  deepcomp::nn::MaskedLinear fc1, fc2;
};
TORCH_MODULE(Mlp);

}  // namespace

TEST_CASE("PruningSchedule prunes on its epochs toward the final sparsity", "[schedule]") {
  Mlp model;
  deepcomp::PruningSchedule schedule(*model, {.sparsity = 0.9}, {.steps = 3, .every = 2, .start = 1});
  std::vector<int64_t> pruned_on;
  std::vector<double> kept;
  for (int64_t epoch = 0; epoch < 10; ++epoch) {
    if (auto report = schedule.step()) {
      pruned_on.push_back(epoch);
      kept.push_back(static_cast<double>(report->total_kept()) / report->total_weights());
    }
  }
  CHECK(pruned_on == std::vector<int64_t>{1, 3, 5});
  CHECK(schedule.done());
  REQUIRE(kept.size() == 3);
  CHECK(kept[0] == Approx(std::pow(0.1, 1.0 / 3)).margin(0.01));
  CHECK(kept[2] == Approx(0.1).margin(0.01));
}

TEST_CASE("PruningSchedule ramps per-layer sensitivities and resumes", "[schedule]") {
  Mlp model;
  deepcomp::PruningSchedule schedule(*model, {.sensitivity = std::map<std::string, double>{{"fc1", 1.2}}},
                                     {.steps = 4});
  const auto second = schedule.round_options(2);
  CHECK(std::get<std::map<std::string, double>>(*second.sensitivity).at("fc1") == Approx(0.6));
  schedule.restore(3, 3);
  CHECK(schedule.step().has_value());
  CHECK(schedule.done());
  CHECK_FALSE(schedule.step().has_value());
  CHECK(model->fc2->mask.all().item<bool>());
}

TEST_CASE("PruningSchedule rejects bad schedules", "[schedule][errors]") {
  Mlp model;
  CHECK_THROWS_WITH(deepcomp::PruningSchedule(*model, {}), Catch::Contains("exactly one"));
  CHECK_THROWS_WITH(deepcomp::PruningSchedule(*model, {.sparsity = 0.5}, {.steps = 0}),
                    Catch::Contains("steps must be an int >= 1"));
}
