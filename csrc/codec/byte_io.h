// Building and parsing the byte layout of a .dcz file: little-endian integers, LEB128 varints and
// byte runs. The reader checks every read against what is left and names the section on failure.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace deepcomp::codec {

class ByteWriter {
 public:
  void u8(uint64_t value) { bytes_.push_back(static_cast<uint8_t>(value)); }
  void fixed(uint64_t value, int count);  // little-endian, `count` bytes
  void varint(uint64_t value);            // unsigned LEB128
  void append(const uint8_t* data, uint64_t count) { bytes_.insert(bytes_.end(), data, data + count); }
  void append(const std::vector<uint8_t>& data) { append(data.data(), data.size()); }
  // `count` more bytes at the end, for the caller to fill; valid until the next write.
  uint8_t* extend(uint64_t count) {
    bytes_.resize(bytes_.size() + count);
    return bytes_.data() + bytes_.size() - count;
  }
  uint64_t size() const { return bytes_.size(); }
  std::vector<uint8_t>& bytes() { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

class ByteReader {
 public:
  ByteReader(const uint8_t* data, uint64_t size, std::string section)
      : data_(data), size_(size), section_(std::move(section)) {}

  uint8_t u8(const char* field);
  uint64_t fixed(int count, const char* field);
  // A canonical LEB128 varint of at most 10 bytes that fits 64 bits.
  uint64_t varint(const char* field);
  // The next `count` bytes (checked against what is left before anything is allocated).
  const uint8_t* take(uint64_t count, const char* field);
  uint64_t remaining() const { return size_ - offset_; }
  const std::string& section() const { return section_; }
  // FormatError "<section>: <message>".
  [[noreturn]] void fail(const std::string& message) const;

 private:
  const uint8_t* data_;
  uint64_t size_;
  uint64_t offset_ = 0;
  std::string section_;
};

}  // namespace deepcomp::codec
