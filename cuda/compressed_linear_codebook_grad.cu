// CUDA kernel of compressed_linear_codebook_grad (twin: csrc/ops/cpu/compressed_linear_codebook_grad.cpp):
// the codebook gradient of a pruned shared linear layer from its kept weights only.
// One warp per output row: its lanes stride over the row's entries, each taking the dot product of
// the row's output gradient with its column's input over the batch (both laid out (features, batch),
// so the batch is contiguous). The products go into a buffer, one per kept weight, with its cluster;
// codebook_grad then adds them up by cluster, with its accumulator and determinism. A malformed
// weight (row_ptr, or a column >= in_features) makes the whole result NaN, an index >= num_codes
// codebook_grad's NaN, without stalling the stream on a check (ops/compressed_linear_entry.h).
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <c10/cuda/CUDAGuard.h>
#include <deepcomp/ops.h>
#include <torch/library.h>

#include <limits>

#include "common.cuh"
#include "ops/compressed_linear_entry.h"

namespace deepcomp::ops {
namespace {

template <typename scalar_t, typename acc_t>
__global__ void entry_products_kernel(acc_t* __restrict__ products, uint8_t* __restrict__ clusters,
                                      int* __restrict__ malformed, const scalar_t* __restrict__ grad_t,
                                      const scalar_t* __restrict__ x_t, const int64_t* __restrict__ row_ptr,
                                      const uint32_t* __restrict__ entries, int64_t rows, int64_t in_features,
                                      int64_t batch, int64_t num_entries) {
  const auto [lane, row] = cuda::warp_row();
  if (row >= rows) return;
  const int64_t begin = row_ptr[row], end = row_ptr[row + 1];
  if (!(0 <= begin && begin <= end && end <= num_entries) || (row == 0 && begin != 0) ||
      (row == rows - 1 && end != num_entries)) {
    if (lane == 0) *malformed = 1;
    return;
  }
  const scalar_t* g = grad_t + row * batch;
  for (int64_t j = begin + lane; j < end; j += cuda::kWarpSize) {
    const uint32_t entry = entries[j];
    const int64_t column = entry >> 8;
    clusters[j] = static_cast<uint8_t>(entry & 0xffu);
    if (column >= in_features) {
      *malformed = 1;
      continue;
    }
    const scalar_t* x = x_t + column * batch;
    acc_t sum = acc_t(0);
    for (int64_t b = 0; b < batch; ++b) sum += static_cast<acc_t>(g[b]) * static_cast<acc_t>(x[b]);
    products[j] = sum;
  }
}

bool compressed_linear_codebook_grad_into_cuda(at::Tensor& out, const at::Tensor& grad, const at::Tensor& input,
                                               const at::Tensor& row_ptr, const at::Tensor& entries) {
  const int64_t rows = row_ptr.numel() - 1, num_entries = entries.numel(), batch = grad.size(0);
  const c10::cuda::CUDAGuard guard(input.device());
  const auto grad_t = grad.t().contiguous(), x_t = input.t().contiguous();  // (features, batch)
  auto malformed = at::zeros({1}, input.options().dtype(at::kInt));
  const auto dtype = input.scalar_type();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, dtype, "compressed_linear_codebook_grad", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    auto products = at::zeros({num_entries}, input.options().dtype(c10::CppTypeToScalarType<acc_t>::value));
    auto clusters = at::zeros({num_entries}, input.options().dtype(at::kByte));
    if (rows > 0) {
      entry_products_kernel<scalar_t, acc_t>
          <<<cuda::blocks_for_rows(rows), cuda::kThreadsPerBlock, 0, at::cuda::getCurrentCUDAStream()>>>(
              products.mutable_data_ptr<acc_t>(), clusters.mutable_data_ptr<uint8_t>(),
              malformed.mutable_data_ptr<int>(), grad_t.const_data_ptr<scalar_t>(), x_t.const_data_ptr<scalar_t>(),
              row_ptr.const_data_ptr<int64_t>(), reinterpret_cast<const uint32_t*>(entries.const_data_ptr<int32_t>()),
              rows, input.size(1), batch, num_entries);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    } else if (num_entries > 0) {
      malformed.fill_(1);  // no row to hold them
    }
    const auto kept = at::ones({num_entries}, input.options().dtype(at::kBool));
    const auto sums = codebook_grad(products, clusters, kept, out.numel());
    out.copy_(sums.masked_fill(malformed.to(at::kBool), std::numeric_limits<double>::quiet_NaN()));
  });
  return true;
}

}  // namespace

TORCH_LIBRARY_IMPL(deepcomp, CUDA, m) {
  m.impl("compressed_linear_codebook_grad",
         &compressed_linear_codebook_grad_entry<compressed_linear_codebook_grad_into_cuda>);
}

}  // namespace deepcomp::ops
