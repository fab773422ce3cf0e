/**
 * @file gzip_fuzz.cpp
 * @brief Fuzzer of the gzip framing under every reader (`bulkmap::cli::text_input`,
 * host/text_input.cpp: zlib's gzread under kseq.h's kstream), libFuzzer.
 *
 * The input is the file, as it is (the corpus holds files made by `gzip -n`, some cut or
 * altered): written to a scratch file and read twice through `text_input`, once by `read` in
 * blocks of 1, 2, 3, ... bytes, once by `next_line` and small `read`s in turn (as csv_reader and
 * the word counter read, after a reader's lines). What it must give is found independently with
 * zlib's inflate: a file that does not start with the magic bytes 1f 8b is its own text; else
 * gzip members are decoded one after the other while the bytes after a member start with the
 * magic bytes, and any other bytes after a member are ignored (zlib's documented gzread). The
 * promise: when that decoding succeeds, both reads give exactly its text (lines without their
 * "\n" and one "\r" before it, numbered from 1); when it fails (a corrupt or truncated member), a
 * read throws `input_error` ("file:line: read error: ...") and what came before is a prefix of
 * the text decoded up to the fault.
 *
 *   build/fuzz/bin/fuzz_gzip tests/fuzz/corpus/gzip     a run on the kept corpus
 */
#include <zlib.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "cli_error.hpp"
#include "fuzz_input.hpp"
#include "text_input.hpp"

namespace {

constexpr char const* target = "gzip_fuzz";

struct decoded {
  std::string text;
  bool ok = true;
};

/// The text gzread should give for the file, by inflate over the whole of it.
decoded decode(std::uint8_t const* data, std::size_t size) {
  decoded out;
  if (!bulkmap_fuzz::gzip_magic(data, size)) {
    out.text.assign(reinterpret_cast<char const*>(data), size);
    return out;
  }
  z_stream z{};
  if (inflateInit2(&z, 15 + 16) != Z_OK) bulkmap_fuzz::broken(target, "inflateInit2 failed");
  std::size_t at = 0;
  while (bulkmap_fuzz::gzip_magic(data + at, size - at)) {
    inflateReset(&z);
    z.next_in = const_cast<Bytef*>(data + at);
    z.avail_in = static_cast<uInt>(size - at);
    int status = Z_OK;
    while (status == Z_OK) {
      char block[4096];
      z.next_out = reinterpret_cast<Bytef*>(block);
      z.avail_out = sizeof block;
      status = inflate(&z, Z_NO_FLUSH);
      out.text.append(block, sizeof block - z.avail_out);
    }
    if (status != Z_STREAM_END) {
      out.ok = false;
      break;
    }
    at = size - z.avail_in;
  }
  inflateEnd(&z);
  return out;
}

[[noreturn]] void differs(char const* what) {
  bulkmap_fuzz::broken(target, std::string("text_input differs from inflate: ") + what);
}

/// Reads everything by `read` into `text`, in blocks of growing size.
void read_blocks(bulkmap::cli::text_input& input, std::string& text) {
  std::string block;
  for (std::size_t n = 1;; ++n) {
    block.resize(n);
    std::size_t const got = input.read(block.data(), n);
    text.append(block, 0, got);
    if (got < n) return;
  }
}

/// Reads by `next_line` and `read` in turn, checking each against `want` as it goes.
void read_mixed(bulkmap::cli::text_input& input, std::string_view want) {
  std::size_t at = 0;
  for (unsigned step = 0;; ++step) {
    if (step % 3 == 2) {
      std::size_t const n = step % 7;
      char block[8];
      std::size_t const got = input.read(block, n);
      if (std::string_view(block, got) != want.substr(at, n)) differs("a read after lines");
      at += got;
      continue;
    }
    std::string_view line;
    if (!input.next_line(line)) {
      if (at != want.size()) differs("next_line ended early");
      return;
    }
    if (at >= want.size()) differs("a line past the end");
    auto const lines = static_cast<std::size_t>(std::count(want.begin(), want.begin() + at, '\n'));
    if (input.line() != 1 + lines) differs("a line number");
    std::size_t const end = std::min(want.find('\n', at), want.size());
    std::string_view expected = want.substr(at, end - at);
    if (!expected.empty() && expected.back() == '\r') expected.remove_suffix(1);
    if (line != expected) differs("a line");
    at = std::min(end + 1, want.size());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
  static bulkmap_fuzz::scratch_file file(target);
  file.write(data, size);
  decoded const want = decode(data, size);
  std::string got;
  try {
    bulkmap::cli::text_input input(file.path());
    read_blocks(input, got);
    if (input.bytes_read() != got.size()) differs("bytes_read()");
  } catch (bulkmap::cli::input_error const& e) {
    bulkmap_fuzz::error_line(target, e.what(), file.path());
    if (want.ok) differs(e.what());
    if (want.text.compare(0, got.size(), got) != 0) differs("the text before the error");
    return 0;
  }
  if (!want.ok) differs("no error for a corrupt gzip stream");
  if (got != want.text) differs("the text read by blocks");
  try {
    bulkmap::cli::text_input input(file.path());
    read_mixed(input, want.text);
  } catch (bulkmap::cli::input_error const& e) {
    differs(e.what());
  }
  return 0;
}
