#include "codec/container.h"

#include "codec/byte_io.h"
#include "codec/checksum.h"
#include "codec/relative_index.h"
#include "codec/stream.h"

#include <deepcomp/format_error.h>

#include <algorithm>
#include <set>
#include <stdexcept>

namespace deepcomp::codec {
namespace {

constexpr int kDTypeCount = 10;
constexpr int kKindCount = 4;
// No tensor may claim more elements than this, whatever its bytes (2^48: far above any model).
constexpr uint64_t kMaxElements = uint64_t{1} << 48;

uint64_t element_count(const std::vector<uint64_t>& shape) {
  if (std::find(shape.begin(), shape.end(), uint64_t{0}) != shape.end()) return 0;
  uint64_t numel = 1;
  for (const uint64_t dim : shape) {
    if (numel > kMaxElements / dim) return kMaxElements + 1;
    numel *= dim;
  }
  return numel;
}

bool valid_utf8(const std::string& text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<uint8_t>(text[i]);
    const int extra = lead < 0x80 ? 0 : (lead >> 5) == 0x6 ? 1 : (lead >> 4) == 0xe ? 2 : (lead >> 3) == 0x1e ? 3 : -1;
    if (extra < 0 || i + static_cast<size_t>(extra) >= text.size()) return false;
    uint32_t code = extra == 0 ? lead : lead & (0x3f >> extra);
    for (int k = 1; k <= extra; ++k) {
      const auto next = static_cast<uint8_t>(text[i + static_cast<size_t>(k)]);
      if ((next & 0xc0) != 0x80) return false;
      code = code << 6 | (next & 0x3f);
    }
    const uint32_t smallest[] = {0, 0x80, 0x800, 0x10000};
    if (code < smallest[extra] || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff) || code == 0) return false;
    i += static_cast<size_t>(extra) + 1;
  }
  return true;
}

// ---- writing ----

void check_record(const TensorRecord& record, std::set<std::string>& names) {
  auto invalid = [&](const std::string& what) {
    throw std::invalid_argument("record '" + printable(record.name) + "': " + what);
  };
  if (record.name.empty() || record.name.size() > kMaxNameBytes || !valid_utf8(record.name)) {
    invalid("a name must be 1.." + std::to_string(kMaxNameBytes) + " bytes of UTF-8 without NUL");
  }
  if (!names.insert(record.name).second) invalid("the name appears twice");
  if (static_cast<int>(record.kind) >= kKindCount) invalid("unknown kind");
  if (static_cast<int>(record.dtype) >= kDTypeCount) invalid("unknown dtype");
  if (record.shape.size() > kMaxRank) invalid("more than " + std::to_string(kMaxRank) + " dimensions");
  for (const uint64_t dim : record.shape) {
    if (dim > kMaxElements) invalid("a dimension above 2^48");
  }
  const uint64_t numel = element_count(record.shape);
  if (numel > kMaxElements) invalid("too many elements");
  if (record.dtype == DType::boolean && std::any_of(record.values.begin(), record.values.end(), [](uint8_t b) { return b > 1; })) {
    invalid("a bool value is neither 0 nor 1");
  }
  const uint64_t size = static_cast<uint64_t>(dtype_size(record.dtype));
  if (is_sparse(record.kind)) {
    if (record.gap_bits < kMinGapBits || record.gap_bits > kMaxGapBits) invalid("gap bits must be in 1..8");
    if (record.mask.size() != numel) invalid("the mask must have one byte per element");
  }
  if (has_codebook(record.kind)) {
    if (!is_floating(record.dtype)) invalid("a codebook must be of a floating dtype");
    if (record.index_bits < kMinIndexBits || record.index_bits > kMaxIndexBits) invalid("index bits must be in 1..8");
    if (record.codebook_groups != 1 &&
        (record.shape.empty() || record.codebook_groups == 0 || record.codebook_groups > record.shape[0])) {
      invalid("there must be 1 codebook group, or up to one per slice of the first dimension");
    }
    if (record.codebook.size() != record.codebook_groups * (uint64_t{1} << record.index_bits) * size) {
      invalid("the codebook must hold codebook_groups × 2^index_bits values");
    }
    if (record.indices.size() != record.kept()) invalid("there must be one index per stored element");
    for (const uint8_t index : record.indices) {
      if (index >> record.index_bits) invalid("index " + std::to_string(index) + " is not below 2^index_bits");
    }
  } else if (record.values.size() != record.kept() * size) {
    invalid("the values must hold one element per stored position");
  }
}

