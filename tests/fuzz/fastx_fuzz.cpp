/**
 * @file fastx_fuzz.cpp
 * @brief Fuzzer of the FASTA/FASTQ reader (`bulkmap::cli::read_fastx`, host/fastx_reader.cpp, as
 * `bulkmap count --kmer` reads its files), libFuzzer.
 *
 * The input is the file, as it is: written to a scratch file and read through `text_input`, so
 * an input that starts with gzip's magic bytes is read as gzip (the corpus holds one; gzip_fuzz
 * fuzzes that framing itself). The promise: `read_fastx` returns, or throws `input_error` saying
 * "file:line: what" with a line of the input. On return, what reached the sink must hold: the
 * record count it returned equals the records the sink saw ended, and every piece of bases is a
 * non-empty run of sequence bytes (letters, '-', '.', '*'), so no line end or quality byte leaks.
 *
 *   build/fuzz/bin/fuzz_fastx tests/fuzz/corpus/fastx     a run on the kept corpus
 */
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "cli_error.hpp"
#include "fastx_reader.hpp"
#include "fuzz_input.hpp"
#include "text_input.hpp"

namespace {

constexpr char const* target = "fastx_fuzz";

bool sequence_byte(unsigned char c) {
  unsigned char const folded = c | 0x20;
  return (folded >= 'a' && folded <= 'z') || c == '-' || c == '.' || c == '*';
}

/// Checks each piece as it comes, and counts the records ended.
class checking_sink : public bulkmap::cli::sequence_sink {
 public:
  void bases(std::string_view piece) override {
    if (piece.empty()) bulkmap_fuzz::broken(target, "an empty piece of bases");
    for (char c : piece) {
      if (!sequence_byte(static_cast<unsigned char>(c))) {
        bulkmap_fuzz::broken(
            target, "a piece of bases holds byte " + std::to_string(static_cast<unsigned char>(c)));
      }
    }
  }
  void end_record() override { ++records; }

  std::uint64_t records = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
  static bulkmap_fuzz::scratch_file file(target);
  file.write(data, size);
  checking_sink sink;
  try {
    bulkmap::cli::text_input input(file.path());
    std::uint64_t const records = bulkmap::cli::read_fastx(input, sink);
    if (records != sink.records) {
      bulkmap_fuzz::broken(target, "read_fastx returned " + std::to_string(records) +
                                       " records, the sink saw " + std::to_string(sink.records));
    }
  } catch (bulkmap::cli::input_error const& e) {
    std::size_t const line = bulkmap_fuzz::error_line(target, e.what(), file.path());
    if (!bulkmap_fuzz::gzip_magic(data, size)) {
      std::size_t lines = 1;
      for (std::size_t i = 0; i < size; ++i) lines += data[i] == '\n';
      if (line > lines) bulkmap_fuzz::broken(target, "the error names a line past the input's end");
    }
  }
  return 0;
}
