// Per-group codebooks (groups, k) on CUDA against the CPU kernels, and against the rule itself: a
// weight of R rows (slices along dim 0) split into `groups` runs of rows as even as can be, row r
// decoded by codebook row r·groups / R (ops/codebook_layout.h). Group counts that divide R and ones
// that do not (300 rows in 7 groups, 70002 in 1000), one group as a 2-D codebook, one per row, and
// enough groups for grids that stride over them.
#include <deepcomp/ops.h>

#include "../helpers.h"
#include "deterministic_algorithms.h"
#include "poison.h"

using deepcomp::testing::DeterministicAlgorithms;
using deepcomp::testing::poison_cuda_memory;
using deepcomp::testing::random_mask;
using deepcomp::testing::relative_error;

namespace {

struct Case {
  int64_t rows, columns;
  std::vector<int64_t> groups;
};

// Groups of a single row, of a few blocks, of one block per group on the H200 (3072 groups) and past
// the grid's 65535 rows (69999 and 70002 groups); each shape also with counts that do not divide it.
const std::vector<Case> kCases{{3, 1, {1, 2, 3}},
                               {6, 7, {1, 3, 4, 6}},
                               {300, 517, {1, 3, 7, 299, 300}},
                               {3 * 1024, 700, {1, 3, 1000, 3072}},
                               {70002, 3, {1, 1000, 69999, 70002}}};

// Row r's group, r·groups / rows rounded down (products stay far below 2^63 here).
int64_t group_of(int64_t row, int64_t groups, int64_t rows) { return row * groups / rows; }

}  // namespace

TEST_CASE("codebook_decode on CUDA with per-group codebooks equals the CPU kernel", "[cuda][codebook_decode][groups]") {
  torch::manual_seed(50);
  for (const auto& [rows, columns, group_counts] : kCases) {
    for (const int64_t groups : group_counts) {
      for (const int64_t k : {2, 256}) {
        for (const auto dtype : {torch::kFloat, torch::kDouble, torch::kHalf, torch::kBFloat16}) {
          const auto indices = torch::randint(0, k, {rows, columns}, torch::kByte);
          const auto mask = random_mask({rows, columns}, 0.3);
          const auto codebook = torch::randn({groups, k}).to(dtype);
          poison_cuda_memory(rows * columns * 8);
          const auto on_gpu = deepcomp::ops::codebook_decode(indices.cuda(), mask.cuda(), codebook.cuda());
          INFO("rows " << rows << ", columns " << columns << ", groups " << groups << ", k " << k << ", dtype "
                       << dtype);
          CHECK(torch::equal(on_gpu.cpu(), deepcomp::ops::codebook_decode(indices, mask, codebook)));
        }
      }
    }
  }
}

TEST_CASE("codebook_decode on CUDA marks an index past its group's codebook with NaN",
          "[cuda][codebook_decode][groups]") {
  auto indices = torch::randint(0, 4, {7, 5}, torch::kByte);
  indices[4][2] = 9;  // group 1 of 3 (rows 3 and 4)
  const auto mask = torch::ones({7, 5}, torch::kBool);
  const auto decoded = deepcomp::ops::codebook_decode(indices.cuda(), mask.cuda(), torch::randn({3, 4}).cuda()).cpu();
  CHECK(std::isnan(decoded[4][2].item<float>()));
  CHECK(decoded.isnan().sum().item<int64_t>() == 1);
}

TEST_CASE("codebook_grad on CUDA per group equals the CPU kernel, deterministic or not",
          "[cuda][codebook_grad][groups]") {
  torch::manual_seed(51);
  for (const bool deterministic : {false, true}) {
    const DeterministicAlgorithms mode(deterministic);
    for (const auto& [rows, columns, group_counts] : kCases) {
      for (const int64_t groups : group_counts) {
        for (const int64_t k : {1, 32, 256, 300}) {
          for (const auto dtype : {torch::kFloat, torch::kDouble, torch::kHalf, torch::kBFloat16}) {
            const auto indices = torch::randint(0, std::min<int64_t>(k, 256), {rows, columns}, torch::kByte);
            const auto mask = random_mask({rows, columns}, 0.4);
            const auto grad = torch::randn({rows, columns}).to(dtype);
            poison_cuda_memory(groups * k * 8);
            const auto on_gpu =
                deepcomp::ops::codebook_grad(grad.cuda(), indices.cuda(), mask.cuda(), k, groups).cpu();
            const auto on_cpu = deepcomp::ops::codebook_grad(grad, indices, mask, k, groups);
            const double tolerance = dtype == torch::kDouble ? 1e-12 : dtype == torch::kFloat ? 1e-5 : 1e-2;
            INFO("rows " << rows << ", columns " << columns << ", groups " << groups << ", k " << k << ", dtype "
                         << dtype << ", deterministic " << deterministic);
            CHECK(on_gpu.sizes() == on_cpu.sizes());
            CHECK(relative_error(on_gpu, on_cpu) < tolerance);
            // Grouped sums take no atomics: the same on every run in either mode.
            if (deterministic || groups > 1) {
              CHECK(torch::equal(
                  deepcomp::ops::codebook_grad(grad.cuda(), indices.cuda(), mask.cuda(), k, groups).cpu(), on_gpu));
            }
          }
        }
      }
    }
  }
}

