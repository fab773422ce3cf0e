/**
 * @file bulkmap_cli.cpp
 * @brief The `bulkmap` command-line tool: `bulkmap count` counts k-mers of FASTA/FASTQ input or
 * integers of text input in a `bulkmap::device_map`, streaming the input in chunks.
 *
 * Compiled by nvcc on the cuda backend (k-mers are extracted by Thrust algorithms on the GPU)
 * and by g++ on omp (the same algorithms run on all cores).
 *
 * Exit codes: 0 success (and `--help`); 1 bad input, or a failed read, write or device call;
 * 2 bad usage. Every error is one line on stderr; stdout receives nothing unless every input was
 * read successfully, and `-o FILE` is written to a temporary file renamed into place at the end.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <thrust/copy.h>
#include <thrust/device_vector.h>
#include <thrust/for_each.h>
#include <thrust/iterator/counting_iterator.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <bulkmap/bulkmap.hpp>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "cli_error.hpp"
#include "fastx_reader.hpp"
#include "int_reader.hpp"
#include "kmer.hpp"
#include "text_input.hpp"

#if defined(BULKMAP_BACKEND_OMP)
#include <omp.h>
#endif
#if defined(BULKMAP_BACKEND_CUDA)
#include <cuda_runtime_api.h>
#endif

namespace bulkmap::cli {
namespace {

using clock_type = std::chrono::steady_clock;

/// Default chunk: bases of sequence (--kmer) or integers (--ints) read before a bulk count.
constexpr std::size_t default_kmer_chunk = std::size_t{8} << 20;
constexpr std::size_t default_int_chunk = std::size_t{4} << 20;

/// k-mer positions one call of `kmer_block` encodes: one per GPU thread (neighbouring threads
/// read neighbouring bytes); a run per CPU thread call, rolling the code instead of re-reading k
/// bases a position.
#if defined(BULKMAP_BACKEND_CUDA)
constexpr std::size_t kmer_block_size = 1;
#else
constexpr std::size_t kmer_block_size = 256;
#endif

/// Everything `bulkmap count` was asked to do.
struct count_options {
  std::optional<int> kmer;
  bool ints = false;
  bool no_canonical = false;
  std::uint64_t min_count = 1;
  std::optional<std::uint64_t> top;
  std::string output;
  std::string backend = "auto";
  std::optional<int> threads;
  std::size_t chunk_size = 0;  ///< 0: the default for the mode
  std::vector<std::string> files;
};

// -------------------------------------------------------------------------------------------------
// Progress and summary on stderr
// -------------------------------------------------------------------------------------------------

/// The carriage-return progress line: only on a terminal, and only once the input takes > 1 s.
class progress {
 public:
  progress() : start_(clock_type::now()), enabled_(::isatty(STDERR_FILENO) == 1) {}

  [[nodiscard]] double seconds() const {
    return std::chrono::duration<double>(clock_type::now() - start_).count();
  }

  void update(std::uint64_t keys, std::uint64_t bytes) {
    if (!enabled_) return;
    double const now = seconds();
    if (now < 1.0 || now - last_ < 0.25) return;
    last_ = now;
    std::fprintf(stderr, "\rbulkmap count: %llu keys, %.1f MB read, %.1f s\x1b[K",
                 static_cast<unsigned long long>(keys), static_cast<double>(bytes) / 1e6, now);
    std::fflush(stderr);
    shown_ = true;
  }

  /// Clears the progress line, if one was shown.
  void clear() {
    if (shown_) std::fputs("\r\x1b[K", stderr);
    shown_ = false;
  }

 private:
  clock_type::time_point start_;
  bool enabled_;
  bool shown_ = false;
  double last_ = 0;
};

/// "omp (N threads, CPU model)" or "cuda (GPU name)".
std::string backend_description() {
  std::string text = backend_name;
#if defined(BULKMAP_BACKEND_CUDA)
  int device = 0;
  cudaDeviceProp properties{};
  if (cudaGetDevice(&device) == cudaSuccess &&
      cudaGetDeviceProperties(&properties, device) == cudaSuccess) {
    text += std::string(" (") + properties.name + ")";
  }
#else
  int const threads = omp_get_max_threads();
  text += " (" + std::to_string(threads) + (threads == 1 ? " thread" : " threads");
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) == 0) {
      auto const colon = line.find(':');
      if (colon != std::string::npos && colon + 2 <= line.size())
        text += ", " + line.substr(colon + 2);
      break;
    }
  }
  text += ")";
#endif
  return text;
}

// -------------------------------------------------------------------------------------------------
// Output: stdout, or a temporary file renamed over FILE once complete
// -------------------------------------------------------------------------------------------------

class output_sink {
 public:
  /// Opens stdout when `path` is empty or "-", else a temporary file next to `path`.
  /// @throw input_error if the temporary file cannot be created
  explicit output_sink(std::string path) : path_(std::move(path)) {
    if (path_.empty() || path_ == "-") {
      file_ = stdout;
      path_ = "<stdout>";
      return;
    }
    struct stat st {};
    if (::stat(path_.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      throw input_error(path_ + ": cannot write: is a directory");
    }
    std::string pattern = path_ + ".bulkmap-XXXXXX";
    int const fd = ::mkstemp(pattern.data());
    if (fd < 0) throw input_error(path_ + ": cannot create: " + std::strerror(errno));
    temporary_ = pattern;
    mode_t const mask = ::umask(0);
    ::umask(mask);
    ::fchmod(fd, 0666 & ~mask);
    file_ = ::fdopen(fd, "w");
    if (file_ == nullptr) {
      ::close(fd);
      discard();
      throw input_error(path_ + ": cannot create: " + std::strerror(errno));
    }
    buffer_.reserve(flush_size + 128);
  }

  output_sink(output_sink const&) = delete;
  output_sink& operator=(output_sink const&) = delete;
  ~output_sink() { discard(); }

  std::string& buffer() { return buffer_; }

  /// Writes the buffer out once it holds more than `flush_size` bytes.
  void maybe_flush() {
    if (buffer_.size() >= flush_size) flush();
  }

  /// Writes everything and, for a file, renames it into place.
  void commit() {
    flush();
    if (std::fflush(file_) != 0 || std::ferror(file_)) fail();
    if (temporary_.empty()) return;
    FILE* const file = file_;
    file_ = nullptr;
    if (std::fclose(file) != 0) fail();
    if (std::rename(temporary_.c_str(), path_.c_str()) != 0) fail();
    temporary_.clear();
  }

 private:
  static constexpr std::size_t flush_size = std::size_t{1} << 20;

  void flush() {
    if (!buffer_.empty() &&
        std::fwrite(buffer_.data(), 1, buffer_.size(), file_) != buffer_.size()) {
      fail();
    }
    buffer_.clear();
  }

  [[noreturn]] void fail() {
    std::string const what = std::strerror(errno);
    throw input_error(path_ + ": write error: " + what);
  }

  void discard() noexcept {
    if (file_ != nullptr && file_ != stdout) std::fclose(file_);
    file_ = nullptr;
    if (!temporary_.empty()) std::remove(temporary_.c_str());
    temporary_.clear();
  }

  std::string path_;
  std::string temporary_;
  FILE* file_ = nullptr;
  std::string buffer_;
};

void append_number(std::string& out, std::uint64_t value) {
  char digits[24];
  auto const result = std::to_chars(digits, digits + sizeof digits, value);
  out.append(digits, result.ptr);
}

void append_number(std::string& out, std::int64_t value) {
  char digits[24];
  auto const result = std::to_chars(digits, digits + sizeof digits, value);
  out.append(digits, result.ptr);
}

/**
 * @brief Writes `KEY<TAB>COUNT` lines: counts >= min_count; with `top`, the `top` largest counts
 * (ties by key ascending), else every key in ascending order.
 * @tparam WriteKey callable as `void(std::string&, Key)`
 */
