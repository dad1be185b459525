// compressed_linear_pack on any device, from ATen ops: a shared linear weight (indices, mask) as the
// compressed rows compressed_linear reads (layout: ops/compressed_linear_entry.h).
#include <torch/library.h>

#include "check.h"
#include "ops/compressed_linear_entry.h"

namespace deepcomp::ops {
namespace {

std::tuple<at::Tensor, at::Tensor> compressed_linear_pack(const at::Tensor& indices, const at::Tensor& mask) {
  constexpr const char* op = "compressed_linear_pack";
  DEEPCOMP_CHECK(indices.scalar_type() == at::kByte && indices.dim() == 2, op,
                 ": indices must be a uint8 (out_features, in_features) tensor, got ", indices.scalar_type(),
                 " of shape ", indices.sizes());
  DEEPCOMP_CHECK(mask.scalar_type() == at::kBool && mask.sizes() == indices.sizes(), op,
                 ": mask must be a bool tensor of indices' shape ", indices.sizes(), ", got ", mask.scalar_type(),
                 " of shape ", mask.sizes());
  DEEPCOMP_CHECK(mask.device() == indices.device(), op, ": mask is on ", mask.device(), ", indices on ",
                 indices.device());
  DEEPCOMP_CHECK(indices.size(1) < kCompressedMaxInFeatures, op, ": in_features must be < 2^23, got ", indices.size(1));
  const auto kept = mask.nonzero();  // (kept, 2), row-major: the order masked_select reads in
  const auto columns = kept.select(1, 1);
  const auto entries = columns.bitwise_left_shift(8).bitwise_or(indices.masked_select(mask).to(at::kLong));
  auto row_ptr = at::zeros({indices.size(0) + 1}, indices.options().dtype(at::kLong));
  row_ptr.narrow(0, 1, indices.size(0)).copy_(mask.sum(1).cumsum(0));
  return {row_ptr, entries.to(at::kInt)};
}

}  // namespace

TORCH_LIBRARY_IMPL(deepcomp, CompositeExplicitAutograd, m) {
  m.impl("compressed_linear_pack", &compressed_linear_pack);
}

}  // namespace deepcomp::ops
