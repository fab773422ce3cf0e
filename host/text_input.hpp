/**
 * @file text_input.hpp
 * @brief `bulkmap::cli::text_input`: a buffered reader of plain or gzip text, by line or by
 * whitespace-separated token, that knows the line number it is on.
 *
 * Built on the `kstream` part of klib's kseq.h (from htslib's headers; htslib itself is not
 * linked) over zlib's gzread, which reads plain and gzip input transparently.
 */
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace bulkmap::cli {

/**
 * @brief Reads one file (or stdin) as lines or tokens. Move-only; closes the file when destroyed.
 *
 * A read error (for example a truncated or corrupt gzip stream) throws `input_error` naming the
 * file and the line reached, instead of looking like the end of the input.
 */
class text_input {
 public:
  /**
   * @brief Opens `path`, or stdin when `path` is "-".
   * @throw input_error if the file does not exist, is a directory or cannot be read
   */
  explicit text_input(std::string const& path);
  ~text_input();
  text_input(text_input&&) noexcept;
  text_input& operator=(text_input&&) noexcept;
  text_input(text_input const&) = delete;
  text_input& operator=(text_input const&) = delete;

  /**
   * @brief Reads the next line, without its "\n" or "\r\n".
   * @param line set to the line; valid until the next call
   * @return false at the end of the input
   * @throw input_error on a read error
   */
  bool next_line(std::string_view& line);

  /**
   * @brief Reads the next token: a maximal run of non-whitespace bytes.
   * @param token set to the token (never empty); valid until the next call
   * @return false at the end of the input
   * @throw input_error on a read error
   */
  bool next_token(std::string_view& token);

  /**
   * @brief Reads the next bytes as they are, up to `n` of them into `data` (what the line and
   * token reads have buffered first).
   * @return how many were read: fewer than `n` only at the end of the input
   * @throw input_error on a read error
   */
  std::size_t read(char* data, std::size_t n);

  /// Number (1-based) of the line the last line or token came from; 0 before the first.
  [[nodiscard]] std::size_t line() const noexcept { return line_; }
  /// The name to show in messages: the path, or "<stdin>".
  [[nodiscard]] std::string const& name() const noexcept { return name_; }
  /// Bytes read so far, after decompression.
  [[nodiscard]] std::uint64_t bytes_read() const noexcept;

  /// Checks that `path` names a readable regular file (or is "-"), without keeping it open.
  /// @throw input_error if it does not
  static void check_readable(std::string const& path);

 private:
  struct impl;
  void check_read_error();

  std::unique_ptr<impl> impl_;
  std::string name_;
  std::size_t line_ = 0;          ///< line of the last line or token returned
  std::size_t current_line_ = 1;  ///< line the reader is on
};

}  // namespace bulkmap::cli