std::vector<uint8_t> record_payload(const TensorRecord& record, uint64_t version, const WriteOptions& options,
                                    RecordBytes& bytes) {
  ByteWriter out;
  out.varint(record.name.size());
  out.append(reinterpret_cast<const uint8_t*>(record.name.data()), record.name.size());
  bytes.name = out.size();
  out.u8(static_cast<uint64_t>(record.kind));
  out.u8(static_cast<uint64_t>(record.dtype));
  out.u8(record.shape.size());
  for (const uint64_t dim : record.shape) out.varint(dim);
  if (has_codebook(record.kind)) {
    out.u8(static_cast<uint64_t>(record.index_bits));
    if (version >= 3) out.varint(record.codebook_groups);
  }
  if (is_sparse(record.kind)) {
    out.u8(static_cast<uint64_t>(record.gap_bits));
    out.varint(record.kept());
  }
  if (has_codebook(record.kind)) {
    bytes.codebook = record.codebook.size();
    out.append(record.codebook);
  }
  if (is_sparse(record.kind)) {
    const auto gaps = encode_gaps(record.mask.data(), record.mask.size(), record.gap_bits);
    const uint64_t before = out.size();
    write_stream(out, gaps, record.gap_bits, options.max_code_length);
    bytes.gap_stream = out.size() - before;
    bytes.gap_entries = gaps.size();
  }
  if (has_codebook(record.kind)) {
    const uint64_t before = out.size();
    write_stream(out, record.indices, record.index_bits, options.max_code_length);
    bytes.index_stream = out.size() - before;
  } else {
    bytes.values = record.values.size();
    out.append(record.values);
  }
  return std::move(out.bytes());
}

// ---- reading ----

TensorRecord read_record(ByteReader& in, uint64_t version, RecordBytes& bytes, uint64_t& decode_budget) {
  TensorRecord record;
  const uint64_t name_start = in.remaining();
  const uint64_t name_size = in.varint("name length");
  if (name_size == 0 || name_size > kMaxNameBytes) {
    in.fail("name length " + std::to_string(name_size) + " outside 1.." + std::to_string(kMaxNameBytes));
  }
  const uint8_t* name = in.take(name_size, "name");
  record.name.assign(reinterpret_cast<const char*>(name), name_size);
  bytes.name = name_start - in.remaining();
  if (!valid_utf8(record.name)) in.fail("the name is not UTF-8 without NUL");
  const std::string where = "'" + printable(record.name) + "'";
  const uint8_t kind = in.u8("kind");
  if (kind >= kKindCount) in.fail(where + ": unknown kind " + std::to_string(kind));
  record.kind = static_cast<TensorKind>(kind);
  const uint8_t dtype = in.u8("dtype");
  if (dtype >= kDTypeCount) in.fail(where + ": unknown dtype " + std::to_string(dtype));
  record.dtype = static_cast<DType>(dtype);
  const uint8_t rank = in.u8("rank");
  if (rank > kMaxRank) in.fail(where + ": rank " + std::to_string(rank) + " above " + std::to_string(kMaxRank));
  for (int d = 0; d < rank; ++d) {
    record.shape.push_back(in.varint("dimension"));
    // Each dimension on its own too: a huge one beside a 0 has no elements but no valid shape either.
    if (record.shape.back() > kMaxElements) in.fail(where + ": a dimension above 2^48");
  }
  const uint64_t numel = element_count(record.shape);
  if (numel > kMaxElements) in.fail(where + ": the shape has more than 2^48 elements");
  const uint64_t size = static_cast<uint64_t>(dtype_size(record.dtype));
  // Refused before anything of the tensor is allocated: a few bytes of fillers can declare millions of elements.
  const uint64_t decoded = decoded_bytes(record.kind, record.dtype, numel);
  if (decoded > decode_budget) {
    in.fail(where + ": decodes to " + std::to_string(decoded) + " bytes (" + std::to_string(numel) +
            " elements), more than the " + std::to_string(decode_budget) +
            " bytes left of the decoding limit; raise the limit (max_bytes) to read it");
  }
  decode_budget -= decoded;

  if (has_codebook(record.kind)) {
    if (!is_floating(record.dtype)) in.fail(where + ": a codebook of dtype " + dtype_name(record.dtype) + ", not floating");
    record.index_bits = in.u8("index bits");
    if (record.index_bits < kMinIndexBits || record.index_bits > kMaxIndexBits) {
      in.fail(where + ": index bits " + std::to_string(record.index_bits) + " outside 1..8");
    }
    if (version >= 3) {
      record.codebook_groups = in.varint("codebook groups");
      const uint64_t rows = record.shape.empty() ? 0 : record.shape[0];
      if (record.codebook_groups != 1 && (record.codebook_groups == 0 || record.codebook_groups > rows)) {
        in.fail(where + ": " + std::to_string(record.codebook_groups) + " codebook groups for a first dimension of " +
                std::to_string(rows));
      }
    }
  }
  uint64_t kept = numel;
  if (is_sparse(record.kind)) {
    record.gap_bits = in.u8("gap bits");
    if (record.gap_bits < kMinGapBits || record.gap_bits > kMaxGapBits) {
      in.fail(where + ": gap bits " + std::to_string(record.gap_bits) + " outside 1..8");
    }
    kept = in.varint("kept count");
    if (kept > numel) in.fail(where + ": " + std::to_string(kept) + " kept of " + std::to_string(numel) + " elements");
  }
  if (has_codebook(record.kind)) {
    // groups <= shape[0] <= 2^48: no overflow.
    const uint64_t codebook_size = record.codebook_groups * (uint64_t{1} << record.index_bits) * size;
    const uint8_t* codebook = in.take(codebook_size, "codebook");
    record.codebook.assign(codebook, codebook + codebook_size);
    bytes.codebook = codebook_size;
  }
  if (is_sparse(record.kind)) {
    const uint64_t before = in.remaining();
    const auto gaps = read_stream(in, record.gap_bits, kAnyCount, where + " gap stream");
    bytes.gap_stream = before - in.remaining();
    bytes.gap_entries = gaps.size();
    // The entries cover all but fewer than F = 2^gap_bits - 1 positions, each at most F.
    const uint64_t filler = (uint64_t{1} << record.gap_bits) - 1;
    if (numel / filler > gaps.size() + 1) {
      in.fail(where + ": " + std::to_string(gaps.size()) + " gap entries cannot cover " + std::to_string(numel) +
             " elements");
    }
    record.mask.resize(numel);
    decode_gaps(gaps.data(), gaps.size(), record.gap_bits, numel, kept, record.mask.data(),
                in.section() + ": " + where + " gap stream");
  }
  if (has_codebook(record.kind)) {
    const uint64_t before = in.remaining();
    record.indices = read_stream(in, record.index_bits, kept, where + " index stream");
    bytes.index_stream = before - in.remaining();
  } else {
    if (kept > in.remaining() / size) {
      in.fail(where + ": " + std::to_string(kept) + " values of " + std::to_string(size) + " bytes need more than the " +
             std::to_string(in.remaining()) + " left");
    }
    const uint8_t* values = in.take(kept * size, "values");
    record.values.assign(values, values + kept * size);
    bytes.values = kept * size;
    if (record.dtype == DType::boolean && std::any_of(values, values + kept, [](uint8_t b) { return b > 1; })) {
      in.fail(where + ": a bool value is neither 0 nor 1");
    }
  }
  if (in.remaining() != 0) in.fail(where + ": " + std::to_string(in.remaining()) + " byte(s) after the tensor's data");
  return record;
}

}  // namespace

