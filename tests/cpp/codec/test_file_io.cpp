// Atomic writes and whole-file reads (file_io.h).
#include <catch2/catch.hpp>

#include "codec/file_io.h"

#include <cerrno>
#include <csignal>
#include <filesystem>
#include <stdexcept>

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace deepcomp::codec;
using Bytes = std::vector<uint8_t>;
namespace fs = std::filesystem;

namespace {

// A fresh directory, removed with everything in it at the end of the test.
struct TemporaryDirectory {
  fs::path path;
  TemporaryDirectory() {
    path = fs::temp_directory_path() / ("deepcomp_codec_tests_" + std::to_string(::getpid()));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TemporaryDirectory() { fs::remove_all(path); }
  std::vector<std::string> names() const {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(path)) names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }
};

void write(const fs::path& path, const Bytes& bytes) { write_file_atomically(path.string(), bytes.data(), bytes.size()); }

// Lowers the file size limit (RLIMIT_FSIZE, which binds root too) so that write() fails with EFBIG.
struct FileSizeLimit {
  rlimit saved{};
  void (*saved_handler)(int) = nullptr;
  explicit FileSizeLimit(rlim_t bytes) {
    ::getrlimit(RLIMIT_FSIZE, &saved);
    saved_handler = std::signal(SIGXFSZ, SIG_IGN);
    rlimit limit = saved;
    limit.rlim_cur = bytes;
    ::setrlimit(RLIMIT_FSIZE, &limit);
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &saved);
    std::signal(SIGXFSZ, saved_handler);
  }
};

}  // namespace

TEST_CASE("write_file_atomically creates and replaces a file, leaving nothing else", "[file_io]") {
  TemporaryDirectory dir;
  const auto target = dir.path / "model.dcz";
  write(target, {1, 2, 3});
  CHECK(read_file(target.string()) == Bytes{1, 2, 3});
  CHECK(dir.names() == std::vector<std::string>{"model.dcz"});
  const Bytes big(1 << 20, 0x5a);
  write(target, big);
  CHECK(read_file(target.string()) == big);
  write(target, {});
  CHECK(read_file(target.string()).empty());
  CHECK(dir.names() == std::vector<std::string>{"model.dcz"});
  // A new file gets the permissions open(2) would give it, not mkstemp's 0600.
  const mode_t mask = ::umask(0);
  ::umask(mask);
  struct stat info {};
  REQUIRE(::stat(target.c_str(), &info) == 0);
  CHECK((info.st_mode & 0777) == (0666 & ~mask));
}

TEST_CASE("a failed write_file_atomically throws FileError and leaves the target alone", "[file_io]") {
  TemporaryDirectory dir;
  SECTION("into a directory that does not exist") {
    const auto target = dir.path / "missing" / "model.dcz";
    try {
      write(target, {1});
      FAIL("no FileError");
    } catch (const FileError& error) {
      CHECK(error.code().value() == ENOENT);
      CHECK(error.path() == target.string());
    }
    CHECK(dir.names().empty());
  }
  SECTION("when the data does not fit") {
    const auto target = dir.path / "model.dcz";
    write(target, {7, 7, 7});
    {
      FileSizeLimit limit(4096);
      CHECK_THROWS_AS(write(target, Bytes(3 * 4096, 1)), FileError);
    }
    CHECK(read_file(target.string()) == Bytes{7, 7, 7});
    CHECK(dir.names() == std::vector<std::string>{"model.dcz"});
  }
  SECTION("over a directory") {
    const auto target = dir.path / "model.dcz";
    fs::create_directory(target);
    fs::create_directory(target / "inside");
    CHECK_THROWS_AS(write(target, {1}), FileError);
    CHECK(fs::is_directory(target / "inside"));
    CHECK(dir.names() == std::vector<std::string>{"model.dcz"});
  }
}

TEST_CASE("an AtomicFile written in pieces appears at its path only on commit", "[file_io]") {
  TemporaryDirectory dir;
  const auto target = dir.path / "checkpoint.pt";
  write(target, {9});
  {
    AtomicFile file(target.string());
    const Bytes first{1, 2}, second{3};
    file.write(first.data(), first.size());
    file.write(second.data(), second.size());
    CHECK(read_file(target.string()) == Bytes{9});  // the old contents until the commit
    CHECK(dir.names().size() == 2);                 // and the temporary file beside them
    file.commit();
    CHECK_THROWS_AS(file.write(first.data(), first.size()), FileError);
    CHECK_THROWS_AS(file.commit(), FileError);
  }
  CHECK(read_file(target.string()) == Bytes{1, 2, 3});
  CHECK(dir.names() == std::vector<std::string>{"checkpoint.pt"});
  SECTION("one never committed leaves nothing, whether discarded or destroyed") {
    const Bytes bytes{4, 5};
    {
      AtomicFile discarded(target.string());
      discarded.write(bytes.data(), bytes.size());
      discarded.discard();
      CHECK_THROWS_AS(discarded.commit(), FileError);
      AtomicFile destroyed(target.string());
      destroyed.write(bytes.data(), bytes.size());
    }
    CHECK(read_file(target.string()) == Bytes{1, 2, 3});
    CHECK(dir.names() == std::vector<std::string>{"checkpoint.pt"});
  }
}

