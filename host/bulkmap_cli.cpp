/**
 * @file bulkmap_cli.cpp
 * @brief The `bulkmap` command-line tool: `bulkmap count` counts k-mers of FASTA/FASTQ input or
 * integers of text input in a `bulkmap::device_map`, or words of text input in a
 * `bulkmap::string_map`, streaming the input in chunks; `bulkmap group` groups the records of a
 * CSV file by key columns, with aggregates and lists per group (SQL's GROUP BY).
 *
 * This file parses the command line and picks the engine (`--backend`); it is plain C++, compiled
 * by the host compiler. The counting and grouping run in engines (count_engine.inl,
 * group_engine.inl): every binary holds the omp engines (all CPU cores), and a cuda build also
 * holds the cuda engines (k-mers are extracted and counted on the GPU). `--backend auto` takes cuda
 * when the binary holds it and a GPU is present, else omp.
 *
 * Exit codes: 0 success (and `--help`); 1 bad input, or a failed read, write or device call;
 * 2 bad usage. Every error is one line on stderr; stdout receives nothing unless every input was
 * read successfully, and `-o FILE` is written to a temporary file renamed into place at the end.
 */
#include <CLI/CLI.hpp>
#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <new>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "cli_error.hpp"
#include "count.hpp"
#include "group.hpp"
#include "kmer.hpp"
#include "text_input.hpp"