std::string printable(const std::string& text) {
  std::string shown;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) {
      static const char* const hex = "0123456789abcdef";
      shown += {'\\', 'x', hex[byte >> 4], hex[byte & 15]};
    } else {
      shown += c;
    }
  }
  return shown;
}

const char* kind_name(TensorKind kind) {
  switch (kind) {
    case TensorKind::raw: return "raw";
    case TensorKind::dense_codebook: return "dense_codebook";
    case TensorKind::sparse_codebook: return "sparse_codebook";
    case TensorKind::sparse_raw: return "sparse_raw";
  }
  return "unknown";
}

const char* dtype_name(DType dtype) {
  static const char* const names[kDTypeCount] = {"float32", "float64", "float16", "bfloat16", "int8",
                                                 "uint8",   "int16",   "int32",   "int64",    "bool"};
  const auto i = static_cast<int>(dtype);
  return i < kDTypeCount ? names[i] : "unknown";
}

int dtype_size(DType dtype) {
  static const int sizes[kDTypeCount] = {4, 8, 2, 2, 1, 1, 2, 4, 8, 1};
  const auto i = static_cast<int>(dtype);
  return i < kDTypeCount ? sizes[i] : 0;
}

bool has_codebook(TensorKind kind) { return kind == TensorKind::dense_codebook || kind == TensorKind::sparse_codebook; }
bool is_floating(DType dtype) { return static_cast<int>(dtype) <= static_cast<int>(DType::bfloat16); }
bool is_sparse(TensorKind kind) { return kind == TensorKind::sparse_codebook || kind == TensorKind::sparse_raw; }

uint64_t TensorRecord::numel() const { return element_count(shape); }

uint64_t decoded_bytes(TensorKind kind, DType dtype, uint64_t numel) {
  const uint64_t per_element = static_cast<uint64_t>(dtype_size(dtype)) + (is_sparse(kind) ? 1 : 0) +
                               (has_codebook(kind) ? 1 : 0);
  return numel * per_element;  // numel <= 2^48: no overflow
}