TEST_CASE("codebook_grad on CUDA makes the group of an index past num_codes NaN", "[cuda][codebook_grad][groups]") {
  // One block per group, and several blocks per group added by a second kernel. Groups of uneven
  // size: the bad row is the last of group 1, where equal chunks of R / 3 rows would put group 2.
  using Case = std::tuple<int64_t, int64_t, int64_t>;  // rows, columns, the row of the bad index
  // Groups of rows 0-2, 3-4, 5-6; and of rows 0-1023, 1024-2047, 2048-3070.
  for (const auto& [rows, columns, bad_row] : std::vector<Case>{{7, 5, 4}, {3 * 1024 - 1, 700, 2047}}) {
    const auto grad = torch::randn({rows, columns}).cuda();
    auto indices = torch::randint(0, 4, {rows, columns}, torch::kByte);
    indices[bad_row][columns / 2] = 9;
    const auto mask = torch::ones({rows, columns}, torch::kBool);
    const auto result = deepcomp::ops::codebook_grad(grad, indices.cuda(), mask.cuda(), 4, 3).cpu();
    INFO("rows " << rows << ", columns " << columns);
    CHECK(result[1].isnan().all().item<bool>());
    CHECK(!result[0].isnan().any().item<bool>());
    CHECK(!result[2].isnan().any().item<bool>());
  }
}

TEST_CASE("compressed_linear on CUDA with per-group codebooks equals the CPU kernel",
          "[cuda][compressed_linear][groups]") {
  torch::manual_seed(52);
  using Case = std::tuple<int64_t, int64_t, double>;  // rows, columns, fraction kept
  for (const auto& [rows, columns, keep] : std::vector<Case>{{3, 7, 0.5}, {300, 300, 0.09}, {513, 2048, 0.04}}) {
    const auto indices = torch::randint(0, 32, {rows, columns}, torch::kByte);
    const auto mask = random_mask({rows, columns}, keep);
    const auto bias = torch::randn({rows});
    const auto [row_ptr, entries] = deepcomp::ops::compressed_linear_pack(indices, mask);
    for (const int64_t groups : std::vector<int64_t>{1, 2, 7, 10, rows}) {
      if (groups > rows) continue;
      const auto codebook = torch::randn({groups, 32});
      for (const int64_t batch : {1, 5, 70}) {
        for (const auto dtype : {torch::kFloat, torch::kDouble, torch::kBFloat16, torch::kHalf}) {
          const auto x = torch::randn({batch, columns}).to(dtype);
          poison_cuda_memory(batch * rows * 8);
          const auto on_gpu = deepcomp::ops::compressed_linear(x.cuda(), row_ptr.cuda(), entries.cuda(),
                                                               codebook.to(dtype).cuda(), bias.to(dtype).cuda());
          const auto on_cpu =
              deepcomp::ops::compressed_linear(x, row_ptr, entries, codebook.to(dtype), bias.to(dtype));
          INFO("rows " << rows << ", columns " << columns << ", groups " << groups << ", batch " << batch
                       << ", dtype " << dtype);
          const double tolerance = dtype == torch::kDouble ? 1e-12 : dtype == torch::kFloat ? 1e-5 : 1e-2;
          CHECK(relative_error(on_gpu.cpu(), on_cpu) < tolerance);
        }
      }
    }
  }
}

TEST_CASE("compressed_linear on CUDA writes NaN into a row whose index is past its group's codebook",
          "[cuda][compressed_linear][groups][sanitize]") {
  const auto indices = torch::randint(0, 4, {7, 8}, torch::kByte);
  const auto [row_ptr, entries] = deepcomp::ops::compressed_linear_pack(indices, torch::ones({7, 8}, torch::kBool));
  auto bad = entries.clone();
  bad[4 * 8 + 5] = 5 << 8 | 9;  // row 4 (group 1 of 3: rows 3 and 4), column 5: index 9 of 4
  const auto out = deepcomp::ops::compressed_linear(torch::randn({2, 8}).cuda(), row_ptr.cuda(), bad.cuda(),
                                                    torch::randn({3, 4}).cuda(), std::nullopt)
                       .cpu();
  CHECK(out.select(1, 4).isnan().all().item<bool>());
  CHECK(out.isnan().sum().item<int64_t>() == 2);
}

