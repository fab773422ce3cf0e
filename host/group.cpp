/**
 * @file group.cpp
 * @brief The backend-neutral parts of `bulkmap group`: options, reading and typing the columns,
 * and the CSV output.
 */
#include "group.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <iterator>
#include <map>
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
// Reading
// -------------------------------------------------------------------------------------------------

/// The columns the command uses, read from the CSV.
class column_reader {
 public:
  column_reader(group_options const& options, csv_reader& reader)
      : reader_(reader), header_line_(std::max<std::uint64_t>(reader.first_line(), 1)) {
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
    auto const& names = reader_.column_names();
    std::size_t found = names.size();
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (names[i] != name) continue;
      if (found != names.size()) {
        throw input_error(where(header_line_) + ": column '" + printable(name) +
                          "' is ambiguous: the header names it more than once");
      }
      found = i;
    }
    if (found == names.size()) {
      std::string known;
      for (std::size_t i = 0; i < names.size() && i < 8; ++i) {
        known += (i > 0 ? ", '" : "'") + printable(names[i]) + "'";
      }
      if (names.size() > 8) known += ", ...";
      throw input_error(
          where(header_line_) + ": unknown column '" + printable(name) + "' (" +
          (names.empty() ? std::string("the input has no header") : "the columns are " + known) +
          ")");
    }
    auto const [at, added] = index_.try_emplace(found, columns_.size());
    if (added) {
      columns_.emplace_back();
      columns_.back().name = name;
      columns_.back().index = found;
    }
    return at->second;
  }

  /// Reads every record, parsing the values of columns whose type was declared.
  /// @throw input_error for a malformed record or a value not of its declared type
  void read_all() {
    csv_chunk chunk;
    while (reader_.next_chunk(chunk)) {
      std::uint64_t const base = lines_.size();
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
        if (column.declared) parse_from(column, base);
      }
    }
  }

  /// Gives every column without a declared type the first of int64, float64 and string that
  /// holds all its values, and its values; drops the text of numeric columns.
  void type_columns() {
    for (auto& column : columns_) {
      if (!column.declared) {
        column.type = column_type::int64;
        if (first_not_of_type(column) != rows()) column.type = column_type::float64;
        if (first_not_of_type(column) != rows()) column.type = column_type::string;
        parse_from(column, 0);
      }
      column.valid.resize(rows());
      for (std::size_t i = 0; i < rows(); ++i) column.valid[i] = column.text.nulls[i] == 0;
      if (column.type != column_type::string) column.text = csv_column{};
    }
  }

  /// Checks that aggregates that need numbers (sum, mean, variance) have them.
  void check_numeric(agg_request const& a, std::string const& spec) {
    group_column const& column = columns_[a.column];
    if (column.type != column_type::string) return;
    if (column.declared) {
      throw usage_error("group: --agg " + printable(spec) + ": column '" + printable(column.name) +
                        "' is declared string, and " + "sum, mean and variance need numbers");
    }
    // An inferred string column holds a field that is not a number (the first one is named).
    group_column probe = column;
    probe.type = column_type::float64;
    std::size_t const row = first_not_of_type(probe);
    throw input_error(where(lines_[row]) + ": --agg " + printable(spec) + " needs numbers, but " +
                      "column '" + printable(column.name) + "' holds '" +
                      printable(std::string(column.text[row])) + "'");
  }

  [[nodiscard]] std::vector<group_column> const& columns() const noexcept { return columns_; }
  [[nodiscard]] std::size_t rows() const noexcept { return lines_.size(); }

 private:
  std::string where(std::uint64_t line) const {
    return reader_.name() + ":" + std::to_string(line);
  }

  /// The first row from which a non-NULL field does not parse as the column's type; rows() if
  /// none.
  std::size_t first_not_of_type(group_column const& column) const {
    std::size_t const n = column.text.size();
    for (std::size_t i = 0; i < n; ++i) {
      if (column.text.nulls[i] != 0) continue;
      std::string_view const field = column.text[i];
      std::int64_t integer = 0;
      double real = 0;
      if (column.type == column_type::int64 && parse_int64(field, integer) != int_parse::ok) {
        return i;
      }
      if (column.type == column_type::float64 && !parse_float64(field, real)) return i;
    }
    return n;
  }

  /// Parses the fields from row `from` on into the column's values.
  /// @throw input_error for a field that is not of the column's type
  void parse_from(group_column& column, std::size_t from) {
    std::size_t const n = column.text.size();
    if (column.type == column_type::int64) column.ints.resize(n);
    if (column.type == column_type::float64) column.reals.resize(n);
    if (column.type == column_type::string) return;
    for (std::size_t i = from; i < n; ++i) {
      if (column.text.nulls[i] != 0) continue;
      std::string_view const field = column.text[i];
      bool const ok = column.type == column_type::int64
                          ? parse_int64(field, column.ints[i]) == int_parse::ok
                          : parse_float64(field, column.reals[i]);
      if (!ok) {
        throw input_error(where(lines_[i]) + ": column '" + printable(column.name) + "' (" +
                          type_name(column.type) + "): '" + printable(std::string(field)) +
                          "' is not " +
                          (column.type == column_type::int64 ? "an int64" : "a float64"));
      }
    }
  }

  csv_reader& reader_;
  std::uint64_t header_line_;
  std::vector<group_column> columns_;
  std::map<std::size_t, std::size_t> index_;  ///< header position -> index into columns_
  std::vector<std::uint64_t> lines_;          ///< line of each row
};

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
  if (!r.ints.empty()) {
    append_number(out, r.ints[g]);
  } else if (!r.reals.empty()) {
    append_real(out, r.reals[g]);
  } else {
    append_value(out, columns[a.column], r.rows[g]);
  }
}