template <class Key, class WriteKey>
void write_counts(bulkmap::host_mirror<Key, std::uint64_t> const& counts,
                  count_options const& options, output_sink& out, WriteKey write_key) {
  auto const& keys = counts.keys();
  auto const& values = counts.values();
  std::string& buffer = out.buffer();
  auto const row = [&](std::size_t i) {
    write_key(buffer, keys[i]);
    buffer += '\t';
    append_number(buffer, values[i]);
    buffer += '\n';
    out.maybe_flush();
  };
  if (!options.top) {
    for (std::size_t i = 0; i < keys.size(); ++i) {
      if (values[i] >= options.min_count) row(i);
    }
  } else {
    std::vector<std::size_t> order;
    for (std::size_t i = 0; i < keys.size(); ++i) {
      if (values[i] >= options.min_count) order.push_back(i);
    }
    std::size_t const n =
        static_cast<std::size_t>(std::min<std::uint64_t>(*options.top, order.size()));
    // The mirror is sorted by key, so a lower index is a smaller key.
    std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n), order.end(),
                      [&](std::size_t a, std::size_t b) {
                        return values[a] != values[b] ? values[a] > values[b] : a < b;
                      });
    for (std::size_t j = 0; j < n; ++j) row(order[j]);
  }
  out.commit();
}

