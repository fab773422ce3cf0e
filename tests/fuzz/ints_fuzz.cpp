/**
 * @file ints_fuzz.cpp
 * @brief Fuzzer of the integer reader (`bulkmap::cli::read_ints`, host/int_reader.cpp, as
 * `bulkmap count --ints` reads its files), libFuzzer.
 *
 * The input is the file, as it is, written to a scratch file and read through `text_input` (gzip
 * when it starts with gzip's magic bytes), `max_chunk` integers a call as the CLI reads them in
 * chunks. The promise: the reads return, or throw `input_error` saying "file:line: 'token' ...".
 * For a plain input the target also splits the bytes itself into maximal runs of non-whitespace
 * (space, \t, \n, \v, \f, \r) and parses each run on its own: the reader must return the value of
 * every run, in order, when all are decimal int64s; otherwise the values of the runs before the
 * first bad one (read_ints appends them before it throws), then an error naming that run's line.
 *
 *   build/fuzz/bin/fuzz_ints tests/fuzz/corpus/ints     a run on the kept corpus
 */
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli_error.hpp"
#include "fuzz_input.hpp"
#include "int_reader.hpp"
#include "text_input.hpp"

namespace {

constexpr char const* target = "ints_fuzz";
constexpr std::size_t max_chunk = 3;

bool space(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

struct token {
  std::string_view text;
  std::size_t line;
};

/// The maximal non-whitespace runs of the bytes, with the line each starts on.
std::vector<token> split(std::string_view bytes) {
  std::vector<token> tokens;
  std::size_t line = 1;
  for (std::size_t i = 0; i < bytes.size();) {
    if (space(static_cast<unsigned char>(bytes[i]))) {
      line += bytes[i++] == '\n';
      continue;
    }
    std::size_t const start = i;
    while (i < bytes.size() && !space(static_cast<unsigned char>(bytes[i]))) ++i;
    tokens.push_back({bytes.substr(start, i - start), line});
  }
  return tokens;
}

/// The token's value: an optional sign, then one or more digits, in the int64 range.
std::optional<std::int64_t> value_of(std::string_view text) {
  bool const negative = !text.empty() && text.front() == '-';
  if (!text.empty() && (text.front() == '-' || text.front() == '+')) text.remove_prefix(1);
  if (text.empty()) return std::nullopt;
  __int128 value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
    if (value > (__int128{1} << 63)) return std::nullopt;
  }
  if (negative) value = -value;
  if (value > INT64_MAX) return std::nullopt;
  return static_cast<std::int64_t>(value);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
  static bulkmap_fuzz::scratch_file file(target);
  file.write(data, size);
  std::vector<std::int64_t> values;
  std::optional<std::size_t> error_line;
  try {
    bulkmap::cli::text_input input(file.path());
    for (bool more = true; more;) {
      std::size_t const before = values.size();
      more = bulkmap::cli::read_ints(input, values, before + max_chunk);
      if (values.size() > before + max_chunk || (more && values.size() != before + max_chunk)) {
        bulkmap_fuzz::broken(target, "read_ints filled a chunk wrong");
      }
    }
  } catch (bulkmap::cli::input_error const& e) {
    error_line = bulkmap_fuzz::error_line(target, e.what(), file.path());
  }
  if (bulkmap_fuzz::gzip_magic(data, size)) return 0;

  auto const tokens = split({reinterpret_cast<char const*>(data), size});
  std::size_t good = 0;
  while (good < tokens.size() && value_of(tokens[good].text)) ++good;
  // An error comes at the first bad token, after the values of those before it.
  if (values.size() != good || (error_line.has_value() != (good < tokens.size()))) {
    bulkmap_fuzz::broken(target, "the values read differ from the tokens' (" +
                                     std::to_string(values.size()) + " values, " +
                                     std::to_string(good) + " good tokens of " +
                                     std::to_string(tokens.size()) + ")");
  }
  for (std::size_t i = 0; i < good; ++i) {
    if (values[i] != *value_of(tokens[i].text)) {
      bulkmap_fuzz::broken(target, "value " + std::to_string(i) + " differs from its token");
    }
  }
  if (error_line && *error_line != tokens[good].line) {
    bulkmap_fuzz::broken(target, "the error names line " + std::to_string(*error_line) +
                                     ", the bad token is on line " +
                                     std::to_string(tokens[good].line));
  }
  return 0;
}