uint64_t TensorRecord::kept() const {
  if (!is_sparse(kind)) return numel();
  return static_cast<uint64_t>(std::count_if(mask.begin(), mask.end(), [](uint8_t m) { return m != 0; }));
}

std::vector<uint8_t> write_container(const std::vector<TensorRecord>& records, const WriteOptions& options,
                                     std::vector<RecordBytes>* bytes) {
  if (records.size() > 0xffffffffu) throw std::invalid_argument("a .dcz file holds at most 2^32 - 1 tensors");
  std::set<std::string> names;
  for (const auto& record : records) check_record(record, names);
  // Files without grouped codebooks stay at the version before them, which more readers know.
  const bool grouped = std::any_of(records.begin(), records.end(), [](const TensorRecord& record) {
    return has_codebook(record.kind) && record.codebook_groups != 1;
  });
  const uint64_t version = grouped ? kFormatVersion : kUngroupedFormatVersion;
  ByteWriter out;
  for (const uint8_t byte : kMagic) out.u8(byte);
  out.fixed(version, 2);
  out.fixed(0, 2);  // flags: none defined
  out.fixed(records.size(), 4);
  out.fixed(checksum(out.bytes().data(), out.size()), 8);
  if (bytes != nullptr) bytes->clear();
  for (const auto& record : records) {
    RecordBytes sizes;
    const auto payload = record_payload(record, version, options, sizes);
    out.fixed(payload.size(), 8);
    out.append(payload);
    out.fixed(checksum(payload.data(), payload.size()), 8);
    sizes.total = payload.size() + kRecordFramingBytes;
    if (bytes != nullptr) bytes->push_back(sizes);
  }
  return std::move(out.bytes());
}

void check_magic(const uint8_t* data, uint64_t size) {
  if (size < kMagic.size() || !std::equal(kMagic.begin(), kMagic.end(), data)) {
    ByteReader(data, size, "file header").fail("not a .dcz file (wrong magic bytes)");
  }
}

std::vector<TensorRecord> read_container(const uint8_t* data, uint64_t size, const ReadOptions& options,
                                         std::vector<RecordBytes>* bytes) {
  check_magic(data, size);
  ByteReader file(data, size, "file header");
  file.take(kMagic.size(), "magic");
  const uint64_t version = file.fixed(2, "format version");
  const uint64_t flags = file.fixed(2, "flags");
  const uint64_t count = file.fixed(4, "record count");
  const uint64_t stored = file.fixed(8, "checksum");
  if (options.verify_checksums && stored != checksum(data, 16)) file.fail("checksum mismatch (the file is corrupted)");
  if (version < kOldestFormatVersion || version > kFormatVersion) {
    file.fail("format version " + std::to_string(version) + " is not supported (this reader knows versions " +
              std::to_string(kOldestFormatVersion) + ".." + std::to_string(kFormatVersion) + ")");
  }
  if (flags != 0) file.fail("unknown flags " + std::to_string(flags));
  // Each record takes at least its framing: a count the file cannot hold is rejected up front.
  if (count > file.remaining() / kRecordFramingBytes) {
    file.fail(std::to_string(count) + " records cannot fit in " + std::to_string(size) + " bytes");
  }
  std::vector<TensorRecord> records;
  std::set<std::string> names;
  uint64_t decode_budget = options.max_decoded_bytes;
  if (bytes != nullptr) bytes->clear();
  for (uint64_t i = 0; i < count; ++i) {
    ByteReader framing(data + (size - file.remaining()), file.remaining(), "record " + std::to_string(i));
    const uint64_t payload_size = framing.fixed(8, "payload size");
    if (payload_size > framing.remaining() || framing.remaining() - payload_size < 8) {
      framing.fail("payload of " + std::to_string(payload_size) + " bytes runs past the end of the file");
    }
    const uint8_t* payload = framing.take(payload_size, "payload");
    const uint64_t sum = framing.fixed(8, "checksum");
    if (options.verify_checksums && sum != checksum(payload, payload_size)) {
      framing.fail("checksum mismatch (the file is corrupted)");
    }
    file.take(kRecordFramingBytes + payload_size, "record");
    ByteReader in(payload, payload_size, "record " + std::to_string(i));
    RecordBytes sizes;
    records.push_back(read_record(in, version, sizes, decode_budget));
    sizes.total = payload_size + kRecordFramingBytes;
    if (!names.insert(records.back().name).second) in.fail("the name '" + records.back().name + "' appears twice");
    if (bytes != nullptr) bytes->push_back(sizes);
  }
  if (file.remaining() != 0) file.fail(std::to_string(file.remaining()) + " byte(s) after the last record");
  return records;
}

}  // namespace deepcomp::codec