// -------------------------------------------------------------------------------------------------
// Counting
// -------------------------------------------------------------------------------------------------

/// What the counting phase hands to the summary.
struct count_totals {
  std::uint64_t input_keys = 0;
  std::uint64_t distinct_keys = 0;
};

/**
 * @brief Gathers sequence into chunks (records joined by an 'N', which no k-mer crosses) and
 * counts each chunk's k-mers on the backend: `kmer_block` over the positions writes each one's
 * (code, valid flag), a copy_if on the flag keeps the valid codes, then `map.count`. A record that
 * continues past a chunk keeps its last k-1 bases for the next chunk, so no k-mer is lost or
 * counted twice.
 */
class kmer_counter final : public sequence_sink {
 public:
  kmer_counter(int k, bool canonical, std::size_t chunk_size, progress& meter)
      : k_(k),
        canonical_(canonical),
        chunk_size_(std::max(chunk_size, 2 * static_cast<std::size_t>(k))),
        meter_(meter) {
    chunk_.reserve(chunk_size_ + 1);
  }

  void bases(std::string_view piece) override {
    while (!piece.empty()) {
      std::size_t const take = std::min(chunk_size_ - chunk_.size(), piece.size());
      chunk_.append(piece.data(), take);
      piece.remove_prefix(take);
      if (chunk_.size() >= chunk_size_) flush(true);
    }
  }

  void end_record() override {
    chunk_ += 'N';
    record_start_ = chunk_.size();
    if (chunk_.size() >= chunk_size_) flush(false);
  }

  /// Counts what is left; call after the last input.
  void finish() { flush(false); }

  /// The input the progress line reports on.
  void set_input(text_input const* input, std::uint64_t bytes_before) {
    input_ = input;
    bytes_before_ = bytes_before;
  }

  [[nodiscard]] std::uint64_t input_keys() const noexcept { return input_keys_; }
  [[nodiscard]] bulkmap::device_map<std::uint64_t, std::uint64_t> const& map() const noexcept {
    return map_;
  }

 private:
  void flush(bool mid_record) {
    count_chunk();
    if (mid_record) {
      std::size_t const keep =
          std::min(static_cast<std::size_t>(k_ - 1), chunk_.size() - record_start_);
      chunk_.erase(0, chunk_.size() - keep);
    } else {
      chunk_.clear();
    }
    record_start_ = 0;
    meter_.update(input_keys_, bytes_before_ + (input_ != nullptr ? input_->bytes_read() : 0));
  }

