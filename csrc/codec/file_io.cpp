#include "codec/file_io.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <utility>

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
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

// A symbolic link is followed: the file it points to is replaced and the link stays a link.
std::string followed(std::string path) {
  struct stat link {};
  if (::lstat(path.c_str(), &link) != 0 || !S_ISLNK(link.st_mode)) return path;
  char* target = ::realpath(path.c_str(), nullptr);
  if (target == nullptr) throw FileError(errno, "is a symbolic link to nothing that can be written:", path);
  std::string resolved(target);
  std::free(target);
  return resolved;
}

// path + ".tmp-XXXXXX" (a pattern to find the leftovers of a killed writer by), the file name cut so
// that the temporary's name fits the 255 bytes a directory entry may have.
std::string temporary_beside(const std::string& path) {
  constexpr size_t kMaxName = 255;
  const std::string suffix = ".tmp-XXXXXX";
  const auto slash = path.rfind('/');
  const size_t name_start = slash == std::string::npos ? 0 : slash + 1;
  const size_t name_size = path.size() - name_start;
  const size_t keep = std::min(name_size, kMaxName - suffix.size());
  return path.substr(0, name_start + keep) + suffix;
}

std::string directory_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// Removes the temporaries a killed writer left beside `temporary` (same name up to the random
// suffix). A live writer holds a lock on its temporary, so only abandoned ones are removed.
void remove_abandoned(const std::string& temporary) {
  const std::string directory = directory_of(temporary);
  const auto slash = temporary.rfind('/');
  const std::string stem = temporary.substr(slash == std::string::npos ? 0 : slash + 1);
  const std::string prefix = stem.substr(0, stem.size() - 6);  // without XXXXXX
  DIR* entries = ::opendir(directory.c_str());
  if (entries == nullptr) return;  // mkstemp will say what is wrong with the directory
  while (const dirent* entry = ::readdir(entries)) {
    const std::string name = entry->d_name;
    if (name.size() != stem.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string leftover = directory + "/" + name;
    Descriptor file;
    file.fd = ::open(leftover.c_str(), O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
    struct stat info {};
    if (file.fd < 0 || ::fstat(file.fd, &info) != 0 || !S_ISREG(info.st_mode)) continue;
    if (::flock(file.fd, LOCK_EX | LOCK_NB) == 0) ::unlink(leftover.c_str());
  }
  ::closedir(entries);
}

}  // namespace

AtomicFile::AtomicFile(std::string path) : path_(followed(std::move(path))), temporary_(temporary_beside(path_)) {
  remove_abandoned(temporary_);
  fd_ = ::mkstemp(temporary_.data());
  if (fd_ < 0) throw FileError(errno, "cannot create a temporary file beside", path_);
  open_ = true;
  // The lock tells other writers' remove_abandoned that this temporary is in use; it goes with the
  // descriptor, also when the process is killed.
  if (::flock(fd_, LOCK_EX) != 0) fail("cannot lock a temporary file beside");
  struct stat mine {}, named {};
  if (::fstat(fd_, &mine) != 0 || ::stat(temporary_.c_str(), &named) != 0 || mine.st_ino != named.st_ino) {
    open_ = false;  // the name is not ours any more: nothing to remove
    ::close(std::exchange(fd_, -1));
    throw FileError(ENOENT, "another writer removed the new temporary file beside", path_);
  }
  // mkstemp makes the file private (0600): give it the permissions of the file it replaces, or those
  // a new file normally gets.
  struct stat replaced {};
  mode_t mode = 0;
  if (::stat(path_.c_str(), &replaced) == 0 && S_ISREG(replaced.st_mode)) {
    mode = replaced.st_mode & 07777;
  } else {
    const mode_t mask = ::umask(0);
    ::umask(mask);
    mode = 0666 & ~mask;
  }
  if (::fchmod(fd_, mode) != 0) fail("cannot set the permissions of the new file for");
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
  // Renamed while still open (and so locked): no other writer takes it for abandoned in between.
  if (::rename(temporary_.c_str(), path_.c_str()) != 0) fail("cannot rename a temporary file to");
  open_ = false;
  if (::close(std::exchange(fd_, -1)) != 0) throw FileError(errno, "written and flushed, but closing failed for", path_);
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

std::vector<uint8_t> read_file(const std::string& path, size_t start_bytes,
                               const std::function<void(const uint8_t*, size_t)>& check_start) {
  Descriptor file;
  file.fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);  // O_NONBLOCK: a FIFO must not hang the open
  if (file.fd < 0) throw FileError(errno, "cannot open", path);
  struct stat info {};
  if (::fstat(file.fd, &info) != 0) throw FileError(errno, "cannot stat", path);
  if (S_ISDIR(info.st_mode)) throw FileError(EISDIR, "is a directory:", path);
  if (!S_ISREG(info.st_mode)) throw FileError(EINVAL, "is not a regular file:", path);
  const int flags = ::fcntl(file.fd, F_GETFL);
  if (flags < 0 || ::fcntl(file.fd, F_SETFL, flags & ~O_NONBLOCK) != 0) throw FileError(errno, "cannot read", path);
  std::vector<uint8_t> bytes(std::min(static_cast<size_t>(info.st_size), start_bytes));
  const auto read_into = [&](size_t done) {
    while (done < bytes.size()) {
      const ssize_t got = ::read(file.fd, bytes.data() + done, bytes.size() - done);
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) throw FileError(errno, "cannot read", path);
      if (got == 0) throw FileError(EIO, "file shrank while being read:", path);
      done += static_cast<size_t>(got);
    }
  };
  read_into(0);
  if (check_start) check_start(bytes.data(), bytes.size());
  const size_t head = bytes.size();
  bytes.resize(static_cast<size_t>(info.st_size));
  read_into(head);
  return bytes;
}

}  // namespace deepcomp::codec
