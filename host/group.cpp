/**
 * @file group.cpp
 * @brief The backend-neutral parts of `bulkmap group`: options, reading and typing the columns
 * chunk by chunk, merging each chunk's groups into those of the chunks before, and the CSV
 * output.
 *
 * Without --list, memory holds one chunk and the groups: each chunk's rows are typed, grouped by
 * the engine into partial aggregates (`group_partials`, in key order), and merged into the running
 * groups (one walk through both, in key order; the partials of a key merge exactly: counts and
 * sums add, min and max compare, first and last take the earlier and the later chunk, variances
 * merge by Chan et al.'s formula). Types are inferred as the chunks come: a type that
 * widens after chunks were grouped makes the rest of the pass only type the columns, and a second
 * pass groups with the final types (see `csv_source` for inputs that cannot be read twice). With
 * --list, the whole input is one chunk.
 */
#include "group.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <limits>
#include <map>
#include <set>
#include <string_view>
#include <system_error>
#include <utility>

#include "cli_error.hpp"
#include "count.hpp"
#include "int_reader.hpp"

namespace bulkmap::cli {
namespace {

// -------------------------------------------------------------------------------------------------
// Values
// -------------------------------------------------------------------------------------------------

/// Parses a finite decimal number (what a float64 field holds): an optional sign, digits with an
/// optional '.', an optional exponent ("1", "-2.5", ".5", "1e-3"; not "inf", "nan" or "0x1p3").
bool parse_float64(std::string_view text, double& value) noexcept {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  if (text.empty() || text.front() == '+') return false;
  char const* const last = text.data() + text.size();
  auto const [end, ec] = std::from_chars(text.data(), last, value, std::chars_format::general);
  return ec == std::errc{} && end == last && std::isfinite(value);
}

char const* type_name(column_type type) {
  switch (type) {
    case column_type::int64:
      return "int64";
    case column_type::float64:
      return "float64";
    default:
      return "string";
  }
}

/// Appends `value` in the shortest form that reads back as the same double.
void append_real(std::string& out, double value) {
  char digits[32];
  auto const result = std::to_chars(digits, digits + sizeof digits, value);
  out.append(digits, result.ptr);
}

/// Appends one CSV field, quoted (RFC 4180) when it holds a comma, a quote, CR or LF.
void append_field(std::string& out, std::string_view text) {
  if (text.find_first_of(",\"\r\n") == std::string_view::npos) {
    out.append(text);
    return;
  }
  out += '"';
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

/// Appends row `row` of `column` as its type writes it; nothing for NULL. Float64 keys write
/// -0 as 0 (they are grouped as one).
void append_value(std::string& out, group_column const& column, std::uint64_t row,
                  bool quote = true) {
  if (column.valid[row] == 0) return;
  switch (column.type) {
    case column_type::int64:
      append_number(out, column.ints[row]);
      break;
    case column_type::float64:
      append_real(out, column.reals[row] == 0 ? 0.0 : column.reals[row]);
      break;
    default:
      if (quote) {
        append_field(out, column.text[row]);
      } else {
        out.append(column.text[row]);
      }
  }
}

// -------------------------------------------------------------------------------------------------
// Options
// -------------------------------------------------------------------------------------------------

char parse_delimiter(std::string const& text) {
  if (text == "\\t" || text == "tab") return '\t';
  if (text.size() != 1 || text == "\"" || text == "\n" || text == "\r") {
    throw usage_error(
        "group: --delimiter must be one byte other than a quote, CR or LF (or \\t), "
        "got '" +
        printable(text) + "'");
  }
  return text[0];
}

struct agg_name {
  char const* name;
  agg_kind kind;
};
constexpr agg_name agg_names[] = {{"count", agg_kind::count}, {"sum", agg_kind::sum},
                                  {"mean", agg_kind::mean},   {"min", agg_kind::min},
                                  {"max", agg_kind::max},     {"variance", agg_kind::variance},
                                  {"first", agg_kind::first}, {"last", agg_kind::last}};

/// "count" or "KIND:COLUMN": the kind and the column's name ("" for count).
std::pair<agg_kind, std::string> parse_agg(std::string const& text) {
  if (text == "count") return {agg_kind::count_rows, {}};
  auto const colon = text.find(':');
  if (colon != std::string::npos && colon + 1 < text.size()) {
    std::string_view const kind(text.data(), colon);
    for (auto const& a : agg_names) {
      if (kind == a.name) return {a.kind, text.substr(colon + 1)};
    }
  }
  throw usage_error(
      "group: --agg takes count or KIND:COLUMN with KIND one of count, sum, mean, "
      "min, max, variance, first, last; got '" +
      printable(text) + "'");
}

/// "COLUMN:TYPE" (split at the last colon).
std::pair<std::string, column_type> parse_type(std::string const& text) {
  auto const colon = text.rfind(':');
  if (colon != std::string::npos && colon > 0) {
    std::string_view const type(text.data() + colon + 1, text.size() - colon - 1);
    for (auto t : {column_type::int64, column_type::float64, column_type::string}) {
      if (type == type_name(t)) return {text.substr(0, colon), t};
    }
  }
  throw usage_error(
      "group: --types takes COLUMN:TYPE with TYPE one of int64, float64, string; "
      "got '" +
      printable(text) + "'");
}

// -------------------------------------------------------------------------------------------------
// Input
// -------------------------------------------------------------------------------------------------

/// A file descriptor, closed when destroyed.
struct owned_fd {
  int fd = -1;
  owned_fd() = default;
  explicit owned_fd(int f) : fd(f) {}
  owned_fd(owned_fd const&) = delete;
  owned_fd& operator=(owned_fd const&) = delete;
  ~owned_fd() {
    if (fd >= 0) ::close(fd);
  }
};

/**
 * @brief Where the CSV comes from, each time it is read. A regular file is opened again; stdin
 * that is a regular file is read again from the offset it started at. Any other input (a pipe, a
 * FIFO) that may have to be read twice is first copied as it is (gzip stays gzip) into an
 * unlinked temporary file in $TMPDIR (or /tmp), which is then read, through /dev/fd, under the
 * input's name.
 */
class csv_source {
 public:
  /// @param twice whether the input may have to be read twice
  /// @throw input_error if the input cannot be read or copied
  csv_source(std::string path, bool twice) : path_(std::move(path)) {
    if (!twice) return;
    bool const is_stdin = path_ == "-";
    struct stat st {};
    if ((is_stdin ? ::fstat(STDIN_FILENO, &st) : ::stat(path_.c_str(), &st)) == 0 &&
        S_ISREG(st.st_mode)) {
      if (!is_stdin) return;
      stdin_start_ = ::lseek(STDIN_FILENO, 0, SEEK_CUR);
      if (stdin_start_ >= 0) return;
    }
    copy();
  }

  /// A reader from the start of the input.
  /// @throw as `csv_reader`'s constructor, or input_error if stdin cannot seek back
  csv_reader open(csv_options options, std::size_t chunk_bytes) const {
    if (copy_.fd >= 0) {
      if (::lseek(copy_.fd, 0, SEEK_SET) < 0) fail("cannot read its temporary copy again");
      options.name = name();
      return csv_reader("/dev/fd/" + std::to_string(copy_.fd), options, chunk_bytes);
    }
    if (stdin_start_ >= 0 && ::lseek(STDIN_FILENO, stdin_start_, SEEK_SET) < 0) {
      fail("cannot read it again");
    }
    return csv_reader(path_, options, chunk_bytes);
  }

 private:
  [[nodiscard]] std::string name() const { return path_ == "-" ? "<stdin>" : path_; }

  [[noreturn]] void fail(std::string const& what) const {
    throw input_error(name() + ": " + what + ": " + std::strerror(errno));
  }

  /// Copies the input into an unlinked temporary file (`copy_`).
  void copy() {
    owned_fd const in(path_ == "-" ? ::dup(STDIN_FILENO) : ::open(path_.c_str(), O_RDONLY));
    if (in.fd < 0) fail("cannot open");
    char const* const tmpdir = std::getenv("TMPDIR");
    std::string const dir = tmpdir != nullptr && *tmpdir != '\0' ? tmpdir : "/tmp";
    std::string file = dir + "/bulkmap-group-XXXXXX";
    copy_.fd = ::mkstemp(file.data());
    std::string const cannot_copy = "cannot copy it to a temporary file in " + dir;
    if (copy_.fd < 0) fail(cannot_copy);
    ::unlink(file.c_str());
    std::vector<char> buffer(std::size_t{1} << 20);
    for (;;) {
      ssize_t const n = ::read(in.fd, buffer.data(), buffer.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) fail("read error");
      if (n == 0) break;
      for (ssize_t done = 0; done < n;) {
        ssize_t const w =
            ::write(copy_.fd, buffer.data() + done, static_cast<std::size_t>(n - done));
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) fail(cannot_copy);
        done += w;
      }
    }
  }

  std::string path_;
  off_t stdin_start_ = -1;  ///< stdin is a regular file read again from here
  owned_fd copy_;           ///< the copy of an input that cannot be read twice
};

// -------------------------------------------------------------------------------------------------
// Columns
// -------------------------------------------------------------------------------------------------

/// Parses rows [from, n) of `column` as its type into its values; the first row that does not
/// parse, or n.
std::size_t parse_rows(group_column& column, std::size_t from) {
  std::size_t const n = column.text.size();
  if (column.type == column_type::int64) {
    column.ints.resize(n);
    for (std::size_t i = from; i < n; ++i) {
      column.ints[i] = 0;
      if (column.text.nulls[i] == 0 &&
          parse_int64(column.text[i], column.ints[i]) != int_parse::ok) {
        return i;
      }
    }
  } else if (column.type == column_type::float64) {
    column.reals.resize(n);
    for (std::size_t i = from; i < n; ++i) {
      column.reals[i] = 0;
      if (column.text.nulls[i] == 0 && !parse_float64(column.text[i], column.reals[i])) return i;
    }
  }
  return n;
}

/// The columns the command uses: their names, places and types, and the rows being grouped (one
/// chunk's, or with --list the whole input's).
class column_set {
 public:
  column_set(group_options const& options, csv_reader const& reader)
      : name_(reader.name()),
        names_(reader.column_names()),
        header_line_(std::max<std::uint64_t>(reader.first_line(), 1)) {
    for (auto const& spec : options.types) {
      auto const [name, type] = parse_type(spec);
      group_column& column = columns_[use(name)];
      column.type = type;
      column.declared = true;
    }
  }

