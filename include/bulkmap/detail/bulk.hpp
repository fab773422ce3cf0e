/**
 * @file detail/bulk.hpp
 * @brief What the bulk calls of every map share: chunking, load limits and capacities, the size
 * a table grows to, and checks of argument ranges.
 */
#pragma once

#include <thrust/copy.h>
#include <thrust/count.h>
#include <thrust/distance.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/iterator/discard_iterator.h>

#include <algorithm>
#include <array>
#include <bulkmap/detail/backend.hpp>
#include <bulkmap/error.hpp>
#include <bulkmap/kernels/accumulate.hpp>
#include <bulkmap/kernels/insert.hpp>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>

BULKMAP_NAMESPACE_BEGIN
namespace detail {

/// Inputs per chunk of a bulk insertion (8 bytes of temporary memory each).
inline constexpr std::size_t chunk_size = std::size_t{1} << 22;
/**
 * Whether the n located inputs share slots often enough that a warp's inputs should combine
 * their folds first: when neighbouring inputs name the same slot at least once in 64 (about one
 * shared slot per warp). Decided by the keys actually seen, not by the number of distinct keys:
 * 10^3 keys drawn uniformly rarely meet in a warp, a Zipf-distributed hot key often does.
 */
template <class Policy>
bool concentrated(Policy const& policy, std::uint64_t const* refs, std::size_t n) {
  if (n < 2) return false;
  auto const repeats = static_cast<std::size_t>(translate_errors("accumulate", [&] {
    return thrust::count_if(policy, thrust::counting_iterator<std::uint64_t>(1),
                            thrust::counting_iterator<std::uint64_t>(n), repeats_fn{refs});
  }));
  return repeats * 64 >= n;
}

/// Whether an output iterator is Thrust's discard iterator: the per-input output was not asked for.
template <class It>
inline constexpr bool is_discard_v = false;
template <class System>
inline constexpr bool is_discard_v<thrust::discard_iterator<System>> = true;

/// Smallest table.
inline constexpr std::size_t min_capacity = 16;

/// Slots that may be live or tombstones in a table of `capacity` slots; one always stays empty.
inline std::size_t load_limit(std::size_t capacity, double max_load_factor) {
  auto const limit = static_cast<std::size_t>(max_load_factor * static_cast<double>(capacity));
  return std::min(limit, capacity - 1);
}

/// Length of [first, last). @throw std::invalid_argument if last comes before first
template <class It>
std::size_t checked_length(It first, It last) {
  auto const n = thrust::distance(first, last);
  BULKMAP_EXPECTS(n >= 0, "key range ends before it starts");
  return static_cast<std::size_t>(n);
}

/// Smallest power-of-two table whose load limit holds n keys. @throw out_of_memory if none fits.
inline std::size_t capacity_for(std::size_t n, double max_load_factor) {
  std::size_t capacity = min_capacity;
  while (load_limit(capacity, max_load_factor) < n) {
    if (capacity > (std::numeric_limits<std::size_t>::max() >> 8)) {
      throw out_of_memory("bulkmap: no table can hold " + std::to_string(n) + " keys");
    }
    capacity <<= 1;
  }
  return capacity;
}

/**
 * The capacity a table grows to when `failed` inputs of a chunk found no room: enough for `size`
 * keys and the distinct keys among the failed inputs, estimated from the chunk's rate of new
 * keys (`new_keys` among the `located` inputs), and at least twice `capacity`, unless most of
 * the table's used slots are tombstones (`mostly_tombstones`: a rehash at the same capacity
 * drops them).
 */
inline std::size_t grown_capacity(std::size_t capacity, double max_load_factor, std::size_t size,
                                  std::size_t failed, std::size_t located, std::size_t new_keys,
                                  bool mostly_tombstones) {
  std::size_t estimate = located == 0
                             ? failed
                             : static_cast<std::size_t>(std::ceil(static_cast<double>(failed) *
                                                                  static_cast<double>(new_keys) /
                                                                  static_cast<double>(located)));
  estimate = std::clamp<std::size_t>(estimate, 1, failed);
  std::size_t const wanted = capacity_for(size + estimate, max_load_factor);
  return std::max(wanted, mostly_tombstones ? capacity : 2 * capacity);
}

/**
 * Reads a map's kernel-side counters (`counter_rows` rows of `counter_stride` words, see
 * warp.hpp): each of the first N counters is the sum of its column.
 */
template <std::size_t N, class Vector>
std::array<unsigned long long, N> read_counter_columns(Vector const& counters) {
  static_assert(N <= units_handed_out, "the counters must fit in a row, before the budget's");
  std::array<unsigned long long, counter_rows * counter_stride> rows{};
  translate_errors("read counters",
                   [&] { thrust::copy(counters.begin(), counters.end(), rows.begin()); });
  std::array<unsigned long long, N> sums{};
  for (std::size_t r = 0; r < counter_rows; ++r) {
    for (std::size_t c = 0; c < N; ++c) sums[c] += rows[r * counter_stride + c];
  }
  return sums;
}

/**
 * Writes the first value of each key absent at its chunk's start (first occurrence wins): the
 * election of insert.hpp among the inputs flagged `ref::absent`. `run(what, n, fn)` launches.
 */
template <class Run, class View, class ValueIt>
void write_first_values(Run const& run, View const& v, ValueIt values, std::size_t n,
                        std::uint64_t* refs) {
  run("tag", n, tag_fn<View>{v, refs, false, true});
  run("elect", n, elect_fn<View>{v, refs, false, true});
  run("write", n, write_fn<View, ValueIt>{v, values, refs});
}

}  // namespace detail
BULKMAP_NAMESPACE_END