  void count_chunk() {
    std::size_t const n = chunk_.size();
    auto const k = static_cast<std::size_t>(k_);
    if (n < k) return;
    std::size_t const positions = n - k + 1;
    if (bases_.size() < n) bases_.resize(n);
    if (codes_.size() < positions) {
      codes_.resize(positions);
      flags_.resize(positions);
      valid_.resize(positions);
    }
    thrust::copy(chunk_.data(), chunk_.data() + n, bases_.begin());
    std::size_t const blocks = (positions + kmer_block_size - 1) / kmer_block_size;
    thrust::for_each_n(
        thrust::counting_iterator<std::size_t>(0), blocks,
        kmer_block{thrust::raw_pointer_cast(bases_.data()), positions, kmer_block_size, k_,
                   canonical_, thrust::raw_pointer_cast(codes_.data()),
                   thrust::raw_pointer_cast(flags_.data())});
    auto const valid_end =
        thrust::copy_if(codes_.begin(), codes_.begin() + static_cast<std::ptrdiff_t>(positions),
                        flags_.begin(), valid_.begin(), is_valid_kmer{});
    map_.count(valid_.begin(), valid_end);
    input_keys_ += static_cast<std::uint64_t>(valid_end - valid_.begin());
  }

  int k_;
  bool canonical_;
  std::size_t chunk_size_;
  progress& meter_;
  std::string chunk_;             ///< host bytes of the current chunk
  std::size_t record_start_ = 0;  ///< where the current record's bases begin in chunk_
  thrust::device_vector<char> bases_;
  thrust::device_vector<std::uint64_t> codes_;
  thrust::device_vector<std::uint8_t> flags_;
  thrust::device_vector<std::uint64_t> valid_;
  bulkmap::device_map<std::uint64_t, std::uint64_t> map_;
  std::uint64_t input_keys_ = 0;
  text_input const* input_ = nullptr;
  std::uint64_t bytes_before_ = 0;
};

count_totals count_kmers(count_options const& options, output_sink& out, progress& meter) {
  int const k = *options.kmer;
  kmer_counter counter(k, !options.no_canonical,
                       options.chunk_size != 0 ? options.chunk_size : default_kmer_chunk, meter);
  std::uint64_t bytes = 0;
  for (auto const& path : options.files) {
    text_input input(path);
    counter.set_input(&input, bytes);
    read_fastx(input, counter);
    bytes += input.bytes_read();
    counter.set_input(nullptr, bytes);
  }
  counter.finish();
  auto const counts = counter.map().to_host();
  meter.clear();
  write_counts(counts, options, out, [k](std::string& buffer, std::uint64_t code) {
    char bases[max_kmer_length];
    decode_kmer(code, k, bases);
    buffer.append(bases, static_cast<std::size_t>(k));
  });
  return {counter.input_keys(), counts.size()};
}

count_totals count_ints(count_options const& options, output_sink& out, progress& meter) {
  std::size_t const chunk = options.chunk_size != 0 ? options.chunk_size : default_int_chunk;
  bulkmap::device_map<std::int64_t, std::uint64_t> map;
  std::vector<std::int64_t> batch;
  batch.reserve(chunk);
  std::uint64_t input_keys = 0;
  std::uint64_t bytes = 0;
  for (auto const& path : options.files) {
    text_input input(path);
    bool more = true;
    while (more) {
      batch.clear();
      more = read_ints(input, batch, chunk);
      if (!batch.empty()) {
        map.count(batch);
        input_keys += batch.size();
      }
      meter.update(input_keys, bytes + input.bytes_read());
    }
    bytes += input.bytes_read();
  }
  auto const counts = map.to_host();
  meter.clear();
  write_counts(counts, options, out,
               [](std::string& buffer, std::int64_t key) { append_number(buffer, key); });
  return {input_keys, counts.size()};
}

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

