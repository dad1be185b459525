#include "codec/file_io.h"

#include <cerrno>
#include <cstdlib>
#include <utility>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace deepcomp::codec {
namespace {

// Closes a descriptor on every path out of a scope.
struct Descriptor {
  int fd = -1;
  ~Descriptor() {
    if (fd >= 0) ::close(fd);
  }
};

std::string directory_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)), temporary_(path_ + ".tmp-XXXXXX") {
  fd_ = ::mkstemp(temporary_.data());
  if (fd_ < 0) throw FileError(errno, "cannot create a temporary file beside", path_);
  open_ = true;
  // mkstemp makes the file private (0600); give it the permissions a new file normally gets.
  const mode_t mask = ::umask(0);
  ::umask(mask);
  if (::fchmod(fd_, 0666 & ~mask) != 0) fail("cannot set the permissions of a new file for");
}

void AtomicFile::fail(const char* what) {
  const int code = errno;
  discard();
  throw FileError(code, what, path_);
}

void AtomicFile::write(const uint8_t* data, uint64_t size) {
  if (!open_) throw FileError(EBADF, "already committed or discarded:", path_);
  while (size > 0) {
    const ssize_t written = ::write(fd_, data, size);
    if (written < 0 && errno == EINTR) continue;
    if (written < 0) fail("cannot write");
    data += written;
    size -= static_cast<uint64_t>(written);
  }
}

void AtomicFile::commit() {
  if (!open_) throw FileError(EBADF, "already committed or discarded:", path_);
  if (::fsync(fd_) != 0) fail("cannot flush to disk");
  if (::close(std::exchange(fd_, -1)) != 0) fail("cannot write");
  if (::rename(temporary_.c_str(), path_.c_str()) != 0) fail("cannot rename a temporary file to");
  open_ = false;
  // The rename is durable once the directory is flushed; a failure here loses nothing written.
  Descriptor directory;
  directory.fd = ::open(directory_of(path_).c_str(), O_RDONLY | O_DIRECTORY);
  if (directory.fd >= 0) ::fsync(directory.fd);
}

void AtomicFile::discard() noexcept {
  if (fd_ >= 0) ::close(std::exchange(fd_, -1));
  if (open_) ::unlink(temporary_.c_str());
  open_ = false;
}

void write_file_atomically(const std::string& path, const uint8_t* data, uint64_t size) {
  AtomicFile file(path);
  file.write(data, size);
  file.commit();
}

std::vector<uint8_t> read_file(const std::string& path) {
  Descriptor file;
  file.fd = ::open(path.c_str(), O_RDONLY);
  if (file.fd < 0) throw FileError(errno, "cannot open", path);
  struct stat info {};
  if (::fstat(file.fd, &info) != 0) throw FileError(errno, "cannot stat", path);
  if (S_ISDIR(info.st_mode)) throw FileError(EISDIR, "is a directory:", path);
  std::vector<uint8_t> bytes(static_cast<size_t>(info.st_size));
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t got = ::read(file.fd, bytes.data() + done, bytes.size() - done);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) throw FileError(errno, "cannot read", path);
    if (got == 0) throw FileError(EIO, "file shrank while being read:", path);
    done += static_cast<size_t>(got);
  }
  return bytes;
}

}  // namespace deepcomp::codec