TEST_CASE("shared_linear and its backward on CUDA with per-group codebooks match the CPU",
          "[cuda][shared_linear][groups]") {
  torch::manual_seed(53);
  const int64_t rows = 72;
  for (const int64_t in_features : {300, 301}) {  // 4 columns per load, and the byte-wise path
    const auto indices = torch::randint(0, 32, {rows, in_features}, torch::kByte);
    const auto mask = random_mask({rows, in_features}, 0.1);
    const auto bias = torch::randn({rows});
    for (const int64_t groups : {1, 3, 5, 7, 71, 72}) {
      const auto codebook = torch::randn({groups, 32});
      // Batches up to 16 take the decode-free kernel, larger ones decode and call cuBLAS.
      for (const int64_t batch : {1, 4, 16, 17}) {
        for (const auto dtype : {torch::kFloat, torch::kBFloat16, torch::kHalf}) {
          const auto x = torch::randn({batch, in_features}).to(dtype);
          poison_cuda_memory(batch * rows * 4);
          const auto on_gpu = deepcomp::ops::shared_linear(x.cuda(), indices.cuda(), mask.cuda(),
                                                           codebook.to(dtype).cuda(), bias.to(dtype).cuda());
          const auto on_cpu = deepcomp::ops::shared_linear(x, indices, mask, codebook.to(dtype), bias.to(dtype));
          INFO("in_features " << in_features << ", groups " << groups << ", batch " << batch << ", dtype " << dtype);
          CHECK(relative_error(on_gpu.cpu(), on_cpu) < (dtype == torch::kFloat ? 1e-5 : 2e-2));
        }
      }
      const auto x = torch::randn({48, in_features});
      const auto g = torch::randn({48, rows});
      const auto [gi, gc, gb] = deepcomp::ops::shared_linear_backward(g.cuda(), x.cuda(), indices.cuda(), mask.cuda(),
                                                                      codebook.cuda(), {true, true, true});
      const auto [ci, cc, cb] =
          deepcomp::ops::shared_linear_backward(g, x, indices, mask, codebook, {true, true, true});
      INFO("in_features " << in_features << ", groups " << groups);
      CHECK(gc.sizes() == codebook.sizes());
      CHECK(relative_error(gi.cpu(), ci) < 1e-4);
      CHECK(relative_error(gc.cpu(), cc) < 1e-4);
      CHECK(relative_error(gb.cpu(), cb) < 1e-4);
    }
  }
}

TEST_CASE("the grouped codebook kernels on CUDA give row r the codebook row r * groups / rows",
          "[cuda][groups]") {
  // Checked against the rule itself, not the CPU kernels: codebook row g holds g at index 0, so a
  // decoded row shows its group, and each group's gradient counts its weights.
  using Case = std::tuple<int64_t, int64_t, int64_t>;  // rows, columns, groups
  for (const auto& [rows, columns, groups] : std::vector<Case>{
           {3, 4, 2}, {7, 5, 3}, {300, 9, 7}, {300, 9, 299}, {513, 33, 10}, {70002, 2, 1000}, {70002, 2, 69999}}) {
    const auto indices = torch::zeros({rows, columns}, torch::kByte);
    const auto mask = torch::ones({rows, columns}, torch::kBool);
    auto codebook = torch::zeros({groups, 4}, torch::kDouble);
    codebook.select(1, 0).copy_(torch::arange(groups, torch::kDouble));
    std::vector<double> group(static_cast<size_t>(rows));
    std::vector<double> count(static_cast<size_t>(groups), 0.0);
    for (int64_t r = 0; r < rows; ++r) {
      group[r] = static_cast<double>(group_of(r, groups, rows));
      count[group_of(r, groups, rows)] += static_cast<double>(columns);
    }
    const auto expected_group = torch::tensor(group, torch::kDouble);
    INFO("rows " << rows << ", columns " << columns << ", groups " << groups);
    poison_cuda_memory(rows * columns * 8);
    const auto decoded = deepcomp::ops::codebook_decode(indices.cuda(), mask.cuda(), codebook.cuda()).cpu();
    CHECK(torch::equal(decoded, expected_group.unsqueeze(1).expand({rows, columns})));
    poison_cuda_memory(groups * 4 * 8);
    const auto grad = deepcomp::ops::codebook_grad(torch::ones({rows, columns}, torch::kDouble).cuda(),
                                                   indices.cuda(), mask.cuda(), 4, groups)
                          .cpu();
    CHECK(torch::equal(grad.select(1, 0), torch::tensor(count, torch::kDouble)));
    CHECK(torch::equal(grad.slice(1, 1), torch::zeros({groups, 3}, torch::kDouble)));
    // One input of ones: output row r is columns · its group, through both linear kernels.
    const auto x = torch::ones({1, columns}, torch::kDouble).cuda();
    const auto expected_out = (expected_group * static_cast<double>(columns)).unsqueeze(0);
    poison_cuda_memory(rows * 8);
    CHECK(torch::equal(
        deepcomp::ops::shared_linear(x, indices.cuda(), mask.cuda(), codebook.cuda(), std::nullopt).cpu(),
        expected_out));
    const auto [row_ptr, entries] = deepcomp::ops::compressed_linear_pack(indices, mask);
    poison_cuda_memory(rows * 8);
    CHECK(torch::equal(
        deepcomp::ops::compressed_linear(x, row_ptr.cuda(), entries.cuda(), codebook.cuda(), std::nullopt).cpu(),
        expected_out));
  }
}