TEST_CASE("read_file reports what it cannot read", "[file_io]") {
  TemporaryDirectory dir;
  const auto missing = (dir.path / "nothing.dcz").string();
  try {
    read_file(missing);
    FAIL("no FileError");
  } catch (const FileError& error) {
    CHECK(error.code() == std::errc::no_such_file_or_directory);
    CHECK(error.path() == missing);
    CHECK(std::string(error.what()).find(missing) != std::string::npos);
  }
  try {
    read_file(dir.path.string());
    FAIL("no FileError");
  } catch (const FileError& error) {
    CHECK(error.code().value() == EISDIR);
  }
}

TEST_CASE("read_file opens regular files only, and checks the start before reading the rest", "[file_io]") {
  TemporaryDirectory dir;
  const auto fifo = (dir.path / "pipe.dcz").string();
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  try {
    read_file(fifo);  // without O_NONBLOCK the open would wait for a writer forever
    FAIL("no FileError");
  } catch (const FileError& error) {
    CHECK(error.code().value() == EINVAL);
    CHECK(std::string(error.what()).find("not a regular file") != std::string::npos);
  }
  const auto file = (dir.path / "f.bin").string();
  write_file_atomically(file, Bytes{1, 2, 3, 4, 5, 6}.data(), 6);
  Bytes seen;
  CHECK(read_file(file, 2, [&](const uint8_t* data, size_t size) { seen.assign(data, data + size); }) ==
        Bytes{1, 2, 3, 4, 5, 6});
  CHECK(seen == Bytes{1, 2});
  CHECK_THROWS_AS(read_file(file, 2, [](const uint8_t*, size_t) { throw std::runtime_error("wrong start"); }),
                  std::runtime_error);
}

TEST_CASE("an AtomicFile keeps the replaced file's mode and follows a symbolic link", "[file_io]") {
  TemporaryDirectory dir;
  const auto target = (dir.path / "private.dcz").string();
  write_file_atomically(target, Bytes{1}.data(), 1);
  REQUIRE(::chmod(target.c_str(), 0600) == 0);
  write_file_atomically(target, Bytes{2}.data(), 1);
  struct stat info {};
  REQUIRE(::stat(target.c_str(), &info) == 0);
  CHECK((info.st_mode & 07777) == 0600);

  const auto link = (dir.path / "link.dcz").string();
  REQUIRE(::symlink(target.c_str(), link.c_str()) == 0);
  write_file_atomically(link, Bytes{3, 3}.data(), 2);
  REQUIRE(::lstat(link.c_str(), &info) == 0);
  CHECK(S_ISLNK(info.st_mode));  // still a link, to the new contents
  CHECK(read_file(target) == Bytes{3, 3});

  const std::string long_name = (dir.path / std::string(250, 'n')).string();  // + ".tmp-XXXXXX" > 255
  write_file_atomically(long_name, Bytes{4}.data(), 1);
  CHECK(read_file(long_name) == Bytes{4});
}

TEST_CASE("a save removes the temporaries killed writers left, never a live writer's", "[file_io]") {
  TemporaryDirectory dir;
  const auto target = (dir.path / "model.dcz").string();
  const auto abandoned = target + ".tmp-AbCdEf";  // as a killed writer leaves it: no one holds its lock
  write_file_atomically(abandoned, Bytes{1}.data(), 1);
  AtomicFile live(target);  // a writer still at work: its temporary is locked
  write_file_atomically(target, Bytes{2}.data(), 1);
  CHECK_FALSE(fs::exists(abandoned));
  size_t temporaries = 0;
  for (const auto& entry : fs::directory_iterator(dir.path)) temporaries += entry.path().string() != target;
  CHECK(temporaries == 1);  // the live writer's
  live.write(Bytes{3}.data(), 1);
  live.commit();
  CHECK(read_file(target) == Bytes{3});
}