  /// The index (into `columns()`) of the column named `name`, added on first use.
  /// @throw input_error naming the header's line if no column, or more than one, has that name
  std::size_t use(std::string const& name) {
    std::size_t found = names_.size();
    for (std::size_t i = 0; i < names_.size(); ++i) {
      if (names_[i] != name) continue;
      if (found != names_.size()) {
        throw input_error(where(header_line_) + ": column '" + printable(name) +
                          "' is ambiguous: the header names it more than once");
      }
      found = i;
    }
    if (found == names_.size()) {
      std::string known;
      for (std::size_t i = 0; i < names_.size() && i < 8; ++i) {
        known += (i > 0 ? ", '" : "'") + printable(names_[i]) + "'";
      }
      if (names_.size() > 8) known += ", ...";
      throw input_error(
          where(header_line_) + ": unknown column '" + printable(name) + "' (" +
          (names_.empty() ? std::string("the input has no header") : "the columns are " + known) +
          ")");
    }
    auto const [at, added] = index_.try_emplace(found, columns_.size());
    if (added) {
      columns_.emplace_back();
      columns_.back().name = name;
      columns_.back().index = found;
      columns_.back().type = column_type::int64;  // inferred types start narrowest
      first_text_.emplace_back();
    }
    return at->second;
  }

