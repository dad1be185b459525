// Whole-file reads and atomic writes: a reader never sees a half-written .dcz, and a failed write
// leaves what was at the path untouched.
#pragma once

#include <cstdint>
#include <string>
#include <system_error>
#include <vector>

namespace deepcomp::codec {

// A failed file operation: the errno-style code, and the path it concerns.
class FileError : public std::system_error {
 public:
  FileError(int code, const std::string& what, std::string path)
      : std::system_error(code, std::generic_category(), what + " '" + path + "'"), path_(std::move(path)) {}
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Writes bytes to a temporary file beside path, flushes it to disk (fsync), renames it over path
// and flushes the directory. On failure the temporary file is removed and FileError thrown.
void write_file_atomically(const std::string& path, const uint8_t* data, uint64_t size);

// The bytes of the file at path; FileError if it cannot be read.
std::vector<uint8_t> read_file(const std::string& path);

}  // namespace deepcomp::codec
