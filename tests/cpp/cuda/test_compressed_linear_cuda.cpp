#include <deepcomp/ops.h>

#include "../helpers.h"
#include "deterministic_algorithms.h"
#include "poison.h"

using deepcomp::testing::DeterministicAlgorithms;
using deepcomp::testing::poison_cuda_memory;
using deepcomp::testing::random_mask;
using deepcomp::testing::relative_error;

TEST_CASE("compressed_linear on CUDA equals the CPU kernel", "[cuda][compressed_linear]") {
  torch::manual_seed(40);
  using Shape = std::tuple<int64_t, int64_t, double>;  // rows, columns, fraction kept
  for (const auto& [rows, columns, keep] :
       std::vector<Shape>{{1, 7, 0.5}, {100, 300, 0.09}, {513, 2048, 0.04}, {64, 70000, 0.01}}) {
    const auto indices = torch::randint(0, 32, {rows, columns}, torch::kByte);
    const auto mask = random_mask({rows, columns}, keep);
    const auto codebook = torch::randn({32});
    const auto bias = torch::randn({rows});
    const auto [row_ptr, entries] = deepcomp::ops::compressed_linear_pack(indices, mask);
    const auto [gpu_row_ptr, gpu_entries] = deepcomp::ops::compressed_linear_pack(indices.cuda(), mask.cuda());
    CHECK(torch::equal(gpu_row_ptr.cpu(), row_ptr));
    CHECK(torch::equal(gpu_entries.cpu(), entries));
    for (const int64_t batch : {1, 2, 4, 5, 8, 64, 70}) {
      for (const auto dtype : {torch::kFloat, torch::kBFloat16, torch::kHalf}) {
        const auto x = torch::randn({batch, columns}).to(dtype);
        poison_cuda_memory(batch * rows * 4);
        const auto on_gpu = deepcomp::ops::compressed_linear(x.cuda(), gpu_row_ptr, gpu_entries,
                                                             codebook.to(dtype).cuda(), bias.to(dtype).cuda());
        const auto on_cpu = deepcomp::ops::compressed_linear(x, row_ptr, entries, codebook.to(dtype), bias.to(dtype));
        INFO("rows " << rows << ", columns " << columns << ", batch " << batch << ", dtype " << dtype);
        CHECK(relative_error(on_gpu.cpu(), on_cpu) < (dtype == torch::kFloat ? 1e-5 : 1e-2));
      }
    }
  }
}

TEST_CASE("compressed_linear on CUDA writes NaN into a row with a bad entry", "[cuda][compressed_linear][sanitize]") {
  const auto indices = torch::randint(0, 4, {3, 8}, torch::kByte);
  const auto [row_ptr, entries] = deepcomp::ops::compressed_linear_pack(indices, torch::ones({3, 8}, torch::kBool));
  auto bad = entries.clone();
  bad[9] = 8 << 8;  // row 1: column 8 of 8
  const auto out = deepcomp::ops::compressed_linear(torch::randn({2, 8}).cuda(), row_ptr.cuda(), bad.cuda(),
                                                    torch::randn({4}).cuda(), std::nullopt).cpu();
  CHECK(out.select(1, 1).isnan().all().item<bool>());
  CHECK(!out.select(1, 0).isnan().any().item<bool>());
}

TEST_CASE("compressed_linear on a small case, for the sanitizers", "[cuda][compressed_linear][sanitize]") {
  torch::manual_seed(41);
  const auto indices = torch::randint(0, 16, {37, 300}, torch::kByte);
  const auto mask = random_mask({37, 300}, 0.2);
  const auto codebook = torch::randn({16});
  const auto [row_ptr, entries] = deepcomp::ops::compressed_linear_pack(indices, mask);
  for (const int64_t batch : {1, 3, 9}) {
    const auto x = torch::randn({batch, 300});
    CHECK(relative_error(
              deepcomp::ops::compressed_linear(x.cuda(), row_ptr.cuda(), entries.cuda(), codebook.cuda(), std::nullopt)
                  .cpu(),
              deepcomp::ops::compressed_linear(x, row_ptr, entries, codebook, std::nullopt)) < 1e-5);
  }
}

