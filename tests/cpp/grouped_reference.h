// Oracles for per-group codebooks (deepcomp/ops.h), written with plain torch ops: a codebook
// (groups, k) splits the weight's first dimension of d0 slices into `groups` runs as even as
// possible, slice r decoded by codebook[r · groups / d0] (rounded down); a 1-D codebook is one group.
#pragma once

#include <deepcomp/ops.h>

#include <algorithm>
#include <vector>

#include "helpers.h"

namespace deepcomp::testing {

// The first slice of group g: the least r with r · groups / rows >= g, i.e. ceil(g · rows / groups).
inline int64_t group_start(int64_t group, int64_t groups, int64_t rows) { return (group * rows + groups - 1) / groups; }

// Group g's slices of t (along its first dimension).
inline torch::Tensor group_slice(const torch::Tensor& t, int64_t group, int64_t groups) {
  const int64_t first = group_start(group, groups, t.size(0)), last = group_start(group + 1, groups, t.size(0));
  return t.narrow(0, first, last - first);
}

// codebook[r · groups / d0][indices[i]] where mask (r: i's slice), exactly 0 elsewhere, by torch's
// gather: differentiable w.r.t. the codebook, so autograd gives the per-group, per-cluster sums.
inline torch::Tensor grouped_decode_reference(const torch::Tensor& indices, const torch::Tensor& mask,
                                              const torch::Tensor& codebook) {
  const auto table = codebook.dim() == 1 ? codebook.unsqueeze(0) : codebook;
  const int64_t groups = table.size(0), rows = indices.size(0);
  const auto row_groups = torch::div(torch::arange(rows, torch::kLong) * groups, std::max<int64_t>(rows, 1), "floor");
  const auto per_row = indices.to(torch::kLong).reshape({rows, rows == 0 ? 0 : indices.numel() / rows});
  const auto decoded = table.index_select(0, row_groups).gather(1, per_row).view(indices.sizes());
  return torch::where(mask, decoded, torch::zeros_like(decoded));
}

// The grouped codebook_grad as the 1-D op on each group's slices, stacked: (groups, num_codes).
inline torch::Tensor per_slice_codebook_grad(const torch::Tensor& grad_weight, const torch::Tensor& indices,
                                             const torch::Tensor& mask, int64_t num_codes, int64_t groups) {
  std::vector<torch::Tensor> parts;
  for (int64_t g = 0; g < groups; ++g) {
    parts.push_back(ops::codebook_grad(group_slice(grad_weight, g, groups), group_slice(indices, g, groups),
                                       group_slice(mask, g, groups), num_codes));
  }
  return torch::stack(parts);
}

}  // namespace deepcomp::testing
