#include "codec/byte_io.h"

#include "codec/byte_order.h"

#include <deepcomp/format_error.h>

namespace deepcomp::codec {

void ByteWriter::fixed(uint64_t value, int count) {
  const size_t at = bytes_.size();
  bytes_.resize(at + static_cast<size_t>(count));
  store_le(bytes_.data() + at, value, count);
}

void ByteWriter::varint(uint64_t value) {
  while (value >= 0x80) {
    u8((value & 0x7f) | 0x80);
    value >>= 7;
  }
  u8(value);
}

uint8_t ByteReader::u8(const char* field) { return *take(1, field); }

uint64_t ByteReader::fixed(int count, const char* field) {
  return load_le(take(static_cast<uint64_t>(count), field), count);
}

uint64_t ByteReader::varint(const char* field) {
  uint64_t value = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    const uint8_t byte = u8(field);
    const uint64_t bits = byte & 0x7f;
    if (shift == 63 && bits > 1) fail(std::string(field) + " does not fit 64 bits");
    value |= bits << shift;
    if ((byte & 0x80) == 0) {
      if (byte == 0 && shift > 0) fail(std::string(field) + " is not a minimal varint");
      return value;
    }
  }
  fail(std::string(field) + " is a varint longer than 10 bytes");
}

const uint8_t* ByteReader::take(uint64_t count, const char* field) {
  if (count > remaining()) {
    fail(std::string(field) + " needs " + std::to_string(count) + " byte(s), " + std::to_string(remaining()) +
         " left");
  }
  const uint8_t* at = data_ + offset_;
  offset_ += count;
  return at;
}

void ByteReader::fail(const std::string& message) const { throw FormatError(section_ + ": " + message); }

}  // namespace deepcomp::codec
