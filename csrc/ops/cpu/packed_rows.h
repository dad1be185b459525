// A pruned shared linear layer on the CPU, computed from its kept positions only. Its (indices,
// mask) are packed into compressed rows (compressed_linear_pack) once per change of either tensor
// (tensor_memo.h), while the codebook, which training changes every step, is read at each call:
//   forward:        compressed_linear over the packed rows of W (its SIMD kernels);
//   input gradient: compressed_linear of the output gradient over the packed rows of Wᵀ (packed on
//                   the first backward: inference does not pay for them);
//   codebook:       for each kept weight, the output gradient of its row · the input of its column
//                   (a sampled dense-dense product), added into its cluster's gradient.
// Below kSparseDensity kept this does less work than the dense GEMMs on a decoded weight; the
// packed rows cost 4 bytes per kept weight each way, held while the layer's indices live.
#pragma once

#include <ATen/ATen.h>

#include <memory>

namespace deepcomp::ops {

// Below this fraction of kept weights the sparse paths beat the blocked dense ones (measured at
// 9216 -> 4096, batch 32, by benchmarks/bench_quantization.py: near 0.3 the codebook gradient,
// the costliest of the three, breaks even).
constexpr double kSparseDensity = 0.3;

// Whether a CPU layer with this mask keeps few enough weights for the sparse paths.
bool sparse_wins(const at::Tensor& mask);

struct PackedRows {
  at::Tensor row_ptr, entries;  // compressed_linear's layout
  int64_t codes_used;           // largest kept index + 1
};

// The packed rows of the weight (indices, mask) or, transposed, of its transpose; made or remembered.
enum class Packing { kRows, kTransposed };
std::shared_ptr<const PackedRows> packed_rows(const at::Tensor& indices, const at::Tensor& mask, Packing packing);

// grad (batch, out_features), input (batch, in_features) -> the codebook's gradient (k,): each kept
// weight's gradient (grad's column of its row · input's column of its column) added to its cluster's.
// Every kept index must be < k (rows.codes_used <= k).
at::Tensor packed_codebook_grad_cpu(const at::Tensor& grad, const at::Tensor& input, const PackedRows& rows,
                                    const at::Tensor& codebook);

}  // namespace deepcomp::ops
