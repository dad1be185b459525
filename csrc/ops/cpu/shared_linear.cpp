// CPU kernels of shared_linear and its backward. The weight is decoded a block of rows at a time
// into a buffer that stays in cache, and the GEMMs use it there; a block's weight gradient is
// reduced into the codebook's gradient at once. No weight-sized tensor is made: a training step
// reads 2 bytes per weight (index and mask) where a dense layer reads its 4-byte weight twice and
// writes a 4-byte gradient. (Other devices: composite/shared_linear.cpp.)
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <deepcomp/ops.h>

#include <algorithm>

#include "ops/checks.h"

namespace deepcomp::ops {
namespace {

// About 1 MiB of float weights per block (L2-sized), and at least one row per input row: each
// block's GEMM reads the whole input, so fewer rows would read the input more than the weight.
int64_t rows_per_block(int64_t in_features, int64_t batch) {
  constexpr int64_t kBlockElements = int64_t{1} << 18;
  return std::max({int64_t{1}, kBlockElements / std::max<int64_t>(1, in_features), batch});
}

// Calls body(first_row, rows, thread) for each block of the weight's rows: blocks spread over the
// threads when there are enough of them, else one after the other with multithreaded GEMMs.
template <typename Body>
void for_each_block(int64_t out_features, int64_t rows, const Body& body) {
  const int64_t blocks = (out_features + rows - 1) / rows;
  const int64_t grain = blocks >= at::get_num_threads() ? 1 : blocks + 1;  // blocks + 1: runs inline
  at::parallel_for(0, blocks, grain, [&](int64_t first, int64_t last) {
    for (int64_t block = first; block < last; ++block) {
      const int64_t row = block * rows;
      body(row, std::min(rows, out_features - row), at::get_thread_num());
    }
  });
}

at::Tensor shared_linear_cpu(const at::Tensor& input, const at::Tensor& indices, const at::Tensor& mask,
                             const at::Tensor& codebook, const std::optional<at::Tensor>& bias) {
  check_shared_linear(input, indices, mask, codebook);
  const int64_t out_features = indices.size(0), in_features = indices.size(1);
  const auto x = input.reshape({-1, in_features}).contiguous();
  const auto index = indices.contiguous(), keep = mask.contiguous();
  auto out_t = at::empty({out_features, x.size(0)}, x.options());  // rows of the weight = rows of out_t
  for_each_block(out_features, rows_per_block(in_features, x.size(0)), [&](int64_t row, int64_t rows, int) {
    auto out_block = out_t.narrow(0, row, rows);
    at::mm_out(out_block, codebook_decode(index.narrow(0, row, rows), keep.narrow(0, row, rows), codebook), x.t());
  });
  auto out = out_t.t().contiguous();
  if (bias.has_value() && bias->defined()) out.add_(*bias);
  auto shape = input.sizes().vec();
  shape.back() = out_features;
  return out.view(shape);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> shared_linear_backward_cpu(
    const at::Tensor& grad_output, const at::Tensor& input, const at::Tensor& indices, const at::Tensor& mask,
    const at::Tensor& codebook, std::array<bool, 3> output_mask) {
  check_shared_linear(input, indices, mask, codebook);
  const int64_t out_features = indices.size(0), in_features = indices.size(1);
  // Contiguous operands keep every block's GEMM on BLAS (a loss.sum() gradient has stride 0).
  const auto x = input.reshape({-1, in_features}).contiguous();
  const auto grad = grad_output.reshape({-1, out_features}).contiguous();
  const auto index = indices.contiguous(), keep = mask.contiguous();
  // Per-thread partial sums, added up after the blocks.
  const int64_t threads = at::get_num_threads();
  auto grad_input = output_mask[0] ? at::zeros({threads, x.size(0), in_features}, x.options()) : at::Tensor();
  auto grad_codebook = output_mask[1] ? at::zeros({threads, codebook.numel()}, codebook.options()) : at::Tensor();
  if (output_mask[0] || output_mask[1]) {
    for_each_block(out_features, rows_per_block(in_features, x.size(0)), [&](int64_t row, int64_t rows, int thread) {
      const auto grad_block = grad.narrow(1, row, rows);
      const auto index_block = index.narrow(0, row, rows), keep_block = keep.narrow(0, row, rows);
      if (output_mask[0]) grad_input[thread].addmm_(grad_block, codebook_decode(index_block, keep_block, codebook));
      if (output_mask[1]) {
        grad_codebook[thread].add_(
            codebook_grad(grad_block.t().mm(x), index_block, keep_block, codebook.numel()));
      }
    });
  }
  return {output_mask[0] ? grad_input.sum(0).view(input.sizes()) : at::Tensor(),
          output_mask[1] ? grad_codebook.sum(0) : at::Tensor(), output_mask[2] ? grad.sum(0) : at::Tensor()};
}

}  // namespace

TORCH_LIBRARY_IMPL(deepcomp, CPU, m) {
  m.impl("shared_linear", &shared_linear_cpu);
  m.impl("shared_linear_backward", &shared_linear_backward_cpu);
}

}  // namespace deepcomp::ops