  /// Makes `chunk`'s records the rows (the used columns' text and the lines are swapped out of
  /// it; what it gets back, `next_chunk` clears).
  void take(csv_chunk& chunk) {
    std::swap(lines_, chunk.lines);
    for (auto& column : columns_) std::swap(column.text, chunk.columns[column.index]);
  }

  /// Appends `chunk`'s records to the rows.
  void append(csv_chunk const& chunk) {
    lines_.insert(lines_.end(), chunk.lines.begin(), chunk.lines.end());
    for (auto& column : columns_) {
      csv_column const& in = chunk.columns[column.index];
      csv_column& text = column.text;
      std::uint64_t const shift = text.bytes.size();
      text.bytes += in.bytes;
      for (std::size_t i = 1; i < in.offsets.size(); ++i) {
        text.offsets.push_back(in.offsets[i] + shift);
      }
      text.nulls.insert(text.nulls.end(), in.nulls.begin(), in.nulls.end());
    }
  }

  /**
   * @brief Types rows [from, rows()) of every column: parses them as the column's type into its
   * values and NULL flags. An inferred type widens (int64, float64, string) to the first that
   * holds them, and then every row is parsed again.
   * @return whether an inferred type widened
   * @throw input_error for a value that is not of its column's declared type
   */
  bool type_rows(std::size_t from) {
    bool widened = false;
    for (std::size_t c = 0; c < columns_.size(); ++c) {
      group_column& column = columns_[c];
      for (std::size_t start = from;;) {
        std::size_t const bad = parse_rows(column, start);
        if (bad == column.text.size()) break;
        std::string_view const field = column.text[bad];
        if (column.declared) {
          throw input_error(where(lines_[bad]) + ": column '" + printable(column.name) + "' (" +
                            type_name(column.type) + "): '" + printable(std::string(field)) +
                            "' is not " +
                            (column.type == column_type::int64 ? "an int64" : "a float64"));
        }
        widened = true;
        double real = 0;
        if (column.type == column_type::int64 && parse_float64(field, real)) {
          column.type = column_type::float64;
        } else {
          column.type = column_type::string;
          // Every value before this one is a number: this is the column's first that is not.
          if (!first_text_[c]) first_text_[c] = std::make_pair(lines_[bad], std::string(field));
          column.reals = {};
        }
        column.ints = {};
        start = 0;
      }
      std::size_t const n = column.text.size();
      column.valid.resize(n);
      for (std::size_t i = from; i < n; ++i) column.valid[i] = column.text.nulls[i] == 0;
    }
    return widened;
  }

