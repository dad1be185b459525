#include "ops/packed_rows.h"

#include <deepcomp/ops.h>

#include <algorithm>

#include "check.h"
#include "ops/compressed_linear_entry.h"
#include "ops/kept_fraction.h"
#include "ops/tensor_memo.h"

namespace deepcomp::ops {

std::shared_ptr<const PackedRows> packed_rows(const at::Tensor& indices, const at::Tensor& mask, Packing packing) {
  using Memo = TensorMemo<std::shared_ptr<const PackedRows>>;
  static auto* memos = new std::array<Memo, 2>();  // never destroyed: ops may run during exit
  auto& memo = (*memos)[packing == Packing::kRows ? 0 : 1];
  if (auto known = memo.find(indices, mask)) return *known;
  auto [row_ptr, entries] = packing == Packing::kRows
                                ? compressed_linear_pack(indices, mask)
                                : compressed_linear_pack(indices.t().contiguous(), mask.t().contiguous());
  const int64_t codes_used = entries.numel() == 0 ? 0 : entries.bitwise_and(0xff).max().item<int64_t>() + 1;
  auto rows = std::make_shared<const PackedRows>(PackedRows{row_ptr, entries, codes_used});
  memo.remember(indices, mask, rows);
  return rows;
}

std::shared_ptr<const PackedRows> sparse_rows(const at::Tensor& input, const at::Tensor& indices,
                                              const at::Tensor& mask, const at::Tensor& codebook, Packing packing) {
  const int64_t batch = input.numel() / std::max<int64_t>(1, input.size(-1));
  const bool device_wins = mask.is_cpu() || (mask.is_cuda() && batch <= kCudaSparseMaxBatch);
  if (!device_wins || codebook.dim() != 1 || input.scalar_type() != codebook.scalar_type() ||
      std::max(indices.size(0), indices.size(1)) >= kCompressedMaxInFeatures ||
      kept_fraction(mask) >= kSparseDensity) {
    return nullptr;
  }
  auto rows = packed_rows(indices, mask, packing);
  DEEPCOMP_CHECK(rows->codes_used <= codebook.numel(), "shared_linear: indices hold a kept value >= the codebook's ",
                 codebook.numel(), " entries");
  return rows;
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> packed_shared_linear_backward(
    const at::Tensor& grad_output, const at::Tensor& input, const at::Tensor& indices, const at::Tensor& mask,
    const at::Tensor& codebook, const PackedRows& rows, std::array<bool, 3> output_mask) {
  const auto grad = grad_output.reshape({-1, indices.size(0)}).contiguous();
  const auto x = input.reshape({-1, indices.size(1)}).contiguous();
  at::Tensor grad_input;
  if (output_mask[0]) {  // grad · W = grad · (Wᵀ)ᵀ: the forward's kernel over Wᵀ's packed rows
    const auto transposed = packed_rows(indices, mask, Packing::kTransposed);
    grad_input = compressed_linear(grad, transposed->row_ptr, transposed->entries, codebook, {}).view(input.sizes());
  }
  return {grad_input,
          output_mask[1] ? compressed_linear_codebook_grad(grad, x, rows.row_ptr, rows.entries, codebook.numel())
                         : at::Tensor(),
          output_mask[2] ? grad.sum(0) : at::Tensor()};
}

}  // namespace deepcomp::ops
