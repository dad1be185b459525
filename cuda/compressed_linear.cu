// CUDA kernel of compressed_linear (twin: csrc/ops/cpu/compressed_linear.cpp): inference on a
// pruned and quantized fully connected layer without decoding it, the EIE idea on a GPU.
// One warp per output row: its lanes stride over the row's entries (4 bytes per kept weight, read
// once per batch tile), look the weight up in the codebook in shared memory (a grouped codebook:
// one table per warp, of codebook row r·groups / out_features for output row r), multiply the
// inputs at that column and add up with shuffles. The input is laid out (in_features, batch), so a
// tile's inputs for one column are contiguous; at batch 1 that is the input itself. Entries out of
// range give NaN in their row (see ops/compressed_linear_entry.h).
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "codebook_table.cuh"
#include "common.cuh"
#include "ops/compressed_linear_entry.h"

namespace deepcomp::ops {
namespace {

constexpr int64_t kMaxGridY = 65535;

template <typename scalar_t, int kTile>
__global__ void compressed_linear_kernel(scalar_t* __restrict__ out, const scalar_t* __restrict__ x,
                                         const int64_t* __restrict__ row_ptr, const uint32_t* __restrict__ entries,
                                         const scalar_t* __restrict__ codebook, const scalar_t* __restrict__ bias,
                                         int64_t k, int64_t groups, int64_t rows, int64_t in_features, int64_t batch,
                                         int64_t num_entries) {
  using acc_t = at::opmath_type<scalar_t>;
  extern __shared__ __align__(sizeof(double)) unsigned char tables[];
  const acc_t* table = cuda::load_row_codebook_tables(reinterpret_cast<acc_t*>(tables), codebook, k, groups, rows);
  const auto [lane, row] = cuda::warp_row();
  if (row >= rows) return;  // a whole warp leaves: the shuffles below stay full-warp
  const int64_t begin = row_ptr[row], end = row_ptr[row + 1];
  const bool well_formed = 0 <= begin && begin <= end && end <= num_entries;
  const acc_t shift = bias == nullptr ? acc_t(0) : static_cast<acc_t>(bias[row]);
  for (int64_t b0 = int64_t{blockIdx.y} * kTile; b0 < batch; b0 += int64_t{gridDim.y} * kTile) {
    const int64_t tile = batch - b0 < kTile ? batch - b0 : kTile;
    acc_t sum[kTile];
#pragma unroll
    for (int t = 0; t < kTile; ++t) sum[t] = acc_t(0);
    if (well_formed) {
#pragma unroll 4
      for (int64_t j = begin + lane; j < end; j += cuda::kWarpSize) {
        const uint32_t entry = entries[j];
        uint32_t column = entry >> 8;
        acc_t weight = table[entry & 0xffu];
        if (column >= in_features) column = 0, weight = NAN;
        const scalar_t* xs = x + column * batch + b0;
#pragma unroll
        for (int t = 0; t < kTile; ++t) {
          if (t < tile) sum[t] += weight * static_cast<acc_t>(xs[t]);
        }
      }
    }
#pragma unroll
    for (int t = 0; t < kTile; ++t) {
      sum[t] = cuda::warp_sum(sum[t]);
    }
#pragma unroll
    for (int t = 0; t < kTile; ++t) {
      if (lane == t && t < tile) {
        out[(b0 + t) * rows + row] = well_formed ? static_cast<scalar_t>(sum[t] + shift) : static_cast<scalar_t>(NAN);
      }
    }
  }
}

template <typename scalar_t, int kTile>
void launch(at::Tensor& out, const at::Tensor& columns, const at::Tensor& row_ptr, const at::Tensor& entries,
            const at::Tensor& codebook, const at::Tensor& bias) {
  const int64_t rows = row_ptr.numel() - 1, batch = columns.size(1), groups = codebook_groups(codebook);
  const dim3 grid(cuda::blocks_for_rows(rows),
                  static_cast<unsigned int>(std::min(kMaxGridY, (batch + kTile - 1) / kTile)));
  const size_t shared_bytes = cuda::row_codebook_tables_bytes<at::opmath_type<scalar_t>>(groups);
  compressed_linear_kernel<scalar_t, kTile>
      <<<grid, cuda::kThreadsPerBlock, shared_bytes, at::cuda::getCurrentCUDAStream()>>>(
          out.mutable_data_ptr<scalar_t>(), columns.const_data_ptr<scalar_t>(), row_ptr.const_data_ptr<int64_t>(),
          reinterpret_cast<const uint32_t*>(entries.const_data_ptr<int32_t>()), codebook.const_data_ptr<scalar_t>(),
          bias.defined() ? bias.const_data_ptr<scalar_t>() : nullptr, codebook_codes(codebook), groups, rows,
          columns.size(0), batch, entries.numel());
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

bool compressed_linear_into_cuda(at::Tensor& out, const at::Tensor& input, const at::Tensor& row_ptr,
                                 const at::Tensor& entries, const at::Tensor& codebook, const at::Tensor& bias) {
  const int64_t batch = input.size(0);
  if (batch == 0 || row_ptr.numel() == 1) return true;
  const c10::cuda::CUDAGuard guard(input.device());
  const auto columns = input.t().contiguous();  // (in_features, batch)
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, input.scalar_type(), "compressed_linear_cuda", [&] {
    if (batch == 1) {
      launch<scalar_t, 1>(out, columns, row_ptr, entries, codebook, bias);
    } else if (batch <= 4) {
      launch<scalar_t, 4>(out, columns, row_ptr, entries, codebook, bias);
    } else {
      launch<scalar_t, 8>(out, columns, row_ptr, entries, codebook, bias);
    }
  });
  return true;
}

}  // namespace

TORCH_LIBRARY_IMPL(deepcomp, CUDA, m) {
  m.impl("compressed_linear", &compressed_linear_entry<compressed_linear_into_cuda>);
}

}  // namespace deepcomp::ops
