// A record decoded to its dense form, byte for byte, without torch: what a loader puts into a tensor.
#pragma once

#include "codec/container.h"

#include <cstdint>

namespace deepcomp::codec {

// The record's dense little-endian elements (numel × dtype_size bytes at out): a raw record's values,
// a sparse record's kept values, a codebook record's centroid per element (from its group's
// codebook); zero bytes where pruned
// (0, 0.0, false). One pass, no temporaries. record must come from read_container (or be valid).
void decode_dense(const TensorRecord& record, uint8_t* out);

// A codebook record's index per element (numel bytes at out), 0 where pruned.
void decode_indices(const TensorRecord& record, uint8_t* out);

}  // namespace deepcomp::codec
