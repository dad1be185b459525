#include <deepcomp/ops.h>

#include "../helpers.h"
#include "deterministic_algorithms.h"
#include "poison.h"

using deepcomp::testing::DeterministicAlgorithms;
using deepcomp::testing::poison_cuda_memory;
using deepcomp::testing::random_mask;
using deepcomp::testing::relative_error;

TEST_CASE("codebook_decode on CUDA equals the CPU kernel", "[cuda][codebook_decode]") {
  torch::manual_seed(30);
  for (const int64_t n : {1, 255, 257, 100003, 2 * 1024 * 1024 + 5}) {
    for (const int64_t k : {2, 32, 256}) {
      for (const auto dtype : {torch::kFloat, torch::kDouble, torch::kHalf, torch::kBFloat16}) {
        const auto indices = torch::randint(0, k, {n}, torch::kByte);
        const auto mask = random_mask({n}, 0.3);
        const auto codebook = torch::randn({k}).to(dtype);
        poison_cuda_memory(n * 8);
        const auto on_gpu = deepcomp::ops::codebook_decode(indices.cuda(), mask.cuda(), codebook.cuda());
        CHECK(torch::equal(on_gpu.cpu(), deepcomp::ops::codebook_decode(indices, mask, codebook)));
      }
    }
  }
}

TEST_CASE("codebook_decode on CUDA marks an index past the codebook with NaN", "[cuda][codebook_decode]") {
  const auto indices = torch::tensor({0, 5, 1}, torch::kByte).cuda();
  const auto mask = torch::tensor({true, true, false}).cuda();
  const auto decoded = deepcomp::ops::codebook_decode(indices, mask, torch::randn({4}).cuda()).cpu();
  CHECK(std::isnan(decoded[1].item<float>()));
  CHECK(decoded[2].item<float>() == 0);
}

TEST_CASE("codebook_grad on CUDA equals the CPU kernel, deterministic or not", "[cuda][codebook_grad]") {
  torch::manual_seed(31);
  for (const bool deterministic : {false, true}) {
    const DeterministicAlgorithms mode(deterministic);
    for (const int64_t n : {1, 31, 33, 100003, 5 * 1024 * 1024 + 3}) {
      for (const int64_t k : {1, 4, 32, 256, 300}) {
        for (const auto dtype : {torch::kFloat, torch::kDouble, torch::kBFloat16}) {
          const auto indices = torch::randint(0, std::min<int64_t>(k, 256), {n}, torch::kByte);
          const auto mask = random_mask({n}, 0.4);
          const auto grad = torch::randn({n}).to(dtype);
          poison_cuda_memory(k * 8);
          const auto on_gpu = deepcomp::ops::codebook_grad(grad.cuda(), indices.cuda(), mask.cuda(), k).cpu();
          const auto on_cpu = deepcomp::ops::codebook_grad(grad, indices, mask, k);
          const double tolerance = dtype == torch::kBFloat16 ? 1e-2 : dtype == torch::kFloat ? 1e-5 : 1e-12;
          INFO("n " << n << ", k " << k << ", dtype " << dtype << ", deterministic " << deterministic);
          CHECK(relative_error(on_gpu, on_cpu) < tolerance);
          if (deterministic) {
            CHECK(torch::equal(deepcomp::ops::codebook_grad(grad.cuda(), indices.cuda(), mask.cuda(), k).cpu(), on_gpu));
          }
        }
      }
    }
  }
}

TEST_CASE("codebook_grad on CUDA makes the gradient NaN for an index past num_codes", "[cuda][codebook_grad]") {
  const auto grad = torch::randn({100}).cuda();
  auto indices = torch::zeros({100}, torch::kByte);
  indices[40] = 9;
  const auto result = deepcomp::ops::codebook_grad(grad, indices.cuda(), torch::ones({100}, torch::kBool).cuda(), 4);
  CHECK(result.cpu().isnan().all().item<bool>());
}

TEST_CASE("shared_linear and its backward on CUDA match the CPU path", "[cuda][shared_linear]") {
  torch::manual_seed(32);
  for (const auto dtype : {torch::kFloat, torch::kBFloat16}) {
    const double tolerance = dtype == torch::kFloat ? 1e-4 : 3e-2;
    const auto x = torch::randn({48, 300});
    const auto indices = torch::randint(0, 32, {100, 300}, torch::kByte);
    const auto mask = random_mask({100, 300}, 0.1);
    const auto codebook = torch::randn({32});
    const auto bias = torch::randn({100});
    const auto on_gpu = deepcomp::ops::shared_linear(x.cuda().to(dtype), indices.cuda(), mask.cuda(),
                                                     codebook.cuda().to(dtype), bias.cuda().to(dtype));
    CHECK(relative_error(on_gpu.cpu(), deepcomp::ops::shared_linear(x, indices, mask, codebook, bias)) < tolerance);
    const auto g = torch::randn({48, 100});
    const auto [gi, gc, gb] = deepcomp::ops::shared_linear_backward(
        g.cuda().to(dtype), x.cuda().to(dtype), indices.cuda(), mask.cuda(), codebook.cuda().to(dtype), {true, true, true});
    const auto [ci, cc, cb] = deepcomp::ops::shared_linear_backward(g, x, indices, mask, codebook, {true, true, true});
    CHECK(relative_error(gi.cpu(), ci) < tolerance);
    CHECK(relative_error(gc.cpu(), cc) < tolerance);
    CHECK(relative_error(gb.cpu(), cb) < tolerance);
  }
}

