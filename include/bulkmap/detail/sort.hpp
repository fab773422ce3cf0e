/**
 * @file detail/sort.hpp
 * @brief The sorts of the bulk calls: Thrust's on cuda; on omp, a parallel merge sort whose
 * failures reach the caller.
 *
 * Thrust's OpenMP sort (CCCL 3.x) allocates its scratch inside its parallel region, so a failed
 * allocation there ends the process (an exception may not leave an OpenMP region) instead of
 * reaching `translate_errors` as `out_of_memory`. The omp sort here keeps every exception inside
 * its region and rethrows the first one after it: each thread sorts one run of the items with
 * Thrust's sequential sort (radix for the keys `key_order` sends there), then rounds of merges,
 * each split evenly over the threads along the merge path, join the runs through one scratch
 * copy allocated between the regions.
 */
#pragma once

#include <thrust/device_vector.h>
#include <thrust/execution_policy.h>
#include <thrust/merge.h>
#include <thrust/sort.h>

#include <algorithm>
#include <bulkmap/config.hpp>
#include <bulkmap/detail/backend.hpp>
#include <cstdint>
#include <exception>
#include <type_traits>
#include <utility>

#if defined(BULKMAP_BACKEND_OMP)
#include <omp.h>
#endif

BULKMAP_NAMESPACE_BEGIN
namespace detail {

#if defined(BULKMAP_BACKEND_OMP)
/// Fewer items than this are sorted by the calling thread alone.
inline constexpr std::uint64_t parallel_sort_items = std::uint64_t{1} << 16;

/**
 * Runs `fn(t)` for t in [0, tiles) on the OpenMP threads, one tile each in turn, and rethrows the
 * first exception a tile threw once every tile has finished.
 */
template <class F>
void for_each_tile(int tiles, F&& fn) {
  std::exception_ptr failure;
#pragma omp parallel for num_threads(tiles) schedule(static, 1)
  for (int t = 0; t < tiles; ++t) {
    try {
      fn(t);
    } catch (...) {
#pragma omp critical(bulkmap_tile_failure)
      if (!failure) failure = std::current_exception();
    }
  }
  if (failure) std::rethrow_exception(failure);
}

/**
 * Of the first d items that a stable merge of the sorted runs a (na items) and b (nb items)
 * emits, how many come from a (on equal keys a's come first): the merge path's split at
 * diagonal d, by binary search, O(log min(na, nb)).
 */
template <class Key, class Compare>
std::uint64_t merge_split(Key const* a, std::uint64_t na, Key const* b, std::uint64_t nb,
                          std::uint64_t d, Compare comp) {
  std::uint64_t lo = d > nb ? d - nb : 0;
  std::uint64_t hi = std::min(d, na);
  while (lo < hi) {  // the least i whose next a follows b's last taken item, b[d - i - 1]
    std::uint64_t const mid = lo + (hi - lo) / 2;
    if (comp(b[d - mid - 1], a[mid])) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  return lo;
}

/// n keys, and their values unless Value is void: a range to sort, or its scratch copy.
template <class Key, class Value>
struct sort_span {
  Key* keys;
  std::conditional_t<std::is_void_v<Value>, std::nullptr_t, Value*> values;
};

/// Sorts [first, last) of `s` stably, on the calling thread.
template <class Key, class Value, class Compare>
void sort_sequentially(sort_span<Key, Value> s, std::uint64_t first, std::uint64_t last,
                       Compare comp) {
  if constexpr (std::is_void_v<Value>) {
    thrust::stable_sort(thrust::seq, s.keys + first, s.keys + last, comp);
  } else {
    thrust::stable_sort_by_key(thrust::seq, s.keys + first, s.keys + last, s.values + first, comp);
  }
}

/**
 * Writes items [x0, x1) of the stable merge of `from`'s sorted runs [p0, p1) and [p1, p2) to the
 * same places of `to` (p0 <= x0 <= x1 <= p2).
 */
template <class Key, class Value, class Compare>
void merge_piece(sort_span<Key, Value> from, sort_span<Key, Value> to, std::uint64_t p0,
                 std::uint64_t p1, std::uint64_t p2, std::uint64_t x0, std::uint64_t x1,
                 Compare comp) {
  Key const* const a = from.keys + p0;
  Key const* const b = from.keys + p1;
  std::uint64_t const na = p1 - p0;
  std::uint64_t const nb = p2 - p1;
  std::uint64_t const d0 = x0 - p0;
  std::uint64_t const d1 = x1 - p0;
  std::uint64_t const i0 = merge_split(a, na, b, nb, d0, comp);
  std::uint64_t const i1 = merge_split(a, na, b, nb, d1, comp);
  std::uint64_t const j0 = d0 - i0;
  std::uint64_t const j1 = d1 - i1;
  if constexpr (std::is_void_v<Value>) {
    thrust::merge(thrust::seq, a + i0, a + i1, b + j0, b + j1, to.keys + x0, comp);
  } else {
    thrust::merge_by_key(thrust::seq, a + i0, a + i1, b + j0, b + j1, from.values + p0 + i0,
                         from.values + p1 + j0, to.keys + x0, to.values + x0, comp);
  }
}

/**
 * Sorts the n items of `s` stably by key. Each of T threads sorts one run sequentially; then
 * ceil(log2 T) rounds merge neighbouring runs pairwise from `s` into a scratch copy and back, each
 * thread writing one T-th of the output. O(n log n) work; memory: the scratch copy (n keys and
 * values), and before it each run's scratch for the sequential sort.
 */
template <class Key, class Value, class Compare>
void merge_sort(sort_span<Key, Value> s, std::uint64_t n, Compare comp) {
  int const threads = omp_get_max_threads();
  if (threads == 1 || n < parallel_sort_items) {
    sort_sequentially(s, 0, n, comp);
    return;
  }
  auto const runs = static_cast<std::uint64_t>(threads);
  auto const bound = [&](std::uint64_t r) {  // where run r starts: runs differ by one item at most
    r = std::min(r, runs);
    return n / runs * r + std::min(r, n % runs);
  };
  for_each_tile(threads, [&](int t) {
    auto const r = static_cast<std::uint64_t>(t);
    sort_sequentially(s, bound(r), bound(r + 1), comp);
  });

  thrust::device_vector<Key> scratch_keys;
  assign_fresh(scratch_keys, n);
  using scratch_value = std::conditional_t<std::is_void_v<Value>, char, Value>;
  thrust::device_vector<scratch_value> scratch_values;
  assign_fresh(scratch_values, std::is_void_v<Value> ? 0 : n);
  sort_span<Key, Value> scratch{thrust::raw_pointer_cast(scratch_keys.data()), nullptr};
  if constexpr (!std::is_void_v<Value>) {
    scratch.values = thrust::raw_pointer_cast(scratch_values.data());
  }
  sort_span<Key, Value> from = s;
  sort_span<Key, Value> to = scratch;
  for (std::uint64_t span = 1; span < runs; span *= 2) {  // runs merged so far into each
    for_each_tile(threads, [&](int t) {
      auto const r = static_cast<std::uint64_t>(t);
      std::uint64_t x = bound(r);  // this thread's share of the output: [bound(r), bound(r + 1))
      std::uint64_t const end = bound(r + 1);
      for (std::uint64_t m = 0; x < end; m += 2 * span) {  // merges [m, m + span), [.., m + 2 span)
        std::uint64_t const p2 = bound(m + 2 * span);
        if (p2 <= x) continue;
        std::uint64_t const x1 = std::min(end, p2);
        merge_piece(from, to, bound(m), bound(m + span), p2, x, x1, comp);
        x = x1;
      }
    });
    std::swap(from, to);
  }
  if (from.keys != s.keys) {  // an odd number of rounds: the sorted items are in the scratch
    for_each_tile(threads, [&](int t) {
      auto const r = static_cast<std::uint64_t>(t);
      std::copy(from.keys + bound(r), from.keys + bound(r + 1), s.keys + bound(r));
      if constexpr (!std::is_void_v<Value>) {
        std::copy(from.values + bound(r), from.values + bound(r + 1), s.values + bound(r));
      }
    });
  }
}
#endif

/**
 * Sorts n keys, and their values along with them, by `comp`, stably, and waits: Thrust's stable
 * sort on `policy` on cuda, `merge_sort` on omp (which ignores `policy`). Throws what
 * allocation or `comp` throws (`std::bad_alloc`, or Thrust's errors: the caller translates them),
 * leaving the items' contents unspecified.
 */
template <class Policy, class Key, class Value, class Compare>
void stable_sort_by_key(Policy&& policy, Key* keys, Value* values, std::uint64_t n, Compare comp) {
#if defined(BULKMAP_BACKEND_OMP)
  (void)policy;
  merge_sort(sort_span<Key, Value>{keys, values}, n, comp);
#else
  thrust::stable_sort_by_key(std::forward<Policy>(policy), keys, keys + n, values, comp);
#endif
}

/// As `stable_sort_by_key`, for keys alone.
template <class Policy, class Key, class Compare>
void stable_sort(Policy&& policy, Key* keys, std::uint64_t n, Compare comp) {
#if defined(BULKMAP_BACKEND_OMP)
  (void)policy;
  merge_sort(sort_span<Key, void>{keys, nullptr}, n, comp);
#else
  thrust::stable_sort(std::forward<Policy>(policy), keys, keys + n, comp);
#endif
}

}  // namespace detail
BULKMAP_NAMESPACE_END
