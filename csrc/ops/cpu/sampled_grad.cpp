#include "ops/cpu/sampled_grad.h"

#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <vector>

#include "check.h"
#include "ops/kept_fraction.h"

namespace deepcomp::ops {
namespace {

// Σ_b a[b] · b[b] in eight independent partial sums (the compiler vectorises it; the order of the
// additions differs from a GEMM's by rounding only).
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

// Calls kept(j, value) for each column j that row `keep` (in_features bools) keeps, value being the
// gradient there: grad_row (batch) · columns[j] (batch). Eight mask bytes are tested at a time.
template <typename acc_t, typename Kept>
void sample_row(const bool* keep, int64_t in_features, const acc_t* grad_row, const acc_t* columns, int64_t batch,
                const Kept& kept) {
  int64_t j0 = 0;
  for (; j0 + 8 <= in_features; j0 += 8) {
    uint64_t bytes;
    std::memcpy(&bytes, keep + j0, 8);  // a bool is the byte 0 or 1: one bit set per kept entry
    while (bytes != 0) {
      const int64_t j = j0 + __builtin_ctzll(bytes) / 8;
      kept(j, dot(grad_row, columns + j * batch, batch));
      bytes &= bytes - 1;
    }
  }
  for (int64_t j = j0; j < in_features; ++j) {
    if (keep[j]) kept(j, dot(grad_row, columns + j * batch, batch));
  }
}

// (batch, n) -> (n, batch) contiguous in acc_t, so that each row's and column's batch is contiguous.
at::Tensor batch_last(const at::Tensor& t, at::ScalarType acc) { return t.t().to(acc).contiguous(); }

}  // namespace

bool sampled_grad_wins(const at::Tensor& mask) { return mask.is_cpu() && kept_fraction(mask) < kSampledGradDensity; }

at::Tensor sampled_codebook_grad_cpu(const at::Tensor& grad, const at::Tensor& input, const at::Tensor& indices,
                                     const at::Tensor& mask, const at::Tensor& codebook) {
  const int64_t out_features = mask.size(0), in_features = mask.size(1), batch = grad.size(0);
  const int64_t k = codebook.numel();
  const auto keep_t = mask.contiguous(), index_t = indices.contiguous();
  at::Tensor grad_codebook;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, grad.scalar_type(), "sampled_codebook_grad_cpu", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    const auto acc = c10::CppTypeToScalarType<acc_t>::value;
    const auto rows = batch_last(grad, acc), columns = batch_last(input, acc);
    const acc_t* g = rows.const_data_ptr<acc_t>();
    const acc_t* x = columns.const_data_ptr<acc_t>();
    const bool* keep = keep_t.const_data_ptr<bool>();
    const uint8_t* index = index_t.const_data_ptr<uint8_t>();
    // One sum per uint8 code and thread, in double: a cluster gathers up to millions of terms.
    std::vector<double> partial(static_cast<size_t>(at::get_num_threads()) * 256, 0.0);
    std::atomic<bool> in_range{true};
    at::parallel_for(0, out_features, 1, [&](int64_t first, int64_t last) {
      double* sums = partial.data() + at::get_thread_num() * 256;
      uint8_t largest = 0;
      for (int64_t i = first; i < last; ++i) {
        const uint8_t* cluster = index + i * in_features;
        sample_row(keep + i * in_features, in_features, g + i * batch, x, batch, [&](int64_t j, acc_t value) {
          sums[cluster[j]] += value;
          largest = std::max(largest, cluster[j]);
        });
      }
      if (largest >= k) in_range = false;
    });
    DEEPCOMP_CHECK(in_range, "shared_linear: indices hold a kept value >= the codebook's ", k, " entries");
    auto total = at::zeros({k}, codebook.options().dtype(at::kDouble));
    double* t = total.mutable_data_ptr<double>();
    for (size_t slot = 0; slot < partial.size(); ++slot) {
      if (static_cast<int64_t>(slot % 256) < k) t[slot % 256] += partial[slot];
    }
    grad_codebook = total.to(codebook.scalar_type());
  });
  return grad_codebook;
}

}  // namespace deepcomp::ops
