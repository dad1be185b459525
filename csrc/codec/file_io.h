// Whole-file reads and atomic writes: a reader never sees a half-written .dcz, and a failed write
// leaves what was at the path untouched.
#pragma once

#include <cstdint>
#include <functional>
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
// discard() or the destructor. Failures throw FileError naming path. The new file keeps the mode of
// the file it replaces; a symbolic link at path is followed (its target is replaced, the link stays).
// The temporary is named `<path>.tmp-XXXXXX` (the name cut to fit) and locked (flock) while written;
// a new AtomicFile for the same path removes the unlocked ones, which killed writers left.
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

// The bytes of the regular file at path; FileError if it cannot be read or is not a regular file (a
// FIFO would block, a device never end). check_start, when given, sees the first start_bytes bytes
// (fewer if the file is shorter) before the rest is read, and may throw to stop there: a file of the
// wrong kind costs a few bytes of reading, not its whole size.
std::vector<uint8_t> read_file(const std::string& path, size_t start_bytes = 0,
                               const std::function<void(const uint8_t*, size_t)>& check_start = nullptr);

}  // namespace deepcomp::codec