TEST_CASE("codebook_decode and codebook_grad on CUDA group the rows of 1-D and 3-D weights as the CPU does",
          "[cuda][codebook_decode][codebook_grad][groups]") {
  // A row is a slice along dim 0: one weight of a 1-D tensor, 3·5 of a (10, 3, 5) one.
  torch::manual_seed(55);
  using Case = std::pair<std::vector<int64_t>, int64_t>;  // shape, groups
  for (const auto& [shape, groups] : std::vector<Case>{{{30}, 7}, {{30}, 30}, {{10, 3, 5}, 4}, {{10, 3, 5}, 5},
                                                       {{7, 2, 3, 3}, 3}, {{1000, 4, 3}, 999}}) {
    const auto indices = torch::randint(0, 16, shape, torch::kByte);
    const auto mask = random_mask(shape, 0.6);
    const auto codebook = torch::randn({groups, 16});
    const auto grad = torch::randn(shape);
    INFO("shape " << at::IntArrayRef(shape) << ", groups " << groups);
    poison_cuda_memory(indices.numel() * 4);
    CHECK(torch::equal(deepcomp::ops::codebook_decode(indices.cuda(), mask.cuda(), codebook.cuda()).cpu(),
                       deepcomp::ops::codebook_decode(indices, mask, codebook)));
    poison_cuda_memory(groups * 16 * 4);
    CHECK(relative_error(deepcomp::ops::codebook_grad(grad.cuda(), indices.cuda(), mask.cuda(), 16, groups).cpu(),
                         deepcomp::ops::codebook_grad(grad, indices, mask, 16, groups)) < 1e-6);
  }
}

// Small enough for compute-sanitizer (tests/gpu/run_device_checks.sh runs the [sanitize] cases).
TEST_CASE("the grouped codebook kernels on a small case, for the sanitizers", "[cuda][groups][sanitize]") {
  torch::manual_seed(54);
  const int64_t rows = 39, columns = 301;  // several blocks per group; groups of 13 rows, or of 7 and 8
  const auto indices = torch::randint(0, 32, {rows, columns}, torch::kByte);
  const auto mask = random_mask({rows, columns}, 0.7);
  const auto grad = torch::randn({rows, columns});
  const auto x = torch::randn({3, columns});
  for (const int64_t groups : {3, 5, 39}) {
    const auto codebook = torch::randn({groups, 32});
    INFO("groups " << groups);
    CHECK(torch::equal(deepcomp::ops::codebook_decode(indices.cuda(), mask.cuda(), codebook.cuda()).cpu(),
                       deepcomp::ops::codebook_decode(indices, mask, codebook)));
    CHECK(relative_error(deepcomp::ops::codebook_grad(grad.cuda(), indices.cuda(), mask.cuda(), 32, groups).cpu(),
                         deepcomp::ops::codebook_grad(grad, indices, mask, 32, groups)) < 1e-5);
    CHECK(relative_error(
              deepcomp::ops::shared_linear(x.cuda(), indices.cuda(), mask.cuda(), codebook.cuda(), std::nullopt).cpu(),
              deepcomp::ops::shared_linear(x, indices, mask, codebook, std::nullopt)) < 1e-5);
    const auto [row_ptr, entries] = deepcomp::ops::compressed_linear_pack(indices, mask);
    CHECK(relative_error(deepcomp::ops::compressed_linear(x.cuda(), row_ptr.cuda(), entries.cuda(), codebook.cuda(),
                                                          std::nullopt)
                             .cpu(),
                         deepcomp::ops::compressed_linear(x, row_ptr, entries, codebook, std::nullopt)) < 1e-5);
  }
}
