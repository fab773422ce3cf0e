/**
 * @file csv_reader.cpp
 * @brief `csv_reader` over libcsv.
 *
 * libcsv reports fields and record ends through callbacks but not where they lie in the input, so
 * the reader feeds it one line at a time (each piece ends at a LF, or at the end of a read) and
 * keeps the line numbers itself: a record starts on the line where the parser, idle before it,
 * takes its first byte; a field likewise (what an unterminated quote's message names). The parser
 * state (`csv_parser::pstate`, public in csv.h) says at the start of each line whether a record or
 * field is still open from an earlier line (a quoted line break).
 */
#include "csv_reader.hpp"

#include <csv.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <utility>

#include "cli_error.hpp"
#include "text_input.hpp"

namespace bulkmap::cli {
namespace {

// libcsv's parser states (csv_parser::pstate), from libcsv.c.
constexpr int row_not_begun = 0;    // between records
constexpr int field_not_begun = 1;  // after a delimiter

/// No byte is a space: RFC 4180 keeps spaces as part of the field (libcsv trims them by default).
int no_space(unsigned char) { return 0; }

/// Reads are at most this long (and at most `chunk_bytes`).
constexpr std::size_t max_read_bytes = std::size_t{1} << 20;

/// What a field costs a chunk beyond its bytes: its offset and its NULL flag.
constexpr std::size_t field_overhead = sizeof(std::uint64_t) + sizeof(std::uint8_t);

}  // namespace

void csv_chunk::clear() {
  for (auto& column : columns) column.clear();
  lines.clear();
}

struct csv_reader::impl {
  text_input input;
  csv_options options;
  std::size_t chunk_bytes;
  std::string name;  ///< what messages call the input
  csv_parser parser{};
  bool parser_ready = false;

  std::vector<char> buffer;  ///< the last read: [position, end) not parsed yet
  std::size_t position = 0;
  std::size_t end = 0;
  bool started = false;     ///< a read has been made (the byte order mark is checked)
  bool input_done = false;  ///< the input has ended and the parser is finished

  std::uint64_t line = 1;         ///< line being parsed
  bool at_line_start = true;      ///< the next byte starts a line
  std::uint64_t record_line = 1;  ///< line the current (or next) record starts on
  std::uint64_t field_line = 1;   ///< line the current (or next) field starts on

  // The record being parsed, field by field.
  std::string record_bytes;
  std::vector<std::uint64_t> record_offsets{0};
  std::vector<std::uint8_t> record_nulls;

  std::vector<std::string> names;
  bool have_columns = false;
  std::uint64_t first_line = 0;  ///< line the first record starts on
  std::uint64_t skipped = 0;

  csv_chunk* out = nullptr;    ///< where finished records go (`pending` when null)
  csv_chunk pending;           ///< records read by the constructor, for the first chunk
  std::size_t out_bytes = 0;   ///< what `out` holds, as `chunk_bytes` counts it
  std::exception_ptr failure;  ///< an error raised in a callback, thrown once libcsv returns

  impl(std::string const& path, csv_options const& o, std::size_t bytes)
      : input(path),
        options(o),
        chunk_bytes(bytes),
        name(options.name.empty() ? input.name() : options.name) {
    if (csv_init(&parser, CSV_STRICT | CSV_STRICT_FINI) != 0) {
      throw input_error(name + ": cannot start the CSV parser");
    }
    parser_ready = true;
    csv_set_delim(&parser, static_cast<unsigned char>(options.delimiter));
    csv_set_space_func(&parser, no_space);
    buffer.resize(std::max<std::size_t>(3, std::min(chunk_bytes, max_read_bytes)));
  }
  ~impl() {
    if (parser_ready) csv_free(&parser);
  }
  impl(impl const&) = delete;
  impl& operator=(impl const&) = delete;

  std::string where(std::uint64_t at) const { return name + ":" + std::to_string(at); }

  // ---- libcsv's callbacks (they must not throw: errors wait in `failure`) ----

  static void on_field(void* data, std::size_t length, void* self) noexcept {
    auto& r = *static_cast<impl*>(self);
    if (r.failure) return;
    try {
      r.record_bytes.append(static_cast<char const*>(data), length);
      r.record_offsets.push_back(r.record_bytes.size());
      r.record_nulls.push_back(length == 0 ? 1 : 0);
    } catch (...) {
      r.failure = std::current_exception();
    }
    r.field_line = r.line;
  }

  static void on_record(int, void* self) noexcept {
    auto& r = *static_cast<impl*>(self);
    if (!r.failure) {
      try {
        r.end_record();
      } catch (...) {
        r.failure = std::current_exception();
      }
    }
    r.record_bytes.clear();
    r.record_offsets.assign(1, 0);
    r.record_nulls.clear();
    r.record_line = r.line;
    r.field_line = r.line;
  }

