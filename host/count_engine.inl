/**
 * @file count_engine.inl
 * @brief The counting engine of `bulkmap count`: k-mers or integers into a `bulkmap::device_map`,
 * words into a `bulkmap::string_map`, streamed in chunks.
 *
 * Portable backend source, compiled once per backend the binary holds: the build generates
 * `engine_omp.cpp` (g++, Thrust's OpenMP device system) and, in a cuda build, `engine_cuda.cu`
 * (nvcc), each a one-line file that includes this one. Each defines one `count_engine`
 * (count.hpp): `omp_engine` or `cuda_engine`. Everything else here has internal linkage, and
 * bulkmap's own names sit in a per-backend inline namespace, so the two copies never meet.
 */
#include <thrust/copy.h>
#include <thrust/device_vector.h>
#include <thrust/for_each.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/iterator/transform_iterator.h>
#include <thrust/transform.h>

#include <algorithm>
#include <bulkmap/bulkmap.hpp>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "cli_error.hpp"
#include "count.hpp"
#include "fastx_reader.hpp"
#include "int_reader.hpp"
#include "kmer.hpp"
#include "text_input.hpp"
#include "words.hpp"

#if defined(BULKMAP_BACKEND_OMP)
#include <omp.h>
#endif
#if defined(BULKMAP_BACKEND_CUDA)
#include <cuda_runtime_api.h>
#endif

