/**
 * @file text_input.cpp
 * @brief `text_input` over kseq.h's kstream and zlib. Kept apart from the CUDA-compiled CLI so
 * the C macros of kseq.h stay in one plain C++ translation unit.
 */
#include "text_input.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "cli_error.hpp"

namespace bulkmap::cli {
namespace {

/// What kstream reads from: the gzip handle, and whether a read failed.
struct gz_source {
  gzFile file = nullptr;
  bool failed = false;
  std::uint64_t bytes = 0;
};

/// kstream's read callback. Reports a failed read as the end of the input (kstream would loop on
/// a negative count) and records the failure, which `text_input` turns into an error.
int gz_source_read(gz_source* source, void* buffer, int length) {
  int const n = gzread(source->file, buffer, static_cast<unsigned>(length));
  if (n <= 0) {
    // A truncated gzip stream ends with 0 and Z_BUF_ERROR, not -1: ask zlib in both cases.
    int errnum = Z_OK;
    gzerror(source->file, &errnum);
    source->failed = n < 0 || (errnum != Z_OK && errnum != Z_STREAM_END);
    return 0;
  }
  source->bytes += static_cast<std::uint64_t>(n);
  return n;
}

}  // namespace
}  // namespace bulkmap::cli

// kseq.h's kstream: a buffered reader with ks_getuntil (read up to a delimiter).
#include <htslib/kseq.h>
namespace bulkmap::cli {
namespace {
KSTREAM_INIT(gz_source*, gz_source_read, 1 << 16)
}  // namespace

std::string printable(std::string const& text, std::size_t max_length) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (i == max_length) {
      out += "...";
      break;
    }
    auto const c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    }
  }
  return out;
}

struct text_input::impl {
  gz_source source;
  kstream_t* stream = nullptr;
  kstring_t text = {0, 0, nullptr};

  ~impl() {
    if (stream != nullptr) ks_destroy(stream);
    if (source.file != nullptr) gzclose(source.file);
    std::free(text.s);
  }
};

void text_input::check_readable(std::string const& path) {
  if (path == "-") return;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    throw input_error(path + ": cannot open: " + std::strerror(errno));
  }
  if (S_ISDIR(st.st_mode)) {
    throw input_error(path +
                      ": cannot read: is a directory (--recursive reads the files below it)");
  }
  int const fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw input_error(path + ": cannot open: " + std::strerror(errno));
  ::close(fd);
}

text_input::text_input(std::string const& path)
    : impl_(std::make_unique<impl>()), name_(path == "-" ? "<stdin>" : path) {
  check_readable(path);
  int const fd = path == "-" ? ::dup(STDIN_FILENO) : ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw input_error(name_ + ": cannot open: " + std::strerror(errno));
  impl_->source.file = gzdopen(fd, "rb");
  if (impl_->source.file == nullptr) {
    ::close(fd);
    throw input_error(name_ + ": cannot open: out of memory");
  }
  gzbuffer(impl_->source.file, 1u << 20);
  impl_->stream = ks_init(&impl_->source);
}

text_input::~text_input() = default;
text_input::text_input(text_input&&) noexcept = default;
text_input& text_input::operator=(text_input&&) noexcept = default;

std::uint64_t text_input::bytes_read() const noexcept { return impl_->source.bytes; }

void text_input::check_read_error() {
  if (!impl_->source.failed) return;
  int errnum = Z_OK;
  char const* message = gzerror(impl_->source.file, &errnum);
  std::string what = errnum == Z_ERRNO ? std::strerror(errno) : message;
  // zlib prefixes the message with the name it was opened under ("<fd:3>: ..."): drop it.
  if (auto const colon = what.find(": ");
      what.rfind("<fd:", 0) == 0 && colon != std::string::npos) {
    what.erase(0, colon + 2);
  }
  if (errnum == Z_BUF_ERROR) what = "truncated gzip stream (" + what + ")";
  throw input_error(name_ + ":" + std::to_string(current_line_) + ": read error: " + what);
}

bool text_input::next_line(std::string_view& line) {
  // '\n' itself, not KS_SEP_LINE: that drops a "\r" before the "\n" too, so with the one
  // dropped below, a line ending in "\r\r\n" would lose both.
  int const n = ks_getuntil(impl_->stream, '\n', &impl_->text, nullptr);
  check_read_error();
  if (n < 0) return false;
  line_ = current_line_++;
  std::size_t length = impl_->text.l;
  if (length > 0 && impl_->text.s[length - 1] == '\r') --length;
  line = std::string_view(impl_->text.s, length);
  return true;
}

std::size_t text_input::read(char* data, std::size_t n) {
  kstream_t* const ks = impl_->stream;
  std::size_t done = 0;
  if (ks->begin < ks->end) {  // bytes the kstream holds already
    auto const held = std::min(n, static_cast<std::size_t>(ks->end - ks->begin));
    std::memcpy(data, ks->buf + ks->begin, held);
    ks->begin += static_cast<int>(held);
    done = held;
  }
  while (done < n) {
    int const want = static_cast<int>(std::min<std::size_t>(n - done, 1u << 30));
    int const got = gz_source_read(&impl_->source, data + done, want);
    check_read_error();
    if (got <= 0) break;
    done += static_cast<std::size_t>(got);
  }
  current_line_ += static_cast<std::size_t>(std::count(data, data + done, '\n'));
  return done;
}

bool text_input::next_token(std::string_view& token) {
  for (;;) {
    int delimiter = 0;
    int const n = ks_getuntil(impl_->stream, KS_SEP_SPACE, &impl_->text, &delimiter);
    check_read_error();
    if (n < 0) return false;
    line_ = current_line_;
    if (delimiter == '\n') ++current_line_;
    if (impl_->text.l == 0) continue;  // between two whitespace bytes
    token = std::string_view(impl_->text.s, impl_->text.l);
    return true;
  }
}

}  // namespace bulkmap::cli
