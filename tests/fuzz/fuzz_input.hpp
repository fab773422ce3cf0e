/**
 * @file fuzz_input.hpp
 * @brief What the fuzz targets of the CLI's file readers share: a per-process scratch file that
 * each run rewrites with its input (the readers take a path), the check of the readers' one clean
 * error (`bulkmap::cli::input_error`, "file:line: what"), and the stop on a broken promise.
 */
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace bulkmap_fuzz {

/// Prints "<target>: <what>" on stderr and stops the process: libFuzzer keeps the input.
[[noreturn]] inline void broken(char const* target, std::string const& what) {
  std::fprintf(stderr, "%s: %s\n", target, what.c_str());
  std::abort();
}

/// A file under $TMPDIR (or /tmp), made once per process and removed at its exit.
class scratch_file {
 public:
  explicit scratch_file(char const* target) : target_(target) {
    char const* dir = std::getenv("TMPDIR");
    path_ = std::string(dir != nullptr && *dir != '\0' ? dir : "/tmp") + "/bulkmap-" + target +
            "-XXXXXX";
    fd_ = ::mkstemp(path_.data());
    if (fd_ < 0) broken(target_, "cannot create the scratch file " + path_);
  }
  ~scratch_file() {
    ::close(fd_);
    ::unlink(path_.c_str());
  }
  scratch_file(scratch_file const&) = delete;
  scratch_file& operator=(scratch_file const&) = delete;

  [[nodiscard]] std::string const& path() const { return path_; }

  /// Makes the file hold exactly the `size` bytes at `data`.
  void write(std::uint8_t const* data, std::size_t size) {
    if (::ftruncate(fd_, 0) != 0) broken(target_, "cannot truncate " + path_);
    std::size_t done = 0;
    while (done < size) {
      ssize_t const n = ::pwrite(fd_, data + done, size - done, static_cast<off_t>(done));
      if (n <= 0) broken(target_, "cannot write " + path_);
      done += static_cast<std::size_t>(n);
    }
  }

 private:
  char const* target_;
  std::string path_;
  int fd_ = -1;
};

/**
 * @brief Checks the message of an `input_error` about the file `name`: "name:LINE: what", with
 * LINE >= 1 and a non-empty what.
 * @return LINE
 */
inline std::size_t error_line(char const* target, std::string_view message,
                              std::string const& name) {
  auto const bad = [&] {
    broken(target, "malformed input_error message: '" + std::string(message) + "'");
  };
  if (message.substr(0, name.size() + 1) != name + ":") bad();
  std::size_t at = name.size() + 1;
  std::size_t line = 0;
  while (at < message.size() && message[at] >= '0' && message[at] <= '9') {
    line = line * 10 + static_cast<std::size_t>(message[at++] - '0');
  }
  if (line == 0 || message.substr(at, 2) != ": " || message.size() == at + 2) bad();
  return line;
}

/// Whether the bytes start with gzip's magic (text_input then decompresses them).
inline bool gzip_magic(std::uint8_t const* data, std::size_t size) {
  return size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
}

}  // namespace bulkmap_fuzz
