// Tensors to and from the codec's records (codec/container.h): the one place that knows how a
// tensor's bytes, masks, indices and codebooks map onto a .dcz record.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>

#include "codec/container.h"

namespace deepcomp {

// A record of t's values as they are.
codec::TensorRecord raw_record(const std::string& name, const at::Tensor& t);
// weight's kept values (mask true) and the positions as gaps; weight must be 0 where mask is false.
codec::TensorRecord sparse_record(const std::string& name, const at::Tensor& weight, const at::Tensor& mask,
                                  int gap_bits);
// A shared weight: codebook (2^bits values, or (groups, 2^bits) per-group codebooks), uint8 indices
// and bool mask of the weight's shape.
// dense_codebook when every weight is kept, else sparse_codebook.
codec::TensorRecord codebook_record(const std::string& name, const at::Tensor& codebook, const at::Tensor& indices,
                                    const at::Tensor& mask, int gap_bits);

// The record's tensor, decoded to dense (0 where pruned).
at::Tensor dense_tensor(const codec::TensorRecord& record);
// Of codebook kinds: the codebook (1-D, or (groups, 2^bits) for several), and uint8 indices of the weight's shape (0 where pruned).
at::Tensor codebook_tensor(const codec::TensorRecord& record);
at::Tensor indices_tensor(const codec::TensorRecord& record);
// Of sparse and codebook kinds: the bool mask of kept weights (all true for dense_codebook).
at::Tensor mask_tensor(const codec::TensorRecord& record);

}  // namespace deepcomp