// Small enough for compute-sanitizer (tests/gpu/run_device_checks.sh runs the [sanitize] cases).
TEST_CASE("the codebook kernels on a small case, for the sanitizers", "[cuda][sanitize]") {
  torch::manual_seed(33);
  const int64_t n = 3 * 256 * 8 + 17;  // a few blocks and a ragged end
  const auto indices = torch::randint(0, 32, {n}, torch::kByte);
  const auto mask = random_mask({n}, 0.7);
  const auto codebook = torch::randn({32});
  const auto grad = torch::randn({n});
  CHECK(torch::equal(deepcomp::ops::codebook_decode(indices.cuda(), mask.cuda(), codebook.cuda()).cpu(),
                     deepcomp::ops::codebook_decode(indices, mask, codebook)));
  for (const bool deterministic : {false, true}) {
    const DeterministicAlgorithms mode(deterministic);
    CHECK(relative_error(deepcomp::ops::codebook_grad(grad.cuda(), indices.cuda(), mask.cuda(), 32).cpu(),
                         deepcomp::ops::codebook_grad(grad, indices, mask, 32)) < 1e-5);
  }
}

TEST_CASE("kmeans_quantize on CUDA gives the CPU's codebook and indices exactly", "[cuda][kmeans]") {
  torch::manual_seed(34);
  for (const auto dtype : {torch::kFloat, torch::kDouble, torch::kBFloat16}) {
    for (const int64_t bits : {1, 5, 8}) {
      for (const std::string init : {"linear", "density", "random"}) {
        const auto weight = (torch::randn({300, 517}) * torch::rand({300, 517}).pow(3)).to(dtype);
        const auto mask = random_mask({300, 517}, 0.2);
        const auto [gpu_codebook, gpu_indices] = deepcomp::ops::kmeans_quantize(weight.cuda(), mask.cuda(), bits, init);
        const auto [codebook, indices] = deepcomp::ops::kmeans_quantize(weight, mask, bits, init);
        INFO("dtype " << dtype << ", bits " << bits << ", init " << init);
        CHECK(gpu_codebook.device().is_cuda());
        CHECK(torch::equal(gpu_codebook.cpu(), codebook));
        CHECK(torch::equal(gpu_indices.cpu(), indices));
      }
    }
  }
  const auto weight = torch::randn({1000});
  const auto [gpu_codebook, gpu_indices] = deepcomp::ops::kmeans_quantize(weight.cuda(), std::nullopt, 4, "linear", "exact");
  const auto [codebook, indices] = deepcomp::ops::kmeans_quantize(weight, std::nullopt, 4, "linear", "exact");
  CHECK(torch::equal(gpu_codebook.cpu(), codebook));
  CHECK(torch::equal(gpu_indices.cpu(), indices));
  auto bad = torch::randn({100});
  bad[7] = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_WITH(deepcomp::ops::kmeans_quantize(bad.cuda(), std::nullopt, 3), Catch::Contains("NaN/Inf"));
}

TEST_CASE("shared_linear on CUDA at small batches (the decode-free kernel) matches the CPU", "[cuda][shared_linear]") {
  torch::manual_seed(35);
  for (const int64_t in_features : {300, 301}) {  // 4 columns per load, and the byte-wise path
    const auto indices = torch::randint(0, 32, {70, in_features}, torch::kByte);
    const auto mask = random_mask({70, in_features}, 0.1);
    const auto codebook = torch::randn({32});
    const auto bias = torch::randn({70});
    for (const int64_t batch : {1, 2, 4, 5, 16, 17}) {
      for (const auto dtype : {torch::kFloat, torch::kBFloat16, torch::kHalf}) {
        const auto x = torch::randn({batch, in_features}).to(dtype);
        poison_cuda_memory(batch * 70 * 4);
        const auto on_gpu = deepcomp::ops::shared_linear(x.cuda(), indices.cuda(), mask.cuda(),
                                                         codebook.to(dtype).cuda(), bias.to(dtype).cuda());
        const auto on_cpu = deepcomp::ops::shared_linear(x, indices, mask, codebook.to(dtype), bias.to(dtype));
        INFO("in_features " << in_features << ", batch " << batch << ", dtype " << dtype);
        CHECK(relative_error(on_gpu.cpu(), on_cpu) < (dtype == torch::kFloat ? 1e-5 : 2e-2));
      }
    }
  }
  const auto x = torch::randn({3, 2, 300}).cuda();
  CHECK(deepcomp::ops::shared_linear(x, torch::zeros({5, 300}, torch::kByte).cuda(), torch::ones({5, 300}, torch::kBool).cuda(),
                                     torch::randn({4}).cuda(), std::nullopt)
            .sizes() == torch::IntArrayRef({3, 2, 5}));
}
