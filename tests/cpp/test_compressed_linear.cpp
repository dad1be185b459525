#include <deepcomp/nn/compressed_linear.h>
#include <deepcomp/ops.h>

#include "helpers.h"

using deepcomp::testing::random_mask;
using deepcomp::testing::relative_error;

namespace {

struct SharedWeight {
  torch::Tensor indices, mask, codebook;
};

SharedWeight random_shared_weight(int64_t out_features, int64_t in_features, double keep, int64_t k = 32) {
  return {torch::randint(0, k, {out_features, in_features}, torch::kByte), random_mask({out_features, in_features}, keep),
          torch::randn({k})};
}

}  // namespace

TEST_CASE("compressed_linear_pack lists the kept weights row by row", "[compressed_linear]") {
  const auto indices = torch::tensor({{3, 1, 4}, {1, 5, 9}}, torch::kByte);
  const auto mask = torch::tensor({{true, false, true}, {false, false, true}});
  const auto [row_ptr, entries] = deepcomp::ops::compressed_linear_pack(indices, mask);
  CHECK(torch::equal(row_ptr, torch::tensor({0, 2, 3}, torch::kLong)));
  CHECK(torch::equal(entries, torch::tensor({0 << 8 | 3, 2 << 8 | 4, 2 << 8 | 9}, torch::kInt)));
}

TEST_CASE("compressed_linear equals the decoded layer's linear", "[compressed_linear]") {
  torch::manual_seed(21);
  const auto w = random_shared_weight(70, 300, 0.09);
  const auto [row_ptr, entries] = deepcomp::ops::compressed_linear_pack(w.indices, w.mask);
  const auto dense = deepcomp::ops::codebook_decode(w.indices, w.mask, w.codebook);
  const auto bias = torch::randn({70});
  for (const int64_t batch : {1, 3, 16, 17, 40}) {
    const auto x = torch::randn({batch, 300});
    CHECK(relative_error(deepcomp::ops::compressed_linear(x, row_ptr, entries, w.codebook, bias),
                         torch::nn::functional::linear(x, dense, bias)) < 1e-5);
    CHECK(relative_error(deepcomp::ops::compressed_linear(x, row_ptr, entries, w.codebook, std::nullopt),
                         x.mm(dense.t())) < 1e-5);
  }
  const auto x3 = torch::randn({2, 5, 300});
  CHECK(deepcomp::ops::compressed_linear(x3, row_ptr, entries, w.codebook, bias).sizes() ==
        torch::IntArrayRef({2, 5, 70}));
  for (const auto dtype : {torch::kDouble, torch::kBFloat16, torch::kHalf}) {
    const auto x = torch::randn({4, 300});
    const auto out = deepcomp::ops::compressed_linear(x.to(dtype), row_ptr, entries, w.codebook.to(dtype), bias.to(dtype));
    CHECK(out.scalar_type() == dtype);
    const auto reference = torch::nn::functional::linear(x.to(dtype).to(torch::kDouble),
                                                         dense.to(dtype).to(torch::kDouble), bias.to(dtype).to(torch::kDouble));
    CHECK(relative_error(out, reference) < (dtype == torch::kDouble ? 1e-12 : 1e-2));
  }
}

TEST_CASE("compressed_linear handles rows with nothing kept and a weight with nothing kept", "[compressed_linear]") {
  auto w = random_shared_weight(6, 10, 0.5, 4);
  w.mask[2].fill_(false);
  w.mask[5].fill_(false);
  const auto bias = torch::randn({6});
  const auto x = torch::randn({3, 10});
  for (const auto& mask : {w.mask, torch::zeros_like(w.mask)}) {
    const auto [row_ptr, entries] = deepcomp::ops::compressed_linear_pack(w.indices, mask);
    CHECK(relative_error(deepcomp::ops::compressed_linear(x, row_ptr, entries, w.codebook, bias),
                         torch::nn::functional::linear(x, deepcomp::ops::codebook_decode(w.indices, mask, w.codebook),
                                                       bias)) < 1e-6);
  }
}

TEST_CASE("compressed_linear rejects malformed compressed weights with a clear error", "[compressed_linear]") {
  const auto w = random_shared_weight(4, 8, 0.5, 4);
  const auto [row_ptr, entries] = deepcomp::ops::compressed_linear_pack(w.indices, w.mask);
  const auto x = torch::randn({2, 8});
  const auto bad_column = entries.clone();
  bad_column[0] = 8 << 8;
  CHECK_THROWS_WITH(deepcomp::ops::compressed_linear(x, row_ptr, bad_column, w.codebook, std::nullopt),
                    Catch::Contains("malformed compressed weight"));
  auto bad_index = entries.clone();
  bad_index[0] = 7;
  CHECK_THROWS_WITH(deepcomp::ops::compressed_linear(x, row_ptr, bad_index, w.codebook, std::nullopt),
                    Catch::Contains("malformed compressed weight"));
  auto falling = row_ptr.clone();
  falling[1] = row_ptr[2].item<int64_t>() + 1;
  CHECK_THROWS_WITH(deepcomp::ops::compressed_linear(x, falling, entries, w.codebook, std::nullopt),
                    Catch::Contains("malformed compressed weight"));
  CHECK_THROWS_WITH(deepcomp::ops::compressed_linear(x, row_ptr, entries, w.codebook.to(torch::kDouble), std::nullopt),
                    Catch::Contains("codebook dtype"));
  CHECK_THROWS_WITH(deepcomp::ops::compressed_linear(x, row_ptr, entries.to(torch::kLong), w.codebook, std::nullopt),
                    Catch::Contains("entries must be a 1-D int32"));
  CHECK_THROWS_WITH(deepcomp::ops::compressed_linear(x, row_ptr, entries, w.codebook, torch::randn({3})),
                    Catch::Contains("bias must be"));
  CHECK_THROWS_WITH(deepcomp::ops::compressed_linear_pack(w.indices, w.mask.t()), Catch::Contains("mask must be"));
}

