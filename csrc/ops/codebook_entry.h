// The entry points of codebook_decode and codebook_grad, shared by the CPU and CUDA twins: the
// checks and layout are here; each twin supplies only the kernel over contiguous tensors.
// An index out of range is an error on the CPU. A CUDA twin cannot report it without stalling the
// stream on the result, so it returns true and writes NaN where the bad index lands instead.
#pragma once

#include <ATen/ATen.h>

#include "check.h"
#include "ops/checks.h"
#include "ops/codebook_layout.h"

namespace deepcomp::ops {

// weight[i] = mask[i] ? codebook[g][indices[i]] : 0, g the group of element i (ops/codebook_layout.h:
// a 1-D codebook is one group). Returns false if an index is >= codebook_codes(codebook).
using CodebookDecodeInto = bool (*)(at::Tensor& weight, const at::Tensor& indices, const at::Tensor& mask,
                                    const at::Tensor& codebook);
// grad_codebook[g][c] = Σ grad_weight[i] over the i of group g with mask[i] and indices[i] == c
// (grad_codebook arrives zeroed, (k) or (groups, k)). Returns false if an index is >= k.
using CodebookGradInto = bool (*)(at::Tensor& grad_codebook, const at::Tensor& grad_weight,
                                  const at::Tensor& indices, const at::Tensor& mask);

template <CodebookDecodeInto into>
at::Tensor codebook_decode_entry(const at::Tensor& indices, const at::Tensor& mask, const at::Tensor& codebook) {
  check_shared_weight("codebook_decode", indices, mask, codebook);
  auto weight = at::empty(indices.sizes(), codebook.options());
  DEEPCOMP_CHECK(into(weight, indices.contiguous(), mask.contiguous(), codebook.contiguous()),
                 "codebook_decode: indices hold a value >= the codebook's ", codebook_codes(codebook), " entries");
  return weight;
}

template <CodebookGradInto into>
at::Tensor codebook_grad_entry(const at::Tensor& grad_weight, const at::Tensor& indices, const at::Tensor& mask,
                               int64_t num_codes, int64_t num_groups) {
  DEEPCOMP_CHECK(num_codes >= 1, "codebook_grad: num_codes must be >= 1, got ", num_codes);
  DEEPCOMP_CHECK(num_groups >= 1, "codebook_grad: num_groups must be >= 1, got ", num_groups);
  DEEPCOMP_CHECK(grad_weight.is_floating_point(), "codebook_grad: grad_weight must be floating-point, got ",
                 grad_weight.scalar_type());
  DEEPCOMP_CHECK(grad_weight.sizes() == indices.sizes(), "codebook_grad: grad_weight shape ", grad_weight.sizes(),
                 " differs from indices shape ", indices.sizes());
  auto grad_codebook = num_groups == 1 ? at::zeros({num_codes}, grad_weight.options())
                                       : at::zeros({num_groups, num_codes}, grad_weight.options());
  check_shared_weight("codebook_grad", indices, mask, grad_codebook);
  DEEPCOMP_CHECK(into(grad_codebook, grad_weight.contiguous(), indices.contiguous(), mask.contiguous()),
                 "codebook_grad: indices hold a value >= num_codes = ", num_codes);
  return grad_codebook;
}

}  // namespace deepcomp::ops
