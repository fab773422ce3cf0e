/**
 * @file workloads.hpp
 * @brief The benchmark's inputs: key batches every peer reads, identical across peers because
 * each is made once per process from a fixed seed and shared.
 *
 * Keys are distinct ranks r = 0, 1, ... sent through a bijective mixer (fmix32 / fmix64), so they
 * are spread over the whole key range, sentinel values included, and two ranks never give the same
 * key. "Missing" keys use ranks from a disjoint range.
 */
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

namespace bulkmap_bench {

/// Blocks a batch is cut into, each drawn by its own generator (`for_blocks`).
inline constexpr std::size_t blocks = 256;

/// The next splitmix64 draw of the stream `state`.
inline std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/// Uniform in [0, 1).
inline double unit(std::uint64_t& state) {
  return static_cast<double>(splitmix64(state) >> 11) * 0x1p-53;
}

/// Uniform in [0, bound), by a 128-bit multiply (Lemire), bias below 2^-64 * bound.
inline std::uint64_t below(std::uint64_t& state, std::uint64_t bound) {
  return static_cast<std::uint64_t>((static_cast<unsigned __int128>(splitmix64(state)) * bound) >>
                                    64);
}

/**
 * Runs `fn(block, first, last)` for each of the `blocks` blocks of [0, n), on all cores. A batch
 * drawn with one generator per block depends on its seed only, never on the number of threads.
 */
template <class F>
void for_blocks(std::size_t n, F fn) {
  std::size_t const threads = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> pool;
  for (std::size_t t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (std::size_t b = t; b < blocks; b += threads) {
        fn(b, n * b / blocks, n * (b + 1) / blocks);
      }
    });
  }
  for (auto& thread : pool) thread.join();
}

/// How a batch's keys are drawn.
enum class distribution {
  unique,   ///< n distinct keys, each once (ranks 0 .. n-1)
  missing,  ///< n distinct keys that `unique` of any size below 2^31 never holds
  uniform,  ///< n draws, uniform over `distinct` keys (ranks 0 .. distinct-1)
  zipf,     ///< n draws, Zipf(s) over ranks 0 .. n-1: rank r has probability ∝ (r+1)^-s
};

/// One batch of keys, the way it was drawn.
struct key_spec {
  distribution kind = distribution::unique;
  std::size_t n = 0;                       ///< keys in the batch
  std::uint64_t distinct = 0;              ///< uniform: number of distinct keys drawn from
  double s = 0;                            ///< zipf: exponent
  [[nodiscard]] std::string name() const;  ///< e.g. "uniform_d1024", "zipf_s1.2", "unique"
};

/**
 * @brief The batch described by `spec`, made on first use (on all cores) and kept for the rest of
 * the process, so every peer reads the same keys. Key is std::uint32_t, std::uint64_t or
 * unsigned __int128.
 */
template <class Key>
std::vector<Key> const& keys(key_spec const& spec);

/// Number of distinct keys in `keys(spec)`, counted when the batch was made.
template <class Key>
std::uint64_t distinct_count(key_spec const& spec);

}  // namespace bulkmap_bench
