// CUDA kernels of shared_linear and its backward (twin: csrc/ops/cpu/shared_linear.cpp). A layer
// pruned enough, at a batch of at most 16, is computed from its kept weights only (ops/packed_rows.h:
// compressed_linear and compressed_linear_codebook_grad, forward and backward); larger batches decode
// the weight and call cuBLAS (composite/shared_linear_decoded.h), forward and backward.
// Unpruned, at batch <= 16 a GEMM streams the weight once and is bound by memory; this kernel reads the uint8
// indices and bool mask instead (2 bytes per weight, not 4 of a float32 weight) and never
// materialises the dense weight: one warp per output row, 4 columns per lane and step, the codebook
// in shared memory (a grouped codebook: one table per warp, of codebook row r·groups / out_features
// for output row r), the sums added up with shuffles.
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <c10/cuda/CUDAGuard.h>
#include <deepcomp/ops.h>
#include <torch/library.h>

#include "check.h"
#include "codebook_table.cuh"
#include "common.cuh"
#include "ops/checks.h"
#include "ops/composite/shared_linear_decoded.h"
#include "ops/packed_rows.h"

namespace deepcomp::ops {
namespace {

constexpr int64_t kMaxSmallBatch = 16;

// kVector: rows start 4-byte aligned (in_features % 4 == 0), so a lane loads 4 indices and 4 mask
// bytes at once.
template <typename scalar_t, int kTile, bool kVector>
__global__ void shared_linear_small_batch_kernel(scalar_t* __restrict__ out, const scalar_t* __restrict__ x,
                                                 const uint8_t* __restrict__ indices, const uint8_t* __restrict__ keep,
                                                 const scalar_t* __restrict__ codebook,
                                                 const scalar_t* __restrict__ bias, int64_t k, int64_t groups,
                                                 int64_t rows, int64_t in_features, int64_t batch) {
  using acc_t = at::opmath_type<scalar_t>;
  extern __shared__ __align__(sizeof(double)) unsigned char tables[];
  const acc_t* table = cuda::load_row_codebook_tables(reinterpret_cast<acc_t*>(tables), codebook, k, groups, rows);
  const auto [lane, row] = cuda::warp_row();
  if (row >= rows) return;  // a whole warp leaves: the shuffles below stay full-warp
  const uint8_t* index_row = indices + row * in_features;
  const uint8_t* keep_row = keep + row * in_features;
  acc_t sum[kTile];
#pragma unroll
  for (int t = 0; t < kTile; ++t) sum[t] = acc_t(0);
  const auto weight = [&](uint8_t kept, uint8_t index) { return kept ? table[index] : acc_t(0); };
  if constexpr (kVector) {
    const auto* index4 = reinterpret_cast<const uchar4*>(index_row);
    const auto* keep4 = reinterpret_cast<const uchar4*>(keep_row);
    for (int64_t q = lane; q < in_features / 4; q += cuda::kWarpSize) {
      const uchar4 i = index4[q], m = keep4[q];
      const acc_t w0 = weight(m.x, i.x), w1 = weight(m.y, i.y), w2 = weight(m.z, i.z), w3 = weight(m.w, i.w);
#pragma unroll
      for (int t = 0; t < kTile; ++t) {
        if (t < batch) {
          const scalar_t* xs = x + t * in_features + 4 * q;
          sum[t] += w0 * static_cast<acc_t>(xs[0]) + w1 * static_cast<acc_t>(xs[1]) +
                    w2 * static_cast<acc_t>(xs[2]) + w3 * static_cast<acc_t>(xs[3]);
        }
      }
    }
  } else {
    for (int64_t c = lane; c < in_features; c += cuda::kWarpSize) {
      const acc_t w = weight(keep_row[c], index_row[c]);
#pragma unroll
      for (int t = 0; t < kTile; ++t) {
        if (t < batch) sum[t] += w * static_cast<acc_t>(x[t * in_features + c]);
      }
    }
  }
#pragma unroll
  for (int t = 0; t < kTile; ++t) {
    sum[t] = cuda::warp_sum(sum[t]);
  }
  const acc_t shift = bias == nullptr ? acc_t(0) : static_cast<acc_t>(bias[row]);
#pragma unroll
  for (int t = 0; t < kTile; ++t) {
    if (lane == t && t < batch) out[t * rows + row] = static_cast<scalar_t>(sum[t] + shift);
  }
}

template <typename scalar_t, int kTile>
void launch_small_batch(at::Tensor& out, const at::Tensor& x, const at::Tensor& indices, const at::Tensor& mask,
                        const at::Tensor& codebook, const at::Tensor& bias) {
  const int64_t rows = indices.size(0), in_features = indices.size(1), groups = codebook_groups(codebook);
  const unsigned int blocks = cuda::blocks_for_rows(rows);
  const auto* keep = reinterpret_cast<const uint8_t*>(mask.const_data_ptr<bool>());
  const auto aligned = [](const void* p) { return reinterpret_cast<uintptr_t>(p) % 4 == 0; };
  const bool vector = in_features % 4 == 0 && aligned(indices.const_data_ptr()) && aligned(keep);
  const auto stream = at::cuda::getCurrentCUDAStream();
  const auto kernel = vector ? shared_linear_small_batch_kernel<scalar_t, kTile, true>
                             : shared_linear_small_batch_kernel<scalar_t, kTile, false>;
  const size_t shared_bytes = cuda::row_codebook_tables_bytes<at::opmath_type<scalar_t>>(groups);
  kernel<<<blocks, cuda::kThreadsPerBlock, shared_bytes, stream>>>(
      out.mutable_data_ptr<scalar_t>(), x.const_data_ptr<scalar_t>(), indices.const_data_ptr<uint8_t>(), keep,
      codebook.const_data_ptr<scalar_t>(), bias.defined() ? bias.const_data_ptr<scalar_t>() : nullptr,
      codebook_codes(codebook), groups, rows, in_features, x.size(0));
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

at::Tensor shared_linear_cuda(const at::Tensor& input, const at::Tensor& indices, const at::Tensor& mask,
                              const at::Tensor& codebook, const std::optional<at::Tensor>& bias) {
  check_shared_linear(input, indices, mask, codebook);
  const int64_t in_features = indices.size(1), out_features = indices.size(0);
  const auto x = input.reshape({-1, in_features});
  const bool has_bias = bias.has_value() && bias->defined();
  const bool same_dtypes = codebook.scalar_type() == input.scalar_type() &&
                           (!has_bias || bias->scalar_type() == input.scalar_type());
  DEEPCOMP_CHECK(input.device() == indices.device() && (!has_bias || bias->device() == input.device()),
                 "shared_linear: input (", input.device(), ") and bias must be on the shared weight's device (",
                 indices.device(), ")");
  if (same_dtypes) {
    if (const auto rows = sparse_rows(input, indices, mask, codebook)) {
      return compressed_linear(input, rows->row_ptr, rows->entries, codebook, bias);
    }
  }
  // out_features == 0 would launch no blocks (an invalid configuration).
  if (x.size(0) == 0 || x.size(0) > kMaxSmallBatch || out_features == 0 ||
      codebook_codes(codebook) > cuda::kCodebookTableSize || !same_dtypes) {
    return shared_linear_decoded(input, indices, mask, codebook, bias);  // cuBLAS (or its dtype error)
  }
  const c10::cuda::CUDAGuard guard(input.device());
  const auto xc = x.contiguous(), index = indices.contiguous(), keep = mask.contiguous(), centroids = codebook.contiguous();
  const auto b = has_bias ? bias->contiguous() : at::Tensor();
  auto out = at::empty({x.size(0), out_features}, x.options());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, input.scalar_type(), "shared_linear_cuda", [&] {
    if (x.size(0) == 1) {
      launch_small_batch<scalar_t, 1>(out, xc, index, keep, centroids, b);
    } else if (x.size(0) <= 4) {
      launch_small_batch<scalar_t, 4>(out, xc, index, keep, centroids, b);
    } else {
      launch_small_batch<scalar_t, kMaxSmallBatch>(out, xc, index, keep, centroids, b);
    }
  });
  auto shape = input.sizes().vec();
  shape.back() = out_features;
  return out.view(shape);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> shared_linear_backward_cuda(
    const at::Tensor& grad_output, const at::Tensor& input, const at::Tensor& indices, const at::Tensor& mask,
    const at::Tensor& codebook, std::array<bool, 3> output_mask) {
  check_shared_linear(input, indices, mask, codebook);
  // sparse_rows checks grad_output's dtype against the codebook's; the packed path needs input's too.
  const bool same = input.scalar_type() == codebook.scalar_type() && grad_output.device() == indices.device() &&
                    input.device() == indices.device();
  if (same) {
    if (const auto rows = sparse_rows(grad_output, indices, mask, codebook)) {
      return packed_shared_linear_backward(grad_output, input, indices, mask, codebook, *rows, output_mask);
    }
  }
  return shared_linear_backward_decoded(grad_output, input, indices, mask, codebook, output_mask);
}

}  // namespace

TORCH_LIBRARY_IMPL(deepcomp, CUDA, m) {
  m.impl("shared_linear", &shared_linear_cuda);
  m.impl("shared_linear_backward", &shared_linear_backward_cuda);
}

}  // namespace deepcomp::ops