TEST_CASE("compressed_linear_codebook_grad on CUDA equals the CPU kernel, deterministic or not",
          "[cuda][compressed_linear][codebook_grad]") {
  torch::manual_seed(43);
  using Shape = std::tuple<int64_t, int64_t, double>;  // rows, columns, fraction kept
  for (const auto& [rows, columns, keep] : std::vector<Shape>{{1, 7, 0.5}, {100, 300, 0.09}, {513, 2048, 0.04}}) {
    const auto indices = torch::randint(0, 32, {rows, columns}, torch::kByte);
    const auto [row_ptr, entries] = deepcomp::ops::compressed_linear_pack(indices, random_mask({rows, columns}, keep));
    for (const int64_t batch : {1, 8, 70}) {
      for (const bool deterministic : {false, true}) {
        const DeterministicAlgorithms mode(deterministic);
        for (const auto dtype : {torch::kFloat, torch::kBFloat16}) {
          const auto x = torch::randn({batch, columns}).to(dtype), g = torch::randn({batch, rows}).to(dtype);
          const auto on_gpu = deepcomp::ops::compressed_linear_codebook_grad(g.cuda(), x.cuda(), row_ptr.cuda(),
                                                                             entries.cuda(), 32);
          const auto on_cpu = deepcomp::ops::compressed_linear_codebook_grad(g, x, row_ptr, entries, 32);
          INFO("rows " << rows << ", batch " << batch << ", deterministic " << deterministic << ", dtype " << dtype);
          CHECK(relative_error(on_gpu.cpu().to(torch::kFloat), on_cpu.to(torch::kFloat)) <
                (dtype == torch::kFloat ? 1e-5 : 2e-2));
        }
      }
    }
  }
}

TEST_CASE("compressed_linear_codebook_grad on CUDA makes the gradient NaN for a bad entry",
          "[cuda][compressed_linear][codebook_grad][sanitize]") {
  const auto indices = torch::randint(0, 4, {3, 8}, torch::kByte);
  const auto [row_ptr, entries] = deepcomp::ops::compressed_linear_pack(indices, torch::ones({3, 8}, torch::kBool));
  auto bad = entries.clone();
  bad[9] = 8 << 8;  // row 1: column 8 of 8
  const auto x = torch::randn({2, 8}).cuda(), g = torch::randn({2, 3}).cuda();
  CHECK(deepcomp::ops::compressed_linear_codebook_grad(g, x, row_ptr.cuda(), bad.cuda(), 4).isnan().all().item<bool>());
  CHECK(!deepcomp::ops::compressed_linear_codebook_grad(g, x, row_ptr.cuda(), entries.cuda(), 4)
             .isnan()
             .any()
             .item<bool>());
}

TEST_CASE("a pruned shared_linear on CUDA at small batches (its kept weights only) matches the CPU",
          "[cuda][shared_linear][compressed_linear]") {
  torch::manual_seed(44);
  const auto indices = torch::randint(0, 32, {200, 300}, torch::kByte);
  const auto mask = random_mask({200, 300}, 0.1);  // sparse enough for the packed paths on both devices
  const auto codebook = torch::randn({32}), bias = torch::randn({200});
  for (const int64_t batch : {1, 8, 16}) {
    const auto x = torch::randn({batch, 300}), g = torch::randn({batch, 200});
    INFO("batch " << batch);
    CHECK(relative_error(
              deepcomp::ops::shared_linear(x.cuda(), indices.cuda(), mask.cuda(), codebook.cuda(), bias.cuda()).cpu(),
              deepcomp::ops::shared_linear(x, indices, mask, codebook, bias)) < 1e-5);
    const auto [gi, gc, gb] = deepcomp::ops::shared_linear_backward(g.cuda(), x.cuda(), indices.cuda(), mask.cuda(),
                                                                    codebook.cuda(), {true, true, true});
    const auto [ci, cc, cb] = deepcomp::ops::shared_linear_backward(g, x, indices, mask, codebook, {true, true, true});
    CHECK(relative_error(gi.cpu(), ci) < 1e-5);
    CHECK(relative_error(gc.cpu(), cc) < 1e-5);
    CHECK(relative_error(gb.cpu(), cb) < 1e-5);
  }
}