namespace bulkmap::cli {
namespace {

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

/// Empty when this backend can run here, else why not.
std::string unavailable() {
#if defined(BULKMAP_BACKEND_CUDA)
  int devices = 0;
  cudaError_t const status = cudaGetDeviceCount(&devices);
  if (status != cudaSuccess) {
    cudaGetLastError();  // clear it: the omp engine may run instead
    return std::string("no usable CUDA device (") + cudaGetErrorString(status) + ")";
  }
  if (devices == 0) return "no CUDA device";
#endif
  return {};
}

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

/**
 * @brief Gathers sequence into chunks (records joined by an 'N', which no k-mer crosses) and
 * counts each chunk's k-mers on the backend: `kmer_block` over the positions writes each one's
 * (code, valid flag), a copy_if on the flag keeps the valid codes, then `map.count`. A record that
 * continues past a chunk keeps its last k-1 bases for the next chunk, so no k-mer is lost or
 * counted twice.
 * @tparam Code `std::uint64_t` for k <= 32, `unsigned __int128` for k <= 64: the map's key type
 */
template <class Code>
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
  [[nodiscard]] bulkmap::device_map<Code, std::uint64_t> const& map() const noexcept {
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
        kmer_block<Code>{thrust::raw_pointer_cast(bases_.data()), positions, kmer_block_size, k_,
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
  thrust::device_vector<Code> codes_;
  thrust::device_vector<std::uint8_t> flags_;
  thrust::device_vector<Code> valid_;
  bulkmap::device_map<Code, std::uint64_t> map_;
  std::uint64_t input_keys_ = 0;
  text_input const* input_ = nullptr;
  std::uint64_t bytes_before_ = 0;
};

/// Counts k-mers with codes of type `Code` (which must hold k bases).
template <class Code>
count_totals count_kmers_as(count_options const& options, output_sink& out, progress& meter) {
  int const k = *options.kmer;
  kmer_counter<Code> counter(k, !options.no_canonical,
                             options.chunk_size != 0 ? options.chunk_size : default_kmer_chunk,
                             meter);
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
  write_counts(counts.values(), options, out, [&](std::string& buffer, std::size_t i) {
    char bases[kmer_capacity<Code>];
    decode_kmer(counts.keys()[i], k, bases);
    buffer.append(bases, static_cast<std::size_t>(k));
  });
  return {counter.input_keys(), counts.size()};
}

/// k <= 32: 64-bit codes; longer k-mers (up to 64): 128-bit codes.
count_totals count_kmers(count_options const& options, output_sink& out, progress& meter) {
  return *options.kmer <= max_narrow_kmer_length
             ? count_kmers_as<std::uint64_t>(options, out, meter)
             : count_kmers_as<unsigned __int128>(options, out, meter);
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
  write_counts(counts.values(), options, out, [&](std::string& buffer, std::size_t i) {
    append_number(buffer, counts.keys()[i]);
  });
  return {input_keys, counts.size()};
}

/**
 * @brief Counts the words of text in a `bulkmap::string_map`, a chunk at a time, all on the
 * backend (words.hpp: `count_words`). A chunk is cut after its last non-word byte, and the word
 * begun there moves to the next chunk: no word is split or counted twice. A word longer than a
 * chunk grows the chunk until it fits.
 */
class word_counter {
 public:
  word_counter(count_options const& options, progress& meter)
      : rule_(options.alnum ? word_rule::alnum : word_rule::not_whitespace),
        lower_(options.lower),
        chunk_size_(options.chunk_size != 0 ? options.chunk_size : word_chunk_bytes),
        meter_(meter) {}

  /// Counts every word of `input`; `bytes_before`: bytes of the inputs before it, for progress.
  void count_input(text_input& input, std::uint64_t bytes_before) {
    std::size_t held = 0;  // bytes at the front of text_ that the last chunk left over
    for (;;) {
      if (held + chunk_size_ > std::numeric_limits<std::uint32_t>::max()) {
        throw input_error(input.name() + ": a word longer than 4 GiB");
      }
      if (text_.size() < held + chunk_size_) text_.resize(held + chunk_size_);
      std::size_t const got = input.read(text_.data() + held, chunk_size_);
      std::size_t const size = held + got;
      bool const end = got < chunk_size_;
      std::size_t const cut =
          chunk_cut(reinterpret_cast<unsigned char const*>(text_.data()), size, end, rule_);
      if (cut > 0) count_chunk(cut);
      held = size - cut;  // a word that goes on (cut = 0: all of it; the next read extends it)
      if (cut > 0 && held > 0) std::memmove(text_.data(), text_.data() + cut, held);
      meter_.update(input_keys_, bytes_before + input.bytes_read());
      if (end) return;
    }
  }

  [[nodiscard]] std::uint64_t input_keys() const noexcept { return input_keys_; }
  [[nodiscard]] bulkmap::string_map<std::uint64_t> const& map() const noexcept { return map_; }

 private:
  /// Counts the words of the first n bytes of text_, which end with a non-word byte or the input.
  void count_chunk(std::size_t n) {
    input_keys_ += count_words(on_device(n), n, rule_, lower_, map_, scratch_);
  }

  /// The first n bytes of text_ where the backend reads them: in place on omp, a device copy on
  /// cuda.
  unsigned char* on_device(std::size_t n) {
#if defined(BULKMAP_BACKEND_CUDA)
    if (device_text_.size() < n) device_text_.resize(n);
    thrust::copy(text_.data(), text_.data() + n, device_text_.begin());
    return thrust::raw_pointer_cast(device_text_.data());
#else
    (void)n;
    return reinterpret_cast<unsigned char*>(text_.data());
#endif
  }

  word_rule rule_;
  bool lower_;
  std::size_t chunk_size_;
  progress& meter_;
  std::string text_;  ///< the chunk, on the host
#if defined(BULKMAP_BACKEND_CUDA)
  thrust::device_vector<unsigned char> device_text_;
#endif
  word_scratch scratch_;  ///< the chunk's word bounds
  bulkmap::string_map<std::uint64_t> map_;
  std::uint64_t input_keys_ = 0;
};

count_totals count_words(count_options const& options, output_sink& out, progress& meter) {
  word_counter counter(options, meter);
  std::uint64_t bytes = 0;
  for (auto const& path : options.files) {
    text_input input(path);
    counter.count_input(input, bytes);
    bytes += input.bytes_read();
  }
  auto const counts = counter.map().to_host();
  meter.clear();
  write_counts(counts.values(), options, out,
               [&](std::string& buffer, std::size_t i) { buffer.append(counts.key(i)); });
  return {counter.input_keys(), counts.size()};
}

/// Counts as `options` asks, on this backend.
count_totals count(count_options const& options, output_sink& out, progress& meter) {
#if defined(BULKMAP_BACKEND_OMP)
  if (options.threads) omp_set_num_threads(*options.threads);
#endif
  if (options.kmer) return count_kmers(options, out, meter);
  return options.words ? count_words(options, out, meter) : count_ints(options, out, meter);
}

}  // namespace

#if defined(BULKMAP_BACKEND_CUDA)
count_engine const cuda_engine{"cuda", unavailable, backend_description, count};
#else
count_engine const omp_engine{"omp", unavailable, backend_description, count};
#endif

}  // namespace bulkmap::cli
