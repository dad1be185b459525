// A pruned shared linear layer computed from its kept positions only, on any device. Its (indices,
// mask) are packed into compressed rows (compressed_linear_pack) once per change of either tensor
// (tensor_memo.h), while the codebook, which training changes every step, is read at each call:
//   forward:        compressed_linear over the packed rows of W;
//   input gradient: compressed_linear of the output gradient over the packed rows of Wᵀ (packed on
//                   the first backward: inference does not pay for them);
//   codebook:       compressed_linear_codebook_grad: for each kept weight, the output gradient of its
//                   row · the input of its column, added into its cluster's gradient.
// Where this does less work than the dense GEMMs on a decoded weight (sparse_rows decides), the
// packed rows cost 4 bytes per kept weight each way, held while the layer's indices live.
#pragma once

#include <ATen/ATen.h>

#include <array>
#include <memory>
#include <optional>
#include <tuple>

namespace deepcomp::ops {

// Below this fraction of kept weights the sparse paths beat the blocked dense ones on the CPU
// (measured at 9216 -> 4096, batch 32, by benchmarks/bench_quantization.py: near 0.3 the codebook
// gradient, the costliest of the three, breaks even).
constexpr double kSparseDensity = 0.3;
// On CUDA, where cuBLAS runs the dense GEMMs far faster than gathers run, only batches up to this
// take the sparse paths (as for shared_linear's small-batch kernel); not yet measured on a GPU.
constexpr int64_t kCudaSparseMaxBatch = 16;

struct PackedRows {
  at::Tensor row_ptr, entries;  // compressed_linear's layout
  int64_t codes_used;           // largest kept index + 1
};

// The packed rows of the weight (indices, mask) or, transposed, of its transpose; made or remembered.
enum class Packing { kRows, kTransposed };
std::shared_ptr<const PackedRows> packed_rows(const at::Tensor& indices, const at::Tensor& mask, Packing packing);

// The packed rows of a shared linear layer for `input` (*, in_features) where the sparse paths win,
// else null: kept fraction below kSparseDensity (and on CUDA a batch of at most kCudaSparseMaxBatch),
// the input in the codebook's dtype, one codebook for the whole layer (the transposed rows of the
// input gradient would mix groups). Throws when a kept index is past the codebook.
std::shared_ptr<const PackedRows> sparse_rows(const at::Tensor& input, const at::Tensor& indices,
                                              const at::Tensor& mask, const at::Tensor& codebook,
                                              Packing packing = Packing::kRows);

// shared_linear_backward over the packed rows (sparse_rows(grad_output, ...)): (grad_input,
// grad_codebook, grad_bias), those not asked for undefined.
std::tuple<at::Tensor, at::Tensor, at::Tensor> packed_shared_linear_backward(
    const at::Tensor& grad_output, const at::Tensor& input, const at::Tensor& indices, const at::Tensor& mask,
    const at::Tensor& codebook, const PackedRows& rows, std::array<bool, 3> output_mask);

}  // namespace deepcomp::ops
