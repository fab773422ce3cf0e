/**
 * @file csv_fuzz.cpp
 * @brief Fuzzer of the CSV reader (`bulkmap::cli::csv_reader`, host/csv_reader.cpp over libcsv,
 * as `bulkmap group` reads its table), libFuzzer.
 *
 * The input, byte by byte:
 *   - byte 0: the options: bits 0-1 the delimiter (',', ';', '\t', '|'), bit 2 no header, bit 3
 *     `skip_bad_rows`, bits 4-7 (m) the chunk size, 1 + 7m bytes, or the default when m is 15;
 *   - the rest: the file, written to a scratch file and read through `text_input` (gzip when it
 *     starts with gzip's magic bytes).
 * The promise: every chunk is read, or `input_error` says "file:line: what" with a line of the
 * input. Each chunk must be well formed (a column per name, a field per record in each, offsets
 * in order, NULL fields empty, record lines in order). For a plain input without a quote the
 * target also splits the text itself, records at each CR or LF (blank ones skipped) and fields at
 * each delimiter: the reader must return the same names, records, fields and lines, or stop with
 * the error of the first record whose field count differs from the first record's.
 *
 *   build/fuzz/bin/fuzz_csv tests/fuzz/corpus/csv     a run on the kept corpus
 */
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli_error.hpp"
#include "csv_reader.hpp"
#include "fuzz_input.hpp"

namespace {

constexpr char const* target = "csv_fuzz";

struct record {
  std::vector<std::string> fields;  ///< empty string: NULL
  std::uint64_t line;
};

/// The records of a text without quotes, split at CR, LF and the delimiter.
std::vector<record> split(std::string_view text, char delimiter) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  std::vector<record> records;
  std::uint64_t line = 1;
  std::size_t i = 0;
  while (i < text.size()) {
    if (text[i] == '\n' || text[i] == '\r') {
      line += text[i++] == '\n';
      continue;
    }
    record r{{std::string()}, line};
    for (; i < text.size() && text[i] != '\n' && text[i] != '\r'; ++i) {
      if (text[i] == delimiter) {
        r.fields.emplace_back();
      } else {
        r.fields.back() += text[i];
      }
    }
    records.push_back(std::move(r));
  }
  return records;
}

void check_chunk(bulkmap::cli::csv_chunk const& chunk, std::size_t columns) {
  auto const bad = [](char const* what) { bulkmap_fuzz::broken(target, what); };
  if (chunk.columns.size() != columns) bad("a chunk's column count differs from the names'");
  if (chunk.rows() == 0) bad("an empty chunk");
  for (std::size_t i = 1; i < chunk.rows(); ++i) {
    if (chunk.lines[i] < chunk.lines[i - 1]) bad("record lines out of order");
  }
  for (auto const& column : chunk.columns) {
    if (column.size() != chunk.rows() || column.offsets.size() != chunk.rows() + 1 ||
        column.offsets.front() != 0 || column.offsets.back() != column.bytes.size()) {
      bad("a column's shape");
    }
    for (std::size_t i = 0; i < column.size(); ++i) {
      if (column.offsets[i + 1] < column.offsets[i]) bad("offsets out of order");
      if (column.is_null(i) != column[i].empty()) bad("a NULL field with bytes, or an empty one");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
  static bulkmap_fuzz::scratch_file file(target);
  if (size == 0) return 0;
  bulkmap::cli::csv_options options;
  options.delimiter = ",;\t|"[data[0] & 3];
  options.has_header = (data[0] & 4) == 0;
  options.skip_bad_rows = (data[0] & 8) != 0;
  unsigned const m = data[0] >> 4;
  std::size_t const chunk_bytes =
      m == 15 ? bulkmap::cli::csv_reader::default_chunk_bytes : 1 + 7 * std::size_t{m};
  std::string_view const text(reinterpret_cast<char const*>(data + 1), size - 1);
  file.write(data + 1, size - 1);

  std::vector<std::string> names;
  std::vector<record> got;
  std::uint64_t skipped = 0;
  std::optional<std::size_t> error_line;
  try {
    bulkmap::cli::csv_reader reader(file.path(), options, chunk_bytes);
    names = reader.column_names();
    bulkmap::cli::csv_chunk chunk;
    while (reader.next_chunk(chunk)) {
      check_chunk(chunk, names.size());
      for (std::size_t i = 0; i < chunk.rows(); ++i) {
        got.push_back({{}, chunk.lines[i]});
        for (auto const& column : chunk.columns) got.back().fields.emplace_back(column[i]);
      }
    }
    if (chunk.rows() != 0) bulkmap_fuzz::broken(target, "records in the last chunk");
    skipped = reader.skipped_rows();
  } catch (bulkmap::cli::input_error const& e) {
    error_line = bulkmap_fuzz::error_line(target, e.what(), file.path());
  }
  if (bulkmap_fuzz::gzip_magic(data + 1, size - 1)) return 0;
  std::size_t lines = 1;
  for (char c : text) lines += c == '\n';
  if (error_line && *error_line > lines) bulkmap_fuzz::broken(target, "an error past the end");
  if (text.find('"') != std::string_view::npos) return 0;

  // The independent split: the first record names the columns, or is data.
  auto const want = split(text, options.delimiter);
  std::size_t const columns = want.empty() ? 0 : want.front().fields.size();
  std::vector<std::string> want_names;
  for (std::size_t c = 0; c < columns; ++c) {
    want_names.push_back(options.has_header ? want.front().fields[c]
                                            : "column" + std::to_string(c + 1));
  }
  std::size_t r = options.has_header && !want.empty() ? 1 : 0;
  std::uint64_t want_skipped = 0;
  std::size_t row = 0;
  auto const differs = [](char const* what) {
    bulkmap_fuzz::broken(target, std::string("differs from an independent split: ") + what);
  };
  if (names != want_names && !(error_line && names.empty())) differs("the column names");
  for (; r < want.size(); ++r) {
    if (want[r].fields.size() != columns) {
      if (options.skip_bad_rows) {
        ++want_skipped;
        continue;
      }
      if (!error_line) differs("no error for a record of the wrong length");
      if (*error_line != want[r].line) differs("the line of the error");
      break;
    }
    // The records of the chunk being filled at an error are lost.
    if (row < got.size()) {
      if (got[row].fields != want[r].fields || got[row].line != want[r].line) differs("a record");
      ++row;
    } else if (!error_line) {
      differs("the record count");
    }
  }
  if (row != got.size()) differs("the record count");
  if (r == want.size() && (error_line || skipped != want_skipped))
    differs("an error or skip count");
  return 0;
}