  /// Removes every row; `release` frees their memory too (else kept for the next rows).
  void clear_rows(bool release) {
    lines_.clear();
    for (auto& column : columns_) {
      column.text.clear();
      column.valid.clear();
      column.ints.clear();
      column.reals.clear();
      if (release) {
        column.text = csv_column{};
        column.valid = {};
        column.ints = {};
        column.reals = {};
      }
    }
    if (release) lines_ = {};
  }

  /// Drops the text of numeric columns (typed, they hold their values).
  void drop_numeric_text() {
    for (auto& column : columns_) {
      if (column.type != column_type::string) column.text = csv_column{};
    }
  }

  /// Whether aggregate `a` needs numbers (sum, mean, variance) of a column that holds strings.
  [[nodiscard]] bool lacks_numbers(agg_request const& a) const {
    return (a.kind == agg_kind::sum || a.kind == agg_kind::mean || a.kind == agg_kind::variance) &&
           columns_[a.column].type == column_type::string;
  }

  /// Checks, before reading, that `a` does not need numbers of a column declared string.
  /// @throw usage_error if it does
  void check_declared(agg_request const& a, std::string const& spec) const {
    group_column const& column = columns_[a.column];
    if (lacks_numbers(a) && column.declared) {
      throw usage_error("group: --agg " + printable(spec) + ": column '" + printable(column.name) +
                        "' is declared string, and " + "sum, mean and variance need numbers");
    }
  }

  /// Checks, once every row has been typed, that `a` does not need numbers of a column that holds
  /// strings.
  /// @throw input_error naming the column's first field that is not a number
  void check_numeric(agg_request const& a, std::string const& spec) const {
    if (!lacks_numbers(a)) return;
    auto const& [line, text] = *first_text_[a.column];
    throw input_error(where(line) + ": --agg " + printable(spec) + " needs numbers, but " +
                      "column '" + printable(columns_[a.column].name) + "' holds '" +
                      printable(text) + "'");
  }

  [[nodiscard]] std::vector<group_column> const& columns() const noexcept { return columns_; }
  [[nodiscard]] std::size_t rows() const noexcept { return lines_.size(); }

 private:
  [[nodiscard]] std::string where(std::uint64_t line) const {
    return name_ + ":" + std::to_string(line);
  }