TEST_CASE("CompressedLinear computes what the SharedLinear it came from does", "[compressed_linear][nn]") {
  torch::manual_seed(22);
  deepcomp::nn::MaskedLinear masked(64, 20);
  masked->mask.copy_(random_mask({20, 64}, 0.2));
  deepcomp::nn::SharedLinear shared(masked, 5);
  deepcomp::nn::CompressedLinear compressed(shared);
  CHECK(compressed->kept() == shared->mask.sum().item<int64_t>());
  const auto x = torch::randn({5, 64});
  CHECK(relative_error(compressed(x), shared(x)) < 1e-5);
  const auto copy = std::dynamic_pointer_cast<deepcomp::nn::CompressedLinearImpl>(compressed->clone());
  copy->codebook.zero_();
  CHECK(relative_error(compressed(x), shared(x)) < 1e-5);  // the clone owns its tensors
  CHECK(copy->named_buffers().size() == 4);
}

TEST_CASE("compressed_linear_codebook_grad equals codebook_grad of the dense weight gradient",
          "[compressed_linear][codebook_grad]") {
  torch::manual_seed(42);
  for (const auto keep : {0.02, 0.1, 0.6}) {  // rows shorter and longer than the 32 clusters
    const auto w = random_shared_weight(70, 300, keep);
    const auto [row_ptr, entries] = deepcomp::ops::compressed_linear_pack(w.indices, w.mask);
    for (const int64_t batch : {1, 5, 33}) {
      const auto x = torch::randn({batch, 300}, torch::kDouble), g = torch::randn({batch, 70}, torch::kDouble);
      const auto reference = deepcomp::ops::codebook_grad(g.t().mm(x), w.indices, w.mask, 32, 1);
      INFO("keep " << keep << ", batch " << batch);
      CHECK(relative_error(deepcomp::ops::compressed_linear_codebook_grad(g, x, row_ptr, entries, 32), reference) <
            1e-12);
      // float: the products in float, their sums in double
      CHECK(relative_error(deepcomp::ops::compressed_linear_codebook_grad(g.to(torch::kFloat), x.to(torch::kFloat),
                                                                           row_ptr, entries, 32)
                               .to(torch::kDouble),
                           reference) < 1e-5);
    }
  }
  // leading dimensions are summed over, as the layer's batch is
  const auto w = random_shared_weight(6, 10, 0.5, 4);
  const auto [row_ptr, entries] = deepcomp::ops::compressed_linear_pack(w.indices, w.mask);
  const auto x = torch::randn({2, 3, 10}), g = torch::randn({2, 3, 6});
  CHECK(relative_error(deepcomp::ops::compressed_linear_codebook_grad(g, x, row_ptr, entries, 4),
                       deepcomp::ops::compressed_linear_codebook_grad(g.view({6, 6}), x.view({6, 10}), row_ptr, entries,
                                                                      4)) < 1e-6);
}

TEST_CASE("compressed_linear_codebook_grad rejects what it cannot use", "[compressed_linear][codebook_grad][errors]") {
  const auto w = random_shared_weight(4, 8, 0.5, 4);
  const auto [row_ptr, entries] = deepcomp::ops::compressed_linear_pack(w.indices, w.mask);
  const auto x = torch::randn({2, 8}), g = torch::randn({2, 4});
  auto bad_index = entries.clone();
  bad_index[0] = 7;
  CHECK_THROWS_WITH(deepcomp::ops::compressed_linear_codebook_grad(g, x, row_ptr, bad_index, 4),
                    Catch::Contains("compressed_linear_codebook_grad: malformed compressed weight"));
  CHECK_THROWS_WITH(deepcomp::ops::compressed_linear_codebook_grad(g, x, row_ptr, entries, 0),
                    Catch::Contains("num_codes must be in 1..256"));
  CHECK_THROWS_WITH(deepcomp::ops::compressed_linear_codebook_grad(torch::randn({3, 4}), x, row_ptr, entries, 4),
                    Catch::Contains("grad_output must be (*, out_features)"));
  CHECK_THROWS_WITH(deepcomp::ops::compressed_linear_codebook_grad(g.to(torch::kDouble), x, row_ptr, entries, 4),
                    Catch::Contains("grad_output dtype"));
  CHECK_THROWS_WITH(deepcomp::ops::compressed_linear_codebook_grad(g, x, row_ptr, entries.to(torch::kLong), 4),
                    Catch::Contains("compressed_linear_codebook_grad: entries must be a 1-D int32"));
}
