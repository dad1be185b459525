// The CPU codebook kernels over a block of rows: rows [first_row, first_row + block) of a weight of
// `rows` rows in all, so that each row reads the codebook of its group (ops/codebook_layout.h).
// codebook_decode and codebook_grad run them on the whole weight; shared_linear's CPU kernel on one
// block of rows at a time, without copying the codebook or the gradient. Tensors contiguous.
#pragma once

#include <ATen/core/Tensor.h>

namespace deepcomp::ops {

// weight[i] = mask[i] ? codebook[group][indices[i]] : 0. Returns false if an index is >= k.
bool decode_rows_cpu(at::Tensor& weight, const at::Tensor& indices, const at::Tensor& mask,
                     const at::Tensor& codebook, int64_t first_row, int64_t rows);

// Adds Σ grad_weight[i] over the kept i of each group with index c into grad_codebook[group][c]
// (grad_codebook: the whole (k) or (groups, k) gradient). Returns false if an index is >= k.
bool grad_rows_cpu(at::Tensor& grad_codebook, const at::Tensor& grad_weight, const at::Tensor& indices,
                   const at::Tensor& mask, int64_t first_row, int64_t rows);

// The weight's first dimension, for the row-block kernels: 1 for a 0-dim tensor.
inline int64_t rows_of(const at::Tensor& t) { return t.dim() == 0 ? 1 : t.size(0); }

}  // namespace deepcomp::ops
