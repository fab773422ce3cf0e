/**
 * @file count.cpp
 * @brief The backend-neutral parts of `bulkmap count`: the progress line and the output file.
 */
#include "count.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <utility>

#include "cli_error.hpp"

namespace bulkmap::cli {

// -------------------------------------------------------------------------------------------------
// progress
// -------------------------------------------------------------------------------------------------

progress::progress()
    : start_(std::chrono::steady_clock::now()), enabled_(::isatty(STDERR_FILENO) == 1) {}

double progress::seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void progress::update(std::uint64_t keys, std::uint64_t bytes) {
  if (!enabled_) return;
  double const now = seconds();
  if (now < 1.0 || now - last_ < 0.25) return;
  last_ = now;
  std::fprintf(stderr, "\rbulkmap count: %llu keys, %.1f MB read, %.1f s\x1b[K",
               static_cast<unsigned long long>(keys), static_cast<double>(bytes) / 1e6, now);
  std::fflush(stderr);
  shown_ = true;
}

void progress::clear() {
  if (shown_) std::fputs("\r\x1b[K", stderr);
  shown_ = false;
}

// -------------------------------------------------------------------------------------------------
// output_sink
// -------------------------------------------------------------------------------------------------

output_sink::output_sink(std::string path) : path_(std::move(path)) {
  if (path_.empty() || path_ == "-") {
    file_ = stdout;
    path_ = "<stdout>";
    return;
  }
  struct stat st {};
  if (::stat(path_.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    throw input_error(path_ + ": cannot write: is a directory");
  }
  std::string pattern = path_ + ".bulkmap-XXXXXX";
  int const fd = ::mkstemp(pattern.data());
  if (fd < 0) throw input_error(path_ + ": cannot create: " + std::strerror(errno));
  temporary_ = pattern;
  mode_t const mask = ::umask(0);
  ::umask(mask);
  ::fchmod(fd, 0666 & ~mask);
  file_ = ::fdopen(fd, "w");
  if (file_ == nullptr) {
    ::close(fd);
    discard();
    throw input_error(path_ + ": cannot create: " + std::strerror(errno));
  }
  buffer_.reserve(flush_size + 128);
}

output_sink::~output_sink() { discard(); }

void output_sink::commit() {
  flush();
  if (std::fflush(file_) != 0 || std::ferror(file_)) fail();
  if (temporary_.empty()) return;
  FILE* const file = file_;
  file_ = nullptr;
  if (std::fclose(file) != 0) fail();
  if (std::rename(temporary_.c_str(), path_.c_str()) != 0) fail();
  temporary_.clear();
}

void output_sink::flush() {
  if (!buffer_.empty() && std::fwrite(buffer_.data(), 1, buffer_.size(), file_) != buffer_.size()) {
    fail();
  }
  buffer_.clear();
}

void output_sink::fail() {
  std::string const what = std::strerror(errno);
  throw input_error(path_ + ": write error: " + what);
}

void output_sink::discard() noexcept {
  if (file_ != nullptr && file_ != stdout) std::fclose(file_);
  file_ = nullptr;
  if (!temporary_.empty()) std::remove(temporary_.c_str());
  temporary_.clear();
}

void append_number(std::string& out, std::uint64_t value) {
  char digits[24];
  auto const result = std::to_chars(digits, digits + sizeof digits, value);
  out.append(digits, result.ptr);
}

void append_number(std::string& out, std::int64_t value) {
  char digits[24];
  auto const result = std::to_chars(digits, digits + sizeof digits, value);
  out.append(digits, result.ptr);
}

}  // namespace bulkmap::cli
