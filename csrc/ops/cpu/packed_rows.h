// A pruned shared linear layer on the CPU, computed from its kept positions only. Its (indices,
// mask) are packed into compressed rows (compressed_linear_pack) once per change of either tensor
// (tensor_memo.h), while the codebook, which training changes every step, is read at each call:
//   forward:        compressed_linear over the packed rows (its SIMD kernels);
//   input gradient: the transposed product, each kept weight adding its centroid × the output
//                   gradient of its row into its column (per-thread sums, then added up);
//   codebook:       for each kept weight, the output gradient of its row · the input of its column
//                   (a sampled dense-dense product), added into its cluster's gradient.
// Below kSparseDensity kept this does less work than the dense GEMMs on a decoded weight; the
// packed rows cost 4 bytes per kept weight, held while the layer's indices live.
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

// The packed rows of (indices, mask), made or remembered.
std::shared_ptr<const PackedRows> packed_rows(const at::Tensor& indices, const at::Tensor& mask);

// grad (batch, out_features) -> the input gradient (batch, in_features): grad · W, W given by the
// packed rows and codebook (all in grad's dtype).
at::Tensor packed_input_grad_cpu(const at::Tensor& grad, const PackedRows& rows, const at::Tensor& codebook,
                                 int64_t in_features);

// grad (batch, out_features), input (batch, in_features) -> the codebook's gradient (k,): each kept
// weight's gradient (grad's column of its row · input's column of its column) added to its cluster's.
at::Tensor packed_codebook_grad_cpu(const at::Tensor& grad, const at::Tensor& input, const PackedRows& rows,
                                    const at::Tensor& codebook);

}  // namespace deepcomp::ops