/// Writes the header and one record per group to `out` (not committed).
void write_groups(group_request const& request, group_result const& result, output_sink& out) {
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
  for (std::size_t g = 0; g < result.first_row.size(); ++g) {
    for (std::size_t i = 0; i < request.keys.size(); ++i) {
      if (i > 0) buffer += ',';
      append_value(buffer, columns[request.keys[i]], result.first_row[g]);
    }
    for (std::size_t i = 0; i < request.aggs.size(); ++i) {
      buffer += ',';
      append_agg(buffer, request.aggs[i], result.aggs[i], columns, g);
    }
    if (request.list) {
      list.clear();
      for (std::uint64_t j = result.list_offsets[g]; j < result.list_offsets[g + 1]; ++j) {
        if (j > result.list_offsets[g]) list += ';';
        append_value(list, columns[*request.list], result.list_rows[j], false);
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

  csv_reader reader(
      options.file, csv,
      options.chunk_bytes > 0 ? options.chunk_bytes : csv_reader::default_chunk_bytes);
  column_reader columns(options, reader);
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
          std::find_if(std::begin(agg_names), std::end(agg_names), [&](agg_name const& n) {
            return n.kind == kind;
          })->name;
      a.header = kind_name + "_" + name;
    }
    request.aggs.push_back(std::move(a));
  }
  if (options.list) request.list = columns.use(*options.list);

  columns.read_all();
  columns.type_columns();
  for (std::size_t i = 0; i < request.aggs.size(); ++i) {
    agg_kind const kind = request.aggs[i].kind;
    if (kind == agg_kind::sum || kind == agg_kind::mean || kind == agg_kind::variance) {
      columns.check_numeric(request.aggs[i], options.aggs[i]);
    }
  }
  request.columns = &columns.columns();
  request.rows = columns.rows();
  request.threads = options.threads;
  group_result const result = engine.run(request);

  write_groups(request, result, out);
  out.commit();
  return {columns.rows(), result.first_row.size(), reader.skipped_rows()};
}

}  // namespace bulkmap::cli
