/**
 * @file csv_reader.hpp
 * @brief `bulkmap::cli::csv_reader`: a streaming CSV reader that hands out records in columnar
 * chunks of bounded size, each record with the line it starts on.
 *
 * The RFC 4180 parsing is libcsv's (Debian's libcsv-dev), in strict mode; the bytes come from
 * `text_input`, so plain files, gzip and stdin ("-") all work. Accepted input:
 * - Fields are separated by one delimiter byte (',' by default) and records by LF, CRLF or CR.
 * - A field may be quoted with '"'; a quoted field may hold the delimiter, CR, LF, and '"' written
 *   twice. A quote inside an unquoted field, or anything but the delimiter or a line end after a
 *   closing quote, is malformed quoting (an error).
 * - Spaces are part of a field (RFC 4180), never trimmed.
 * - An empty field, quoted ("") or not, is NULL.
 * - Blank lines (no byte before the line end) are skipped: they hold no record. So a table of one
 *   column writes a NULL alone on its line as "".
 * - The first record is the header, which names the columns, unless `has_header` is false; then
 *   the columns are named "column1", "column2", ... and the first record is data. Every record
 *   must have as many fields as the first one.
 * - A UTF-8 byte order mark at the start of the input is dropped.
 */
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace bulkmap::cli {

/**
 * @brief One column of a chunk: field i is `bytes[offsets[i], offsets[i + 1])`, NULL where
 * `nulls[i]` is 1 (a NULL field has no bytes). Shapes: `offsets` n + 1, `nulls` n.
 */
struct csv_column {
  std::string bytes;
  std::vector<std::uint64_t> offsets{0};
  std::vector<std::uint8_t> nulls;

  /// Number of fields.
  [[nodiscard]] std::size_t size() const noexcept { return nulls.size(); }
  /// Field i's bytes (empty for a NULL).
  [[nodiscard]] std::string_view operator[](std::size_t i) const {
    return std::string_view(bytes).substr(offsets[i], offsets[i + 1] - offsets[i]);
  }
  /// Whether field i is NULL.
  [[nodiscard]] bool is_null(std::size_t i) const { return nulls[i] != 0; }
  /// Removes every field; keeps the capacity.
  void clear() {
    bytes.clear();
    offsets.assign(1, 0);
    nulls.clear();
  }
};

/**
 * @brief Consecutive records of a CSV file, by column: record i is field i of every column, and
 * starts on line `lines[i]` (1-based; a record with a quoted line break spans several lines).
 */
struct csv_chunk {
  std::vector<csv_column> columns;
  std::vector<std::uint64_t> lines;

  /// Number of records.
  [[nodiscard]] std::size_t rows() const noexcept { return lines.size(); }
  /// Removes every record; keeps the columns' capacity.
  void clear();
};

/// How `csv_reader` reads.
struct csv_options {
  char delimiter = ',';  ///< any byte but '"', CR and LF
  bool has_header = true;
  /// Skip records whose field count differs from the header's (counted by
  /// `csv_reader::skipped_rows`) instead of throwing.
  bool skip_bad_rows = false;
  /// The name messages give the input (and `csv_reader::name` returns); empty: the path, or
  /// "<stdin>" for "-". For reading a copy of an input under the original's name.
  std::string name;
};

/**
 * @brief Reads one CSV file (or stdin) chunk by chunk. Move-only; closes the file when destroyed.
 *
 * Memory is bounded by the chunk size and the longest record: the reader holds the chunk being
 * filled, one record being parsed and a read buffer of at most 1 MiB.
 *
 * Errors throw `input_error` with the message `file:line: what`:
 * - a record with a field count other than the header's: "expected 5 fields, found 4", on the
 *   line the record starts on (unless `skip_bad_rows`);
 * - malformed quoting, on the line where it is found;
 * - a quote still open at the end of the input, on the line the quoted field opens on;
 * - a read error (see `text_input`).
 */
class csv_reader {
 public:
  /// Default `chunk_bytes`: 64 MiB.
  static constexpr std::size_t default_chunk_bytes = std::size_t{64} << 20;

  /**
   * @brief Opens `path` (or stdin when `path` is "-") and reads its first record (the header,
   * unless `options.has_header` is false).
   * @param chunk_bytes what a chunk may hold before `next_chunk` returns it: its field bytes, plus
   *        9 bytes a field (offset and NULL flag) and 8 a record (line). A chunk always takes at
   *        least one record, and goes past the bound by at most the rest of the line that reaches
   *        it. Reads are at most `chunk_bytes` long too, so tiny values split records across
   *        reads (as tests want).
   * @throw input_error if the file cannot be read, or its first record is malformed
   * @throw usage_error if `options.delimiter` is '"', CR or LF, or `chunk_bytes` is 0
   */
  explicit csv_reader(std::string const& path, csv_options const& options = {},
                      std::size_t chunk_bytes = default_chunk_bytes);
  ~csv_reader();
  csv_reader(csv_reader&&) noexcept;
  csv_reader& operator=(csv_reader&&) noexcept;
  csv_reader(csv_reader const&) = delete;
  csv_reader& operator=(csv_reader const&) = delete;

  /**
   * @brief Replaces `chunk`'s records with the next ones: at least one, up to about `chunk_bytes`
   * (see the constructor). `chunk.columns` gets one column per header field.
   * @return false (and `chunk` empty) once every record has been read
   * @throw input_error as the class says; the records before the error have been returned
   */
  bool next_chunk(csv_chunk& chunk);

  /// The column names: the header's fields (a NULL one is ""), or "column1", "column2", ...;
  /// empty for an input without any record.
  [[nodiscard]] std::vector<std::string> const& column_names() const noexcept;
  /// Line the first record (the header, unless `has_header` is false) starts on; 0 for an input
  /// without any record.
  [[nodiscard]] std::uint64_t first_line() const noexcept;
  /// Records skipped so far for a wrong field count (`skip_bad_rows` only).
  [[nodiscard]] std::uint64_t skipped_rows() const noexcept;
  /// The name to show in messages: the path, or "<stdin>".
  [[nodiscard]] std::string const& name() const noexcept;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace bulkmap::cli