/// Checks what CLI11 cannot express; applies --threads.
void check_options(count_options const& options) {
  if (options.kmer.has_value() == options.ints) {
    throw usage_error("count: give exactly one of --kmer K or --ints (see bulkmap count --help)");
  }
  if (options.kmer && (*options.kmer < 1 || *options.kmer > max_kmer_length)) {
    throw usage_error("count: --kmer must be between 1 and 32, got " +
                      std::to_string(*options.kmer));
  }
  if (options.backend != "auto" && options.backend != backend_name) {
    throw usage_error(std::string("count: this bulkmap was built for the ") + backend_name +
                      " backend only; to use " + options.backend +
                      ", rebuild with cmake -S . -B build -DBULKMAP_BACKEND=" + options.backend);
  }
  if (options.threads) {
#if defined(BULKMAP_BACKEND_OMP)
    omp_set_num_threads(*options.threads);
#endif
  }
}

int run_count(count_options const& options) {
  check_options(options);
  for (auto const& path : options.files) text_input::check_readable(path);
  output_sink out(options.output);
  progress meter;
  count_totals const totals =
      options.kmer ? count_kmers(options, out, meter) : count_ints(options, out, meter);
  double const seconds = meter.seconds();
  std::fprintf(stderr,
               "bulkmap count: %llu input keys, %llu distinct keys, %.3f s, %.4g keys/s, backend "
               "%s\n",
               static_cast<unsigned long long>(totals.input_keys),
               static_cast<unsigned long long>(totals.distinct_keys), seconds,
               seconds > 0 ? static_cast<double>(totals.input_keys) / seconds : 0.0,
               backend_description().c_str());
  return 0;
}

/// `text` on one line (newlines become spaces).
std::string one_line(std::string text) {
  std::replace(text.begin(), text.end(), '\n', ' ');
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

int run(int argc, char** argv) {
  CLI::App app{
      std::string("bulkmap: count keys in bulk in a hash map on the ") + backend_name + " backend",
      "bulkmap"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("bulkmap 0.1.0 (") + backend_name + " backend)");

  count_options options;
  CLI::App* count = app.add_subcommand(
      "count",
      "Count k-mers of FASTA/FASTQ input (--kmer K) or integers of text input (--ints), and "
      "write KEY<TAB>COUNT lines sorted by key (or by count with --top). Inputs may be gzip; "
      "'-' reads stdin.");
  auto* kmer = count->add_option_function<int>(
      "--kmer", [&options](int const& k) { options.kmer = k; },
      "Count k-mers of length K (1 to 32) of FASTA/FASTQ input; k-mers with a base other than "
      "A/C/G/T (any case) are skipped");
  kmer->type_name("K");
  auto* ints = count->add_flag(
      "--ints", options.ints,
      "Count whitespace-separated decimal integers (signed 64-bit; an optional leading '+' or "
      "'-')");
  ints->excludes(kmer);
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
                   std::string("auto, cuda or omp; this binary holds ") + backend_name)
      ->check(CLI::IsMember({"auto", "cuda", "omp"}));
  count
      ->add_option_function<int>(
          "--threads", [&options](int const& n) { options.threads = n; },
          "Threads on the omp backend (default: all cores); ignored on cuda")
      ->type_name("N")
      ->check(whole_number(1));
  // For tests of chunk boundaries: bases (--kmer) or integers (--ints) counted per bulk call.
  count->add_option("--chunk-size", options.chunk_size, "")->group("")->check(whole_number(1));
  count->add_option("files", options.files, "Input files; '-' for stdin")
      ->required()
      ->type_name("FILE...");

  if (argc > 1 && argv[1][0] != '-' && std::string_view(argv[1]) != "count") {
    throw usage_error("unknown command '" + printable(argv[1]) +
                      "'; the only command is count (see bulkmap --help)");
  }
  try {
    app.parse(argc, argv);
  } catch (CLI::ParseError const& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    std::fprintf(stderr, "bulkmap: %s (see bulkmap --help)\n", one_line(e.what()).c_str());
    return exit_usage_error;
  }
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
