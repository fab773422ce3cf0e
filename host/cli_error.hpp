/**
 * @file cli_error.hpp
 * @brief The two kinds of error the `bulkmap` CLI reports, and the exit code of each.
 *
 * Every error is reported as one line on stderr, and nothing is written to stdout. Bad input
 * (an unreadable file, a malformed record, a token that is not an integer) exits with 1; bad
 * usage (an option out of range, a backend this binary was not built with) exits with 2.
 */
#pragma once

#include <stdexcept>
#include <string>

namespace bulkmap::cli {

/// Exit code for bad input or a failed read or write.
inline constexpr int exit_input_error = 1;
/// Exit code for bad usage (options, arguments).
inline constexpr int exit_usage_error = 2;

/// Bad input: the message names the file and, where there is one, the line (`file:line: what`).
class input_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Bad usage: an option value out of range or a combination the command does not take.
class usage_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/**
 * @brief `text` made safe to quote on one line: non-printable bytes become `\xHH`, and text
 * longer than `max_length` bytes is cut, with "..." appended.
 */
std::string printable(std::string const& text, std::size_t max_length = 40);

}  // namespace bulkmap::cli
