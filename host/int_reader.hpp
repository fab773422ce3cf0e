/**
 * @file int_reader.hpp
 * @brief Reads whitespace-separated decimal integers in the signed 64-bit range.
 *
 * A token is accepted when it is an optional '+' or '-' followed by decimal digits and its value
 * lies in [-9223372036854775808, 9223372036854775807]. Anything else ("1.5", "12abc", "0x10",
 * "99999999999999999999", "+-1") is an error naming the file, the line and the token.
 */
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "text_input.hpp"

namespace bulkmap::cli {

/// Outcome of `parse_int64`.
enum class int_parse { ok, not_an_integer, out_of_range };

/// Parses one token as a decimal `std::int64_t` (optional sign, then digits only).
int_parse parse_int64(std::string_view token, std::int64_t& value) noexcept;

/**
 * @brief Appends the next integers of `input` to `out` until `out` holds `max_size` values or the
 * input ends.
 * @return false once the input has ended (`out` may still have received values)
 * @throw input_error naming file, line and token for a token that is not an int64
 */
bool read_ints(text_input& input, std::vector<std::int64_t>& out, std::size_t max_size);

}  // namespace bulkmap::cli
