// CPU kernel of compressed_linear_codebook_grad (twin: cuda/compressed_linear_codebook_grad.cu): the
// codebook gradient of a pruned shared linear layer from its kept weights only. Rows spread over the
// threads, each adding into its own 256 sums in double (a cluster gathers up to millions of terms),
// which are added up at the end.
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <array>
#include <vector>

#include "ops/compressed_linear_entry.h"
#include "ops/cpu/compressed_rows_check.h"

namespace deepcomp::ops {
namespace {

// Σ_b a[b] · b[b] in eight independent partial sums (vectorised; the order of the additions
// differs from a GEMM's by rounding only).
template <typename acc_t>
acc_t dot(const acc_t* a, const acc_t* b, int64_t n) {
  std::array<acc_t, 8> sum{};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int lane = 0; lane < 8; ++lane) sum[lane] += a[i + lane] * b[i + lane];
  }
  for (; i < n; ++i) sum[i & 7] += a[i] * b[i];
  return ((sum[0] + sum[1]) + (sum[2] + sum[3])) + ((sum[4] + sum[5]) + (sum[6] + sum[7]));
}

bool compressed_linear_codebook_grad_into_cpu(at::Tensor& out, const at::Tensor& grad, const at::Tensor& input,
                                              const at::Tensor& row_ptr, const at::Tensor& entries) {
  const int64_t batch = grad.size(0), out_features = row_ptr.numel() - 1, k = out.numel();
  if (!compressed_rows_well_formed(row_ptr, entries, input.size(1), k)) return false;
  const int64_t* offsets = row_ptr.const_data_ptr<int64_t>();
  const auto* entry = reinterpret_cast<const uint32_t*>(entries.const_data_ptr<int32_t>());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, grad.scalar_type(), "compressed_linear_codebook_grad", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    const auto acc = c10::CppTypeToScalarType<acc_t>::value;
    const auto g_t = grad.t().to(acc).contiguous(), x_t = input.t().to(acc).contiguous();
    const acc_t* g = g_t.const_data_ptr<acc_t>();
    const acc_t* x = x_t.const_data_ptr<acc_t>();
    // One sum per uint8 code and thread, in double: a cluster gathers up to millions of terms.
    std::vector<double> partial(static_cast<size_t>(at::get_num_threads()) * 256, 0.0);
    at::parallel_for(0, out_features, 1, [&](int64_t first, int64_t last) {
      double* sums = partial.data() + at::get_thread_num() * 256;
      // A row with more kept weights than clusters first adds up its inputs per cluster (a vector
      // add per weight), then takes one dot product per cluster; a shorter row, one per weight.
      std::vector<acc_t> by_cluster(static_cast<size_t>(k * batch));
      for (int64_t r = first; r < last; ++r) {
        const acc_t* g_r = g + r * batch;
        if (offsets[r + 1] - offsets[r] <= k) {
          for (int64_t j = offsets[r]; j < offsets[r + 1]; ++j) {
            sums[entry[j] & 0xffu] += dot(g_r, x + static_cast<int64_t>(entry[j] >> 8) * batch, batch);
          }
          continue;
        }
        std::fill(by_cluster.begin(), by_cluster.end(), acc_t(0));
        for (int64_t j = offsets[r]; j < offsets[r + 1]; ++j) {
          acc_t* cluster = by_cluster.data() + static_cast<int64_t>(entry[j] & 0xffu) * batch;
          const acc_t* column = x + static_cast<int64_t>(entry[j] >> 8) * batch;
          for (int64_t b = 0; b < batch; ++b) cluster[b] += column[b];
        }
        for (int64_t c = 0; c < k; ++c) sums[c] += dot(g_r, by_cluster.data() + c * batch, batch);
      }
    });
    auto total = at::zeros({k}, out.options().dtype(at::kDouble));
    double* t = total.mutable_data_ptr<double>();
    for (size_t slot = 0; slot < partial.size(); ++slot) {
      if (static_cast<int64_t>(slot % 256) < k) t[slot % 256] += partial[slot];
    }
    out.copy_(total);
  });
  return true;
}

}  // namespace

TORCH_LIBRARY_IMPL(deepcomp, CPU, m) {
  m.impl("compressed_linear_codebook_grad",
         &compressed_linear_codebook_grad_entry<compressed_linear_codebook_grad_into_cpu>);
}

}  // namespace deepcomp::ops
