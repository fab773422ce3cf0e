/**
 * @file int_reader.cpp
 * @brief Integer tokens through std::from_chars.
 */
#include "int_reader.hpp"

#include <charconv>
#include <string>
#include <system_error>

#include "cli_error.hpp"

namespace bulkmap::cli {

int_parse parse_int64(std::string_view token, std::int64_t& value) noexcept {
  // std::from_chars takes a leading '-' but not '+'; a '+' must be followed by a digit.
  if (!token.empty() && token.front() == '+') {
    token.remove_prefix(1);
    if (token.empty() || token.front() < '0' || token.front() > '9') {
      return int_parse::not_an_integer;
    }
  }
  char const* const last = token.data() + token.size();
  auto const [end, ec] = std::from_chars(token.data(), last, value);
  if (ec == std::errc::result_out_of_range) {
    // from_chars consumed every digit: "99999999999999999999x" is not an integer at all.
    return end == last ? int_parse::out_of_range : int_parse::not_an_integer;
  }
  if (ec != std::errc{} || end != last) return int_parse::not_an_integer;
  return int_parse::ok;
}

bool read_ints(text_input& input, std::vector<std::int64_t>& out, std::size_t max_size) {
  std::string_view token;
  while (out.size() < max_size) {
    if (!input.next_token(token)) return false;
    std::int64_t value = 0;
    switch (parse_int64(token, value)) {
      case int_parse::ok:
        out.push_back(value);
        break;
      case int_parse::not_an_integer:
        throw input_error(input.name() + ":" + std::to_string(input.line()) + ": '" +
                          printable(std::string(token)) + "' is not a decimal integer");
      case int_parse::out_of_range:
        throw input_error(input.name() + ":" + std::to_string(input.line()) + ": '" +
                          printable(std::string(token)) +
                          "' is outside the signed 64-bit range [-9223372036854775808, "
                          "9223372036854775807]");
    }
  }
  return true;
}

}  // namespace bulkmap::cli
