/**
 * @file fastx_reader.hpp
 * @brief A FASTA/FASTQ parser that reports malformed records with their exact line.
 *
 * kseq.h's own `kseq_read` cannot say on which line a record went wrong, so this is a small
 * state machine over `text_input`'s lines instead.
 *
 * Accepted input, record by record (FASTA and FASTQ records may follow each other):
 * - FASTA: a header line starting with '>', then any number of sequence lines (multi-line
 *   sequences, empty lines and empty sequences allowed), up to the next '>' line or the end.
 * - FASTQ: a header line starting with '@'; sequence lines up to a line starting with '+'; then
 *   quality lines until they hold as many characters as the sequence. When the sequence took one
 *   line (the usual 4-line record), the quality must take exactly one line of the same length.
 * - Empty lines between records are skipped.
 * - Sequence lines hold letters (any case; non-ACGT letters such as N or IUPAC codes are kept, the
 *   k-mer counter skips them) and '-', '.', '*'. Quality lines hold printable ASCII ('!' to '~').
 *   A trailing "\r" (Windows line ends) is dropped.
 */
#pragma once

#include <cstdint>
#include <string_view>

#include "text_input.hpp"

namespace bulkmap::cli {

/// Receives the sequences the parser reads, piece by piece.
class sequence_sink {
 public:
  virtual ~sequence_sink() = default;
  /// Appends `piece` (one sequence line, as read) to the current record's sequence.
  virtual void bases(std::string_view piece) = 0;
  /// Ends the current record; the next `bases` call starts a new one.
  virtual void end_record() = 0;
};

/**
 * @brief Reads every record of `input` into `sink`.
 * Pieces of a record reach the sink before the record is known to be well formed: on an error
 * the caller must drop what the sink gathered.
 * @return number of records read
 * @throw input_error naming the file and line of the first malformed record, or a read error
 */
std::uint64_t read_fastx(text_input& input, sequence_sink& sink);

}  // namespace bulkmap::cli
