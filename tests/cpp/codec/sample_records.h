// Records for the codec tests and the fuzzing seeds: small, deterministic, of every kind.
#pragma once

#include "codec/container.h"

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace deepcomp::codec::testing {

inline bool same_record(const TensorRecord& a, const TensorRecord& b) {
  return a.name == b.name && a.kind == b.kind && a.dtype == b.dtype && a.shape == b.shape && a.values == b.values &&
         a.index_bits == b.index_bits && a.codebook_groups == b.codebook_groups && a.codebook == b.codebook &&
         a.indices == b.indices && a.gap_bits == b.gap_bits && a.mask == b.mask;
}

inline bool same_records(const std::vector<TensorRecord>& a, const std::vector<TensorRecord>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!same_record(a[i], b[i])) return false;
  }
  return true;
}

inline std::vector<uint8_t> random_bytes(std::mt19937_64& rng, uint64_t count) {
  std::vector<uint8_t> bytes(count);
  for (auto& byte : bytes) byte = static_cast<uint8_t>(rng());
  return bytes;
}

// A record of `kind` with a valid layout: keep_percent of the elements kept (sparse kinds), index
// symbols skewed toward small values (codebook kinds). dtype must be floating for codebook kinds.
inline TensorRecord random_record(std::mt19937_64& rng, const std::string& name, TensorKind kind, DType dtype,
                                  std::vector<uint64_t> shape, int bits = 4, int gap_bits = 3,
                                  int keep_percent = 20) {
  TensorRecord record;
  record.name = name;
  record.kind = kind;
  record.dtype = dtype;
  record.shape = std::move(shape);
  const uint64_t numel = record.numel();
  const uint64_t size = static_cast<uint64_t>(dtype_size(dtype));
  if (is_sparse(kind)) {
    record.gap_bits = gap_bits;
    record.mask.resize(numel);
    for (auto& m : record.mask) m = static_cast<int>(rng() % 100) < keep_percent ? 1 : 0;
  }
  const uint64_t kept = record.kept();
  if (has_codebook(kind)) {
    record.index_bits = bits;
    record.codebook = random_bytes(rng, (uint64_t{1} << bits) * size);
    record.indices.resize(kept);
    std::geometric_distribution<int> skew(0.3);
    for (auto& index : record.indices) index = static_cast<uint8_t>(skew(rng) % (1 << bits));
  } else {
    record.values = random_bytes(rng, kept * size);
    if (dtype == DType::boolean) {
      for (auto& value : record.values) value &= 1;  // a bool is 0 or 1
    }
  }
  return record;
}

// A small file's worth of records, one or more of each kind (seeded, so always the same).
inline std::vector<TensorRecord> sample_records() {
  std::mt19937_64 rng(20240601);
  return {
      random_record(rng, "conv1.weight", TensorKind::sparse_codebook, DType::float32, {4, 1, 3, 3}, 5, 4, 35),
      random_record(rng, "conv1.bias", TensorKind::raw, DType::float32, {4}),
      random_record(rng, "fc.weight", TensorKind::dense_codebook, DType::float16, {6, 5}, 5),
      random_record(rng, "fc.sparse", TensorKind::sparse_raw, DType::int8, {40}, 0, 2, 15),
      random_record(rng, "step", TensorKind::raw, DType::int64, {}),
  };
}

}  // namespace deepcomp::codec::testing
