// CPU kernels of shared_linear and its backward. The weight is decoded a block of rows at a time
// into a buffer that stays in cache, and the GEMMs use it there; a block's weight gradient is
// reduced into the codebook's gradient at once. No weight-sized tensor is made: a training step
// reads 2 bytes per weight (index and mask) where a dense layer reads its 4-byte weight twice and
// writes a 4-byte gradient. A layer pruned below kSparseDensity is computed from its kept weights
// only instead (packed_rows.h). (Other devices: composite/shared_linear.cpp.)
#include <ATen/Parallel.h>
#include <ATen/ThreadLocalState.h>
#include <torch/library.h>

#include <deepcomp/ops.h>

#include <algorithm>

#include "check.h"
#include "ops/checks.h"
#include "ops/codebook_layout.h"
#include "ops/cpu/codebook_rows.h"
#include "ops/packed_rows.h"

namespace deepcomp::ops {
namespace {

// How the weight's rows are split into blocks. About 1 MiB of float weights per block (L2-sized),
// and at least one row per input row: each block's GEMM reads the whole input, so fewer rows would
// read the input more than the weight. Blocks spread over the threads when there are enough of
// them, else they run one after the other with multithreaded GEMMs.
struct Blocks {
  int64_t rows_per_block, count;
  bool parallel;

  Blocks(int64_t out_features, int64_t in_features, int64_t batch) {
    constexpr int64_t kBlockElements = int64_t{1} << 18;
    rows_per_block = std::max({int64_t{1}, kBlockElements / std::max<int64_t>(1, in_features), batch});
    count = (out_features + rows_per_block - 1) / rows_per_block;
    parallel = count >= at::get_num_threads();
  }
  // Partial sums that the blocks add into: one per thread, or one when the blocks run in turn.
  int64_t slots() const { return parallel ? at::get_num_threads() : 1; }

  // Calls body(first_row, rows, slot) for each block. The blocks call ATen ops, so the threads run
  // them with the caller's thread-local state (below autograd, as a kernel is called).
  template <typename Body>
  void for_each(int64_t out_features, const Body& body) const {
    const auto run = [&](int64_t first, int64_t last) {
      for (int64_t block = first; block < last; ++block) {
        const int64_t row = block * rows_per_block;
        body(row, std::min(rows_per_block, out_features - row), parallel ? at::get_thread_num() : 0);
      }
    };
    if (!parallel) return run(0, count);
    const at::ThreadLocalState caller;
    at::parallel_for(0, count, 1, [&](int64_t first, int64_t last) {
      const at::ThreadLocalStateGuard state(caller);
      run(first, last);
    });
  }
};

// Rows [row, row + rows) of the dense weight, each decoded with its group's codebook.
at::Tensor decoded_rows(const at::Tensor& indices, const at::Tensor& mask, const at::Tensor& codebook, int64_t row,
                        int64_t rows) {
  auto weight = at::empty({rows, indices.size(1)}, codebook.options());
  DEEPCOMP_CHECK(decode_rows_cpu(weight, indices.narrow(0, row, rows), mask.narrow(0, row, rows), codebook, row,
                                 indices.size(0)),
                 "shared_linear: indices hold a value >= the codebook's ", codebook_codes(codebook), " entries");
  return weight;
}

at::Tensor shared_linear_cpu(const at::Tensor& input, const at::Tensor& indices, const at::Tensor& mask,
                             const at::Tensor& codebook, const std::optional<at::Tensor>& bias) {
  check_shared_linear(input, indices, mask, codebook);
  const int64_t out_features = indices.size(0), in_features = indices.size(1);
  if (const auto rows = sparse_rows(input, indices, mask, codebook)) {
    return compressed_linear(input, rows->row_ptr, rows->entries, codebook, bias);
  }
  const auto x = input.reshape({-1, in_features}).contiguous();
  const auto index = indices.contiguous(), keep = mask.contiguous();
  auto out = at::empty({x.size(0), out_features}, x.options());
  const bool has_bias = bias.has_value() && bias->defined();
  const auto centroids = codebook.contiguous();
  Blocks(out_features, in_features, x.size(0)).for_each(out_features, [&](int64_t row, int64_t rows, int64_t) {
    auto out_block = out.narrow(1, row, rows);  // columns of out: a strided matrix BLAS writes in place
    const auto weight = decoded_rows(index, keep, centroids, row, rows);
    if (has_bias) {
      at::addmm_out(out_block, bias->narrow(0, row, rows), x, weight.t());
    } else {
      at::mm_out(out_block, x, weight.t());
    }
  });
  auto shape = input.sizes().vec();
  shape.back() = out_features;
  return out.view(shape);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> shared_linear_backward_cpu(
    const at::Tensor& grad_output, const at::Tensor& input, const at::Tensor& indices, const at::Tensor& mask,
    const at::Tensor& codebook, std::array<bool, 3> output_mask) {
  check_shared_linear(input, indices, mask, codebook);
  const auto index = indices.contiguous(), keep = mask.contiguous();
  if (const auto rows = sparse_rows(grad_output, index, keep, codebook)) {
    return packed_shared_linear_backward(grad_output, input, index, keep, codebook, *rows, output_mask);
  }
  const int64_t out_features = indices.size(0), in_features = indices.size(1);
  // Contiguous operands keep every block's GEMM on BLAS (a loss.sum() gradient has stride 0).
  const auto x = input.reshape({-1, in_features}).contiguous();
  const auto grad = grad_output.reshape({-1, out_features}).contiguous();
  const Blocks blocks(out_features, in_features, x.size(0));
  const int64_t slots = blocks.slots();
  const auto centroids = codebook.contiguous();
  auto grad_input = output_mask[0] ? at::zeros({slots, x.size(0), in_features}, x.options()) : at::Tensor();
  auto grad_codebook =
      output_mask[1] ? at::zeros({slots, codebook_groups(codebook), codebook_codes(codebook)}, codebook.options())
                     : at::Tensor();
  if (output_mask[0] || output_mask[1]) {
    blocks.for_each(out_features, [&](int64_t row, int64_t rows, int64_t slot) {
      const auto grad_block = grad.narrow(1, row, rows);
      if (output_mask[0]) grad_input[slot].addmm_(grad_block, decoded_rows(index, keep, centroids, row, rows));
      if (output_mask[1]) {
        auto sums = grad_codebook[slot];
        DEEPCOMP_CHECK(grad_rows_cpu(sums, grad_block.t().mm(x), index.narrow(0, row, rows),
                                     keep.narrow(0, row, rows), row, out_features),
                       "shared_linear: indices hold a value >= the codebook's ", codebook_codes(codebook), " entries");
      }
    });
  }
  const auto total = [slots](const at::Tensor& partial) { return slots == 1 ? partial[0] : partial.sum(0); };
  return {output_mask[0] ? total(grad_input).view(input.sizes()) : at::Tensor(),
          output_mask[1] ? total(grad_codebook).view(codebook.sizes()) : at::Tensor(),
          output_mask[2] ? grad.sum(0) : at::Tensor()};
}

}  // namespace

TORCH_LIBRARY_IMPL(deepcomp, CPU, m) {
  m.impl("shared_linear", &shared_linear_cpu);
  m.impl("shared_linear_backward", &shared_linear_backward_cpu);
}

}  // namespace deepcomp::ops
