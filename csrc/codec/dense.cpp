// One pass from a record's stored bytes to its dense elements (dense.h).
#include "codec/dense.h"

#include <cstring>

namespace deepcomp::codec {
namespace {

// Whole elements of `Word` bytes: out[i] = kept ? the next element of source (through codebook, when
// given, by its uint8 index) : 0, for i < numel; keep == nullptr keeps every element.
template <typename Word>
void scatter_kept(const uint8_t* keep, const uint8_t* source, const uint8_t* codebook, uint8_t* out, uint64_t numel) {
  for (uint64_t i = 0; i < numel; ++i) {
    Word word = 0;
    if (keep == nullptr || keep[i]) {
      const uint8_t* element = source;
      if (codebook != nullptr) {
        element = codebook + sizeof(Word) * *source++;
      } else {
        source += sizeof(Word);
      }
      std::memcpy(&word, element, sizeof(Word));
    }
    std::memcpy(out + sizeof(Word) * i, &word, sizeof(Word));
  }
}

void scatter(const TensorRecord& record, int size, const uint8_t* source, const uint8_t* codebook, uint8_t* out) {
  const uint8_t* keep = is_sparse(record.kind) ? record.mask.data() : nullptr;
  const uint64_t numel = record.numel();
  switch (size) {
    case 1: return scatter_kept<uint8_t>(keep, source, codebook, out, numel);
    case 2: return scatter_kept<uint16_t>(keep, source, codebook, out, numel);
    case 4: return scatter_kept<uint32_t>(keep, source, codebook, out, numel);
    default: return scatter_kept<uint64_t>(keep, source, codebook, out, numel);
  }
}

}  // namespace

void decode_dense(const TensorRecord& record, uint8_t* out) {
  const int size = dtype_size(record.dtype);
  if (record.kind == TensorKind::raw) {
    if (!record.values.empty()) std::memcpy(out, record.values.data(), record.values.size());
    return;
  }
  // Indices are symbols of an index_bits alphabet, so each is inside the 2^index_bits codebook.
  if (has_codebook(record.kind)) return scatter(record, size, record.indices.data(), record.codebook.data(), out);
  scatter(record, size, record.values.data(), nullptr, out);
}

void decode_indices(const TensorRecord& record, uint8_t* out) {
  scatter(record, 1, record.indices.data(), nullptr, out);
}

}  // namespace deepcomp::codec