  /// The record just parsed: the header, a record for `out`, or one of the wrong length.
  void end_record() {
    std::size_t const fields = record_nulls.size();
    if (!have_columns) {
      have_columns = true;
      first_line = record_line;
      names.reserve(fields);
      for (std::size_t c = 0; c < fields; ++c) {
        names.push_back(
            options.has_header
                ? record_bytes.substr(record_offsets[c], record_offsets[c + 1] - record_offsets[c])
                : "column" + std::to_string(c + 1));
      }
      if (options.has_header) return;
    } else if (fields != names.size()) {
      if (options.skip_bad_rows) {
        ++skipped;
        return;
      }
      throw input_error(where(record_line) + ": expected " + std::to_string(names.size()) +
                        " fields, found " + std::to_string(fields));
    }
    // The first record of a headerless file arrives while the constructor reads: it waits in
    // `pending` for the first chunk.
    csv_chunk& chunk = out != nullptr ? *out : pending;
    if (chunk.columns.size() != fields) chunk.columns.resize(fields);
    for (std::size_t c = 0; c < fields; ++c) {
      csv_column& column = chunk.columns[c];
      column.bytes.append(record_bytes, record_offsets[c],
                          record_offsets[c + 1] - record_offsets[c]);
      column.offsets.push_back(column.bytes.size());
      column.nulls.push_back(record_nulls[c]);
    }
    chunk.lines.push_back(record_line);
    out_bytes += record_bytes.size() + fields * field_overhead + sizeof(std::uint64_t);
  }

  void rethrow() {
    if (failure) std::rethrow_exception(std::exchange(failure, nullptr));
  }

  /// Refills the buffer; false at the end of the input.
  bool refill() {
    // The first read takes at least 3 bytes, to see a whole byte order mark.
    std::size_t const want = started ? std::min(chunk_bytes, buffer.size()) : buffer.size();
    position = 0;
    try {
      end = input.read(buffer.data(), want);
    } catch (input_error const& e) {
      // text_input names the path it read: give the message the input's name instead.
      std::string what = e.what();
      if (name == input.name() || what.rfind(input.name() + ":", 0) != 0) throw;
      throw input_error(name + what.substr(input.name().size()));
    }
    if (!started) {
      started = true;
      if (end >= 3 && std::memcmp(buffer.data(), "\xEF\xBB\xBF", 3) == 0) position = 3;
    }
    return end > 0;
  }

  /// Parses the input up to the end of the next line (or of the buffer).
  /// @return false once the input has ended (the parser then finished)
  bool parse_some() {
    if (input_done) return false;
    if (position == end && !refill()) {
      finish();
      return false;
    }
    char const* const first = buffer.data() + position;
    auto const* const newline = static_cast<char const*>(std::memchr(first, '\n', end - position));
    std::size_t const length = newline != nullptr ? newline + 1 - first : end - position;
    if (at_line_start) {
      if (parser.pstate == row_not_begun) record_line = line;
      if (parser.pstate == row_not_begun || parser.pstate == field_not_begun) field_line = line;
    }
    std::size_t const parsed = csv_parse(&parser, first, length, on_field, on_record, this);
    rethrow();
    if (parsed != length) parse_error();
    position += length;
    at_line_start = newline != nullptr;
    if (at_line_start) ++line;
    return true;
  }

  [[noreturn]] void parse_error() {
    int const error = csv_error(&parser);
    if (error == CSV_EPARSE) {
      throw input_error(where(line) + ": malformed quoting: " +
                        (parser.quoted != 0
                             ? "a closing quote must be followed by the delimiter or a line end "
                               "(a quote inside a quoted field is written twice)"
                             : "a quote inside an unquoted field (quote the field and write the "
                               "quote twice)"));
    }
    throw input_error(where(line) + ": " + csv_strerror(error));
  }

  /// Ends the input: the last record, if it had no line end, and the check for an open quote.
  void finish() {
    input_done = true;
    if (csv_fini(&parser, on_field, on_record, this) != 0) {
      throw input_error(where(field_line) +
                        ": unterminated quote: the quoted field that opens on this line runs to "
                        "the end of the input");
    }
    rethrow();
  }
};

csv_reader::csv_reader(std::string const& path, csv_options const& options,
                       std::size_t chunk_bytes) {
  char const d = options.delimiter;
  if (d == '"' || d == '\n' || d == '\r') {
    throw usage_error("the CSV delimiter cannot be a quote, CR or LF");
  }
  if (chunk_bytes == 0) throw usage_error("the CSV chunk size must be at least 1 byte");
  impl_ = std::make_unique<impl>(path, options, chunk_bytes);
  while (!impl_->have_columns && impl_->parse_some()) {
  }
}

csv_reader::~csv_reader() = default;
csv_reader::csv_reader(csv_reader&&) noexcept = default;
csv_reader& csv_reader::operator=(csv_reader&&) noexcept = default;

bool csv_reader::next_chunk(csv_chunk& chunk) {
  impl& r = *impl_;
  chunk.clear();
  chunk.columns.resize(r.names.size());
  r.out_bytes = 0;
  if (r.pending.rows() > 0) {
    std::swap(chunk, r.pending);
    r.pending = csv_chunk{};
    for (auto const& column : chunk.columns) r.out_bytes += column.bytes.size();
    r.out_bytes += chunk.rows() * (chunk.columns.size() * field_overhead + sizeof(std::uint64_t));
  }
  r.out = &chunk;
  struct reset {
    impl& r;
    ~reset() { r.out = nullptr; }
  } const detach{r};
  while (chunk.rows() == 0 || r.out_bytes < r.chunk_bytes) {
    if (!r.parse_some()) break;
  }
  return chunk.rows() > 0;
}

std::vector<std::string> const& csv_reader::column_names() const noexcept { return impl_->names; }
std::uint64_t csv_reader::first_line() const noexcept { return impl_->first_line; }
std::uint64_t csv_reader::skipped_rows() const noexcept { return impl_->skipped; }
std::string const& csv_reader::name() const noexcept { return impl_->name; }

}  // namespace bulkmap::cli
