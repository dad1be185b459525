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

// A file written atomically, in pieces: the bytes go to a temporary file beside path; commit()
// flushes it to disk (fsync), renames it over path and flushes the directory. Until then nothing at
// path changes, and a file never committed (an error, or an exception in the writer) is removed by
// discard() or the destructor. Failures throw FileError naming path.
class AtomicFile {
 public:
  explicit AtomicFile(std::string path);
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile() { discard(); }

  void write(const uint8_t* data, uint64_t size);
  void commit();
  // Removes the temporary file; nothing after commit().
  void discard() noexcept;

 private:
  [[noreturn]] void fail(const char* what);

  std::string path_;
  std::string temporary_;
  int fd_ = -1;
  bool open_ = false;  // the temporary file exists and is neither committed nor discarded
};

// The whole of data through an AtomicFile.
void write_file_atomically(const std::string& path, const uint8_t* data, uint64_t size);

// The bytes of the file at path; FileError if it cannot be read.
std::vector<uint8_t> read_file(const std::string& path);

}  // namespace deepcomp::codec
