#include "pipeline/tensor_records.h"

#include <ATen/ops/empty.h>
#include <ATen/ops/ones.h>
#include <c10/util/Exception.h>
#include <deepcomp/format_error.h>

#include <cstring>

#include "check.h"
#include "codec/dense.h"

namespace deepcomp {
namespace {

// Records hold little-endian bytes; tensors are copied byte for byte.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the .dcz reader and writer assume a little-endian host");

codec::DType dtype_of(const at::Tensor& t, const std::string& name) {
  switch (t.scalar_type()) {
    case at::kFloat: return codec::DType::float32;
    case at::kDouble: return codec::DType::float64;
    case at::kHalf: return codec::DType::float16;
    case at::kBFloat16: return codec::DType::bfloat16;
    case at::kChar: return codec::DType::int8;
    case at::kByte: return codec::DType::uint8;
    case at::kShort: return codec::DType::int16;
    case at::kInt: return codec::DType::int32;
    case at::kLong: return codec::DType::int64;
    case at::kBool: return codec::DType::boolean;
    default:
      DEEPCOMP_CHECK_VALUE(false, "save: '", name, "' has dtype ", t.scalar_type(),
                           ", which a .dcz file cannot hold (floating, integer and bool tensors can)");
  }
}

at::ScalarType scalar_type_of(codec::DType dtype) {
  switch (dtype) {
    case codec::DType::float32: return at::kFloat;
    case codec::DType::float64: return at::kDouble;
    case codec::DType::float16: return at::kHalf;
    case codec::DType::bfloat16: return at::kBFloat16;
    case codec::DType::int8: return at::kChar;
    case codec::DType::uint8: return at::kByte;
    case codec::DType::int16: return at::kShort;
    case codec::DType::int32: return at::kInt;
    case codec::DType::int64: return at::kLong;
    case codec::DType::boolean: return at::kBool;
  }
  throw FormatError("unknown dtype");
}

std::vector<uint8_t> bytes_of(const at::Tensor& t) {
  const auto cpu = t.detach().to(at::kCPU).contiguous();
  const auto* data = static_cast<const uint8_t*>(cpu.data_ptr());
  return {data, data + cpu.nbytes()};
}

codec::TensorRecord record_header(const std::string& name, const at::Tensor& t, codec::TensorKind kind) {
  codec::TensorRecord record;
  record.name = name;
  record.kind = kind;
  record.dtype = dtype_of(t, name);
  for (const int64_t dim : t.sizes()) record.shape.push_back(static_cast<uint64_t>(dim));
  return record;
}

std::vector<int64_t> sizes_of(const codec::TensorRecord& record) {
  return {record.shape.begin(), record.shape.end()};
}

at::Tensor tensor_from_bytes(const std::vector<uint8_t>& bytes, at::IntArrayRef sizes, codec::DType dtype) {
  auto t = at::empty(sizes, at::dtype(scalar_type_of(dtype)));
  TORCH_INTERNAL_ASSERT(static_cast<size_t>(t.nbytes()) == bytes.size());
  if (!bytes.empty()) std::memcpy(t.data_ptr(), bytes.data(), bytes.size());
  return t;
}

// A tensor of record's shape and `dtype`, filled by decode (dense.h).
template <typename Decode>
at::Tensor decoded(const codec::TensorRecord& record, codec::DType dtype, Decode&& decode) {
  auto t = at::empty(sizes_of(record), at::dtype(scalar_type_of(dtype)));
  decode(record, static_cast<uint8_t*>(t.data_ptr()));
  return t;
}

}  // namespace

codec::TensorRecord raw_record(const std::string& name, const at::Tensor& t) {
  auto record = record_header(name, t, codec::TensorKind::raw);
  record.values = bytes_of(t);
  return record;
}

codec::TensorRecord sparse_record(const std::string& name, const at::Tensor& weight, const at::Tensor& mask,
                                  int gap_bits) {
  auto record = record_header(name, weight, codec::TensorKind::sparse_raw);
  record.gap_bits = gap_bits;
  const auto keep = mask.detach().to(at::kCPU, at::kBool).contiguous();
  record.mask = bytes_of(keep);
  record.values = bytes_of(weight.detach().to(at::kCPU).masked_select(keep));
  return record;
}

codec::TensorRecord codebook_record(const std::string& name, const at::Tensor& codebook, const at::Tensor& indices,
                                    const at::Tensor& mask, int gap_bits) {
  const auto keep = mask.detach().to(at::kCPU, at::kBool).contiguous();
  const bool dense = keep.all().item<bool>();
  auto record = record_header(name, codebook, dense ? codec::TensorKind::dense_codebook : codec::TensorKind::sparse_codebook);
  record.shape.assign(indices.sizes().begin(), indices.sizes().end());
  while ((int64_t{1} << record.index_bits) < codebook.size(-1)) ++record.index_bits;
  record.codebook_groups = codebook.dim() == 2 ? codebook.size(0) : 1;
  record.codebook = bytes_of(codebook);
  const auto cpu_indices = indices.detach().to(at::kCPU);
  if (dense) {
    record.indices = bytes_of(cpu_indices);
  } else {
    record.gap_bits = gap_bits;
    record.mask = bytes_of(keep);
    record.indices = bytes_of(cpu_indices.masked_select(keep));
  }
  return record;
}

at::Tensor dense_tensor(const codec::TensorRecord& record) {
  return decoded(record, record.dtype, codec::decode_dense);
}

at::Tensor codebook_tensor(const codec::TensorRecord& record) {
  TORCH_INTERNAL_ASSERT(codec::has_codebook(record.kind));
  const int64_t k = int64_t{1} << record.index_bits, groups = static_cast<int64_t>(record.codebook_groups);
  return groups == 1 ? tensor_from_bytes(record.codebook, {k}, record.dtype)
                     : tensor_from_bytes(record.codebook, {groups, k}, record.dtype);
}

at::Tensor indices_tensor(const codec::TensorRecord& record) {
  TORCH_INTERNAL_ASSERT(codec::has_codebook(record.kind));
  return decoded(record, codec::DType::uint8, codec::decode_indices);  // 0 where pruned
}

at::Tensor mask_tensor(const codec::TensorRecord& record) {
  const auto sizes = sizes_of(record);
  if (record.kind == codec::TensorKind::dense_codebook) return at::ones(sizes, at::dtype(at::kBool));
  TORCH_INTERNAL_ASSERT(codec::is_sparse(record.kind));
  return tensor_from_bytes(record.mask, sizes, codec::DType::boolean);
}

}  // namespace deepcomp