namespace bulkmap::cli {
namespace {

// -------------------------------------------------------------------------------------------------
// Command line
// -------------------------------------------------------------------------------------------------

/// CLI11 check: a plain decimal number of at least `min` (CLI11 alone lets "-3" wrap around in an
/// unsigned option).
CLI::Validator whole_number(std::uint64_t min) {
  return CLI::Validator(
      [min](std::string& text) -> std::string {
        std::uint64_t value = 0;
        auto const [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || value < min) {
          return "must be a whole number of at least " + std::to_string(min) + ", got '" + text +
                 "'";
        }
        return {};
      },
      "N>=" + std::to_string(min));
}

/// Checks what CLI11 cannot express.
void check_options(count_options const& options) {
  if (int{options.kmer.has_value()} + int{options.ints} + int{options.words} != 1) {
    throw usage_error(
        "count: give exactly one of --kmer K, --ints or --words (see bulkmap count --help)");
  }
  if (options.kmer && (*options.kmer < 1 || *options.kmer > max_kmer_length)) {
    throw usage_error("count: --kmer must be between 1 and " + std::to_string(max_kmer_length) +
                      ", got " + std::to_string(*options.kmer));
  }
}

/// The backends this binary holds, as `--help` lists them.
#if defined(BULKMAP_CLI_HAVE_CUDA)
constexpr char const* built_backends = "cuda and omp";
#else
constexpr char const* built_backends = "omp";
#endif

/**
 * @brief The engine `--backend` asks for.
 * @throw usage_error for cuda in a binary built without it
 * @throw input_error for cuda where no GPU can run it
 */
count_engine const& pick_engine(std::string const& backend, std::string const& command) {
  if (backend == "omp") return omp_engine;
#if defined(BULKMAP_CLI_HAVE_CUDA)
  std::string const why = cuda_engine.unavailable();
  if (backend == "auto") return why.empty() ? cuda_engine : omp_engine;
  if (!why.empty()) throw input_error(command + ": --backend cuda: " + why);
  return cuda_engine;
#else
  if (backend == "auto") return omp_engine;
  throw usage_error(command +
                    ": this bulkmap was built without the cuda backend; to use it, rebuild with "
                    "cmake -S . -B build -DBULKMAP_BACKEND=cuda");
#endif
}

/// The grouping engine of the backend `engine` runs on.
group_engine const& group_engine_of(count_engine const& engine) {
#if defined(BULKMAP_CLI_HAVE_CUDA)
  if (&engine == &cuda_engine) return cuda_group_engine;
#endif
  (void)engine;
  return omp_group_engine;
}

/**
 * @brief The inputs: `files` as given, except that with `recursive` a directory stands for the
 * regular files below it, in path order (symbolic links to files are followed, to directories
 * not).
 * @throw input_error for a directory that cannot be listed
 */
std::vector<std::string> expand_inputs(std::vector<std::string> const& files, bool recursive) {
  namespace fs = std::filesystem;
  std::vector<std::string> out;
  for (auto const& path : files) {
    std::error_code error;
    if (!recursive || path == "-" || !fs::is_directory(path, error)) {
      out.push_back(path);
      continue;
    }
    std::vector<std::string> found;
    fs::recursive_directory_iterator it(path, error), end;
    for (; !error && it != end; it.increment(error)) {
      if (it->is_regular_file(error)) found.push_back(it->path().string());
    }
    if (error) {
      throw input_error(path + ": cannot read directory: " + error.message());
    }
    std::sort(found.begin(), found.end());
    out.insert(out.end(), found.begin(), found.end());
  }
  return out;
}

int run_count(count_options options) {
  check_options(options);
  count_engine const& engine = pick_engine(options.backend, "count");
  options.files = expand_inputs(options.files, options.recursive);
  for (auto const& path : options.files) text_input::check_readable(path);
  output_sink out(options.output);
  progress meter;
  count_totals const totals = engine.count(options, out, meter);
  double const seconds = meter.seconds();
  std::fprintf(stderr,
               "bulkmap count: %llu input keys, %llu distinct keys, %.3f s, %.4g keys/s, backend "
               "%s\n",
               static_cast<unsigned long long>(totals.input_keys),
               static_cast<unsigned long long>(totals.distinct_keys), seconds,
               seconds > 0 ? static_cast<double>(totals.input_keys) / seconds : 0.0,
               engine.describe().c_str());
  return 0;
}

int run_group_command(group_options const& options) {
  count_engine const& engine = pick_engine(options.backend, "group");
  auto const start = std::chrono::steady_clock::now();
  group_totals const totals = run_group(options, group_engine_of(engine));
  double const seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::string skipped;
  if (options.skip_bad_rows) {
    skipped = ", " + std::to_string(totals.skipped_rows) + " bad rows skipped";
  }
  std::fprintf(stderr, "bulkmap group: %llu rows, %llu groups%s, %.3f s, backend %s\n",
               static_cast<unsigned long long>(totals.rows),
               static_cast<unsigned long long>(totals.groups), skipped.c_str(), seconds,
               engine.describe().c_str());
  return 0;
}

/// `text` on one line (newlines become spaces).
std::string one_line(std::string text) {
  std::replace(text.begin(), text.end(), '\n', ' ');
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

int run(int argc, char** argv) {
  CLI::App app{std::string("bulkmap: count and group keys in bulk in a hash map (backends: ") +
                   built_backends + ")",
               "bulkmap"};
  app.require_subcommand(1);
  app.set_version_flag("--version",
                       std::string("bulkmap 0.1.0 (backends: ") + built_backends + ")");

  count_options options;
  CLI::App* count = app.add_subcommand(
      "count",
      "Count k-mers of FASTA/FASTQ input (--kmer K), integers (--ints) or words (--words) of "
      "text input, and write KEY<TAB>COUNT lines sorted by key (or by count with --top). Inputs "
      "may be gzip; '-' reads stdin.");
  auto* kmer = count->add_option_function<int>(
      "--kmer", [&options](int const& k) { options.kmer = k; },
      "Count k-mers of length K (1 to " + std::to_string(max_kmer_length) +
          ") of FASTA/FASTQ input; k-mers with a base other than A/C/G/T (any case) are skipped");
  kmer->type_name("K");
  auto* ints = count->add_flag(
      "--ints", options.ints,
      "Count whitespace-separated decimal integers (signed 64-bit; an optional leading '+' or "
      "'-')");
  ints->excludes(kmer);
  auto* words = count->add_flag(
      "--words", options.words,
      "Count words: maximal runs of bytes other than ASCII whitespace (space, \\t, \\n, \\v, "
      "\\f, \\r), compared byte by byte (NUL and invalid UTF-8 are word bytes)");
  words->excludes(kmer)->excludes(ints);
  count
      ->add_flag("--alnum", options.alnum,
                 "With --words: words are runs of ASCII letters, digits and bytes >= 0x80 (so "
                 "UTF-8 words stay whole and punctuation separates words)")
      ->needs(words);
  count->add_flag("--lower", options.lower, "With --words: ASCII letters to lower case")
      ->needs(words);
  count->add_flag("-r,--recursive", options.recursive,
                  "A directory among the inputs stands for every regular file below it");
  count
      ->add_flag("--no-canonical", options.no_canonical,
                 "Count a k-mer and its reverse complement apart (default: as one, under the "
                 "lexicographically smaller, as jellyfish count -C)")
      ->needs(kmer);
  count->add_option("--min-count", options.min_count, "Write only keys counted at least N times")
      ->type_name("N")
      ->check(whole_number(0));
  count
      ->add_option_function<std::uint64_t>(
          "--top", [&options](std::uint64_t const& n) { options.top = n; },
          "Write only the N most frequent keys, by count descending then key ascending")
      ->type_name("N")
      ->check(whole_number(1));
  count->add_option("-o,--output", options.output, "Write to FILE instead of stdout")
      ->type_name("FILE");
  count
      ->add_option("--backend", options.backend,
                   std::string("auto, cuda or omp (default auto: cuda when this binary holds it "
                               "and a GPU is present, else omp); this binary holds ") +
                       built_backends)
      ->check(CLI::IsMember({"auto", "cuda", "omp"}));
  count
      ->add_option_function<int>(
          "--threads", [&options](int const& n) { options.threads = n; },
          "Threads on the omp backend (default: all cores); ignored on cuda")
      ->type_name("N")
      ->check(whole_number(1));
  // For tests of chunk boundaries: bases (--kmer), integers (--ints) or bytes of text (--words)
  // counted per bulk call.
  count->add_option("--chunk-size", options.chunk_size, "")->group("")->check(whole_number(1));
  count->add_option("files", options.files, "Input files; '-' for stdin")
      ->required()
      ->type_name("FILE...");

  group_options grouping;
  CLI::App* group = app.add_subcommand(
      "group",
      "Group the records of a CSV file (RFC 4180, header row; gzip; '-' reads stdin) by the --by "
      "columns and write one CSV record per group, sorted by key: the key, then the --agg "
      "aggregates, then the --list column. An empty field is NULL: NULL keys make one group, "
      "sorted first, and aggregates skip NULL values, as SQL does. Columns are int64, float64 or "
      "string, inferred from their values (int64 if every value is an integer, else float64 if "
      "every value is a number, else string) or given by --types. The whole input is held in "
      "memory (its used columns).");
  group->add_option("--by", grouping.by, "Key columns, major first")
      ->required()
      ->delimiter(',')
      ->type_name("COL[,COL...]");
  group
      ->add_option("--agg", grouping.aggs,
                   "Aggregates: count (rows), or KIND:COL with KIND one of count (non-NULL "
                   "values), sum, mean, min, max, variance (sample), first, last (non-NULL "
                   "values in input order); written as columns named count, KIND_COL")
      ->delimiter(',')
      ->type_name("AGG[,AGG...]");
  group
      ->add_option_function<std::string>(
          "--list", [&grouping](std::string const& c) { grouping.list = c; },
          "Also write each group's values of COL, in input order, joined by ';' in one quoted "
          "field (column list_COL; NULL as an empty element)")
      ->type_name("COL");
  group
      ->add_option("--types", grouping.types,
                   "Column types instead of inference: TYPE one of int64, float64, string; a "
                   "value that does not parse as its type is an error")
      ->delimiter(',')
      ->type_name("COL:TYPE[,...]");
  group
      ->add_option("--delimiter", grouping.delimiter,
                   "Field delimiter of the input: one byte, or \\t for a tab (default ,); the "
                   "output always uses ,")
      ->type_name("C");
  group->add_flag("--no-header", grouping.no_header,
                  "The first record is data; the columns are named column1, column2, ...");
  group->add_flag("--skip-bad-rows", grouping.skip_bad_rows,
                  "Skip records whose field count differs from the header's (counted on stderr) "
                  "instead of failing");
  group->add_option("-o,--output", grouping.output, "Write to FILE instead of stdout")
      ->type_name("FILE");
  group
      ->add_option(
          "--backend", grouping.backend,
          std::string("auto, cuda or omp (default auto); this binary holds ") + built_backends)
      ->check(CLI::IsMember({"auto", "cuda", "omp"}));
  group
      ->add_option_function<int>(
          "--threads", [&grouping](int const& n) { grouping.threads = n; },
          "Threads on the omp backend (default: all cores); ignored on cuda")
      ->type_name("N")
      ->check(whole_number(1));
  // For tests of chunk boundaries: what a chunk of CSV records may hold, in bytes.
  group->add_option("--chunk-bytes", grouping.chunk_bytes, "")->group("")->check(whole_number(1));
  group->add_option("file", grouping.file, "Input CSV file; '-' for stdin")
      ->required()
      ->type_name("FILE");

  if (argc > 1 && argv[1][0] != '-' && std::string_view(argv[1]) != "count" &&
      std::string_view(argv[1]) != "group") {
    throw usage_error("unknown command '" + printable(argv[1]) +
                      "'; the commands are count and group (see bulkmap --help)");
  }
  try {
    app.parse(argc, argv);
  } catch (CLI::ParseError const& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    std::fprintf(stderr, "bulkmap: %s (see bulkmap --help)\n", one_line(e.what()).c_str());
    return exit_usage_error;
  }
  if (group->parsed()) return run_group_command(grouping);
  return run_count(options);
}

}  // namespace
}  // namespace bulkmap::cli

int main(int argc, char** argv) {
  using namespace bulkmap::cli;
  char const* kind = nullptr;
  std::string what;
  int code = 0;
  try {
    return run(argc, argv);
  } catch (usage_error const& e) {
    what = e.what();
    code = exit_usage_error;
  } catch (input_error const& e) {
    what = e.what();
    code = exit_input_error;
  } catch (std::bad_alloc const&) {
    kind = "out of host memory";
    code = exit_input_error;
  } catch (std::exception const& e) {  // bulkmap::error (device failures, out_of_memory) and others
    what = e.what();
    code = exit_input_error;
  }
  // Library exceptions already start with "bulkmap: ".
  if (what.rfind("bulkmap: ", 0) == 0) what.erase(0, 9);
  std::fflush(stdout);
  std::fprintf(stderr, "bulkmap: %s%s\n", kind != nullptr ? kind : "", one_line(what).c_str());
  return code;
}
