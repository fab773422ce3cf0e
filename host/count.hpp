/**
 * @file count.hpp
 * @brief `bulkmap count` on any backend: its options, the progress line, the output file, and the
 * interface of a counting engine.
 *
 * Everything here is plain host C++, compiled once. The counting itself is backend code
 * (count_engine.inl), compiled once per backend the binary holds: `omp_engine` always, and
 * `cuda_engine` in a cuda build. bulkmap's per-backend inline namespaces keep the two apart.
 */
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

namespace bulkmap::cli {

/// Everything `bulkmap count` was asked to do.
struct count_options {
  std::optional<int> kmer;
  bool ints = false;
  bool words = false;
  bool alnum = false;      ///< --words: letters, digits and bytes >= 0x80 make words
  bool lower = false;      ///< --words: ASCII letters to lower case
  bool recursive = false;  ///< directories among the inputs stand for the files below them
  bool no_canonical = false;
  std::uint64_t min_count = 1;
  std::optional<std::uint64_t> top;
  std::string output;
  std::string backend = "auto";
  std::optional<int> threads;
  std::size_t chunk_size = 0;  ///< 0: the default for the mode
  std::vector<std::string> files;
};

/// What the counting phase hands to the summary.
struct count_totals {
  std::uint64_t input_keys = 0;
  std::uint64_t distinct_keys = 0;
};

/// The carriage-return progress line: only on a terminal, and only once the input takes > 1 s.
class progress {
 public:
  progress();

  /// Seconds since construction.
  [[nodiscard]] double seconds() const;

  /// Shows `keys` counted and `bytes` read, at most four times a second.
  void update(std::uint64_t keys, std::uint64_t bytes);

  /// Clears the progress line, if one was shown.
  void clear();

 private:
  std::chrono::steady_clock::time_point start_;
  bool enabled_;
  bool shown_ = false;
  double last_ = 0;
};

/// Where the counts go: stdout, or a temporary file renamed over FILE once complete.
class output_sink {
 public:
  /// Opens stdout when `path` is empty or "-", else a temporary file next to `path`.
  /// @throw input_error if the temporary file cannot be created
  explicit output_sink(std::string path);
  output_sink(output_sink const&) = delete;
  output_sink& operator=(output_sink const&) = delete;
  /// Removes the temporary file unless `commit` ran.
  ~output_sink();

  /// The text not yet written.
  std::string& buffer() { return buffer_; }

  /// Writes the buffer out once it holds more than `flush_size` bytes.
  /// @throw input_error on a write error
  void maybe_flush() {
    if (buffer_.size() >= flush_size) flush();
  }

  /// Writes everything and, for a file, renames it into place.
  /// @throw input_error on a write or rename error
  void commit();

 private:
  static constexpr std::size_t flush_size = std::size_t{1} << 20;

  void flush();
  [[noreturn]] void fail();
  void discard() noexcept;

  std::string path_;
  std::string temporary_;
  FILE* file_ = nullptr;
  std::string buffer_;
};

/// Appends `value` in decimal.
void append_number(std::string& out, std::uint64_t value);
void append_number(std::string& out, std::int64_t value);

/**
 * @brief Writes `KEY<TAB>COUNT` lines and commits `out`: counts >= min_count; with `top`, the
 * `top` largest counts (ties by key ascending), else every key in ascending order.
 * @param values the counts of keys 0, 1, ..., sorted by key (as a mirror's `to_host` gives them)
 * @tparam WriteKey callable as `void(std::string&, std::size_t i)`, appending key i
 */
template <class WriteKey>
void write_counts(std::vector<std::uint64_t> const& values, count_options const& options,
                  output_sink& out, WriteKey write_key) {
  std::string& buffer = out.buffer();
  auto const row = [&](std::size_t i) {
    write_key(buffer, i);
    buffer += '\t';
    append_number(buffer, values[i]);
    buffer += '\n';
    out.maybe_flush();
  };
  if (!options.top) {
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (values[i] >= options.min_count) row(i);
    }
  } else {
    std::vector<std::size_t> order;
    for (std::size_t i = 0; i < values.size(); ++i) {
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

/**
 * @brief One backend's counting code, as the command line sees it.
 * Defined by count_engine.inl, once per backend built into the binary.
 */
struct count_engine {
  /// "cuda" or "omp", as `--backend` names it.
  char const* name;
  /// Empty when the backend can run on this machine, else why not (one line).
  std::string (*unavailable)();
  /// The backend and its device for the summary, e.g. "omp (2 threads, CPU model)".
  std::string (*describe)();
  /// Counts every input file, writes the counts to `out` and commits it.
  /// @throw input_error, bulkmap::error
  count_totals (*count)(count_options const& options, output_sink& out, progress& meter);
};

/// The omp engine: every binary holds it.
extern count_engine const omp_engine;
#if defined(BULKMAP_CLI_HAVE_CUDA)
/// The cuda engine: only a cuda build holds it.
extern count_engine const cuda_engine;
#endif

}  // namespace bulkmap::cli
