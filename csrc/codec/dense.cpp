// One pass from a record's stored bytes to its dense elements (dense.h).
#include "codec/dense.h"

#include <cstring>

namespace deepcomp::codec {
namespace {

// A codebook record's centroids: `groups` codebooks of `k` entries over the `rows` slices of the
// first dimension, slice r reading codebook r · groups / rows (container.h).
struct Codebook {
  const uint8_t* entries = nullptr;
  uint64_t k = 0, groups = 1, rows = 1;

  // The first element of group g, each slice `slice` elements long; in 128 bits (g · rows may pass 2^64).
  uint64_t start(uint64_t group, uint64_t slice) const {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(group) * rows + groups - 1) / groups) * slice;
  }
};

// Whole elements of `Word` bytes: out[i] = kept ? the next element of source (through the codebook,
// when given, by its uint8 index) : 0, for i < numel; keep == nullptr keeps every element.
template <typename Word>
void scatter_kept(const uint8_t* keep, const uint8_t* source, Codebook codebook, uint8_t* out, uint64_t numel) {
  const uint64_t slice = codebook.rows == 0 ? 0 : numel / codebook.rows;
  uint64_t group = 0, next_group = codebook.groups == 1 ? numel : codebook.start(1, slice);
  for (uint64_t i = 0; i < numel; ++i) {
    while (i == next_group) {  // the next group's codebook (a group of no slice is passed over)
      codebook.entries += sizeof(Word) * codebook.k;
      next_group = codebook.start(++group + 1, slice);
    }
    Word word = 0;
    if (keep == nullptr || keep[i]) {
      const uint8_t* element = source;
      if (codebook.entries != nullptr) {
        element = codebook.entries + sizeof(Word) * *source++;
      } else {
        source += sizeof(Word);
      }
      std::memcpy(&word, element, sizeof(Word));
    }
    std::memcpy(out + sizeof(Word) * i, &word, sizeof(Word));
  }
}

void scatter(const TensorRecord& record, int size, const uint8_t* source, Codebook codebook, uint8_t* out) {
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
  if (has_codebook(record.kind)) {
    // 1 <= groups <= shape[0] (read_container checks it): every group has a slice.
    const Codebook codebook{record.codebook.data(), uint64_t{1} << record.index_bits, record.codebook_groups,
                            record.shape.empty() ? 1 : record.shape[0]};
    return scatter(record, size, record.indices.data(), codebook, out);
  }
  scatter(record, size, record.values.data(), {}, out);
}

void decode_indices(const TensorRecord& record, uint8_t* out) { scatter(record, 1, record.indices.data(), {}, out); }

}  // namespace deepcomp::codec