  std::string name_;
  std::vector<std::string> names_;
  std::uint64_t header_line_;
  std::vector<group_column> columns_;
  std::map<std::size_t, std::size_t> index_;  ///< header position -> index into columns_
  std::vector<std::uint64_t> lines_;          ///< line of each row
  /// Inferred columns that became strings: the line and text of the first field not a number.
  std::vector<std::optional<std::pair<std::uint64_t, std::string>>> first_text_;
};

/// Whether some column the command uses has no declared type (its type is inferred).
bool infers_a_type(group_options const& options,
                   std::vector<std::pair<agg_kind, std::string>> const& aggs) {
  std::set<std::string> declared;
  for (auto const& spec : options.types) declared.insert(parse_type(spec).first);
  std::vector<std::string> used = options.by;
  for (auto const& [kind, name] : aggs) {
    if (kind != agg_kind::count_rows) used.push_back(name);
  }
  if (options.list) used.push_back(*options.list);
  return std::any_of(used.begin(), used.end(),
                     [&](std::string const& name) { return declared.count(name) == 0; });
}

// -------------------------------------------------------------------------------------------------
// Partial aggregates
// -------------------------------------------------------------------------------------------------

constexpr std::uint64_t no_group = std::numeric_limits<std::uint64_t>::max();

/// A column like `column` (name, place, type) without rows.
group_column empty_like(group_column const& column) {
  group_column out;
  out.name = column.name;
  out.index = column.index;
  out.type = column.type;
  out.declared = column.declared;
  return out;
}

/// Appends field `row` of `from` (NULL or not) to `to`.
void append_text(csv_column& to, csv_column const& from, std::uint64_t row) {
  to.bytes.append(from[row]);
  to.offsets.push_back(to.bytes.size());
  to.nulls.push_back(from.nulls[row]);
}

/// Appends a NULL field to `to`.
void append_null(csv_column& to) {
  to.offsets.push_back(to.bytes.size());
  to.nulls.push_back(1);
}

/// Appends row `row` of `from` to `to` (a column of the same type).
void append_row(group_column& to, group_column const& from, std::uint64_t row) {
  to.valid.push_back(from.valid[row]);
  switch (from.type) {
    case column_type::int64:
      to.ints.push_back(from.ints[row]);
      break;
    case column_type::float64:
      to.reals.push_back(from.reals[row]);
      break;
    default:
      append_text(to.text, from.text, row);
  }
}

/// Whether aggregate kind `kind` picks one of the group's values (min, max, first, last).
bool picks_a_value(agg_kind kind) {
  return kind == agg_kind::min || kind == agg_kind::max || kind == agg_kind::first ||
         kind == agg_kind::last;
}

/// Whether aggregate kind `kind` keeps the sum of the group's values (sum, mean, variance).
bool keeps_the_sum(agg_kind kind) {
  return kind == agg_kind::sum || kind == agg_kind::mean || kind == agg_kind::variance;
}

/// The groups of `result` (the engine's, on the request's rows) independent of the rows: keys and
/// string values copied out of them. Takes `result`'s rows and aggregates.
group_partials partials_of(group_request const& request, group_result& result) {
  auto const& columns = *request.columns;
  group_partials out;
  for (std::size_t k : request.keys) {
    group_column key = empty_like(columns[k]);
    for (std::uint64_t row : result.first_row) append_row(key, columns[k], row);
    out.keys.push_back(std::move(key));
  }
  out.rows = std::move(result.rows);
  out.aggs = std::move(result.aggs);
  for (std::size_t i = 0; i < request.aggs.size(); ++i) {
    agg_request const& a = request.aggs[i];
    if (!picks_a_value(a.kind) || columns[a.column].type != column_type::string) continue;
    agg_result& r = out.aggs[i];
    for (std::size_t g = 0; g < r.rows.size(); ++g) {
      if (r.count[g] > 0) {
        append_text(r.strings, columns[a.column].text, r.rows[g]);
      } else {
        append_null(r.strings);
      }
    }
    r.rows = {};
  }
  return out;
}

/// Whether value `i` of `a` is less than value `j` of `b` (strings bytewise).
bool less(column_type type, agg_result const& a, std::uint64_t i, agg_result const& b,
          std::uint64_t j) {
  switch (type) {
    case column_type::int64:
      return a.ints[i] < b.ints[j];
    case column_type::float64:
      return a.reals[i] < b.reals[j];
    default:
      return a.strings[i] < b.strings[j];  // std::char_traits<char> compares as memcmp
  }
}

/// The sum of entry `i` of `r` as a double.
double sum_at(column_type type, agg_result const& r, std::uint64_t i) {
  return type == column_type::int64 ? static_cast<double>(r.ints[i]) : r.reals[i];
}

/**
 * @brief Aggregate `kind` (on a column of type `type`) of the groups that merge groups
 * `in_x[g]` of `x` and `in_y[g]` of `y` (either `no_group`), the rows of `x` before those of
 * `y`.
 */
agg_result merge_agg(agg_kind kind, column_type type, agg_result const& x, agg_result const& y,
                     std::vector<std::uint64_t> const& in_x,
                     std::vector<std::uint64_t> const& in_y) {
  std::size_t const groups = in_x.size();
  agg_result r;
  r.count.resize(groups);
  for (std::size_t g = 0; g < groups; ++g) {
    std::uint64_t const i = in_x[g];
    std::uint64_t const j = in_y[g];
    std::uint64_t const cx = i != no_group ? x.count[i] : 0;
    std::uint64_t const cy = j != no_group ? y.count[j] : 0;
    r.count[g] = cx + cy;
    if (keeps_the_sum(kind)) {
      if (type == column_type::int64) {  // wraps modulo 2^64, as the engine's sums
        std::uint64_t sum = 0;
        if (i != no_group) sum += static_cast<std::uint64_t>(x.ints[i]);
        if (j != no_group) sum += static_cast<std::uint64_t>(y.ints[j]);
        r.ints.push_back(static_cast<std::int64_t>(sum));
      } else {
        r.reals.push_back(i == no_group   ? y.reals[j]
                          : j == no_group ? x.reals[i]
                                          : x.reals[i] + y.reals[j]);
      }
    }
    if (kind == agg_kind::variance) {
      // Chan et al.: M2 = M2x + M2y + d^2 * cx * cy / n, with M2 = variance * (count - 1) and d
      // the difference of the means.
      double variance = std::numeric_limits<double>::quiet_NaN();
      if (cx == 0) {
        if (cy > 0) variance = y.variance[j];
      } else if (cy == 0) {
        variance = x.variance[i];
      } else {
        auto const n = static_cast<double>(cx + cy);
        double const d = sum_at(type, y, j) / static_cast<double>(cy) -
                         sum_at(type, x, i) / static_cast<double>(cx);
        double const m2x = cx > 1 ? x.variance[i] * static_cast<double>(cx - 1) : 0.0;
        double const m2y = cy > 1 ? y.variance[j] * static_cast<double>(cy - 1) : 0.0;
        variance =
            (m2x + m2y + d * d * (static_cast<double>(cx) * static_cast<double>(cy) / n)) / (n - 1);
      }
      r.variance.push_back(variance);
    }
    if (picks_a_value(kind)) {
      // From y where x has no value, or where both have one and y's wins (ties keep x's).
      bool from_y = cx == 0;
      if (cx > 0 && cy > 0) {
        from_y = kind == agg_kind::last || (kind == agg_kind::min && less(type, y, j, x, i)) ||
                 (kind == agg_kind::max && less(type, x, i, y, j));
      }
      agg_result const& from = from_y ? y : x;
      std::uint64_t const at = from_y ? j : i;
      bool const has = r.count[g] > 0;
      switch (type) {
        case column_type::int64:
          r.ints.push_back(has ? from.ints[at] : 0);
          break;
        case column_type::float64:
          r.reals.push_back(has ? from.reals[at] : 0.0);
          break;
        default:
          if (has) {
            append_text(r.strings, from.strings, at);
          } else {
            append_null(r.strings);
          }
      }
    }
  }
  return r;
}

/**
 * @brief Compares key `i` of `a` with key `j` of `b` (key columns of the same types) in the
 * engine's order of keys: the first column major; in each, NULL first, numbers by value (-0 is
 * 0), strings bytewise.
 * @return less than, equal to or greater than 0 as key `i` of `a` is less than, equal to or
 * greater than key `j` of `b`
 */
int compare_keys(std::vector<group_column> const& a, std::uint64_t i,
                 std::vector<group_column> const& b, std::uint64_t j) {
  for (std::size_t k = 0; k < a.size(); ++k) {
    group_column const& x = a[k];
    group_column const& y = b[k];
    if (x.valid[i] != y.valid[j]) return x.valid[i] < y.valid[j] ? -1 : 1;
    if (x.valid[i] == 0) continue;
    int order = 0;
    switch (x.type) {
      case column_type::int64:
        order = (x.ints[i] > y.ints[j]) - (x.ints[i] < y.ints[j]);
        break;
      case column_type::float64:
        order = (x.reals[i] > y.reals[j]) - (x.reals[i] < y.reals[j]);
        break;
      default:
        order = x.text[i].compare(y.text[j]);  // std::char_traits<char> compares as memcmp
    }
    if (order != 0) return order;
  }
  return 0;
}

/**
 * @brief The groups of `earlier`'s rows and `later`'s together, in key order. Both are in key
 * order already (the engine's), so one walk through both pairs the groups of a key, whose partial
 * aggregates then merge. O(groups of both), on the host, with no hashing or sorting: merging the
 * groups of every chunk into all groups so far stays cheap when the groups are many.
 */
group_partials merge(group_request const& request, group_partials earlier, group_partials later) {
  if (earlier.size() == 0) return later;
  if (later.size() == 0) return earlier;
  group_partials merged;
  for (auto const& key : earlier.keys) merged.keys.push_back(empty_like(key));
  std::vector<std::uint64_t> in_earlier;  // each merged group's group in `earlier`, or none
  std::vector<std::uint64_t> in_later;
  for (std::uint64_t i = 0, j = 0; i < earlier.size() || j < later.size();) {
    int const order = i == earlier.size() ? 1
                      : j == later.size() ? -1
                                          : compare_keys(earlier.keys, i, later.keys, j);
    in_earlier.push_back(order <= 0 ? i : no_group);
    in_later.push_back(order >= 0 ? j : no_group);
    for (std::size_t k = 0; k < merged.keys.size(); ++k) {
      append_row(merged.keys[k], order <= 0 ? earlier.keys[k] : later.keys[k], order <= 0 ? i : j);
    }
    merged.rows.push_back((order <= 0 ? earlier.rows[i] : 0) + (order >= 0 ? later.rows[j] : 0));
    if (order <= 0) ++i;
    if (order >= 0) ++j;
  }
  auto const& columns = *request.columns;
  for (std::size_t a = 0; a < request.aggs.size(); ++a) {
    agg_kind const kind = request.aggs[a].kind;
    column_type const type =
        kind == agg_kind::count_rows ? column_type::int64 : columns[request.aggs[a].column].type;
    merged.aggs.push_back(
        merge_agg(kind, type, earlier.aggs[a], later.aggs[a], in_earlier, in_later));
  }
  return merged;
}

// -------------------------------------------------------------------------------------------------
// Output
// -------------------------------------------------------------------------------------------------

/// Appends aggregate `a`'s value for group g.
void append_agg(std::string& out, agg_request const& a, agg_result const& r,
                std::vector<group_column> const& columns, std::uint64_t g) {
  if (a.kind == agg_kind::count_rows || a.kind == agg_kind::count) {
    append_number(out, r.count[g]);
    return;
  }
  // SQL's NULL: no value in the group (variance: fewer than two).
  if (r.count[g] < (a.kind == agg_kind::variance ? 2u : 1u)) return;
  column_type const type = columns[a.column].type;
  if (a.kind == agg_kind::mean) {
    append_real(out, sum_at(type, r, g) / static_cast<double>(r.count[g]));
  } else if (a.kind == agg_kind::variance) {
    append_real(out, r.variance[g]);
  } else if (type == column_type::int64) {
    append_number(out, r.ints[g]);
  } else if (type == column_type::float64) {
    append_real(out, r.reals[g]);
  } else {
    append_field(out, r.strings[g]);
  }
}

/// Writes the header and one record per group to `out` (not committed); `listed`, with a list
/// column, is the engine's result on the whole input, whose lists are written.
void write_groups(group_request const& request, group_partials const& groups,
                  group_result const* listed, output_sink& out) {
  auto const& columns = *request.columns;
  std::string& buffer = out.buffer();
  std::vector<std::string> header;
  for (std::size_t k : request.keys) header.push_back(columns[k].name);
  for (auto const& a : request.aggs) header.push_back(a.header);
  if (request.list) header.push_back("list_" + columns[*request.list].name);
  for (std::size_t i = 0; i < header.size(); ++i) {
    if (i > 0) buffer += ',';
    append_field(buffer, header[i]);
  }
  buffer += '\n';
  std::string list;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    for (std::size_t i = 0; i < groups.keys.size(); ++i) {
      if (i > 0) buffer += ',';
      append_value(buffer, groups.keys[i], g);
    }
    for (std::size_t i = 0; i < request.aggs.size(); ++i) {
      buffer += ',';
      append_agg(buffer, request.aggs[i], groups.aggs[i], columns, g);
    }
    if (request.list) {
      list.clear();
      for (std::uint64_t j = listed->list_offsets[g]; j < listed->list_offsets[g + 1]; ++j) {
        if (j > listed->list_offsets[g]) list += ';';
        append_value(list, columns[*request.list], listed->list_rows[j], false);
      }
      buffer += ",\"";  // always quoted
      for (char c : list) {
        if (c == '"') buffer += '"';
        buffer += c;
      }
      buffer += '"';
    }
    buffer += '\n';
    out.maybe_flush();
  }
}

}  // namespace

