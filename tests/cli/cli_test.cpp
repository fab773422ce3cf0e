/**
 * @file cli_test.cpp
 * @brief End-to-end tests of `bulkmap count` and `bulkmap group`: the binary is run on generated
 * files and its output is compared with an independent count made here (plain std::string k-mers,
 * reverse complement by string, words split byte by byte, std::map; for group, a std::map of the
 * generated rows and a CSV parser of the test's own), never with output of bulkmap itself. Also
 * every error path (exit code, empty stdout, one stderr line naming file and line), a comparison
 * with jellyfish on real reads, the word counts of 128 MiB of the Linux source tarball, and
 * group against sqlite3's GROUP BY (when sqlite3 is installed).
 *
 * BULKMAP_CLI (compile definition) is the path of the binary; the environment variable of the same
 * name overrides it, so a build can be tested after it is moved (as on a GPU machine).
 * BULKMAP_TEST_SEED=n in the environment changes the random inputs (a failure prints the seed it
 * ran with).
 */
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "scratch_test.hpp"

namespace {

namespace fs = std::filesystem;
using bulkmap_test::write_file;
using bulkmap_test::write_gzip;

// -------------------------------------------------------------------------------------------------
// Running the CLI
// -------------------------------------------------------------------------------------------------

/// What one run of the CLI gave.
struct run_result {
  int code = -1;
  std::string out;
  std::string err;
};

std::string quote(std::string const& text) {
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

std::string read_file(fs::path const& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

/// Reads a gzip (or plain) file with zlib.
std::string read_gzip(fs::path const& path) {
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) return {};
  std::string text;
  char buffer[1 << 16];
  int n = 0;
  while ((n = gzread(file, buffer, sizeof buffer)) > 0)
    text.append(buffer, static_cast<std::size_t>(n));
  gzclose(file);
  return text;
}

/// Runs the CLI with its output kept in the test's temporary directory.
class Cli : public bulkmap_test::scratch_test {
 protected:
  /// Runs `shell_prefix bulkmap args` through /bin/sh with stdout and stderr captured.
  /// `shell_prefix` may be a pipeline start such as "cat f |".
  run_result run_shell(std::string const& shell_prefix, std::string const& args) {
    fs::path const out = path("stdout.txt");
    fs::path const err = path("stderr.txt");
    char const* const moved = std::getenv("BULKMAP_CLI");
    std::string const binary = moved != nullptr ? moved : BULKMAP_CLI;
    std::string const command = shell_prefix + " " + quote(binary) + " " + args + " >" +
                                quote(out.string()) + " 2>" + quote(err.string());
    int const status = std::system(command.c_str());
    run_result result;
    result.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    result.out = read_file(out);
    result.err = read_file(err);
    return result;
  }

  /// Runs `bulkmap args` with stdin from /dev/null.
  run_result run(std::string const& args) { return run_shell("</dev/null", args); }
};

/// Expects a successful run: exit 0 and a one-line summary on stderr.
#define EXPECT_SUCCESS(result)                                               \
  do {                                                                       \
    EXPECT_EQ((result).code, 0) << "stderr: " << (result).err;               \
    EXPECT_EQ(std::count((result).err.begin(), (result).err.end(), '\n'), 1) \
        << "stderr: " << (result).err;                                       \
  } while (0)

/// Compares outputs line by line and reports the first difference (gtest's own diff of two long
/// strings is slow and hard to read).
::testing::AssertionResult same_output(std::string const& actual, std::string const& expected) {
  if (actual == expected) return ::testing::AssertionSuccess();
  auto const lines = [](std::string const& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  };
  auto const a = lines(actual);
  auto const e = lines(expected);
  std::size_t i = 0;
  while (i < a.size() && i < e.size() && a[i] == e[i]) ++i;
  return ::testing::AssertionFailure()
         << "output has " << a.size() << " lines, expected " << e.size()
         << "; first difference at line " << i + 1 << ": got '" << (i < a.size() ? a[i] : "(end)")
         << "', expected '" << (i < e.size() ? e[i] : "(end)") << "'";
}

/// Expects a failed run: `exit_code`, nothing on stdout, one stderr line containing `where`.
void expect_failure(run_result const& result, int exit_code, std::string const& where) {
  EXPECT_EQ(result.code, exit_code) << "stderr: " << result.err;
  EXPECT_EQ(result.out, "") << "stdout must stay empty on errors";
  EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1)
      << "want one stderr line, got: " << result.err;
  EXPECT_NE(result.err.find(where), std::string::npos)
      << "stderr should contain '" << where << "': " << result.err;
}

// -------------------------------------------------------------------------------------------------
// The independent reference
// -------------------------------------------------------------------------------------------------

char complement(char c) {
  switch (c) {
    case 'A':
      return 'T';
    case 'C':
      return 'G';
    case 'G':
      return 'C';
    case 'T':
      return 'A';
    case 'a':
      return 't';
    case 'c':
      return 'g';
    case 'g':
      return 'c';
    case 't':
      return 'a';
    default:
      return c;
  }
}

std::string lower_case(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string reverse_complement(std::string const& s) {
  std::string rc(s.rbegin(), s.rend());
  for (char& c : rc) c = complement(c);
  return rc;
}

using kmer_counts = std::map<std::string, std::uint64_t>;

/// Counts the k-mers of each read with strings: upper case, skip any with a non-ACGT base,
/// canonical = the smaller of the k-mer and its reverse complement.
kmer_counts reference_kmers(std::vector<std::string> const& reads, int k, bool canonical,
                            std::uint64_t* total = nullptr) {
  kmer_counts counts;
  auto const length = static_cast<std::size_t>(k);
  for (auto const& read : reads) {
    for (std::size_t i = 0; i + length <= read.size(); ++i) {
      std::string kmer = read.substr(i, length);
      for (char& c : kmer) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      if (kmer.find_first_not_of("ACGT") != std::string::npos) continue;
      if (canonical) kmer = std::min(kmer, reverse_complement(kmer));
      ++counts[kmer];
      if (total != nullptr) ++*total;
    }
  }
  return counts;
}

/// `KEY<TAB>COUNT` lines in the map's order, counts >= min_count.
template <class Key>
std::string format_counts(std::map<Key, std::uint64_t> const& counts, std::uint64_t min_count = 1) {
  std::ostringstream out;
  for (auto const& [key, count] : counts) {
    if (count >= min_count) out << key << '\t' << count << '\n';
  }
  return out.str();
}

/// The `top` largest counts >= min_count, by count descending then key ascending.
template <class Key>
std::string format_top(std::map<Key, std::uint64_t> const& counts, std::size_t top,
                       std::uint64_t min_count = 1) {
  std::vector<std::pair<Key, std::uint64_t>> rows;
  for (auto const& row : counts) {
    if (row.second >= min_count) rows.push_back(row);
  }
  std::stable_sort(rows.begin(), rows.end(),
                   [](auto const& a, auto const& b) { return a.second > b.second; });
  rows.resize(std::min(rows.size(), top));
  std::ostringstream out;
  for (auto const& [key, count] : rows) out << key << '\t' << count << '\n';
  return out.str();
}

// -------------------------------------------------------------------------------------------------
// Random inputs
// -------------------------------------------------------------------------------------------------

/// Random reads: mostly ACGT, some lower case, N/n and other IUPAC letters; lengths in
/// [min_length, max_length]; some reads repeat an earlier one or its reverse complement.
std::vector<std::string> random_reads(std::mt19937_64& rng, std::size_t count,
                                      std::size_t min_length, std::size_t max_length) {
  static constexpr char alphabet[] = "ACGTACGTACGTACGTACGTACGTacgtNnR";
  std::uniform_int_distribution<std::size_t> length(min_length, max_length);
  std::uniform_int_distribution<std::size_t> letter(0, sizeof alphabet - 2);
  std::uniform_int_distribution<int> percent(0, 99);
  std::vector<std::string> reads;
  for (std::size_t i = 0; i < count; ++i) {
    int const roll = percent(rng);
    if (!reads.empty() && roll < 10) {
      reads.push_back(reads[rng() % reads.size()]);
    } else if (!reads.empty() && roll < 20) {
      reads.push_back(reverse_complement(reads[rng() % reads.size()]));
    } else {
      std::string read(length(rng), 'A');
      for (char& c : read) c = alphabet[letter(rng)];
      reads.push_back(std::move(read));
    }
  }
  return reads;
}

/// FASTA with sequences wrapped at `width`, optional empty lines between records and CRLF.
std::string to_fasta(std::vector<std::string> const& reads, std::size_t width,
                     bool blank_lines = false, bool crlf = false) {
  std::string const eol = crlf ? "\r\n" : "\n";
  std::string text;
  for (std::size_t i = 0; i < reads.size(); ++i) {
    text += ">read" + std::to_string(i) + " a description" + eol;
    for (std::size_t j = 0; j < reads[i].size(); j += width)
      text += reads[i].substr(j, width) + eol;
    if (blank_lines && i % 3 == 0) text += eol;
  }
  return text;
}

/// FASTQ; with `width` > 0 sequence and quality are wrapped at `width` (multi-line records).
/// Qualities use every printable character, so quality lines may start with '@' or '+'.
std::string to_fastq(std::vector<std::string> const& reads, std::mt19937_64& rng,
                     std::size_t width = 0, bool crlf = false) {
  std::string const eol = crlf ? "\r\n" : "\n";
  std::uniform_int_distribution<int> quality('!', '~');
  std::string text;
  for (std::size_t i = 0; i < reads.size(); ++i) {
    std::string const& seq = reads[i];
    std::string qual(seq.size(), '!');
    for (char& c : qual) c = static_cast<char>(quality(rng));
    if (!qual.empty() && i % 5 == 0) qual[0] = '@';
    text += "@read" + std::to_string(i) + eol;
    std::size_t const w = width == 0 ? std::max<std::size_t>(seq.size(), 1) : width;
    if (seq.empty()) {
      text += eol;
    } else {
      for (std::size_t j = 0; j < seq.size(); j += w) text += seq.substr(j, w) + eol;
    }
    text += (i % 2 == 0 ? "+" : "+read" + std::to_string(i)) + eol;
    if (qual.empty()) {
      text += eol;
    } else {
      for (std::size_t j = 0; j < qual.size(); j += w) text += qual.substr(j, w) + eol;
    }
  }
  return text;
}

std::vector<std::string> concat(std::vector<std::string> a, std::vector<std::string> const& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

/// The "N input keys, D distinct keys" numbers of the summary line.
std::pair<std::uint64_t, std::uint64_t> summary_numbers(std::string const& err) {
  unsigned long long input = 0;
  unsigned long long distinct = 0;
  auto const at = err.find("count: ");
  if (at == std::string::npos ||
      std::sscanf(err.c_str() + at, "count: %llu input keys, %llu distinct keys", &input,
                  &distinct) != 2) {
    ADD_FAILURE() << "no summary line in: " << err;
  }
  return {input, distinct};
}

// -------------------------------------------------------------------------------------------------
// k-mers
// -------------------------------------------------------------------------------------------------

TEST_F(Cli, KmerMultiLineFastaEveryK) {
  SCOPED_TRACE("seed " + std::to_string(seed_));
  auto const reads = random_reads(rng_, 300, 0, 160);
  write_file(path("reads.fa"), to_fasta(reads, 60, true));
  for (int k : {1, 2, 5, 15, 21, 31, 32, 33, 45, 63, 64}) {
    SCOPED_TRACE("k = " + std::to_string(k));
    std::uint64_t total = 0;
    auto const expected = reference_kmers(reads, k, true, &total);
    auto const result = run("count --kmer " + std::to_string(k) + " " + quote(path("reads.fa")));
    EXPECT_SUCCESS(result);
    EXPECT_TRUE(same_output(result.out, format_counts(expected)));
    auto const [input, distinct] = summary_numbers(result.err);
    EXPECT_EQ(input, total);
    EXPECT_EQ(distinct, expected.size());
  }
}

TEST_F(Cli, KmerFastaWrappedAtOneAndCrlf) {
  SCOPED_TRACE("seed " + std::to_string(seed_));
  auto const reads = random_reads(rng_, 60, 0, 90);
  write_file(path("narrow.fa"), to_fasta(reads, 1));
  write_file(path("crlf.fa"), to_fasta(reads, 50, true, true));
  for (char const* name : {"narrow.fa", "crlf.fa"}) {
    SCOPED_TRACE(name);
    auto const result = run("count --kmer 9 " + quote(path(name)));
    EXPECT_SUCCESS(result);
    EXPECT_TRUE(same_output(result.out, format_counts(reference_kmers(reads, 9, true))));
  }
}

// A line may end in "\r\n" once; a second "\r" is a byte of the sequence, not of the line's end
// (a reader once dropped both; found by tests/fuzz/gzip_fuzz.cpp).
TEST_F(Cli, KmerFastaSecondCarriageReturnIsData) {
  write_file(path("cr.fa"), ">a\nACGTACGT\r\r\nACGT\r\n");
  expect_failure(run("count --kmer 2 " + quote(path("cr.fa"))), 1, "cr.fa:2: invalid character");
  write_file(path("crlf.fa"), ">a\nACGTACGT\r\nACGT\r\n");
  auto const result = run("count --kmer 2 --no-canonical " + quote(path("crlf.fa")));
  EXPECT_SUCCESS(result);
  EXPECT_TRUE(same_output(result.out, format_counts(reference_kmers({"ACGTACGTACGT"}, 2, false))));
}

TEST_F(Cli, KmerFastqPlainGzipMultiLine) {
  SCOPED_TRACE("seed " + std::to_string(seed_));
  auto const reads = random_reads(rng_, 400, 0, 150);
  write_file(path("reads.fq"), to_fastq(reads, rng_));
  write_gzip(path("reads.fq.gz"), to_fastq(reads, rng_));
  write_file(path("wrapped.fq"), to_fastq(reads, rng_, 37));
  write_gzip(path("crlf.fq.gz"), to_fastq(reads, rng_, 0, true));
  for (int k : {1, 21, 31, 32}) {
    auto const expected = format_counts(reference_kmers(reads, k, true));
    for (char const* name : {"reads.fq", "reads.fq.gz", "wrapped.fq", "crlf.fq.gz"}) {
      SCOPED_TRACE(std::string(name) + ", k = " + std::to_string(k));
      auto const result = run("count --kmer " + std::to_string(k) + " " + quote(path(name)));
      EXPECT_SUCCESS(result);
      EXPECT_TRUE(same_output(result.out, expected));
    }
  }
}

TEST_F(Cli, KmerNoCanonical) {
  SCOPED_TRACE("seed " + std::to_string(seed_));
  auto const reads = random_reads(rng_, 300, 0, 120);
  write_file(path("reads.fa"), to_fasta(reads, 70));
  for (int k : {4, 17, 32, 33, 64}) {
    SCOPED_TRACE("k = " + std::to_string(k));
    auto const result =
        run("count --no-canonical --kmer " + std::to_string(k) + " " + quote(path("reads.fa")));
    EXPECT_SUCCESS(result);
    EXPECT_TRUE(same_output(result.out, format_counts(reference_kmers(reads, k, false))));
  }
}

TEST_F(Cli, KmerSeveralFilesAndStdin) {
  SCOPED_TRACE("seed " + std::to_string(seed_));
  auto const a = random_reads(rng_, 100, 0, 100);
  auto const b = random_reads(rng_, 100, 0, 100);
  auto const c = random_reads(rng_, 100, 0, 100);
  write_file(path("a.fa"), to_fasta(a, 60));
  write_gzip(path("b.fq.gz"), to_fastq(b, rng_));
  write_file(path("c.fq"), to_fastq(c, rng_));
  write_gzip(path("c.fq.gz"), to_fastq(c, rng_));
  auto const expected = format_counts(reference_kmers(concat(concat(a, b), c), 13, true));
  for (char const* piped : {"c.fq", "c.fq.gz"}) {
    SCOPED_TRACE(std::string("stdin from ") + piped);
    auto const result =
        run_shell("cat " + quote(path(piped)) + " |",
                  "count --kmer 13 " + quote(path("a.fa")) + " " + quote(path("b.fq.gz")) + " -");
    EXPECT_SUCCESS(result);
    EXPECT_TRUE(same_output(result.out, expected));
  }
  // Only stdin.
  auto const result = run_shell("cat " + quote(path("c.fq.gz")) + " |", "count --kmer 13 -");
  EXPECT_SUCCESS(result);
  EXPECT_TRUE(same_output(result.out, format_counts(reference_kmers(c, 13, true))));
}

TEST_F(Cli, KmerLongRecordsAcrossChunks) {
  // Records far longer than a chunk: the last k-1 bases of a chunk carry over to the next one.
  SCOPED_TRACE("seed " + std::to_string(seed_));
  auto reads = random_reads(rng_, 8, 1000, 4000);
  reads.push_back(std::string(3000, 'A'));  // one k-mer repeated across every chunk boundary
  write_file(path("long.fa"), to_fasta(reads, 61));
  write_file(path("long.fq"), to_fastq(reads, rng_, 0));
  for (int k : {1, 7, 32, 33, 64}) {
    auto const expected = format_counts(reference_kmers(reads, k, true));
    for (char const* chunk : {"1", "31", "33", "1000", "4096"}) {
      for (char const* name : {"long.fa", "long.fq"}) {
        SCOPED_TRACE(std::string(name) + ", k = " + std::to_string(k) + ", chunk " + chunk);
        auto const result = run("count --kmer " + std::to_string(k) + " --chunk-size " + chunk +
                                " " + quote(path(name)));
        EXPECT_SUCCESS(result);
        EXPECT_TRUE(same_output(result.out, expected));
      }
    }
  }
}

TEST_F(Cli, KmerReadsShorterThanKAndEmptyInput) {
  SCOPED_TRACE("seed " + std::to_string(seed_));
  auto const reads = random_reads(rng_, 50, 0, 20);
  write_file(path("short.fa"), to_fasta(reads, 60));
  write_file(path("empty.fa"), "");
  auto result = run("count --kmer 21 " + quote(path("short.fa")));
  EXPECT_SUCCESS(result);
  EXPECT_EQ(result.out, "");
  EXPECT_EQ(summary_numbers(result.err), std::make_pair(std::uint64_t{0}, std::uint64_t{0}));
  result = run("count --kmer 3 " + quote(path("empty.fa")));
  EXPECT_SUCCESS(result);
  EXPECT_EQ(result.out, "");
  // Lower case and N only where the reference says.
  write_file(path("mixed.fa"), ">x\nacgtNACGTnacgTTr\n");
  result = run("count --kmer 4 --no-canonical " + quote(path("mixed.fa")));
  EXPECT_SUCCESS(result);
  EXPECT_TRUE(same_output(result.out, "ACGT\t3\nCGTT\t1\n"));
}

TEST_F(Cli, KmerHandMadeAroundWideCodes) {
  // k from 31 to 64: 64-bit codes up to 32, 128-bit codes beyond. Hand-made reads: N's that break
  // k-mers, lower case, a reverse complement, palindromes (a k-mer equal to its reverse
  // complement), and runs of T and G whose codes are the largest (all ones with --no-canonical
  // at k = 32 and 64), next to reads of exactly k - 1, k and k + 1 bases.
  std::string const base =
      "GATCCTGACGTTAGCATGCCATTGACCGTAGGCTAACGTTGCAGTCCATGGATCAAGTCTGACTTGCAACGGTACCTAGTTCAGG"
      "CATTAGCCGATGCTTAGGACCTGATCGA";
  std::vector<std::string> reads = {
      base,
      reverse_complement(base),
      lower_case(base.substr(0, 77)) + base.substr(77),
      base.substr(0, 40) + "N" + base.substr(41, 50) + "n" + base.substr(92),
      "ACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTACGT",
      std::string(70, 'T') + "G" + std::string(66, 'G') + "t" + std::string(64, 'c'),
      "AcGgTtCaNNNNAcGgTtCaAcGgTtCaAcGgTtCaAcGgTtCaAcGgTtCaAcGgTtCaAcGgTtCaAcGgTtCaAcGgTtCaAcG",
  };
  for (int k : {31, 32, 33, 63, 64}) {
    for (int const length : {k - 1, k, k + 1}) {  // one read each of k-1, k and k+1 bases
      reads.push_back(base.substr(3, static_cast<std::size_t>(length)));
    }
  }
  write_file(path("hand.fa"), to_fasta(reads, 50));
  for (int k : {31, 32, 33, 63, 64}) {
    for (bool const canonical : {true, false}) {
      SCOPED_TRACE("k = " + std::to_string(k) + (canonical ? "" : ", --no-canonical"));
      std::uint64_t total = 0;
      auto const expected = reference_kmers(reads, k, canonical, &total);
      ASSERT_GT(expected.size(), 50u);
      auto const result = run("count --kmer " + std::to_string(k) +
                              (canonical ? "" : " --no-canonical") + " " + quote(path("hand.fa")));
      EXPECT_SUCCESS(result);
      EXPECT_TRUE(same_output(result.out, format_counts(expected)));
      EXPECT_EQ(summary_numbers(result.err),
                std::make_pair(total, static_cast<std::uint64_t>(expected.size())));
    }
  }
}

TEST_F(Cli, KmerMinCountAndTopWithTies) {
  SCOPED_TRACE("seed " + std::to_string(seed_));
  auto const reads = random_reads(rng_, 200, 0, 60);  // k = 3: 32 canonical k-mers, many ties
  write_file(path("reads.fa"), to_fasta(reads, 60));
  std::string const file = quote(path("reads.fa"));
  auto const counts = reference_kmers(reads, 3, true);
  auto result = run("count --kmer 3 --min-count 300 " + file);
  EXPECT_SUCCESS(result);
  EXPECT_TRUE(same_output(result.out, format_counts(counts, 300)));
  for (std::size_t top : {1, 5, 10, 31, 32, 1000}) {
    SCOPED_TRACE("top " + std::to_string(top));
    result = run("count --kmer 3 --top " + std::to_string(top) + " " + file);
    EXPECT_SUCCESS(result);
    EXPECT_TRUE(same_output(result.out, format_top(counts, top)));
    result = run("count --kmer 3 --min-count 300 --top " + std::to_string(top) + " " + file);
    EXPECT_SUCCESS(result);
    EXPECT_TRUE(same_output(result.out, format_top(counts, top, 300)));
  }
  // Exact ties: every k-mer of these reads occurs twice; --top orders them by k-mer.
  write_file(path("ties.fa"), ">a\nGATTACA\n>b\nCCCCC\n>c\nGATTACA\n>d\nCCCCC\n>e\nAAAAT\n");
  result = run("count --kmer 4 --no-canonical --top 4 " + quote(path("ties.fa")));
  EXPECT_SUCCESS(result);
  EXPECT_TRUE(same_output(result.out, "CCCC\t4\nATTA\t2\nGATT\t2\nTACA\t2\n"));
}

TEST_F(Cli, OutputFile) {
  SCOPED_TRACE("seed " + std::to_string(seed_));
  auto const reads = random_reads(rng_, 200, 0, 100);
  write_file(path("reads.fa"), to_fasta(reads, 60));
  write_file(path("out.tsv"), "old content\n");
  auto const result =
      run("count --kmer 11 -o " + quote(path("out.tsv")) + " " + quote(path("reads.fa")));
  EXPECT_SUCCESS(result);
  EXPECT_EQ(result.out, "");
  EXPECT_TRUE(
      same_output(read_file(path("out.tsv")), format_counts(reference_kmers(reads, 11, true))));
  // No temporary file left beside it.
  std::size_t files = 0;
  for (auto const& entry : fs::directory_iterator(dir_))
    files += entry.path().filename().string().rfind("out.tsv", 0) == 0;
  EXPECT_EQ(files, 1u);
}

/// The backend the summary line names ("backend omp (...)"), or "" if there is none.
std::string summary_backend(std::string const& err) {
  auto const at = err.find("backend ");
  if (at == std::string::npos) return "";
  auto const begin = at + 8;
  return err.substr(begin, err.find_first_of(" \n", begin) - begin);
}

TEST_F(Cli, BackendAndThreads) {
  write_file(path("r.fa"), ">r\nACGTTGCA\n");
  std::string const file = " " + quote(path("r.fa"));
  std::string const expected = format_counts(reference_kmers({"ACGTTGCA"}, 3, true));
  // Every binary holds the omp engine, and --threads sets its thread count.
  for (int threads : {1, 3}) {
    auto const result =
        run("count --kmer 3 --backend omp --threads " + std::to_string(threads) + file);
    EXPECT_SUCCESS(result);
    EXPECT_TRUE(same_output(result.out, expected));
    EXPECT_NE(result.err.find("backend omp (" + std::to_string(threads) + " thread"),
              std::string::npos)
        << result.err;
  }
  // auto (the default): cuda where the binary holds it and a GPU is present, else omp.
  auto const chosen = run("count --kmer 3" + file);
  EXPECT_SUCCESS(chosen);
  EXPECT_TRUE(same_output(chosen.out, expected));
  std::string const backend = summary_backend(chosen.err);
  if (std::string(BULKMAP_TEST_BACKEND) == "omp") {
    EXPECT_EQ(backend, "omp") << chosen.err;
  } else {
    EXPECT_TRUE(backend == "cuda" || backend == "omp") << chosen.err;
  }
  auto const explicit_auto = run("count --kmer 3 --backend auto" + file);
  EXPECT_SUCCESS(explicit_auto);
  EXPECT_EQ(summary_backend(explicit_auto.err), backend);
  // cuda: a usage error in a binary built without it; a device error (exit 1) where no GPU can
  // run it, which is exactly when auto fell back to omp.
  auto const cuda = run("count --kmer 3 --backend cuda" + file);
  if (std::string(BULKMAP_TEST_BACKEND) == "omp") {
    expect_failure(cuda, 2, "-DBULKMAP_BACKEND=cuda");
  } else if (backend == "cuda") {
    EXPECT_SUCCESS(cuda);
    EXPECT_TRUE(same_output(cuda.out, expected));
    EXPECT_EQ(summary_backend(cuda.err), "cuda") << cuda.err;
  } else {
    expect_failure(cuda, 1, "--backend cuda: no");
  }
}

// -------------------------------------------------------------------------------------------------
// Integers
// -------------------------------------------------------------------------------------------------

TEST_F(Cli, IntsRandomWhitespaceExtremesGzipStdin) {
  SCOPED_TRACE("seed " + std::to_string(seed_));
  constexpr auto lowest = std::numeric_limits<std::int64_t>::min();
  constexpr auto highest = std::numeric_limits<std::int64_t>::max();
  std::vector<std::int64_t> const special = {lowest, lowest + 1, -1, 0, 1, highest - 1, highest};
  std::uniform_int_distribution<std::int64_t> small(-300, 300);
  std::uniform_int_distribution<std::int64_t> any(lowest, highest);
  std::uniform_int_distribution<int> percent(0, 99);
  static char const* const separators[] = {" ", "\t", "\n", "\r\n", "  \n\n", " \t "};
  std::map<std::int64_t, std::uint64_t> counts;
  std::string text = "\n  ";
  for (int i = 0; i < 20000; ++i) {
    int const roll = percent(rng_);
    std::int64_t const value = roll < 3    ? special[rng_() % special.size()]
                               : roll < 20 ? any(rng_)
                                           : small(rng_);
    ++counts[value];
    if (value > 0 && roll % 7 == 0) {
      text += "+";
    } else if (value == 0 && roll % 2 == 0) {
      text += "-";
    }
    text += std::to_string(value);
    text += separators[rng_() % 6];
  }
  write_file(path("ints.txt"), text);
  write_gzip(path("ints.txt.gz"), text);
  std::string const expected = format_counts(counts);
  for (std::string const args : {"ints.txt", "ints.txt.gz"}) {
    SCOPED_TRACE(args);
    auto result = run("count --ints " + quote(path(args)));
    EXPECT_SUCCESS(result);
    EXPECT_TRUE(same_output(result.out, expected));
    EXPECT_EQ(summary_numbers(result.err), std::make_pair(std::uint64_t{20000}, counts.size()));
    result = run("count --ints --chunk-size 333 " + quote(path(args)));
    EXPECT_SUCCESS(result);
    EXPECT_TRUE(same_output(result.out, expected));
    result = run_shell("cat " + quote(path(args)) + " |", "count --ints -");
    EXPECT_SUCCESS(result);
    EXPECT_TRUE(same_output(result.out, expected));
  }
  // Two files: counts add up.
  std::map<std::int64_t, std::uint64_t> doubled = counts;
  for (auto& [key, count] : doubled) count *= 2;
  auto const result =
      run("count --ints " + quote(path("ints.txt")) + " " + quote(path("ints.txt.gz")));
  EXPECT_SUCCESS(result);
  EXPECT_TRUE(same_output(result.out, format_counts(doubled)));
}

TEST_F(Cli, IntsMinCountTopAndOutputFile) {
  SCOPED_TRACE("seed " + std::to_string(seed_));
  std::uniform_int_distribution<std::int64_t> small(-40, 40);
  std::map<std::int64_t, std::uint64_t> counts;
  std::string text;
  for (int i = 0; i < 3000; ++i) {
    std::int64_t const value = small(rng_);
    ++counts[value];
    text += std::to_string(value) + "\n";
  }
  write_file(path("ints.txt"), text);
  std::string const file = quote(path("ints.txt"));
  for (std::size_t top : {1, 7, 81, 500}) {
    SCOPED_TRACE("top " + std::to_string(top));
    auto result = run("count --ints --top " + std::to_string(top) + " " + file);
    EXPECT_SUCCESS(result);
    EXPECT_TRUE(same_output(result.out, format_top(counts, top)));
    result = run("count --ints --min-count 40 --top " + std::to_string(top) + " " + file);
    EXPECT_SUCCESS(result);
    EXPECT_TRUE(same_output(result.out, format_top(counts, top, 40)));
  }
  auto result = run("count --ints --min-count 40 -o " + quote(path("out.tsv")) + " " + file);
  EXPECT_SUCCESS(result);
  EXPECT_EQ(result.out, "");
  EXPECT_TRUE(same_output(read_file(path("out.tsv")), format_counts(counts, 40)));
  // Ties in --top go by key, numerically (negative first).
  write_file(path("ties.txt"), "5 -3 12 -3 5 12 -20 7");
  result = run("count --ints --top 4 " + quote(path("ties.txt")));
  EXPECT_SUCCESS(result);
  EXPECT_TRUE(same_output(result.out, "-3\t2\n5\t2\n12\t2\n-20\t1\n"));
}

// -------------------------------------------------------------------------------------------------
// Words
// -------------------------------------------------------------------------------------------------

/// The word counts of `text`, byte by byte: by default words are runs of bytes other than space,
/// \t, \n, \v, \f and \r; with `alnum`, runs of ASCII letters, digits and bytes >= 0x80.
std::map<std::string, std::uint64_t> reference_words(std::string const& text, bool alnum,
                                                     bool lower, std::uint64_t* total = nullptr) {
  auto const in_word = [&](unsigned char c) {
    if (!alnum) return std::string(" \t\n\v\f\r").find(static_cast<char>(c)) == std::string::npos;
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
  };
  std::unordered_map<std::string, std::uint64_t> counts;  // sorted at the end
  std::string word;
  auto const flush = [&] {
    if (word.empty()) return;
    if (lower) {
      for (char& c : word) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      }
    }
    ++counts[word];
    if (total != nullptr) ++*total;
    word.clear();
  };
  for (char c : text) {
    if (in_word(static_cast<unsigned char>(c))) {
      word += c;
    } else {
      flush();
    }
  }
  flush();
  return {counts.begin(), counts.end()};
}

/// Random text: words of every byte value (NUL, invalid UTF-8, punctuation, upper case), from a
/// small vocabulary so they repeat, some long, between runs of every whitespace byte.
std::string random_text(std::mt19937_64& rng, std::size_t words) {
  static char const* const spaces[] = {" ", "\t", "\n", "\v", "\f", "\r", "\r\n", "  \n\n", " \t"};
  std::vector<std::string> vocabulary;
  for (int i = 0; i < 300; ++i) {
    std::string word(1 + rng() % 12, 'a');
    for (char& c : word) {
      auto const roll = rng() % 100;
      c = roll < 60   ? static_cast<char>('a' + rng() % 26)
          : roll < 70 ? static_cast<char>('A' + rng() % 26)
          : roll < 75 ? static_cast<char>('0' + rng() % 10)
                      : static_cast<char>(rng() % 256);  // NUL, 0x80 and up, punctuation, spaces
    }
    vocabulary.push_back(word);
  }
  vocabulary.push_back(std::string(5000, 'w'));  // a long word
  std::string text;
  for (std::size_t i = 0; i < words; ++i) {
    text += vocabulary[rng() % vocabulary.size()];
    text += spaces[rng() % (sizeof spaces / sizeof *spaces)];
  }
  return text;
}

TEST_F(Cli, WordsRandomTextEveryRuleChunkAndInputKind) {
  SCOPED_TRACE("seed " + std::to_string(seed_));
  std::string const text = random_text(rng_, 20000);
  write_file(path("text.txt"), text);
  write_gzip(path("text.txt.gz"), text);
  for (char const* rule : {"", " --alnum", " --lower", " --alnum --lower"}) {
    SCOPED_TRACE(rule);
    std::string const r(rule);
    std::uint64_t total = 0;
    auto const counts = reference_words(text, r.find("alnum") != std::string::npos,
                                        r.find("lower") != std::string::npos, &total);
    std::string const expected = format_counts(counts);
    for (std::string const chunk : {"", " --chunk-size 7", " --chunk-size 1000"}) {
      SCOPED_TRACE(chunk);
      for (std::string const file : {"text.txt", "text.txt.gz"}) {
        auto const result = run("count --words" + r + chunk + " " + quote(path(file)));
        EXPECT_SUCCESS(result);
        EXPECT_TRUE(same_output(result.out, expected));
        EXPECT_EQ(summary_numbers(result.err), std::make_pair(total, counts.size()));
      }
    }
    auto const piped =
        run_shell("cat " + quote(path("text.txt.gz")) + " |", "count --words" + r + " -");
    EXPECT_SUCCESS(piped);
    EXPECT_TRUE(same_output(piped.out, expected));
  }
}

TEST_F(Cli, WordsDoNotCrossFilesAndLongWordsCrossChunks) {
  write_file(path("a.txt"), "one two\nthr");
  write_file(path("b.txt"), "ee four");
  auto result = run("count --words " + quote(path("a.txt")) + " " + quote(path("b.txt")));
  EXPECT_SUCCESS(result);
  EXPECT_TRUE(same_output(result.out, "ee\t1\nfour\t1\none\t1\nthr\t1\ntwo\t1\n"));
  // A word much longer than a chunk, at the start, in the middle and at the end of the input.
  std::string const big(100000, 'x');
  std::string const text = big + " a " + big + "y b\n" + big;
  write_file(path("long.txt"), text);
  for (char const* chunk : {"", " --chunk-size 5", " --chunk-size 4096"}) {
    SCOPED_TRACE(chunk);
    result = run("count --words" + std::string(chunk) + " " + quote(path("long.txt")));
    EXPECT_SUCCESS(result);
    EXPECT_TRUE(same_output(result.out, format_counts(reference_words(text, false, false))));
  }
  // Empty input and whitespace only: no words.
  write_file(path("empty.txt"), "");
  write_file(path("blank.txt"), " \n\t\r\v\f ");
  result = run("count --words " + quote(path("empty.txt")) + " " + quote(path("blank.txt")));
  EXPECT_SUCCESS(result);
  EXPECT_EQ(result.out, "");
  EXPECT_EQ(summary_numbers(result.err), std::make_pair(std::uint64_t{0}, std::uint64_t{0}));
}

TEST_F(Cli, WordsRecursiveDirectoryTopMinCountAndOutputFile) {
  SCOPED_TRACE("seed " + std::to_string(seed_));
  fs::create_directories(path("tree/sub/deeper"));
  fs::create_directories(path("tree/empty"));
  std::map<std::string, std::uint64_t> counts;
  std::vector<std::string> files = {"tree/a.txt", "tree/sub/b.txt", "tree/sub/deeper/c.gz"};
  for (auto const& name : files) {
    std::string const text = random_text(rng_, 3000);
    for (auto const& [word, n] : reference_words(text, false, false)) counts[word] += n;
    if (name.size() > 3 && name.substr(name.size() - 3) == ".gz") {
      write_gzip(path(name), text);
    } else {
      write_file(path(name), text);
    }
  }
  std::string const tree = quote(path("tree").string());
  auto result = run("count --words -r " + tree);
  EXPECT_SUCCESS(result);
  EXPECT_TRUE(same_output(result.out, format_counts(counts)));
  result = run("count --words --recursive --top 10 --min-count 3 " + tree);
  EXPECT_SUCCESS(result);
  EXPECT_TRUE(same_output(result.out, format_top(counts, 10, 3)));
  result = run("count --words -r -o " + quote(path("out.tsv")) + " " + tree);
  EXPECT_SUCCESS(result);
  EXPECT_EQ(result.out, "");
  EXPECT_TRUE(same_output(read_file(path("out.tsv")), format_counts(counts)));
  // Without --recursive, a directory is an error that says how to read it.
  expect_failure(run("count --words " + tree), 1, "--recursive");
}

// -------------------------------------------------------------------------------------------------
// Input errors: exit 1, nothing on stdout, one line naming file and line
// -------------------------------------------------------------------------------------------------

TEST_F(Cli, MissingDirectoryAndUnreadableFiles) {
  write_file(path("ok.fa"), ">r\nACGT\n");
  std::string const missing = path("missing.fa").string();
  expect_failure(run("count --kmer 3 " + quote(path("ok.fa")) + " " + quote(missing)), 1, missing);
  expect_failure(run("count --ints " + quote(missing)), 1, missing);
  expect_failure(run("count --kmer 3 " + quote(dir_.string())), 1, dir_.string());
  if (::geteuid() != 0) {  // root reads anything
    write_file(path("locked.fa"), ">r\nACGT\n");
    fs::permissions(path("locked.fa"), fs::perms::none);
    expect_failure(run("count --kmer 3 " + quote(path("locked.fa"))), 1,
                   path("locked.fa").string());
  }
}

struct malformed_case {
  char const* name;
  char const* content;
  int line;  ///< the line the error must name
};

TEST_F(Cli, MalformedFastaFastq) {
  malformed_case const cases[] = {
      {"quality shorter", "@r1\nACGT\n+\nIIII\n@r2\nACGTA\n+\nIIII\n@r3\nA\n+\nI\n", 8},
      {"quality longer", "@r1\nACGT\n+\nIIIII\n", 4},
      {"missing plus line", "@r1\nACGT\n+\nIIII\n@r2\nACGT\n@r3\nACGT\n+\nIIII\n", 7},
      {"header without @ or >", "@r1\nACGT\n+\nIIII\nr2\nACGT\n+\nIIII\n", 5},
      {"first line not a header", "ACGT\n>r1\nACGT\n", 1},
      {"space in a FASTA sequence", ">r1\nACGT\n>r2\nAC GT\n", 4},
      {"truncated after header", "@r1\nACGT\n+\nIIII\n\n@r2\n", 6},
      {"truncated after sequence", "@r1\nACGT\n+\nIIII\n@r2\nACGT\n", 5},
      {"truncated after plus", "@r1\nACGT\n+\nIIII\n@r2\nACGT\n+\n", 5},
      {"multi-line quality runs over", "@r1\nAC\nGT\n+\nII\n@r2\nACGTAC\nGT\n+\nIIII\n", 6},
      {"truncated multi-line quality", ">r0\nAAAA\n@r1\nAC\nGT\n+\nII\n", 3},
      {"bad quality byte", "@r1\nACGT\n+\nII I\n", 4},
  };
  for (auto const& c : cases) {
    SCOPED_TRACE(c.name);
    write_file(path("bad.fq"), c.content);
    write_gzip(path("bad.fq.gz"), c.content);
    std::string const where = ":" + std::to_string(c.line) + ":";
    expect_failure(run("count --kmer 2 " + quote(path("bad.fq"))), 1,
                   path("bad.fq").string() + where);
    expect_failure(run("count --kmer 2 " + quote(path("bad.fq.gz"))), 1,
                   path("bad.fq.gz").string() + where);
    expect_failure(run_shell("cat " + quote(path("bad.fq.gz")) + " |", "count --kmer 2 -"), 1,
                   "<stdin>" + where);
  }
}

TEST_F(Cli, ErrorInSecondFileAndOutputFileNotLeft) {
  auto const reads = random_reads(rng_, 100, 0, 100);
  write_file(path("good.fa"), to_fasta(reads, 60));
  write_file(path("bad.fq"), "@r1\nACGT\n+\nIII\n");
  std::string const out = path("out.tsv").string();
  expect_failure(run("count --kmer 5 -o " + quote(out) + " " + quote(path("good.fa")) + " " +
                     quote(path("bad.fq"))),
                 1, path("bad.fq").string() + ":4:");
  EXPECT_FALSE(fs::exists(out)) << "no output file after an error";
  write_file(out, "previous\n");
  expect_failure(run("count --kmer 5 -o " + quote(out) + " " + quote(path("bad.fq"))), 1, ":4:");
  EXPECT_EQ(read_file(out), "previous\n") << "an existing output file is left untouched";
  std::size_t files = 0;
  for (auto const& entry : fs::directory_iterator(dir_))
    files += entry.path().filename().string().rfind("out.tsv", 0) == 0;
  EXPECT_EQ(files, 1u) << "no temporary file left";
  // An output path that cannot be created.
  expect_failure(
      run("count --kmer 5 -o " + quote(path("no/such/dir/out.tsv")) + " " + quote(path("good.fa"))),
      1, "no/such/dir/out.tsv");
}

TEST_F(Cli, TruncatedAndCorruptGzip) {
  auto const reads = random_reads(rng_, 3000, 50, 150);
  write_gzip(path("full.fq.gz"), to_fastq(reads, rng_));
  std::string const whole = read_file(path("full.fq.gz"));
  write_file(path("cut.fq.gz"), whole.substr(0, whole.size() / 2));
  expect_failure(run("count --kmer 5 " + quote(path("cut.fq.gz"))), 1,
                 path("cut.fq.gz").string() + ":");
  std::string corrupt = whole;
  for (std::size_t i = whole.size() / 3; i < whole.size() / 3 + 64; ++i) corrupt[i] = '\x55';
  write_file(path("corrupt.fq.gz"), corrupt);
  expect_failure(run("count --kmer 5 " + quote(path("corrupt.fq.gz"))), 1,
                 path("corrupt.fq.gz").string() + ":");
}

TEST_F(Cli, BadIntegers) {
  struct bad_token {
    char const* token;
    bool range;  ///< out of the int64 range, rather than not an integer
  };
  bad_token const tokens[] = {{"1.5", false},
                              {"12abc", false},
                              {"0x10", false},
                              {"+", false},
                              {"-", false},
                              {"+-1", false},
                              {"--1", false},
                              {"1e3", false},
                              {"99999999999999999999", true},
                              {"9223372036854775808", true},
                              {"-9223372036854775809", true}};
  for (auto const& t : tokens) {
    SCOPED_TRACE(t.token);
    std::string const content = "1 2 3\n\n4\t5 -6\n7 " + std::string(t.token) + " 8\n9\n";
    write_file(path("bad.txt"), content);
    write_gzip(path("bad.txt.gz"), content);
    std::string const where = ":4: '" + std::string(t.token) + "'";
    auto const result = run("count --ints " + quote(path("bad.txt")));
    expect_failure(result, 1, path("bad.txt").string() + where);
    EXPECT_NE(result.err.find(t.range ? "range" : "not a decimal integer"), std::string::npos)
        << result.err;
    expect_failure(run("count --ints " + quote(path("bad.txt.gz"))), 1,
                   path("bad.txt.gz").string() + where);
    expect_failure(run_shell("cat " + quote(path("bad.txt")) + " |", "count --ints -"), 1,
                   "<stdin>" + where);
  }
}

// -------------------------------------------------------------------------------------------------
// Usage: exit 2 (and --help: 0)
// -------------------------------------------------------------------------------------------------

TEST_F(Cli, UsageErrors) {
  write_file(path("r.fa"), ">r\nACGT\n");
  std::string const file = " " + quote(path("r.fa"));
  struct usage_case {
    std::string args;
    std::string message;  ///< part of the stderr line
  };
  usage_case const cases[] = {
      {"count --kmer 0" + file, "--kmer"},
      {"count --kmer 65" + file, "--kmer"},
      {"count --kmer -1" + file, "--kmer"},
      {"count --kmer abc" + file, "--kmer"},
      {"count" + file, "--kmer"},
      {"count --kmer 3 --ints" + file, "--ints"},
      {"count --ints --no-canonical" + file, "--no-canonical"},
      {"count --kmer 3 --bogus" + file, "--bogus"},
      {"count --kmer 3", "files"},
      {"count --kmer 3 --top 0" + file, "--top"},
      {"count --kmer 3 --top -2" + file, "--top"},
      {"count --kmer 3 --min-count -1" + file, "--min-count"},
      {"count --kmer 3 --threads 0" + file, "--threads"},
      {"count --kmer 3 --backend gpu" + file, "--backend"},
      {"count --words --ints" + file, "--ints"},
      {"count --kmer 3 --words" + file, "--words"},
      {"count --ints --alnum" + file, "--alnum"},
      {"count --kmer 3 --lower" + file, "--lower"},
      {"", "subcommand"},
      {"frobnicate" + file, "frobnicate"},
  };
  for (auto const& c : cases) {
    SCOPED_TRACE(c.args);
    expect_failure(run(c.args), 2, c.message);
  }
  // A usage error wins over bad input: nothing is read.
  expect_failure(run("count --kmer 70 " + quote(path("missing.fa"))), 2, "--kmer");
}

TEST_F(Cli, KmerLengthOutOfRangeSaysTheRange) {
  write_file(path("r.fa"), ">r\nACGT\n");
  for (char const* k : {"0", "65", "1000"}) {
    SCOPED_TRACE(k);
    auto const result = run("count --kmer " + std::string(k) + " " + quote(path("r.fa")));
    expect_failure(result, 2, "--kmer must be between 1 and 64, got " + std::string(k));
  }
  auto const help = run("count --help");
  EXPECT_NE(help.out.find("1 to 64"), std::string::npos) << help.out;
}

TEST_F(Cli, Help) {
  for (char const* args : {"--help", "count --help"}) {
    SCOPED_TRACE(args);
    auto const result = run(args);
    EXPECT_EQ(result.code, 0) << result.err;
    EXPECT_NE(result.out.find("Usage"), std::string::npos) << result.out;
  }
  auto const result = run("count --help");
  EXPECT_NE(result.out.find("--kmer"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("--ints"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("--words"), std::string::npos) << result.out;
}

/// Words on a real text corpus: the first 128 MiB of the Linux kernel's source tarball (C,
/// documentation, scripts, and tar's headers with their NUL bytes), against the count above.
TEST_F(Cli, WordsSameAsIndependentCountOnLinuxSource) {
  std::string const corpus = BULKMAP_TEST_CORPUS;
  if (!fs::exists(corpus)) {
    GTEST_SKIP() << corpus
                 << " is missing (apt-get install linux-source-6.1; scripts/deps does it)";
  }
  constexpr std::size_t bytes = std::size_t{128} << 20;
  std::string const file = path("linux.txt").string();
  std::string const command =
      "xz -dc " + quote(corpus) + " | head -c " + std::to_string(bytes) + " >" + quote(file);
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  std::string const text = read_file(file);
  ASSERT_EQ(text.size(), bytes) << command;
  for (char const* rule : {"", " --alnum --lower"}) {
    SCOPED_TRACE(rule);
    bool const alnum = *rule != '\0';
    std::uint64_t total = 0;
    auto const counts = reference_words(text, alnum, alnum, &total);
    ASSERT_GT(counts.size(), 100000u) << "too few distinct words; is " << corpus << " intact?";
    auto const result = run("count --words" + std::string(rule) + " " + quote(file));
    EXPECT_SUCCESS(result);
    EXPECT_TRUE(same_output(result.out, format_counts(counts)));
    EXPECT_EQ(summary_numbers(result.err), std::make_pair(total, counts.size()));
  }
}

// -------------------------------------------------------------------------------------------------
// Against jellyfish, on real reads
// -------------------------------------------------------------------------------------------------

using pair_list = std::vector<std::pair<std::string, std::uint64_t>>;

/// Parses `KMER<TAB>COUNT` lines, in their order.
pair_list parse_pairs(std::string const& text) {
  pair_list pairs;
  std::istringstream in(text);
  std::string kmer;
  std::uint64_t count = 0;
  while (in >> kmer >> count) pairs.emplace_back(kmer, count);
  return pairs;
}

/// The jellyfish comparison, once per k-mer length (64-bit codes up to 32, 128-bit beyond).
class CliJellyfish : public Cli, public ::testing::WithParamInterface<int> {};

TEST_P(CliJellyfish, SameAsJellyfishOnBowtie2Reads) {
  int const k = GetParam();
  std::string const reads = BULKMAP_TEST_READS;
  if (std::system("command -v jellyfish >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "jellyfish is not installed (apt-get install jellyfish; scripts/deps does it)";
  }
  if (!fs::exists(reads)) {
    GTEST_SKIP() << reads << " is missing (apt-get install bowtie2-examples; scripts/deps does it)";
  }
  // jellyfish cannot read gzip: decompress with zlib first.
  write_file(path("reads.fq"), read_gzip(reads));
  std::string const jf = path("reads.jf").string();
  std::string const jf_out = path("jellyfish.txt").string();
  std::string const command = "jellyfish count -m " + std::to_string(k) + " -C -s 1M -t 2 -o " +
                              quote(jf) + " " + quote(path("reads.fq")) +
                              " && jellyfish dump -c -t " + quote(jf) + " >" + quote(jf_out);
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  pair_list expected = parse_pairs(read_file(jf_out));
  std::sort(expected.begin(), expected.end());
  ASSERT_GT(expected.size(), 1000u) << "jellyfish found too few k-mers; is " << reads << " intact?";

  auto const result = run("count --kmer " + std::to_string(k) + " " + quote(reads));
  EXPECT_SUCCESS(result);
  pair_list const actual = parse_pairs(result.out);
  // bulkmap writes k-mers in ascending order already; jellyfish's order is its hash order.
  EXPECT_TRUE(std::is_sorted(actual.begin(), actual.end()));
  EXPECT_EQ(actual.size(), expected.size());
  auto const [a, e] = std::mismatch(actual.begin(), actual.end(), expected.begin(), expected.end());
  if (a != actual.end() || e != expected.end()) {
    ADD_FAILURE() << "first difference: bulkmap "
                  << (a != actual.end() ? a->first + " " + std::to_string(a->second) : "(end)")
                  << ", jellyfish "
                  << (e != expected.end() ? e->first + " " + std::to_string(e->second) : "(end)");
  }
}

INSTANTIATE_TEST_SUITE_P(Kmer, CliJellyfish, ::testing::Values(21, 33, 45, 63),
                         [](::testing::TestParamInfo<int> const& info) {
                           return "k" + std::to_string(info.param);
                         });

// -------------------------------------------------------------------------------------------------
// group: CSV records grouped by key columns, against a std::map reference
// -------------------------------------------------------------------------------------------------

using csv_field = std::optional<std::string>;  // nullopt: an empty field (NULL)
using csv_records = std::vector<std::vector<csv_field>>;

/// Parses RFC 4180 CSV as bulkmap writes it (',', LF or CRLF; quoted fields), independently of
/// the reader under test. An empty field, quoted or not, is nullopt.
csv_records parse_csv(std::string const& text) {
  csv_records records;
  std::vector<csv_field> record;
  std::string field;
  auto const end_field = [&] {
    record.push_back(field.empty() ? csv_field() : csv_field(field));
    field.clear();
  };
  std::size_t i = 0;
  while (i < text.size()) {
    char const c = text[i];
    if (c == '"' && field.empty()) {
      for (++i; i < text.size(); ++i) {
        if (text[i] != '"') {
          field += text[i];
        } else if (i + 1 < text.size() && text[i + 1] == '"') {
          field += '"';
          ++i;
        } else {
          break;
        }
      }
      ++i;
    } else if (c == ',') {
      end_field();
      ++i;
    } else if (c == '\n' || (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n')) {
      if (c == '\r') ++i;  // CRLF (sqlite3's csv mode)
      end_field();
      records.push_back(std::move(record));
      record.clear();
      ++i;
    } else {
      field += c;
      ++i;
    }
  }
  if (!field.empty() || !record.empty()) {
    end_field();
    records.push_back(std::move(record));
  }
  return records;
}

/// A generated table. Columns: id (unique int), one (the same string in every row), ks, ki, kf
/// (string, int and float keys), vi, vf, vs (values), junk (never used). NULLs everywhere but id
/// and one.
struct csv_table {
  std::vector<std::int64_t> id;
  std::vector<std::optional<std::string>> ks, vs, junk;
  std::vector<std::optional<std::int64_t>> ki, vi;
  std::vector<std::optional<double>> kf, vf;
  std::vector<std::uint64_t> lines;  ///< line each record starts on

  [[nodiscard]] std::size_t size() const { return id.size(); }
};

/// Strings that need quoting (delimiter, quote, LF, CRLF), spaces, a NUL, bytes >= 0x80, prefixes
/// of each other; none of them a number.
std::vector<std::string> const group_words = {
    "alpha",    "a", "ab",       "a,b",  "say \"hi\"", "two\nlines", "crlf\r\nx",
    " spaced ", "Z", "\xc3\xbc", "\xff", "x;y",        "nul\0in"};

csv_table random_csv_table(std::mt19937_64& rng, std::size_t rows, bool with_nul = true) {
  auto const word = [&] {
    std::string w = group_words[rng() % (group_words.size() - (with_nul ? 0 : 1))];
    if (w == "nul") w = std::string("nul\0in", 6);
    return w;
  };
  static double const float_keys[] = {-2.5, -1.0, -0.0, 0.0, 0.5, 3.25, 1e10, 7.125};
  auto const null = [&] { return rng() % 6 == 0; };
  csv_table t;
  for (std::size_t i = 0; i < rows; ++i) {
    t.id.push_back(static_cast<std::int64_t>(i * 7 % rows) - 5);  // unique: 7 and rows coprime
    t.ks.push_back(null() ? std::nullopt : std::optional<std::string>(word()));
    t.ki.push_back(null() ? std::nullopt
                          : std::optional<std::int64_t>(static_cast<std::int64_t>(rng() % 9) - 4));
    t.kf.push_back(null() ? std::nullopt : std::optional<double>(float_keys[rng() % 8]));
    t.vi.push_back(null() ? std::nullopt
                          : std::optional<std::int64_t>(
                                static_cast<std::int64_t>(rng() % 2000000001) - 1000000000));
    t.vf.push_back(
        null() ? std::nullopt
               : std::optional<double>(std::uniform_real_distribution<double>(-1000, 1000)(rng)));
    t.vs.push_back(null() ? std::nullopt
                          : std::optional<std::string>(word() + std::to_string(rng() % 5)));
    t.junk.push_back(null() ? std::nullopt : std::optional<std::string>(word() + "\"junk"));
  }
  // The keys' and values' types as the test expects them inferred: kf and vf need a value that
  // is not an integer (vf has one almost surely).
  t.kf[0] = 0.5;
  return t;
}

std::string format_double(double x) {
  char text[40];
  std::snprintf(text, sizeof text, "%.17g", x);
  return text;
}

/// Writes `t` as CSV with `delimiter`: fields quoted where they must be and at random elsewhere,
/// NULL as an empty field (quoted or not), LF or CRLF line ends, blank lines here and there
/// (unless `blank_lines` is false: sqlite3 reads them as records).
/// Records each row's line in `t.lines`.
std::string write_csv_table(csv_table& t, std::mt19937_64& rng, char delimiter = ',',
                            bool header = true, bool blank_lines = true) {
  std::string text;
  std::uint64_t line = 1;
  auto const put = [&](std::string const& s) {
    text += s;
    line += static_cast<std::uint64_t>(std::count(s.begin(), s.end(), '\n'));
  };
  auto const field = [&](std::optional<std::string> const& f) {
    bool const must =
        f && f->find_first_of(std::string{delimiter, '"', '\r', '\n'}) != std::string::npos;
    if (!must && rng() % 5 != 0) return put(f.value_or(""));
    std::string q = "\"";
    for (char c : f.value_or("")) q += c == '"' ? std::string("\"\"") : std::string(1, c);
    put(q + "\"");
  };
  auto const end_record = [&] {
    put(rng() % 2 == 0 ? "\n" : "\r\n");
    if (blank_lines && rng() % 20 == 0) put("\n");
  };
  auto const number = [](auto const& v) -> std::optional<std::string> {
    if (!v) return std::nullopt;
    if constexpr (std::is_same_v<std::decay_t<decltype(*v)>, double>) {
      return format_double(*v);
    } else {
      return std::to_string(*v);
    }
  };
  std::string const d(1, delimiter);
  if (header) {
    put("id" + d + "one" + d + "ks" + d + "ki" + d + "kf" + d + "vi" + d + "vf" + d + "vs" + d +
        "junk");
    end_record();
  }
  t.lines.clear();
  for (std::size_t i = 0; i < t.size(); ++i) {
    t.lines.push_back(line);
    std::optional<std::string> const fields[] = {
        std::to_string(t.id[i]), std::string("same"), t.ks[i], number(t.ki[i]), number(t.kf[i]),
        number(t.vi[i]),         number(t.vf[i]),     t.vs[i], t.junk[i]};
    for (std::size_t c = 0; c < 9; ++c) {
      if (c > 0) put(d);
      field(fields[c]);
    }
    if (i + 1 < t.size() || rng() % 2 == 0) end_record();
  }
  return text;
}

/// One key cell of the reference: NULL first, then by typed value (strings bytewise).
struct key_cell {
  int type = 0;  ///< 0 string, 1 int64, 2 float64
  bool null = true;
  std::string s;
  std::int64_t i = 0;
  double f = 0;

  bool operator<(key_cell const& o) const {
    if (null != o.null) return null;
    if (null) return false;
    if (type == 0) return s < o.s;  // std::string compares as unsigned bytes, as memcmp
    return type == 1 ? i < o.i : f < o.f;
  }
};

/// What one output field must be.
struct expected_cell {
  enum kind { null, text, integer, real_exact, real_near } what = null;
  std::string s;
  std::int64_t i = 0;
  long double f = 0;
  long double scale = 1;  ///< real_near: the tolerance is 1e-9 * scale
};

expected_cell text_cell(std::string s) { return {expected_cell::text, std::move(s)}; }
expected_cell int_cell(std::int64_t i) { return {expected_cell::integer, {}, i}; }
expected_cell real_cell(long double f, long double scale = 0) {
  return {scale > 0 ? expected_cell::real_near : expected_cell::real_exact,
          {},
          0,
          f,
          std::max<long double>(scale, 1)};
}

/// A group's rows, as the reference gathers them.
struct group_rows {
  std::uint64_t rows = 0;
  std::vector<std::int64_t> vi;
  std::vector<double> vf;
  std::vector<std::string> vs;
  std::string list;  ///< vs of every row, joined by ';' (NULL as "")
};

key_cell key_of(csv_table const& t, std::string const& column, std::size_t row) {
  key_cell k;
  if (column == "ks") {
    k.null = !t.ks[row];
    k.s = t.ks[row].value_or("");
  } else if (column == "ki" || column == "id") {
    k.type = 1;
    k.null = column == "ki" && !t.ki[row];
    k.i = column == "id" ? t.id[row] : t.ki[row].value_or(0);
  } else if (column == "kf") {
    k.type = 2;
    k.null = !t.kf[row];
    k.f = t.kf[row].value_or(0);
  } else {  // one
    k.null = false;
    k.s = "same";
  }
  return k;
}

/// The aggregates the tests ask for, and what each must be for a group.
struct agg_case {
  std::string spec;
  std::string header;
  expected_cell (*expect)(group_rows const&);
};

template <class V>
long double sum_of(std::vector<V> const& v) {
  long double s = 0;
  for (V x : v) s += x;
  return s;
}
template <class V>
long double abs_sum_of(std::vector<V> const& v) {
  long double s = 0;
  for (V x : v) s += x < 0 ? -static_cast<long double>(x) : x;
  return s;
}
template <class V>
expected_cell variance_of(std::vector<V> const& v) {
  if (v.size() < 2) return {};
  long double const mean = sum_of(v) / v.size();
  long double squares = 0;
  for (V x : v) squares += (x - mean) * (x - mean);
  return real_cell(squares / (v.size() - 1), squares / (v.size() - 1));
}

std::vector<agg_case> const group_aggs = {
    {"count", "count", [](group_rows const& g) { return int_cell(g.rows); }},
    {"count:vi", "count_vi",
     [](group_rows const& g) { return int_cell(static_cast<std::int64_t>(g.vi.size())); }},
    {"sum:vi", "sum_vi",
     [](group_rows const& g) {
       return g.vi.empty() ? expected_cell{} : int_cell(static_cast<std::int64_t>(sum_of(g.vi)));
     }},
    {"mean:vi", "mean_vi",
     [](group_rows const& g) {
       return g.vi.empty() ? expected_cell{}
                           : real_cell(sum_of(g.vi) / g.vi.size(), abs_sum_of(g.vi) / g.vi.size());
     }},
    {"min:vi", "min_vi",
     [](group_rows const& g) {
       return g.vi.empty() ? expected_cell{}
                           : int_cell(*std::min_element(g.vi.begin(), g.vi.end()));
     }},
    {"max:vi", "max_vi",
     [](group_rows const& g) {
       return g.vi.empty() ? expected_cell{}
                           : int_cell(*std::max_element(g.vi.begin(), g.vi.end()));
     }},
    {"variance:vi", "variance_vi", [](group_rows const& g) { return variance_of(g.vi); }},
    {"first:vi", "first_vi",
     [](group_rows const& g) { return g.vi.empty() ? expected_cell{} : int_cell(g.vi.front()); }},
    {"last:vi", "last_vi",
     [](group_rows const& g) { return g.vi.empty() ? expected_cell{} : int_cell(g.vi.back()); }},
    {"sum:vf", "sum_vf",
     [](group_rows const& g) {
       return g.vf.empty() ? expected_cell{} : real_cell(sum_of(g.vf), abs_sum_of(g.vf));
     }},
    {"mean:vf", "mean_vf",
     [](group_rows const& g) {
       return g.vf.empty() ? expected_cell{}
                           : real_cell(sum_of(g.vf) / g.vf.size(), abs_sum_of(g.vf) / g.vf.size());
     }},
    {"min:vf", "min_vf",
     [](group_rows const& g) {
       return g.vf.empty() ? expected_cell{}
                           : real_cell(*std::min_element(g.vf.begin(), g.vf.end()));
     }},
    {"max:vf", "max_vf",
     [](group_rows const& g) {
       return g.vf.empty() ? expected_cell{}
                           : real_cell(*std::max_element(g.vf.begin(), g.vf.end()));
     }},
    {"variance:vf", "variance_vf", [](group_rows const& g) { return variance_of(g.vf); }},
    {"first:vf", "first_vf",
     [](group_rows const& g) { return g.vf.empty() ? expected_cell{} : real_cell(g.vf.front()); }},
    {"last:vf", "last_vf",
     [](group_rows const& g) { return g.vf.empty() ? expected_cell{} : real_cell(g.vf.back()); }},
    {"count:vs", "count_vs",
     [](group_rows const& g) { return int_cell(static_cast<std::int64_t>(g.vs.size())); }},
    {"min:vs", "min_vs",
     [](group_rows const& g) {
       return g.vs.empty() ? expected_cell{}
                           : text_cell(*std::min_element(g.vs.begin(), g.vs.end()));
     }},
    {"max:vs", "max_vs",
     [](group_rows const& g) {
       return g.vs.empty() ? expected_cell{}
                           : text_cell(*std::max_element(g.vs.begin(), g.vs.end()));
     }},
    {"first:vs", "first_vs",
     [](group_rows const& g) { return g.vs.empty() ? expected_cell{} : text_cell(g.vs.front()); }},
    {"last:vs", "last_vs",
     [](group_rows const& g) { return g.vs.empty() ? expected_cell{} : text_cell(g.vs.back()); }},
};

/// Every aggregate of `group_aggs`, as --agg takes them.
std::string all_aggs() {
  std::string specs;
  for (auto const& a : group_aggs) specs += (specs.empty() ? "" : ",") + a.spec;
  return specs;
}

/// The expected output, cell by cell (header row first): `t` grouped by `keys` with every
/// aggregate of `group_aggs` and, with `list`, the list of vs.
std::vector<std::vector<expected_cell>> reference_groups(csv_table const& t,
                                                         std::vector<std::string> const& keys,
                                                         bool list) {
  std::map<std::vector<key_cell>, group_rows> groups;
  for (std::size_t r = 0; r < t.size(); ++r) {
    std::vector<key_cell> key;
    for (auto const& k : keys) key.push_back(key_of(t, k, r));
    group_rows& g = groups[key];
    if (g.rows > 0) g.list += ';';
    g.list += t.vs[r].value_or("");
    ++g.rows;
    if (t.vi[r]) g.vi.push_back(*t.vi[r]);
    if (t.vf[r]) g.vf.push_back(*t.vf[r]);
    if (t.vs[r]) g.vs.push_back(*t.vs[r]);
  }
  std::vector<std::vector<expected_cell>> out;
  std::vector<expected_cell> header;
  for (auto const& k : keys) header.push_back(text_cell(k));
  for (auto const& a : group_aggs) header.push_back(text_cell(a.header));
  if (list) header.push_back(text_cell("list_vs"));
  out.push_back(header);
  for (auto const& [key, g] : groups) {
    std::vector<expected_cell> row;
    for (auto const& k : key) {
      if (k.null) {
        row.emplace_back();
      } else {
        row.push_back(k.type == 0 ? text_cell(k.s) : k.type == 1 ? int_cell(k.i) : real_cell(k.f));
      }
    }
    for (auto const& a : group_aggs) row.push_back(a.expect(g));
    if (list) row.push_back(g.list.empty() ? expected_cell{} : text_cell(g.list));
    out.push_back(std::move(row));
  }
  return out;
}

/// Compares bulkmap's output with the reference, cell by cell; reports the first difference.
::testing::AssertionResult same_groups(std::string const& output,
                                       std::vector<std::vector<expected_cell>> const& expected) {
  csv_records const got = parse_csv(output);
  if (got.size() != expected.size()) {
    return ::testing::AssertionFailure()
           << "output has " << got.size() << " records, expected " << expected.size();
  }
  for (std::size_t r = 0; r < got.size(); ++r) {
    if (got[r].size() != expected[r].size()) {
      return ::testing::AssertionFailure() << "record " << r << " has " << got[r].size()
                                           << " fields, expected " << expected[r].size();
    }
    for (std::size_t c = 0; c < got[r].size(); ++c) {
      csv_field const& f = got[r][c];
      expected_cell const& e = expected[r][c];
      bool ok = false;
      switch (e.what) {
        case expected_cell::null:
          ok = !f;
          break;
        case expected_cell::text:
          ok = f && *f == e.s;
          break;
        case expected_cell::integer:
          ok = f && *f == std::to_string(e.i);
          break;
        case expected_cell::real_exact:
          ok = f && std::strtod(f->c_str(), nullptr) == static_cast<double>(e.f);
          break;
        case expected_cell::real_near: {
          long double const x = f ? std::strtold(f->c_str(), nullptr) : 0;
          ok = f && (x - e.f <= 1e-9L * e.scale && e.f - x <= 1e-9L * e.scale);
        }
      }
      if (!ok) {
        return ::testing::AssertionFailure()
               << "record " << r << ", field " << c << " (" << (expected[0][c].s) << "): got "
               << (f ? "'" + *f + "'" : std::string("NULL")) << ", expected "
               << (e.what == expected_cell::null      ? std::string("NULL")
                   : e.what == expected_cell::text    ? "'" + e.s + "'"
                   : e.what == expected_cell::integer ? std::to_string(e.i)
                                                      : format_double(static_cast<double>(e.f)));
      }
    }
  }
  return ::testing::AssertionSuccess();
}

/// The "N rows, G groups" numbers of the group summary line.
std::pair<std::uint64_t, std::uint64_t> group_summary(std::string const& err) {
  unsigned long long rows = 0, groups = 0;
  auto const at = err.find("bulkmap group: ");
  if (at != std::string::npos) {
    std::sscanf(err.c_str() + at, "bulkmap group: %llu rows, %llu groups", &rows, &groups);
  }
  return {rows, groups};
}

TEST_F(Cli, GroupRandomCsvEveryKeyKindAndAggregate) {
  SCOPED_TRACE("seed " + std::to_string(seed_));
  csv_table t = random_csv_table(rng_, 1500);
  write_file(path("t.csv"), write_csv_table(t, rng_));
  std::vector<std::vector<std::string>> const key_sets = {
      {"ks"}, {"ki"}, {"kf"}, {"ks", "ki"}, {"kf", "ks", "ki"}, {"one"}, {"id"}};
  for (auto const& keys : key_sets) {
    std::string by;
    for (auto const& k : keys) by += (by.empty() ? "" : ",") + k;
    for (char const* chunk : {"", " --chunk-bytes 1", " --chunk-bytes 5000"}) {
      SCOPED_TRACE("--by " + by + chunk);
      auto const result = run("group --by " + by + " --agg " + all_aggs() + " --list vs" + chunk +
                              " " + quote(path("t.csv")));
      EXPECT_SUCCESS(result);
      auto const expected = reference_groups(t, keys, true);
      EXPECT_TRUE(same_groups(result.out, expected));
      EXPECT_EQ(group_summary(result.err),
                std::make_pair(std::uint64_t{t.size()}, std::uint64_t{expected.size() - 1}));
    }
  }
}

TEST_F(Cli, GroupSingleGroupAndOneGroupPerRow) {
  SCOPED_TRACE("seed " + std::to_string(seed_));
  csv_table t = random_csv_table(rng_, 300);
  write_file(path("t.csv"), write_csv_table(t, rng_));
  auto const one = run("group --by one --agg " + all_aggs() + " " + quote(path("t.csv")));
  EXPECT_SUCCESS(one);
  EXPECT_TRUE(same_groups(one.out, reference_groups(t, {"one"}, false)));
  EXPECT_EQ(group_summary(one.err).second, 1u);
  auto const each = run("group --by id --agg " + all_aggs() + " --list vs " + quote(path("t.csv")));
  EXPECT_SUCCESS(each);
  EXPECT_TRUE(same_groups(each.out, reference_groups(t, {"id"}, true)));
  EXPECT_EQ(group_summary(each.err).second, t.size());
}

TEST_F(Cli, GroupGzipStdinOutputFileDelimiterAndNoHeader) {
  SCOPED_TRACE("seed " + std::to_string(seed_));
  csv_table t = random_csv_table(rng_, 400);
  auto const expected = reference_groups(t, {"ks", "kf"}, true);
  std::string const args = "group --by ks,kf --agg " + all_aggs() + " --list vs ";
  std::string const text = write_csv_table(t, rng_);
  write_gzip(path("t.csv.gz"), text);
  auto const gz = run(args + quote(path("t.csv.gz")));
  EXPECT_SUCCESS(gz);
  EXPECT_TRUE(same_groups(gz.out, expected));
  write_file(path("t.csv"), text);
  auto const in = run_shell("cat " + quote(path("t.csv")) + " |", args + "-");
  EXPECT_SUCCESS(in);
  EXPECT_TRUE(same_groups(in.out, expected));
  write_file(path("out.csv"), "old\n");
  auto const file = run(args + "-o " + quote(path("out.csv")) + " " + quote(path("t.csv")));
  EXPECT_SUCCESS(file);
  EXPECT_EQ(file.out, "");
  EXPECT_TRUE(same_groups(read_file(path("out.csv")), expected));
  // Tab and ';' delimiters; no header (columns named column1...: ks is column3, kf column5).
  for (char delimiter : {'\t', ';'}) {
    write_file(path("d.csv"), write_csv_table(t, rng_, delimiter, false));
    std::string const d = delimiter == '\t' ? "'\\t'" : "';'";
    auto const result = run("group --no-header --delimiter " + d + " --by column3,column5 --agg " +
                            all_aggs() + " --list vs " + quote(path("d.csv")));
    expect_failure(result, 1, "unknown column 'vi'");  // aggregates name vi, vf, vs: not there
    std::string aggs = all_aggs();
    for (auto [from, to] : {std::pair<char const*, char const*>{":vi", ":column6"},
                            {":vf", ":column7"},
                            {":vs", ":column8"}}) {
      for (auto at = aggs.find(from); at != std::string::npos; at = aggs.find(from)) {
        aggs.replace(at, 3, to);
      }
    }
    auto const renamed = run("group --no-header --delimiter " + d + " --by column3,column5 --agg " +
                             aggs + " --list column8 " + quote(path("d.csv")));
    EXPECT_SUCCESS(renamed);
    auto want = expected;
    want[0] = {text_cell("column3"), text_cell("column5")};
    for (auto const& a : group_aggs) {
      std::string h = a.header;
      for (auto [from, to] : {std::pair<char const*, char const*>{"_vi", "_column6"},
                              {"_vf", "_column7"},
                              {"_vs", "_column8"}}) {
        if (h.size() > 3 && h.compare(h.size() - 3, 3, from) == 0) h.replace(h.size() - 3, 3, to);
      }
      want[0].push_back(text_cell(h));
    }
    want[0].push_back(text_cell("list_column8"));
    EXPECT_TRUE(same_groups(renamed.out, want));
  }
}

TEST_F(Cli, GroupDeclaredTypes) {
  write_file(path("t.csv"), "k,v,s\n10,9,a\n9,10,b\n10,,c\n010,2,d\n");
  // Inferred: k int64 (010 is 10), v int64.
  auto const inferred =
      run("group --by k --agg min:v,max:v,sum:v --list s " + quote(path("t.csv")));
  EXPECT_SUCCESS(inferred);
  EXPECT_EQ(inferred.out, "k,min_v,max_v,sum_v,list_s\n9,10,10,10,\"b\"\n10,2,9,11,\"a;c;d\"\n");
  // Declared strings: bytewise order, and min/max compare text.
  auto const strings =
      run("group --by k --types k:string,v:string --agg min:v,max:v " + quote(path("t.csv")));
  EXPECT_SUCCESS(strings);
  EXPECT_EQ(strings.out, "k,min_v,max_v\n010,2,2\n10,9,9\n9,10,10\n");
  auto const reals = run("group --by k --types k:float64 --agg count " + quote(path("t.csv")));
  EXPECT_SUCCESS(reals);
  EXPECT_EQ(reals.out, "k,count\n9,1\n10,3\n");
  // A string column cannot be summed.
  expect_failure(run("group --by k --types v:string --agg sum:v " + quote(path("t.csv"))), 2,
                 "declared string");
}

TEST_F(Cli, GroupSkipBadRowsCountsThem) {
  std::string const text = "k,v\na,1\nb\na,2,3\n\"c\nd\",4\nb,5\n";
  write_file(path("bad.csv"), text);
  auto const skipped = run("group --by k --agg sum:v --skip-bad-rows " + quote(path("bad.csv")));
  EXPECT_SUCCESS(skipped);
  EXPECT_EQ(skipped.out, "k,sum_v\na,1\nb,5\n\"c\nd\",4\n");
  EXPECT_NE(skipped.err.find("2 bad rows skipped"), std::string::npos) << skipped.err;
  expect_failure(run("group --by k --agg sum:v " + quote(path("bad.csv"))), 1,
                 path("bad.csv").string() + ":3: expected 2 fields, found 1");
}

TEST_F(Cli, GroupInputErrorsNameFileAndLine) {
  struct error_case {
    std::string content;
    std::string args;
    std::string where;  ///< after "FILE:"
  };
  error_case const cases[] = {
      {"k,v\n1,2\n", "--by nope", "1: unknown column 'nope'"},
      {"\n\nk,v\n1,2\n", "--by k --agg sum:nope", "3: unknown column 'nope'"},
      {"k,v\n1,2\n", "--by k --list nope", "1: unknown column 'nope'"},
      {"k,v\n1,2\n", "--by k --types nope:int64", "1: unknown column 'nope'"},
      {"k,k\n1,2\n", "--by k", "1: column 'k' is ambiguous"},
      {"k,v\n1,2\n2,x\n", "--by k --types v:int64", "3: column 'v' (int64): 'x' is not an int64"},
      {"k,v\n1,2\n2,1.5\n", "--by k --types v:int64", "3: column 'v' (int64): '1.5'"},
      {"k,v\n1,2\n\"2\n\",inf\n", "--by k --types v:float64", "3: column 'v' (float64): 'inf'"},
      {"k,v\n1,2\n\"a\nb\",3,4\n", "--by k", "3: expected 2 fields, found 3"},
      {"k,v\n1,2\n3,\"4\n5\n", "--by k", "3: unterminated quote"},
      {"k,v\n1,a\"b\n", "--by k", "2: malformed quoting"},
      {"k,v\n1,2\n1,x\n", "--by k --agg sum:v", "3: --agg sum:v needs numbers"},
  };
  for (auto const& c : cases) {
    SCOPED_TRACE(c.args + " on " + c.content);
    write_file(path("bad.csv"), c.content);
    expect_failure(run("group " + c.args + " " + quote(path("bad.csv"))), 1,
                   path("bad.csv").string() + ":" + c.where);
    // Through stdin, and with an output file that must not appear.
    auto const in = run_shell("cat " + quote(path("bad.csv")) + " |",
                              "group " + c.args + " -o " + quote(path("out.csv")) + " -");
    expect_failure(in, 1, "<stdin>:" + c.where);
    EXPECT_FALSE(fs::exists(path("out.csv")));
  }
  // An error after many records, read in small chunks: still nothing on stdout.
  std::string big = "k,v\n";
  for (int i = 0; i < 5000; ++i) big += std::to_string(i % 7) + "," + std::to_string(i) + "\n";
  big += "1,\"2\n";
  write_file(path("late.csv"), big);
  expect_failure(run("group --by k --agg sum:v --chunk-bytes 64 " + quote(path("late.csv"))), 1,
                 path("late.csv").string() + ":5002: unterminated quote");
  expect_failure(run("group --by k " + quote(path("missing.csv"))), 1, "missing.csv: cannot open");
}

TEST_F(Cli, GroupUsageErrors) {
  write_file(path("t.csv"), "k,v\n1,2\n");
  std::string const file = " " + quote(path("t.csv"));
  struct usage_case {
    std::string args;
    std::string message;
  };
  usage_case const cases[] = {
      {"group" + file, "--by"},
      {"group --by k --agg bogus:v" + file, "bogus:v"},
      {"group --by k --agg sum" + file, "'sum'"},
      {"group --by k --types v:float" + file, "v:float"},
      {"group --by k --delimiter ab" + file, "--delimiter"},
      {"group --by k --delimiter '\"'" + file, "--delimiter"},
      {"group --by k --threads 0" + file, "--threads"},
      {"group --by k --chunk-bytes 0" + file, "whole number"},
      {"group --by k", "file"},
  };
  for (auto const& c : cases) {
    SCOPED_TRACE(c.args);
    expect_failure(run(c.args), 2, c.message);
  }
  // A usage error wins over bad input.
  expect_failure(run("group --by k --agg bogus " + quote(path("missing.csv"))), 2, "bogus");
}

/**
 * A real public data set: Unicode's UnicodeData.txt (Debian's unicode-data package; 34,924
 * records of 15 `;`-separated fields, no header, most fields empty), grouped by bulkmap and by
 * sqlite3, which reads the same file. Keys of one string column, of two, and of an int column;
 * every aggregate (SQLite has no variance, first or last: they are written in SQL).
 */
TEST_F(Cli, GroupSameAsSqliteOnUnicodeData) {
  std::string const table = BULKMAP_TEST_TABLE;
  if (!fs::exists(table)) {
    GTEST_SKIP() << table << " is missing (apt-get install unicode-data; scripts/deps does it)";
  }
  if (std::system("command -v sqlite3 >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "sqlite3 is not installed";
  }
  // SQL for column c's aggregates the way bulkmap defines them, over table u grouped by `by`.
  auto const variance = [](std::string const& c) {
    return "(sum(" + c + " * " + c + " * 1.0) - sum(" + c + " * 1.0) * sum(" + c +
           " * 1.0) / count(" + c + ")) / (count(" + c + ") - 1)";
  };
  auto const first_last = [](std::string const& c, std::string const& by, char const* order) {
    std::string where;
    std::size_t start = 0;
    while (start <= by.size()) {
      std::size_t const end = std::min(by.find(',', start), by.size());
      std::string const k = by.substr(start, end - start);
      where += (where.empty() ? "" : " AND ") + ("v." + k + " IS u." + k);
      start = end + 1;
    }
    return "(SELECT v." + c + " FROM u AS v WHERE " + where + " AND v." + c +
           " IS NOT NULL ORDER BY v.rowid " + order + " LIMIT 1)";
  };
  struct query {
    std::string by;
    std::string aggs;             // bulkmap's --agg
    std::string select;           // SQLite's aggregates, in the same order
    std::set<std::size_t> reals;  // aggregates compared as doubles (mean, variance)
  };
  std::vector<query> const queries{
      {"column3",
       "count,count:column8,sum:column4,mean:column4,max:column4,variance:column4,sum:column8,min:"
       "column2,max:column2,first:column2,last:column2",
       "count(*), count(column8), sum(column4), avg(column4), max(column4), " +
           variance("column4") + ", sum(column8), min(column2), max(column2), " +
           first_last("column2", "column3", "ASC") + ", " +
           first_last("column2", "column3", "DESC"),
       {3, 5}},
      {"column3,column5",
       "count,min:column4,max:column4,min:column1,max:column1,last:column13",
       "count(*), min(column4), max(column4), min(column1), max(column1), " +
           first_last("column13", "column3,column5", "DESC"),
       {}},
      {"column4",
       "count,count:column7,sum:column7,mean:column7,first:column5",
       "count(*), count(column7), sum(column7), avg(column7), " +
           first_last("column5", "column4", "ASC"),
       {3}},
  };
  // The columns as bulkmap names them without a header, typed as it infers them.
  std::string sql = "CREATE TABLE u(";
  for (int c = 1; c <= 15; ++c) {
    bool const integer = c == 4 || c == 7 || c == 8;
    sql += "column" + std::to_string(c) + (integer ? " INTEGER" : " TEXT") + (c < 15 ? ", " : "");
  }
  sql += ");\n.mode csv\n.separator ;\n.import " + table + " u\n";
  for (int c = 1; c <= 15; ++c) {
    std::string const name = "column" + std::to_string(c);
    sql += "UPDATE u SET " + name + " = NULL WHERE " + name + " = '';\n";
  }
  sql += ".separator ,\n.headers on\n";
  for (query const& q : queries) {
    sql += "SELECT " + q.by + ", " + q.select + " FROM u GROUP BY " + q.by + " ORDER BY " + q.by +
           ";\n";
  }
  write_file(path("q.sql"), sql);
  std::string const sql_out = path("sqlite.csv").string();
  ASSERT_EQ(
      std::system(
          ("sqlite3 :memory: <" + quote(path("q.sql").string()) + " >" + quote(sql_out)).c_str()),
      0);
  csv_records const all_want = parse_csv(read_file(sql_out));  // the three results, one by one
  std::size_t at = 0;
  for (query const& q : queries) {
    SCOPED_TRACE("--by " + q.by + " --agg " + q.aggs);
    auto const keys = static_cast<std::size_t>(std::count(q.by.begin(), q.by.end(), ',')) + 1;
    auto const result = run("group --no-header --delimiter ';' --by " + q.by + " --agg " + q.aggs +
                            " " + quote(fs::path(table)));
    EXPECT_SUCCESS(result);
    csv_records const got = parse_csv(result.out);
    ASSERT_GT(got.size(), 2u);
    ASSERT_LE(at + got.size(), all_want.size());
    for (std::size_t r = 1; r < got.size(); ++r) {  // record 0: the headers differ
      auto const& want = all_want[at + r];
      ASSERT_EQ(got[r].size(), want.size()) << "record " << r;
      for (std::size_t c = 0; c < want.size(); ++c) {
        bool const real = c >= keys && q.reals.count(c - keys) != 0;
        if (real && got[r][c] && want[c]) {
          double const a = std::strtod(got[r][c]->c_str(), nullptr);
          double const b = std::strtod(want[c]->c_str(), nullptr);
          EXPECT_NEAR(a, b, 1e-9 * std::max(1.0, std::abs(b))) << "record " << r << ", field " << c;
        } else {
          EXPECT_EQ(got[r][c], want[c]) << "record " << r << ", field " << c;
        }
      }
    }
    at += got.size();
  }
  EXPECT_EQ(at, all_want.size());
}

/// sqlite3's GROUP BY on the same file: import the CSV into typed columns, empty strings to
/// NULL, and group with ORDER BY (NULL first, BINARY collation: memcmp, as bulkmap).
TEST_F(Cli, GroupSameAsSqlite) {
  if (std::system("command -v sqlite3 >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "sqlite3 is not installed";
  }
  SCOPED_TRACE("seed " + std::to_string(seed_));
  csv_table t = random_csv_table(rng_, 3000, false);  // sqlite3 cuts text at NUL
  write_file(path("t.csv"), write_csv_table(t, rng_, ',', true, false));
  write_file(path("q.sql"),
             "CREATE TABLE t(id INTEGER, one TEXT, ks TEXT, ki INTEGER, kf REAL, vi INTEGER, "
             "vf REAL, vs TEXT, junk TEXT);\n"
             ".import --csv --skip 1 " +
                 path("t.csv").string() +
                 " t\n"
                 "UPDATE t SET ks = NULLIF(ks, ''), ki = NULLIF(ki, ''), kf = NULLIF(kf, ''), "
                 "vi = NULLIF(vi, ''), vf = NULLIF(vf, ''), vs = NULLIF(vs, '');\n"
                 ".mode csv\n.headers on\n"
                 "SELECT ks, ki, count(*), count(vi), sum(vi), min(vi), max(vi), sum(vf), avg(vf), "
                 "min(vf), max(vf), min(vs), max(vs) FROM t GROUP BY ks, ki ORDER BY ks, ki;\n");
  std::string const sql_out = path("sqlite.csv").string();
  ASSERT_EQ(
      std::system(
          ("sqlite3 :memory: <" + quote(path("q.sql").string()) + " >" + quote(sql_out)).c_str()),
      0);
  auto const result =
      run("group --by ks,ki --agg count,count:vi,sum:vi,min:vi,max:vi,sum:vf,"
          "mean:vf,min:vf,max:vf,min:vs,max:vs " +
          quote(path("t.csv")));
  EXPECT_SUCCESS(result);
  // sqlite3 ends records with CRLF in csv mode and prints reals with 15 digits.
  std::string const sqlite_text = read_file(sql_out);
  csv_records const want = parse_csv(sqlite_text);
  csv_records const got = parse_csv(result.out);
  ASSERT_EQ(got.size(), want.size());
  ASSERT_GT(got.size(), 50u);
  for (std::size_t r = 1; r < got.size(); ++r) {
    ASSERT_EQ(got[r].size(), want[r].size()) << "record " << r;
    for (std::size_t c = 0; c < got[r].size(); ++c) {
      bool const real = c == 7 || c == 8 || c == 9 || c == 10;
      if (real && got[r][c] && want[r][c]) {
        double const a = std::strtod(got[r][c]->c_str(), nullptr);
        double const b = std::strtod(want[r][c]->c_str(), nullptr);
        EXPECT_NEAR(a, b, 1e-9 * std::max(1.0, std::abs(b))) << "record " << r << ", field " << c;
      } else {
        EXPECT_EQ(got[r][c], want[r][c]) << "record " << r << ", field " << c;
      }
    }
  }
}

// -------------------------------------------------------------------------------------------------
// group, streaming: many chunks merge into the groups of the chunks before
// -------------------------------------------------------------------------------------------------

/// The rows of `t` in the order `order` (a permutation of its rows).
csv_table reordered(csv_table const& t, std::vector<std::size_t> const& order) {
  csv_table out;
  for (std::size_t r : order) {
    out.id.push_back(t.id[r]);
    out.ks.push_back(t.ks[r]);
    out.vs.push_back(t.vs[r]);
    out.junk.push_back(t.junk[r]);
    out.ki.push_back(t.ki[r]);
    out.vi.push_back(t.vi[r]);
    out.kf.push_back(t.kf[r]);
    out.vf.push_back(t.vf[r]);
  }
  return out;
}

/// Gives row 0 a value of its column's type in every column, so that the first chunk, even of one
/// row, infers every type (and no type widens later).
void type_first_row(csv_table& t) {
  t.ks[0] = "alpha";
  t.ki[0] = 1;
  t.kf[0] = 0.5;
  t.vi[0] = 5;
  t.vf[0] = 0.25;
  t.vs[0] = "a0";
}

TEST_F(Cli, GroupManyChunksMergeEveryAggregate) {
  SCOPED_TRACE("seed " + std::to_string(seed_));
  csv_table shuffled = random_csv_table(rng_, 1200);
  type_first_row(shuffled);
  // The same rows clustered by ks: most groups then appear in a few chunks only, others (by id,
  // one group per row) in one.
  std::vector<std::size_t> order(shuffled.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return key_of(shuffled, "ks", a) < key_of(shuffled, "ks", b);
  });
  csv_table clustered = reordered(shuffled, order);
  type_first_row(clustered);
  std::vector<std::vector<std::string>> const key_sets = {
      {"ks"}, {"ki"}, {"kf"}, {"ks", "ki"}, {"kf", "ks", "ki"}, {"id"}};
  for (csv_table* t : {&shuffled, &clustered}) {
    SCOPED_TRACE(t == &shuffled ? "shuffled" : "clustered by ks");
    write_file(path("t.csv"), write_csv_table(*t, rng_));
    for (auto const& keys : key_sets) {
      std::string by;
      for (auto const& k : keys) by += (by.empty() ? "" : ",") + k;
      auto const expected = reference_groups(*t, keys, false);
      // One record a chunk; a few records; about ten chunks.
      for (char const* chunk : {" --chunk-bytes 1 --threads 1", " --chunk-bytes 700 --threads 1",
                                " --chunk-bytes 20000"}) {
        SCOPED_TRACE("--by " + by + chunk);
        auto const result =
            run("group --by " + by + " --agg " + all_aggs() + chunk + " " + quote(path("t.csv")));
        EXPECT_SUCCESS(result);
        EXPECT_TRUE(same_groups(result.out, expected));
        EXPECT_EQ(group_summary(result.err),
                  std::make_pair(std::uint64_t{t->size()}, std::uint64_t{expected.size() - 1}));
      }
    }
  }
}

/// A value of a column whose type widens: its text, and whether it is NULL.
using widening_field = std::optional<std::string>;

TEST_F(Cli, GroupTypesThatWidenInALateChunk) {
  // Columns: a, int keys written as "3", "03", "+3" that a late "2.5" makes float64 (one group per
  // number); b, the same keys that a late "x" makes string (one group per text); v, int values
  // that a late "0.5" makes float64; w, numbers that a late "z" makes string (min and max then
  // compare bytewise: "10" < "9").
  SCOPED_TRACE("seed " + std::to_string(seed_));
  std::size_t const rows = 3000;
  std::vector<widening_field> a, b, v, w;
  char const* const forms[] = {"", "0", "+"};
  for (std::size_t i = 0; i < rows; ++i) {
    auto const maybe = [&](std::string text) {
      return rng_() % 8 == 0 ? widening_field() : widening_field(std::move(text));
    };
    std::string const key = forms[rng_() % 3] + std::to_string(rng_() % 5);
    a.push_back(maybe(key));
    b.push_back(maybe(key));
    v.push_back(maybe(std::to_string(static_cast<std::int64_t>(rng_() % 2001) - 1000)));
    w.push_back(maybe(std::to_string(rng_() % 120)));
  }
  a[rows - 2] = "2.5";
  b[rows - 2] = "x";
  v[rows - 1] = "0.5";
  w[rows - 1] = "z";
  std::string text = "a,b,v,w\n";
  for (std::size_t i = 0; i < rows; ++i) {
    text += a[i].value_or("") + "," + b[i].value_or("") + "," + v[i].value_or("") + "," +
            w[i].value_or("") + "\n";
  }
  write_file(path("w.csv"), text);
  write_gzip(path("w.csv.gz"), text);

  // The reference: a by number, b by text; v as doubles, w as text.
  std::string const aggs =
      "count,sum:v,mean:v,variance:v,min:v,max:v,first:v,last:v,min:w,max:w,"
      "first:w,last:w";
  struct values {
    std::uint64_t rows = 0;
    std::vector<double> v;
    std::vector<std::string> w;
  };
  auto const expected_of = [&](std::string const& key, auto const& groups) {
    std::vector<std::vector<expected_cell>> out;
    out.push_back({text_cell(key)});
    for (char const* h : {"count", "sum_v", "mean_v", "variance_v", "min_v", "max_v", "first_v",
                          "last_v", "min_w", "max_w", "first_w", "last_w"}) {
      out[0].push_back(text_cell(h));
    }
    for (auto const& [k, g] : groups) {
      std::vector<expected_cell> row;
      if (!k) {
        row.emplace_back();
      } else if constexpr (std::is_same_v<std::decay_t<decltype(*k)>, double>) {
        row.push_back(real_cell(*k));
      } else {
        row.push_back(text_cell(*k));
      }
      row.push_back(int_cell(static_cast<std::int64_t>(g.rows)));
      if (g.v.empty()) {
        for (int i = 0; i < 7; ++i) row.emplace_back();
      } else {
        row.push_back(real_cell(sum_of(g.v), abs_sum_of(g.v)));
        row.push_back(real_cell(sum_of(g.v) / g.v.size(), abs_sum_of(g.v) / g.v.size()));
        row.push_back(variance_of(g.v));
        row.push_back(real_cell(*std::min_element(g.v.begin(), g.v.end())));
        row.push_back(real_cell(*std::max_element(g.v.begin(), g.v.end())));
        row.push_back(real_cell(g.v.front()));
        row.push_back(real_cell(g.v.back()));
      }
      if (g.w.empty()) {
        for (int i = 0; i < 4; ++i) row.emplace_back();
      } else {
        row.push_back(text_cell(*std::min_element(g.w.begin(), g.w.end())));
        row.push_back(text_cell(*std::max_element(g.w.begin(), g.w.end())));
        row.push_back(text_cell(g.w.front()));
        row.push_back(text_cell(g.w.back()));
      }
      out.push_back(std::move(row));
    }
    return out;
  };
  std::map<std::optional<double>, values> by_number;
  std::map<std::optional<std::string>, values> by_text;
  for (std::size_t i = 0; i < rows; ++i) {
    for (values* g : {&by_number[a[i] ? std::optional<double>(std::stod(*a[i])) : std::nullopt],
                      &by_text[b[i]]}) {
      ++g->rows;
      if (v[i]) g->v.push_back(std::stod(*v[i]));
      if (w[i]) g->w.push_back(*w[i]);
    }
  }
  ASSERT_EQ(by_number.size(), 7u);  // NULL, 0 to 4, 2.5
  ASSERT_GT(by_text.size(), 12u);   // NULL, x, and the keys in up to three forms each
  auto const want_a = expected_of("a", by_number);
  auto const want_b = expected_of("b", by_text);

  // In chunks of about 30 records, through each kind of input: a file, gzip, stdin from a file
  // (read again by seeking back), stdin from a pipe, and a pipe named by a path (as a shell's
  // process substitution names one), both copied to a temporary file to be read again.
  struct input_case {
    std::string prefix;
    std::string file;
  };
  input_case const inputs[] = {
      {"</dev/null", quote(path("w.csv"))},
      {"</dev/null", quote(path("w.csv.gz"))},
      {"<" + quote(path("w.csv")), "-"},
      {"cat " + quote(path("w.csv.gz")) + " |", "-"},
      {"cat " + quote(path("w.csv.gz")) + " |", "/dev/stdin"},
  };
  for (auto const& input : inputs) {
    for (auto const& [key, want] : {std::make_pair("a", &want_a), std::make_pair("b", &want_b)}) {
      SCOPED_TRACE(std::string("--by ") + key + " on " + input.prefix + " " + input.file);
      auto const result =
          run_shell(input.prefix, std::string("group --by ") + key + " --agg " + aggs +
                                      " --chunk-bytes 1000 --threads 1 " + input.file);
      EXPECT_SUCCESS(result);
      EXPECT_TRUE(same_groups(result.out, *want));
      EXPECT_EQ(group_summary(result.err).first, rows);
    }
  }
  // Declared types need no inference: one pass, even from a pipe.
  auto const declared = run_shell("cat " + quote(path("w.csv")) + " |",
                                  "group --by b --types b:string,v:float64,w:string --agg " + aggs +
                                      " --chunk-bytes 1000 --threads 1 -");
  EXPECT_SUCCESS(declared);
  EXPECT_TRUE(same_groups(declared.out, want_b));
}

TEST_F(Cli, GroupErrorsInALateChunk) {
  // Every record but the last few is fine, read in chunks of a few records each.
  std::string head = "k,v\n";
  for (int i = 0; i < 3000; ++i) head += std::to_string(i % 7) + "," + std::to_string(i) + "\n";
  struct late_case {
    std::string tail;  ///< from line 3002 on
    std::string args;
    std::string where;  ///< after "FILE:"
  };
  late_case const cases[] = {
      {"1,1.5\n", "--by k --types v:int64 --agg sum:v", "3002: column 'v' (int64): '1.5'"},
      {"1,x\n2,3\n", "--by k --agg sum:v",
       "3002: --agg sum:v needs numbers, but column 'v' holds 'x'"},
      {"1,x\n2,y\n", "--by k --agg mean:v", "3002: --agg mean:v needs numbers"},
      // A type error found early waits until the input is read: a bad record later wins.
      {"1,x\n2,\"3\n", "--by k --agg variance:v", "3003: unterminated quote"},
      {"1,2\n3\n", "--by k --agg sum:v", "3003: expected 2 fields, found 1"},
      {"1,2\n3,4\"\n", "--by k --agg min:v", "3003: malformed quoting"},
  };
  for (auto const& c : cases) {
    SCOPED_TRACE(c.args + " with " + c.tail);
    write_file(path("late.csv"), head + c.tail);
    std::string const args =
        "group " + c.args + " --chunk-bytes 100 --threads 1 -o " + quote(path("out.csv")) + " ";
    expect_failure(run(args + quote(path("late.csv"))), 1,
                   path("late.csv").string() + ":" + c.where);
    EXPECT_FALSE(fs::exists(path("out.csv")));
    expect_failure(run_shell("cat " + quote(path("late.csv")) + " |", args + "-"), 1,
                   "<stdin>:" + c.where);
    EXPECT_FALSE(fs::exists(path("out.csv")));
  }
  // --skip-bad-rows skips late bad records and counts them.
  write_file(path("late.csv"), head + "1,2\n3\n4,5,6\n");
  auto const skipped =
      run("group --by k --agg sum:v --skip-bad-rows --chunk-bytes 100 --threads 1 " +
          quote(path("late.csv")));
  EXPECT_SUCCESS(skipped);
  EXPECT_NE(skipped.err.find("2 bad rows skipped"), std::string::npos) << skipped.err;
  EXPECT_EQ(group_summary(skipped.err), std::make_pair(std::uint64_t{3001}, std::uint64_t{7}));
}

}  // namespace

// -------------------------------------------------------------------------------------------------
// The same bytes out whatever the threads, chunks and backend; out of memory
// -------------------------------------------------------------------------------------------------

namespace {

TEST_F(Cli, OutputIsTheSameBytesForEveryThreadCountChunkSizeAndBackend) {
  SCOPED_TRACE("seed " + std::to_string(seed_));
  write_file(path("reads.fa"), to_fasta(random_reads(rng_, 400, 0, 150), 60));
  std::string ints;
  for (int i = 0; i < 20000; ++i) {
    ints += std::to_string(static_cast<std::int64_t>(rng_() % 3000) - 1500) + (i % 7 ? " " : "\n");
  }
  write_file(path("ints.txt"), ints);
  write_file(path("words.txt"), random_text(rng_, 20000));
  csv_table t = random_csv_table(rng_, 2000);
  write_file(path("t.csv"), write_csv_table(t, rng_));
  // Floating-point sums (mean, variance of vf) depend on the order of the additions, as in the
  // library: only exact aggregates here.
  std::string const exact = " --agg count,count:vi,sum:vi,min:vi,max:vi,first:vs,last:vs --list vs";
  struct mode {
    std::string args;
    std::vector<std::string> chunks;
  };
  std::vector<mode> const modes = {
      {"count --kmer 21 " + quote(path("reads.fa")), {"", " --chunk-size 97"}},
      {"count --kmer 45 --top 50 " + quote(path("reads.fa")), {"", " --chunk-size 1000"}},
      {"count --ints " + quote(path("ints.txt")), {"", " --chunk-size 333"}},
      {"count --words --min-count 2 " + quote(path("words.txt")), {"", " --chunk-size 64"}},
      {"count --words --alnum --lower " + quote(path("words.txt")), {"", " --chunk-size 1000"}},
      {"group --by ks,ki" + exact + " " + quote(path("t.csv")), {"", " --chunk-bytes 700"}},
  };
  for (auto const& m : modes) {
    SCOPED_TRACE(m.args);
    std::vector<std::string> runs;
    for (std::string const threads : {" --threads 1", " --threads 3"}) {
      for (auto const& chunk : m.chunks) runs.push_back(" --backend omp" + threads + chunk);
    }
    runs.push_back(" --backend auto");  // cuda where a GPU is present: the backends compared
    std::optional<std::string> first;
    for (auto const& options : runs) {
      SCOPED_TRACE(options);
      auto const result = run(m.args + options);
      EXPECT_SUCCESS(result);
      if (!first) first = result.out;
      EXPECT_TRUE(result.out == *first) << "the output differs in its bytes";
    }
    EXPECT_GT(first->size(), 100u);
  }
}

#if defined(__SANITIZE_ADDRESS__)
#define BULKMAP_TEST_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BULKMAP_TEST_UNDER_ASAN 1
#endif
#endif

// Under a cap on address space (ulimit -v) that the input's distinct keys exceed, each mode fails
// with one line saying so, exit 1, and nothing on stdout (nor in the -o file).
TEST_F(Cli, OutOfMemoryIsACleanErrorWithNoOutput) {
#ifdef BULKMAP_TEST_UNDER_ASAN
  GTEST_SKIP() << "AddressSanitizer reserves terabytes of address space: no cap on it works";
#endif
  std::string ints;
  std::string words;
  std::string csv = "k,v\n";
  for (int i = 0; i < 3000000; ++i) {
    ints += std::to_string(i * 7919LL) + "\n";
    words += "w" + std::to_string(i) + " ";
    csv += std::to_string(i) + ",1\n";
  }
  write_file(path("ints.txt"), ints);
  write_file(path("words.txt"), words);
  write_file(path("t.csv"), csv);
  std::string const out = " -o " + quote(path("out.txt")) + " --backend omp --threads 2 ";
  for (std::string const& args : {"count --ints" + out + quote(path("ints.txt")),
                                  "count --words" + out + quote(path("words.txt")),
                                  "group --by k --agg sum:v" + out + quote(path("t.csv"))}) {
    SCOPED_TRACE(args);
    // 200 MB of address space: the binary, its threads and a chunk of input fit; the table
    // for millions of keys does not.
    // The table's growth fails ("bulkmap: rehash: out of memory (...)"), or first a buffer of
    // the host code ("bulkmap: out of host memory"), as in a cuda build's larger binary.
    auto const result = run_shell("ulimit -v 200000;", args);
    expect_failure(result, 1, "bulkmap: ");
    EXPECT_TRUE(result.err.find("out of memory") != std::string::npos ||
                result.err.find("out of host memory") != std::string::npos)
        << result.err;
    EXPECT_FALSE(fs::exists(path("out.txt"))) << "no partial output file";
  }
}

}  // namespace
