// The codebook's gradient from the weight's, shaped like the codebook (1-D or grouped): what the
// backward of every shared op returns for it.
#pragma once

#include <deepcomp/ops.h>

#include "ops/codebook_layout.h"

namespace deepcomp::ops {

inline at::Tensor codebook_grad_like(const at::Tensor& grad_weight, const at::Tensor& indices, const at::Tensor& mask,
                                     const at::Tensor& codebook) {
  return codebook_grad(grad_weight, indices, mask, codebook_codes(codebook), codebook_groups(codebook))
      .view(codebook.sizes());
}

}  // namespace deepcomp::ops