group_totals run_group(group_options const& options, group_engine const& engine) {
  csv_options csv;
  csv.delimiter = parse_delimiter(options.delimiter);
  csv.has_header = !options.no_header;
  csv.skip_bad_rows = options.skip_bad_rows;
  std::vector<std::pair<agg_kind, std::string>> aggs;
  for (auto const& spec : options.aggs) aggs.push_back(parse_agg(spec));
  for (auto const& spec : options.types) parse_type(spec);  // usage errors before input errors
  if (options.by.empty()) throw usage_error("group: --by needs at least one column");
  text_input::check_readable(options.file);
  output_sink out(options.output);
  std::size_t const chunk_bytes =
      options.chunk_bytes > 0 ? options.chunk_bytes : csv_reader::default_chunk_bytes;

  // Streaming with inferred types may read the input twice (a type that widens late).
  csv_source const source(options.file, !options.list && infers_a_type(options, aggs));
  csv_reader reader = source.open(csv, chunk_bytes);
  column_set columns(options, reader);
  group_request request;
  for (auto const& name : options.by) request.keys.push_back(columns.use(name));
  for (auto const& [kind, name] : aggs) {
    agg_request a;
    a.kind = kind;
    if (kind == agg_kind::count_rows) {
      a.header = "count";
    } else {
      a.column = columns.use(name);
      std::string const kind_name =
          std::find_if(std::begin(agg_names), std::end(agg_names), [&a](agg_name const& n) {
            return n.kind == a.kind;
          })->name;
      a.header = kind_name + "_" + name;
    }
    request.aggs.push_back(std::move(a));
  }
  if (options.list) request.list = columns.use(*options.list);
  for (std::size_t i = 0; i < request.aggs.size(); ++i) {
    columns.check_declared(request.aggs[i], options.aggs[i]);
  }
  request.threads = options.threads;
  request.columns = &columns.columns();
  auto const check_numeric = [&] {
    for (std::size_t i = 0; i < request.aggs.size(); ++i) {
      columns.check_numeric(request.aggs[i], options.aggs[i]);
    }
  };

  csv_chunk chunk;
  group_partials groups;
  std::uint64_t rows = 0;
  if (request.list) {
    // Lists hold the whole input anyway: it is grouped as one chunk.
    while (reader.next_chunk(chunk)) {
      std::size_t const base = columns.rows();
      columns.append(chunk);
      columns.type_rows(base);
    }
    check_numeric();
    columns.drop_numeric_text();
    rows = columns.rows();
    request.rows = rows;
    group_result listed = engine.run(request);
    groups = partials_of(request, listed);
    write_groups(request, groups, &listed, out);
    out.commit();
    return {rows, groups.size(), reader.skipped_rows()};
  }

  // Chunks gather into a batch, grouped and merged into the groups so far once it holds as many
  // rows as there are groups (while the groups are fewer than a chunk's rows, one chunk a batch):
  // a merge then costs no more than grouping the batch, and memory stays O(chunk + groups).
  std::size_t batch_chunks = 0;
  auto const clear_batch = [&] {
    columns.clear_rows(batch_chunks > 1);
    batch_chunks = 0;
  };
  auto const group_batch = [&] {
    request.rows = columns.rows();
    group_result result = engine.run(request);
    group_partials batch = partials_of(request, result);
    result = group_result{};
    clear_batch();
    groups = merge(request, std::move(groups), std::move(batch));
  };
  // Adds the chunk to the batch and types it; whether an inferred type widened.
  auto const add_chunk = [&] {
    std::size_t const base = columns.rows();
    rows += chunk.rows();
    ++batch_chunks;
    if (base == 0) {
      columns.take(chunk);
    } else {
      columns.append(chunk);
    }
    return columns.type_rows(base);
  };
  // `grouping` stays true while the types are those of the rows grouped so far (and sum, mean and
  // variance have numbers).
  bool grouping = true;
  while (reader.next_chunk(chunk)) {
    if (add_chunk() && groups.size() > 0) grouping = false;
    for (auto const& a : request.aggs) grouping = grouping && !columns.lacks_numbers(a);
    if (!grouping) {
      groups = group_partials{};
      clear_batch();
    } else if (columns.rows() >= groups.size()) {
      group_batch();
    }
  }
  check_numeric();
  if (grouping && columns.rows() > 0) group_batch();
  if (!grouping) {
    // A type widened after rows were grouped: group again, with the final types.
    reader = source.open(csv, chunk_bytes);
    rows = 0;
    while (reader.next_chunk(chunk)) {
      if (add_chunk()) {
        throw input_error(reader.name() + ": the input changed while it was read a second time");
      }
      if (columns.rows() >= groups.size()) group_batch();
    }
    if (columns.rows() > 0) group_batch();
  }
  write_groups(request, groups, nullptr, out);
  out.commit();
  return {rows, groups.size(), reader.skipped_rows()};
}

}  // namespace bulkmap::cli
