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

bool write_all(int fd, const uint8_t* data, uint64_t size) {
  while (size > 0) {
    const ssize_t written = ::write(fd, data, size);
    if (written < 0 && errno == EINTR) continue;
    if (written < 0) return false;
    data += written;
    size -= static_cast<uint64_t>(written);
  }
  return true;
}

}  // namespace

void write_file_atomically(const std::string& path, const uint8_t* data, uint64_t size) {
  std::string temporary = path + ".tmp-XXXXXX";
  Descriptor file;
  file.fd = ::mkstemp(temporary.data());
  if (file.fd < 0) throw FileError(errno, "cannot create a temporary file beside", path);
  auto fail = [&](const char* what) {
    const int code = errno;
    ::unlink(temporary.c_str());
    throw FileError(code, what, path);
  };
  // mkstemp makes the file private (0600); give it the permissions a new file normally gets.
  const mode_t mask = ::umask(0);
  ::umask(mask);
  if (::fchmod(file.fd, 0666 & ~mask) != 0) fail("cannot set the permissions of a new file for");
  if (!write_all(file.fd, data, size)) fail("cannot write");
  if (::fsync(file.fd) != 0) fail("cannot flush to disk");
  const int fd = std::exchange(file.fd, -1);
  if (::close(fd) != 0) fail("cannot write");
  if (::rename(temporary.c_str(), path.c_str()) != 0) fail("cannot rename a temporary file to");
  // The rename is durable once the directory is flushed; a failure here loses nothing written.
  Descriptor directory;
  directory.fd = ::open(directory_of(path).c_str(), O_RDONLY | O_DIRECTORY);
  if (directory.fd >= 0) ::fsync(directory.fd);
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
