/**
 * @file fastx_reader.cpp
 * @brief The FASTA/FASTQ state machine.
 */
#include "fastx_reader.hpp"

#include <array>
#include <cstddef>
#include <string>

#include "cli_error.hpp"

namespace bulkmap::cli {
namespace {

/// Bytes allowed in sequence lines: letters, '-', '.', '*'.
constexpr std::array<bool, 256> sequence_bytes = [] {
  std::array<bool, 256> allowed{};
  for (int c = 'A'; c <= 'Z'; ++c) allowed[c] = allowed[c + ('a' - 'A')] = true;
  allowed['-'] = allowed['.'] = allowed['*'] = true;
  return allowed;
}();

/// Index of the first byte of `line` not allowed in a sequence (in quality, when `quality`), or
/// `npos` when all are allowed.
std::size_t first_invalid(std::string_view line, bool quality) {
  for (std::size_t i = 0; i < line.size(); ++i) {
    auto const c = static_cast<unsigned char>(line[i]);
    bool const ok = quality ? (c >= '!' && c <= '~') : sequence_bytes[c];
    if (!ok) return i;
  }
  return std::string_view::npos;
}

enum class state { between_records, fasta_sequence, fastq_sequence, fastq_quality };

class fastx_parser {
 public:
  fastx_parser(text_input& input, sequence_sink& sink) : input_(input), sink_(sink) {}

  std::uint64_t run() {
    std::string_view line;
    while (input_.next_line(line)) {
      switch (state_) {
        case state::between_records:
          if (!line.empty()) start_record(line);
          break;
        case state::fasta_sequence:
          if (!line.empty() && line.front() == '>') {
            sink_.end_record();
            start_record(line);
          } else {
            sequence_line(line);
          }
          break;
        case state::fastq_sequence:
          if (!line.empty() && line.front() == '+') {
            state_ = state::fastq_quality;
            quality_length_ = 0;
          } else if (!line.empty() && (line.front() == '@' || line.front() == '>')) {
            fail(input_.line(),
                 "expected the '+' line of FASTQ record " + record() + ", found the next header");
          } else {
            sequence_line(line);
          }
          break;
        case state::fastq_quality:
          quality_line(line);
          break;
      }
    }
    switch (state_) {
      case state::between_records:
        break;
      case state::fasta_sequence:
        sink_.end_record();
        break;
      case state::fastq_sequence:
        fail(header_line_,
             "truncated FASTQ record " + record() + ": the input ends before its '+' line");
        break;
      case state::fastq_quality:
        fail(header_line_, "truncated FASTQ record " + record() + ": the input ends after " +
                               std::to_string(quality_length_) + " of its " +
                               std::to_string(sequence_length_) + " quality characters");
        break;
    }
    return records_;
  }

 private:
  [[noreturn]] void fail(std::size_t line, std::string const& what) const {
    throw input_error(input_.name() + ":" + std::to_string(line) + ": " + what);
  }

  /// "'name' (line N)", for messages.
  [[nodiscard]] std::string record() const {
    return "'" + printable(name_) + "' (line " + std::to_string(header_line_) + ")";
  }

  void start_record(std::string_view line) {
    char const kind = line.front();
    if (kind != '>' && kind != '@') {
      fail(input_.line(),
           "expected a record header starting with '>' (FASTA) or '@' (FASTQ), found '" +
               printable(std::string(line)) + "'");
    }
    std::string_view name = line.substr(1);
    std::size_t const end = name.find_first_of(" \t");
    if (end != std::string_view::npos) name = name.substr(0, end);
    name_.assign(name);
    header_line_ = input_.line();
    sequence_length_ = 0;
    sequence_lines_ = 0;
    ++records_;
    state_ = kind == '>' ? state::fasta_sequence : state::fastq_sequence;
  }

  void sequence_line(std::string_view line) {
    std::size_t const bad = first_invalid(line, false);
    if (bad != std::string_view::npos) {
      fail(input_.line(), "invalid character '" + printable(std::string(1, line[bad])) +
                              "' in the sequence of record " + record());
    }
    sequence_length_ += line.size();
    ++sequence_lines_;
    if (!line.empty()) sink_.bases(line);
  }

  void quality_line(std::string_view line) {
    std::size_t const bad = first_invalid(line, true);
    if (bad != std::string_view::npos) {
      fail(input_.line(), "invalid character '" + printable(std::string(1, line[bad])) +
                              "' in the quality of FASTQ record " + record());
    }
    quality_length_ += line.size();
    bool const one_line = sequence_lines_ <= 1;
    if (quality_length_ > sequence_length_ || (one_line && quality_length_ != sequence_length_)) {
      fail(input_.line(), "quality length " + std::to_string(quality_length_) +
                              " differs from sequence length " + std::to_string(sequence_length_) +
                              " in FASTQ record " + record());
    }
    if (quality_length_ == sequence_length_) {
      sink_.end_record();
      state_ = state::between_records;
    }
  }

  text_input& input_;
  sequence_sink& sink_;
  state state_ = state::between_records;
  std::string name_;
  std::size_t header_line_ = 0;
  std::uint64_t sequence_length_ = 0;
  std::uint64_t sequence_lines_ = 0;
  std::uint64_t quality_length_ = 0;
  std::uint64_t records_ = 0;
};

}  // namespace

std::uint64_t read_fastx(text_input& input, sequence_sink& sink) {
  return fastx_parser(input, sink).run();
}

}  // namespace bulkmap::cli
