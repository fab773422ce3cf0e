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

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace bulkmap_bench {

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
