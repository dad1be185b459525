// The entry points of codebook_decode and codebook_grad, shared by the CPU and CUDA twins: the
// checks and layout are here; each twin supplies only the kernel over contiguous tensors.
// An index out of range is an error on the CPU. A CUDA twin cannot report it without stalling the
// stream on the result, so it returns true and writes NaN where the bad index lands instead.
#pragma once

#include <ATen/ATen.h>

#include "check.h"
#include "ops/checks.h"

namespace deepcomp::ops {

// weight[i] = mask[i] ? codebook[indices[i]] : 0. Returns false if an index is >= codebook.numel().
using CodebookDecodeInto = bool (*)(at::Tensor& weight, const at::Tensor& indices, const at::Tensor& mask,
                                    const at::Tensor& codebook);
// grad_codebook[c] = Σ grad_weight[i] over the i with mask[i] and indices[i] == c (grad_codebook
// arrives zeroed). Returns false if an index is >= grad_codebook.numel().
using CodebookGradInto = bool (*)(at::Tensor& grad_codebook, const at::Tensor& grad_weight,
                                  const at::Tensor& indices, const at::Tensor& mask);

template <CodebookDecodeInto into>
at::Tensor codebook_decode_entry(const at::Tensor& indices, const at::Tensor& mask, const at::Tensor& codebook) {
  check_shared_weight("codebook_decode", indices, mask, codebook);
  auto weight = at::empty(indices.sizes(), codebook.options());
  DEEPCOMP_CHECK(into(weight, indices.contiguous(), mask.contiguous(), codebook.contiguous()),
                 "codebook_decode: indices hold a value >= the codebook's ", codebook.numel(), " entries");
  return weight;
}

template <CodebookGradInto into>
at::Tensor codebook_grad_entry(const at::Tensor& grad_weight, const at::Tensor& indices, const at::Tensor& mask,
                               int64_t num_codes) {
  DEEPCOMP_CHECK(num_codes >= 1, "codebook_grad: num_codes must be >= 1, got ", num_codes);
  DEEPCOMP_CHECK(grad_weight.is_floating_point(), "codebook_grad: grad_weight must be floating-point, got ",
                 grad_weight.scalar_type());
  DEEPCOMP_CHECK(grad_weight.sizes() == indices.sizes(), "codebook_grad: grad_weight shape ", grad_weight.sizes(),
                 " differs from indices shape ", indices.sizes());
  auto grad_codebook = at::zeros({num_codes}, grad_weight.options());
  check_shared_weight("codebook_grad", indices, mask, grad_codebook);
  DEEPCOMP_CHECK(into(grad_codebook, grad_weight.contiguous(), indices.contiguous(), mask.contiguous()),
                 "codebook_grad: indices hold a value >= num_codes = ", num_codes);
  return grad_codebook;
}

}  // namespace deepcomp::ops
