// A compressed weight's tensors named with a stem (`<layer>.<stem>weight`, `<stem>mask`, ...), as
// MultiheadAttention's `in_proj_weight` is: one record named as torch names the weight, loaded back
// into the same names, or decoded into the plain layer's weight.
#include "helpers.h"
#include "saved_file.h"
#include <deepcomp/deepcomp.h>

using deepcomp::testing::random_mask;

TEST_CASE("a weight with a stem saves as one record under torch's name and loads back", "[io][names]") {
  torch::manual_seed(21);
  const auto mask = random_mask({12, 4}, 0.4);
  const auto weight = torch::randn({12, 4}) * mask;
  const auto indices = torch::randint(0, 8, {12, 4}, torch::kByte) * mask;
  const auto codebook = torch::randn({8});
  const deepcomp::NamedTensors state{{"masked.in_proj_weight", weight},   {"masked.in_proj_mask", mask},
                                     {"shared.in_proj_codebook", codebook}, {"shared.in_proj_indices", indices},
                                     {"shared.in_proj_mask", mask},        {"shared.in_proj_bias", torch::randn({12})},
                                     {"raw.attnweight", weight},            {"raw.attnmask", mask}};
  const deepcomp::testing::SavedFile file(state, "names_stem.dcz");
  REQUIRE(file.report.tensors.size() == 5);  // a stem ends in '_': the last two are other tensors, saved raw
  CHECK(file.report.tensors[0].name == "masked.in_proj_weight");
  CHECK(file.report.tensors[0].kind == "sparse_raw");
  CHECK(file.report.tensors[1].name == "shared.in_proj_weight");
  CHECK(file.report.tensors[1].kind == "sparse_codebook");
  CHECK(file.report.tensors[3].name == "raw.attnweight");
  CHECK(file.report.tensors[3].kind == "raw");

  std::vector<std::string> names;
  for (const auto& [name, tensor] : state) names.push_back(name);
  const auto loaded = deepcomp::load_state(file.path, names);
  for (size_t i = 0; i < state.size(); ++i) {
    INFO(state[i].first);
    CHECK(torch::equal(loaded[i].second, state[i].second));
  }
  const auto dense = deepcomp::load(file.path);  // decoded: the weights a plain MultiheadAttention has
  CHECK(torch::equal(dense["masked.in_proj_weight"], weight));
  CHECK(torch::equal(dense["shared.in_proj_weight"], deepcomp::ops::codebook_decode(indices, mask, codebook)));
}
