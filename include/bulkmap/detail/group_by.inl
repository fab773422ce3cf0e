/**
 * @file group_by.inl
 * @brief Definitions of `bulkmap::group_by` and `bulkmap::aggregate_by`, included at the bottom of
 * group_by.hpp.
 */
#pragma once

#include <thrust/copy.h>
#include <thrust/execution_policy.h>
#include <thrust/gather.h>
#include <thrust/iterator/constant_iterator.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/iterator/permutation_iterator.h>
#include <thrust/iterator/transform_iterator.h>
#include <thrust/logical.h>
#include <thrust/scan.h>
#include <thrust/scatter.h>
#include <thrust/sequence.h>
#include <thrust/transform.h>
#include <thrust/transform_reduce.h>
#include <thrust/transform_scan.h>
#include <thrust/unique.h>

#include <algorithm>
#include <bulkmap/detail/backend.hpp>
#include <bulkmap/detail/sort.hpp>
#include <bulkmap/device_map.hpp>
#include <bulkmap/device_map_ref.hpp>
#include <bulkmap/kernels/compact.hpp>
#include <bulkmap/kernels/group.hpp>
#include <bulkmap/kernels/strings.hpp>
#include <bulkmap/string_map.hpp>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#if defined(BULKMAP_BACKEND_CUDA)
#include <cub/device/device_segmented_sort.cuh>
#else
#include <omp.h>
#endif

BULKMAP_NAMESPACE_BEGIN
namespace detail {

/**
 * Sorts each group's row numbers, `rows[offsets[g]]` to `rows[offsets[g + 1] - 1]`, ascending.
 * cuda: CUB's segmented sort (into a second buffer). omp: each thread sorts whole groups in turn
 * (skipping those already in order); a group of more than `large_group` rows is sorted by
 * `stable_sort` instead, on all threads.
 */
inline void sort_within_groups(thrust::device_vector<std::uint64_t>& rows,
                               thrust::device_vector<std::uint64_t> const& offsets) {
  std::int64_t const n = static_cast<std::int64_t>(rows.size());
  std::int64_t const g = static_cast<std::int64_t>(offsets.size()) - 1;
  if (n == 0) return;
  std::uint64_t const* const o = thrust::raw_pointer_cast(offsets.data());
#if defined(BULKMAP_BACKEND_CUDA)
  auto const check = [](cudaError_t status) {
    if (status != cudaSuccess) throw thrust::system_error(status, thrust::cuda_category());
  };
  thrust::device_vector<std::uint64_t> sorted(rows.size());
  std::uint64_t const* const in = thrust::raw_pointer_cast(rows.data());
  std::uint64_t* const out = thrust::raw_pointer_cast(sorted.data());
  std::size_t bytes = 0;
  check(cub::DeviceSegmentedSort::SortKeys(nullptr, bytes, in, out, n, g, o, o + 1));
  thrust::device_vector<unsigned char> scratch(bytes);
  check(cub::DeviceSegmentedSort::SortKeys(thrust::raw_pointer_cast(scratch.data()), bytes, in, out,
                                           n, g, o, o + 1));
  check(cudaDeviceSynchronize());
  rows.swap(sorted);
#else
  constexpr std::uint64_t large_group = std::uint64_t{1} << 16;
  std::uint64_t* const r = thrust::raw_pointer_cast(rows.data());
#pragma omp parallel for schedule(dynamic, 64)
  for (std::int64_t i = 0; i < g; ++i) {
    std::uint64_t* const first = r + o[i];
    std::uint64_t* const last = r + o[i + 1];
    if (o[i + 1] - o[i] <= large_group && !std::is_sorted(first, last)) std::sort(first, last);
  }
  for (std::int64_t i = 0; i < g; ++i) {
    if (o[i + 1] - o[i] > large_group && !std::is_sorted(r + o[i], r + o[i + 1])) {
      stable_sort(thrust::device, r + o[i], o[i + 1] - o[i], thrust::less<std::uint64_t>{});
    }
  }
#endif
}

/// The exclusive scan of the groups' row counts: G + 1 offsets, from 0 to the number of rows.
inline void scan_offsets(char const* what, thrust::device_vector<std::uint64_t> const& rows,
                         thrust::device_vector<std::uint64_t>& offsets) {
  translate_errors(what, [&] {
    offsets.resize(rows.size() + 1);
    offsets[0] = 0;
    thrust::inclusive_scan(thrust::device, rows.begin(), rows.end(), offsets.begin() + 1);
  });
}

/// Rows sampled to size a map before it counts a batch (`count_sized`).
inline constexpr std::uint64_t sampled_rows = std::uint64_t{1} << 16;

/**
 * Chao's estimate of the distinct keys of a population from a sample in which `distinct` keys
 * were seen, `once` of them once and `twice` twice (the bias-corrected form, finite when no key
 * was seen twice): distinct + once (once - 1) / (2 (twice + 1)).
 */
inline double estimate_distinct(double distinct, double once, double twice) {
  return distinct + once * (once - 1) / (2 * (twice + 1));
}

/**
 * The distinct keys among the n at `keys`, as a sample predicts them: the sample
 * (`sampled_rows` evenly spaced keys) is counted in a map of type `Map` of its own, and Chao's
 * estimator (`estimate_distinct`), at most n, extends it to all n. Below 2 `sampled_rows` keys,
 * n itself. Works for `device_map` and `string_map`.
 */
template <class Map, class KeyIt>
std::uint64_t predict_distinct(KeyIt keys, std::uint64_t n) {
  if (n <= 2 * sampled_rows) return n;
  auto const sample = thrust::make_permutation_iterator(
      keys, thrust::make_transform_iterator(thrust::counting_iterator<std::uint64_t>(0),
                                            stride_fn{n / sampled_rows}));
  Map sampled;
  sampled.count(sample, sample + static_cast<std::ptrdiff_t>(sampled_rows));
  std::vector<std::uint64_t> const counts = to_std_vector(sampled.drain().values);
  auto const seen = [&](std::uint64_t times) {
    return static_cast<double>(std::count(counts.begin(), counts.end(), times));
  };
  double const estimate = estimate_distinct(static_cast<double>(counts.size()), seen(1), seen(2));
  return static_cast<std::uint64_t>(std::min(estimate, static_cast<double>(n)));
}

/**
 * Counts the n keys at `keys` into `map` (empty on entry), reserved first for the `predicted`
 * distinct keys (`predict_distinct`), so that it does not grow over and over while it counts,
 * each growth a pass over all n keys.
 */
template <class Map, class KeyIt>
void count_sized(Map& map, KeyIt keys, std::uint64_t n, std::uint64_t predicted) {
  if (n > 2 * sampled_rows) map.reserve(predicted);
  map.count(keys, keys + static_cast<std::ptrdiff_t>(n));
}

/**
 * The live slots of `table`, in the order of their keys (`key_order`), whose keys go to `keys`.
 * @return the slot indices
 */
template <class View>
thrust::device_vector<std::uint64_t> slots_by_key(
    char const* what, View const& table, thrust::device_vector<typename View::key_type>& keys) {
  std::uint64_t const slots = table.capacity + side_slot_count;
  thrust::counting_iterator<std::uint64_t> const first(0);
  return translate_errors(what, [&] {
    thrust::device_vector<std::uint64_t> live;
    assign_fresh(live, slots);
    live.resize(copy_selected(what, thrust::device, first, slots, first, live.begin(),
                              live_at_fn<View>{table}));
    assign_fresh(keys, live.size());
    thrust::transform(thrust::device, live.begin(), live.end(), keys.begin(),
                      key_at_fn<View>{table});
    stable_sort_by_key(thrust::device, thrust::raw_pointer_cast(keys.data()),
                       thrust::raw_pointer_cast(live.data()), keys.size(),
                       key_order<typename View::key_type>{});
    return live;
  });
}

/**
 * The groups of the n keys at `keys_first`, ranked: counts each key's rows in `map` (empty on
 * entry), reserved for the `predicted` groups (`count_sized`), sorts the distinct keys (the order
 * of `device_map::to_host`), and leaves `map` holding each key's rank in that order, its group's
 * number, written over its count in place. `rows` receives the groups' row counts.
 * @return the distinct keys, ascending
 */
template <class KeyIt, class Key = typename std::iterator_traits<KeyIt>::value_type>
thrust::device_vector<Key> rank_keys(char const* what, KeyIt keys_first, std::uint64_t n,
                                     std::uint64_t predicted, device_map<Key, std::uint64_t>& map,
                                     thrust::device_vector<std::uint64_t>& rows) {
  count_sized(map, keys_first, n, predicted);
  auto const table = ref_access::table(map.ref());
  using View = decltype(table);
  thrust::device_vector<Key> keys;
  thrust::device_vector<std::uint64_t> const at = slots_by_key(what, table, keys);
  translate_errors(what, [&] {
    assign_fresh(rows, at.size());
    thrust::transform(thrust::device, at.begin(), at.end(), rows.begin(), value_at_fn<View>{table});
  });
  launch(what, at.size(), rank_slot_fn<View>{table, thrust::raw_pointer_cast(at.data())});
  return keys;
}

/// The rows of a batch in key order, by group (`sort_rows`).
struct sorted_rows {
  /// The rows in key order (`key_order`); equal keys keep their rows' order.
  thrust::device_vector<std::uint64_t> rows;
  thrust::device_vector<std::uint64_t> of_sorted;  ///< `rows[j]`'s group
  /// Group g, numbered in key order, is rows[offsets[g]] to rows[offsets[g + 1] - 1]: G + 1
  /// entries.
  thrust::device_vector<std::uint64_t> offsets;
};

/**
 * The n rows at `keys` (n > 0) sorted by key, stably, and numbered by group (`sorted_rows`); the
 * distinct keys go to `unique_keys`, ascending. Grouping by sorting, for batches of mostly
 * distinct keys (`sorts_by_key`).
 */
template <class KeyIt, class Key>
sorted_rows sort_rows(char const* what, KeyIt keys, std::uint64_t n,
                      thrust::device_vector<Key>& unique_keys) {
  return translate_errors(what, [&] {
    sorted_rows out;
    thrust::device_vector<Key> sorted;
    reserve_fresh(sorted, n);
    sorted.assign(keys, keys + static_cast<std::ptrdiff_t>(n));
    assign_fresh(out.rows, n);
    thrust::sequence(thrust::device, out.rows.begin(), out.rows.end());
    stable_sort_by_key(thrust::device, thrust::raw_pointer_cast(sorted.data()),
                       thrust::raw_pointer_cast(out.rows.data()), n, key_order<Key>{});
    assign_fresh(out.of_sorted, n);
    thrust::counting_iterator<std::uint64_t> const first(0);
    thrust::transform_inclusive_scan(
        thrust::device, first, first + static_cast<std::ptrdiff_t>(n), out.of_sorted.begin(),
        starts_later_group_fn<Key>{thrust::raw_pointer_cast(sorted.data())},
        thrust::plus<std::uint64_t>{});
    out.offsets.resize(out.of_sorted.back() + 2);
    copy_selected(what, thrust::device, first, n, first, out.offsets.begin(),
                  first_of_group_fn{thrust::raw_pointer_cast(out.of_sorted.data())});
    out.offsets.back() = n;
    unique_keys.resize(out.offsets.size() - 1);
    thrust::gather(thrust::device, out.offsets.begin(), out.offsets.end() - 1, sorted.begin(),
                   unique_keys.begin());
    return out;
  });
}

/**
 * The share of a batch's rows that its groups, as a sample predicts them, must reach for
 * `group_by`, `number_groups` and `aggregate_by` to group the rows by sorting them
 * (`sort_rows`) instead of by hashing. Summing 10^7 rows by key on 2 cores (omp), hashing
 * against sorting: at 0.2 groups per row 414 against 488 ms (u64 keys), 392 against 335 (u32);
 * at 0.3, 551 against 491 and 528 against 344; with every key distinct, 1250 against 517 and
 * 1119 against 361; 16-byte keys (a comparison sort): 830 against 919 at 0.25, 1904 against 928
 * all distinct.
 */
inline constexpr double sort_grouping_share = 0.3;

/// Whether a batch of n rows, of `predicted` groups (`predict_distinct`), is grouped by sorting:
/// when a sample ran (over 2 `sampled_rows` rows) and predicts a group for `sort_grouping_share`
/// of the rows or more.
inline bool sorts_by_key(std::uint64_t n, std::uint64_t predicted) {
  return n > 2 * sampled_rows &&
         static_cast<double>(predicted) >= sort_grouping_share * static_cast<double>(n);
}

/// `numbers.first_row` from `numbers.of_row`, for G groups.
inline void find_first_rows(char const* what, group_numbers& numbers, std::size_t g) {
  translate_errors(what, [&] { assign_fresh(numbers.first_row, g, ~std::uint64_t{0}); });
  launch(what, numbers.of_row.size(),
         first_row_fn{thrust::raw_pointer_cast(numbers.of_row.data()),
                      thrust::raw_pointer_cast(numbers.first_row.data())});
}

/**
 * The most bytes of columns that the omp threads keep copies of, all together (`fold_rows`):
 * small enough for the caches. Summing 10^7 rows by group number on 2 cores (a count and a sum
 * column, 16 bytes a group), copies against atomics: 10^5 groups 23 against 90 ms, 4 * 10^5
 * groups (12.8 MB of copies) 60 against 116, 7 * 10^5 (22.4 MB) 118 against 95; hash
 * aggregation over 10^5 keys (2^18 slots, 8.4 MB of copies) 134 against 255 ms.
 */
inline constexpr std::uint64_t private_column_bytes = std::uint64_t{16} << 20;

#if defined(BULKMAP_BACKEND_OMP)
/// The bytes per group of the columns `of` has.
template <class V, class S>
std::uint64_t bytes_per_group(aggregate_columns<V, S> const& of) {
  auto const bytes = [](auto const* column) { return column == nullptr ? 0 : sizeof(*column); };
  return bytes(of.rows) + bytes(of.count) + bytes(of.sum) + bytes(of.min) + bytes(of.max) +
         bytes(of.first_row) + bytes(of.last_row) + bytes(of.squares);
}

/// One omp thread's copy of the columns `of` points to, for G groups, starting as they are.
template <class V, class S>
class private_columns {
 public:
  private_columns(aggregate_columns<V, S> const& of, std::uint64_t g)
      : view_{copy(of.rows, g, rows_),         copy(of.count, g, count_),
              copy(of.sum, g, sum_),           copy(of.min, g, min_),
              copy(of.max, g, max_),           copy(of.first_row, g, first_row_),
              copy(of.last_row, g, last_row_), copy(of.squares, g, squares_)} {}
  private_columns(private_columns const&) = delete;
  private_columns& operator=(private_columns const&) = delete;
  [[nodiscard]] aggregate_columns<V, S> const& view() const noexcept { return view_; }

 private:
  template <class T>
  static T* copy(T const* from, std::uint64_t g, std::vector<T>& to) {
    if (from == nullptr) return nullptr;
    to.assign(from, from + g);
    return to.data();
  }
  std::vector<std::uint64_t> rows_, count_, first_row_, last_row_;
  std::vector<S> sum_;
  std::vector<V> min_, max_;
  std::vector<double> squares_;
  aggregate_columns<V, S> view_;
};
#endif

/// `fold_rows` without owners: where threads share the columns, they fold with atomics.
struct no_owner {};

/**
 * `fold_rows`'s owners, where groups are slots of a table (`slot_groups`): row i's home slot
 * (`operator()`), in a table of `capacity()` slots, which gives the row's owner
 * (`owner_of_home`).
 */
template <class Ref, class KeyIt>
struct row_homes {
  Ref groups;
  KeyIt keys;

  std::uint64_t capacity() const { return groups.table.capacity; }
  std::uint64_t operator()(std::uint64_t i) const { return groups.table.home(keys[i]); }
};

#if defined(BULKMAP_BACKEND_OMP)
/// Rows sampled to tell whether a pass by owners would keep the threads evenly busy.
inline constexpr std::uint64_t owner_sample_rows = std::uint64_t{1} << 12;

/// Whether the owners of `homes` (`row_homes`) spread n rows evenly enough over `threads` for a
/// pass by owners, in an even sample of rows (`owners_balanced`; else, as in input skewed past
/// it, the atomics).
template <class Homes>
bool owners_even(Homes const& homes, std::uint64_t n, std::uint64_t threads) {
  std::uint64_t const samples = std::min(n, owner_sample_rows);
  if (samples == 0) return false;
  std::uint64_t owned[max_owners] = {};
  for (std::uint64_t j = 0; j < samples; ++j) {
    ++owned[owner_of_home(homes(j * (n / samples)), homes.capacity(), threads)];
  }
  return owners_balanced(owned, threads, samples);
}
#endif

/**
 * Runs the row functor `make(std::bool_constant<Atomic>, columns)` over rows [0, n), folding
 * into `to`'s columns of G groups. On omp:
 * - when the groups are few (a copy of the columns for each thread within
 *   `private_column_bytes`, and threads × groups at most the rows), each thread folds its own run
 *   of rows into its own copy of the columns with plain writes, and the copies are then merged
 *   group by group: no atomics, and no cache line passing between cores for each row of a hot
 *   group;
 * - else, given the rows' home slots (`row_homes`; a group's every row has the same) that spread
 *   the rows evenly over their owners (`owners_even`), on at most `max_owners` threads, by owners
 *   (`run_owned`): each thread reads every row and folds those it owns with plain writes, in
 *   place of a locked read-modify-write per column. Summing 10^7 rows over 10^6 keys ran 1.24
 *   to 1.38 times as fast as with atomics for u32 keys, 1.02 to 1.32 for u64 (2 cores, turns).
 * Otherwise (and on cuda) every thread folds with atomics.
 */
template <class V, class S, class Make, class Homes = no_owner>
void fold_rows(char const* what, std::uint64_t n, std::uint64_t g,
               aggregate_columns<V, S> const& to, Make make, Homes homes = {}) {
#if defined(BULKMAP_BACKEND_OMP)
  auto const threads = static_cast<std::uint64_t>(omp_get_max_threads());
  if (threads > 1 && threads * g <= n &&
      threads * g * bytes_per_group(to) <= private_column_bytes) {
    std::vector<std::unique_ptr<private_columns<V, S>>> parts;
    for (std::uint64_t t = 0; t < threads; ++t) {
      parts.push_back(std::make_unique<private_columns<V, S>>(to, g));
    }
#pragma omp parallel num_threads(static_cast <int>(threads))
    {
      auto const t = static_cast<std::uint64_t>(omp_get_thread_num());
      auto const nt = static_cast<std::uint64_t>(omp_get_num_threads());
      auto const fn = make(std::false_type{}, parts[t]->view());
      for (std::uint64_t i = n * t / nt; i < n * (t + 1) / nt; ++i) fn(i);
    }
#pragma omp parallel for
    for (std::int64_t i = 0; i < static_cast<std::int64_t>(g); ++i) {
      for (auto const& part : parts) merge_columns(to, part->view(), static_cast<std::uint64_t>(i));
    }
    return;
  }
  if constexpr (!std::is_same_v<Homes, no_owner>) {
    if (threads > 1 && threads <= max_owners && owners_even(homes, n, threads)) {
#pragma omp parallel num_threads(static_cast <int>(threads))
      {
        auto const t = static_cast<std::uint64_t>(omp_get_thread_num());
        auto const nt = static_cast<std::uint64_t>(omp_get_num_threads());
        auto const fn = make(std::false_type{}, to);  // a group's every row is this thread's
        run_owned(
            n, t, nt, every_input{}, homes.capacity(), homes,
            [&](std::uint64_t h) { fn.prefetch_home(h); },
            [&](std::uint64_t i, std::uint64_t h) { fn(i, h); });
      }
      return;
    }
  }
#else
  (void)g;
  (void)homes;
#endif
  launch(what, n, make(std::true_type{}, to));
}

#if defined(BULKMAP_BACKEND_OMP)
/**
 * The omp backend's stable placement, when there are at least as many rows per group as threads:
 * a parallel counting sort by group. Each thread takes a contiguous run of rows, looks up each
 * row's group (kept, 8 bytes a row) and counts its rows per group; a scan over the groups, thread
 * by thread within each, gives each thread its first place in each group; each thread then writes
 * its rows' values there, in order. Input order thus holds within every group with no sort, and
 * no two threads touch one counter. Returns false, having done nothing, when the counters (one per
 * thread and group) would outnumber the rows.
 */
template <class Ref, class KeyIt, class ValueIt, class Key, class V>
bool place_rows_stably(Ref map, KeyIt keys, std::uint64_t n, ValueIt values, groups<Key, V>& out) {
  std::uint64_t const g = out.size();
  auto const threads = static_cast<std::uint64_t>(omp_get_max_threads());
  if (n == 0 || threads * g > n) return false;
  std::vector<std::uint64_t> group_of(n);
  std::vector<std::uint64_t> places(threads * g, 0);  // thread t's counts, then places: [t * g + i]
  std::uint64_t const* const offsets = thrust::raw_pointer_cast(out.offsets.data());
  V* const to = thrust::raw_pointer_cast(out.values.data());
#pragma omp parallel
  {
    auto const t = static_cast<std::uint64_t>(omp_get_thread_num());
    auto const nt = static_cast<std::uint64_t>(omp_get_num_threads());
    std::uint64_t const first = n * t / nt;
    std::uint64_t const last = n * (t + 1) / nt;
    std::uint64_t* const mine = places.data() + t * g;
    for (std::uint64_t i = first; i < last; ++i) {
      std::uint64_t const group = *map.find(keys[i]);
      group_of[i] = group;
      ++mine[group];
    }
#pragma omp barrier
#pragma omp for
    for (std::int64_t i = 0; i < static_cast<std::int64_t>(g); ++i) {
      std::uint64_t at = offsets[i];
      for (std::uint64_t u = 0; u < nt; ++u) {
        std::uint64_t const c = places[u * g + static_cast<std::uint64_t>(i)];
        places[u * g + static_cast<std::uint64_t>(i)] = at;
        at += c;
      }
    }
    for (std::uint64_t i = first; i < last; ++i) to[mine[group_of[i]]++] = values[i];
  }
  return true;
}
#endif

}  // namespace detail

namespace detail {
/**
 * `group_by` once the groups are numbered: `out` holds the keys and offsets, and row i's group is
 * `*ref.find(keys[i])`; places the n values of `values_first` in their groups, in input order.
 */
template <class Ref, class KeyIt, class ValueIt, class Key, class V>
void place_values(char const* what, Ref ref, KeyIt keys, std::uint64_t n, ValueIt values_first,
                  groups<Key, V>& out) {
  translate_errors(what, [&] {
    assign_fresh(out.values, n);
#if defined(BULKMAP_BACKEND_OMP)
    if (place_rows_stably(ref, keys, n, values_first, out)) return;
#endif
    thrust::device_vector<std::uint64_t> rows;
    assign_fresh(rows, n);
    {
      thrust::device_vector<std::uint64_t> cursors(out.offsets.begin(), out.offsets.end() - 1);
      launch(what, n,
             group_scatter_fn<Ref, KeyIt>{ref, keys, thrust::raw_pointer_cast(cursors.data()),
                                          thrust::raw_pointer_cast(rows.data())});
    }
    sort_within_groups(rows, out.offsets);
    thrust::gather(thrust::device, rows.begin(), rows.end(), values_first, out.values.begin());
  });
}
}  // namespace detail

template <class KeyIt, class ValueIt>
groups<typename std::iterator_traits<KeyIt>::value_type,
       typename std::iterator_traits<ValueIt>::value_type>
group_by(KeyIt keys_first, KeyIt keys_last, ValueIt values_first) {
  using Key = typename std::iterator_traits<KeyIt>::value_type;
  using V = typename std::iterator_traits<ValueIt>::value_type;
  char const* const what = "group_by";
  auto const n = static_cast<std::uint64_t>(keys_last - keys_first);
  groups<Key, V> out;
  std::uint64_t const predicted =
      detail::predict_distinct<device_map<Key, std::uint64_t>>(keys_first, n);
  if (detail::sorts_by_key(n, predicted)) {
    detail::sorted_rows sorted = detail::sort_rows(what, keys_first, n, out.unique_keys);
    out.offsets.swap(sorted.offsets);
    detail::translate_errors(what, [&] {
      detail::assign_fresh(out.values, n);
      thrust::gather(thrust::device, sorted.rows.begin(), sorted.rows.end(), values_first,
                     out.values.begin());
    });
    return out;
  }
  device_map<Key, std::uint64_t> map;
  {
    thrust::device_vector<std::uint64_t> rows;
    out.unique_keys = detail::rank_keys(what, keys_first, n, predicted, map, rows);
    detail::scan_offsets(what, rows, out.offsets);
  }
  detail::place_values(what, map.ref(), keys_first, n, values_first, out);
  return out;
}

template <class ValueIt>
groups<std::uint64_t, typename std::iterator_traits<ValueIt>::value_type> group_by(
    group_numbers const& numbers, ValueIt values_first) {
  char const* const what = "group_by";
  groups<std::uint64_t, typename std::iterator_traits<ValueIt>::value_type> out;
  detail::translate_errors(what, [&] { out.unique_keys = numbers.first_row; });
  detail::scan_offsets(what, numbers.rows, out.offsets);
  detail::place_values(
      what, detail::numbered_rows_ref{thrust::raw_pointer_cast(numbers.of_row.data())},
      thrust::counting_iterator<std::uint64_t>(0), numbers.of_row.size(), values_first, out);
  return out;
}

template <class Key, class V>
groups<Key, V> group_by(std::vector<Key> const& keys, std::vector<V> const& values) {
  if (keys.size() != values.size()) {
    throw std::invalid_argument("bulkmap::group_by: " + std::to_string(keys.size()) + " keys but " +
                                std::to_string(values.size()) + " values");
  }
  thrust::device_allocator<char> const alloc;
  detail::host_input<Key, thrust::device_allocator<char>> const k("group_by", keys, alloc);
  detail::host_input<V, thrust::device_allocator<char>> const v("group_by", values, alloc);
  return group_by(k.begin(), k.begin() + static_cast<std::ptrdiff_t>(keys.size()), v.begin());
}

namespace detail {
/**
 * The folds of `aggregate_by` into `out`'s columns of g groups, row i's group being
 * `ref.group_of(keys[i])`: the columns `which` asks for, and `out.rows` when `count_rows` (else
 * it is left as it is). `out.unique_keys` is not touched.
 */
template <class Ref, class KeyIt, class ValueIt, class ValidIt, class Key, class V>
void fold_aggregates(char const* what, Ref ref, KeyIt keys_first, std::uint64_t n,
                     ValueIt values_first, ValidIt valid_first, agg which, std::uint64_t g,
                     bool count_rows, aggregates<Key, V>& out) {
  using S = sum_type_t<V>;
  static_assert(std::is_arithmetic_v<V> && !std::is_same_v<V, bool> && sizeof(V) <= 8,
                "bulkmap::aggregate_by: values must be of an integer or floating type of at most "
                "8 bytes");
  bool const variance = has(which, agg::variance);
  bool const mean = variance || has(which, agg::mean);
  bool const sum = mean || has(which, agg::sum);
  // Rows fold by owners where groups are found by key (`slot_groups`).
  auto const homes = [&] {
    if constexpr (Ref::by_owners) {
      return row_homes<Ref, KeyIt>{ref, keys_first};
    } else {
      return no_owner{};
    }
  }();
  detail::translate_errors(what, [&] {
    constexpr bool floating = std::is_floating_point_v<V>;
    using limits = std::numeric_limits<V>;
    thrust::device_vector<std::uint64_t> first_row, last_row;
    if (count_rows) assign_fresh(out.rows, g, std::uint64_t{0});
    assign_fresh(out.count, g, std::uint64_t{0});
    if (sum) assign_fresh(out.sum, g, S{0});
    if (has(which, agg::min)) {
      assign_fresh(out.min, g, floating ? limits::infinity() : limits::max());
    }
    if (has(which, agg::max)) {
      assign_fresh(out.max, g, floating ? -limits::infinity() : limits::lowest());
    }
    if (has(which, agg::first)) assign_fresh(first_row, g, ~std::uint64_t{0});
    if (has(which, agg::last)) assign_fresh(last_row, g, std::uint64_t{0});
    auto const raw = [](auto& v) {
      return v.empty() ? nullptr : thrust::raw_pointer_cast(v.data());
    };
    detail::aggregate_columns<V, S> const columns{count_rows ? raw(out.rows) : nullptr,
                                                  raw(out.count),
                                                  raw(out.sum),
                                                  raw(out.min),
                                                  raw(out.max),
                                                  raw(first_row),
                                                  raw(last_row),
                                                  nullptr};
    detail::fold_rows(
        what, n, g, columns,
        [&](auto atomic, detail::aggregate_columns<V, S> const& to) {
          return aggregate_fn<Ref, KeyIt, ValueIt, ValidIt, V, S, decltype(atomic)::value>{
              ref, keys_first, values_first, valid_first, to};
        },
        homes);
    if (mean) assign_fresh(out.mean, g);
    if (has(which, agg::first)) assign_fresh(out.first, g);
    if (has(which, agg::last)) assign_fresh(out.last, g);
    detail::launch(what, g,
                   detail::finish_aggregates_fn<ValueIt, V, S>{values_first, columns, raw(out.mean),
                                                               raw(out.first), raw(out.last)});
    if (variance) {
      assign_fresh(out.variance, g, 0.0);
      detail::aggregate_columns<V, S> const squares{nullptr, nullptr, nullptr, nullptr,
                                                    nullptr, nullptr, nullptr, raw(out.variance)};
      detail::fold_rows(
          what, n, g, squares,
          [&](auto atomic, detail::aggregate_columns<V, S> const& to) {
            return squared_deviation_fn<Ref, KeyIt, ValueIt, ValidIt, V, S,
                                        decltype(atomic)::value>{
                ref, keys_first, values_first, valid_first, raw(out.mean), to};
          },
          homes);
      detail::launch(what, g, detail::finish_variance_fn{raw(out.count), raw(out.variance)});
    }
  });
}
}  // namespace detail

namespace detail {
/// Whether every row has a value: the validity flags are the constant true (the overloads
/// without flags).
template <class ValidIt>
bool all_valid(ValidIt valid_first) {
  if constexpr (std::is_same_v<ValidIt, thrust::constant_iterator<bool>>) {
    return *valid_first;
  } else {
    (void)valid_first;
    return false;
  }
}

/// The load factor up to which `aggregate_by`'s map fills before it grows.
inline constexpr double aggregation_load_factor = 0.8;

/**
 * The values of `aggregation_map`, in which `aggregate_by` numbers its groups by slot
 * (`slot_groups`). Nothing reads them: they count the keys' rows only when the keys outgrow the
 * map (`aggregate_hashed`'s growth, through `device_map::count`), so 4 bytes do, wrapping. A
 * 4-byte key's slot takes 8 bytes instead of 16, and tables of twice as many keys stay sparse
 * (`aggregation_room`): summing 10^7 rows over 10^6 u32 keys took 0.82 to 0.93 of the time it
 * took with 8-byte values, and over 3,000 keys 0.7 (2 cores, in turns).
 */
using aggregation_count = std::uint32_t;
template <class Key>
using aggregation_map = device_map<Key, aggregation_count>;

/**
 * The keys `aggregate_by` sizes its map for (at `aggregation_load_factor`), when a sample
 * predicts `predicted` distinct keys: a quarter more, so that the table is at most 0.64 full at
 * the prediction, and has room to 0.8 should the sample predict low. A table that stays in cache
 * (`small_table_bytes`) gets 8 slots per predicted key instead: there most keys sit in their
 * first slot, and the probes' branches predict well. Summing 10^7 rows over 1024 keys took about
 * half the time so as at load factor 1/2 (2 cores).
 */
template <class Key>
std::uint64_t aggregation_room(std::uint64_t predicted) {
  std::uint64_t const sparse = 8 * predicted;  // slots
  if (sparse * sizeof(slot<Key, aggregation_count>) <= small_table_bytes) {
    return static_cast<std::uint64_t>(static_cast<double>(sparse) * aggregation_load_factor);
  }
  return predicted + predicted / 4;
}

/// `to[j] = from[at[j]]` for each j; nothing when `from` is empty (a column not asked for).
template <class T>
void gather_column(char const* what, thrust::device_vector<std::uint64_t> const& at,
                   thrust::device_vector<T> const& from, thrust::device_vector<T>& to) {
  if (from.empty()) return;
  translate_errors(what, [&] {
    assign_fresh(to, at.size());
    thrust::gather(thrust::device, at.begin(), at.end(), from.begin(), to.begin());
  });
}

/**
 * Sort aggregation, `aggregate_by`'s plan for batches of mostly distinct keys (`sorts_by_key`): the
 * rows, sorted by key (`sort_rows`), fold in that order into columns indexed by group number, which
 * they fill front to back. Hashing would touch a slot and each column's entry at random per row,
 * then sort the groups' keys anyway. `first` and `last` come out right because the sort is stable:
 * the least sorted place of a group holds its least row.
 */
template <class KeyIt, class ValueIt, class ValidIt, class Key, class V>
void aggregate_sorted(char const* what, KeyIt keys_first, std::uint64_t n, ValueIt values_first,
                      ValidIt valid_first, agg which, bool nulls, aggregates<Key, V>& out) {
  sorted_rows const sorted = sort_rows(what, keys_first, n, out.unique_keys);
  fold_aggregates(what, numbered_rows_ref{thrust::raw_pointer_cast(sorted.of_sorted.data())},
                  thrust::counting_iterator<std::uint64_t>(0), n,
                  thrust::make_permutation_iterator(values_first, sorted.rows.begin()),
                  thrust::make_permutation_iterator(valid_first, sorted.rows.begin()), which,
                  sorted.offsets.size() - 1, nulls, out);
}

/**
 * Hash aggregation, `aggregate_by`'s plan for batches whose keys repeat: one pass inserts each
 * row's key into a map sized for the `predicted` groups (`aggregation_room`) and folds the row
 * into columns indexed by its key's slot. Should the keys outgrow the map, they are all counted
 * in, growing it, and the pass runs again. Then the live slots, sorted by key, pick the groups'
 * entries of the columns.
 */
template <class KeyIt, class ValueIt, class ValidIt, class Key, class V>
void aggregate_hashed(char const* what, KeyIt keys_first, std::uint64_t n, ValueIt values_first,
                      ValidIt valid_first, agg which, bool nulls, std::uint64_t predicted,
                      aggregates<Key, V>& out) {
  aggregation_map<Key> map(aggregation_room<Key>(predicted), aggregation_load_factor);
  aggregates<Key, V> by_slot;
  // The pass is bulkmap's own, over one map: its claims count as the map's own passes do (on
  // omp, from each thread's allotment of the budget), not as a ref's, one locked add on a shared
  // counter per claim (10% of the pass, summing 10^7 rows over 10^6 keys on 2 cores).
  auto const table_now = [&] {
    auto view = ref_access::table(map.ref());
    view.aggregate_counters = true;
    return view;
  };
  auto table = table_now();
  thrust::device_vector<unsigned long long> full;  // raised by a key with no room
  for (;;) {
    translate_errors(what, [&] { full.assign(1, 0); });
    fold_aggregates(what,
                    slot_groups<decltype(table)>{table, thrust::raw_pointer_cast(full.data())},
                    keys_first, n, values_first, valid_first, which,
                    table.capacity + side_slot_count, nulls, by_slot);
    if (translate_errors(what, [&] { return full[0]; }) == 0) break;
    map.count(keys_first, keys_first + static_cast<std::ptrdiff_t>(n));  // every key now present
    table = table_now();
  }
  thrust::device_vector<std::uint64_t> const at = slots_by_key(what, table, out.unique_keys);
  gather_column(what, at, by_slot.rows, out.rows);
  gather_column(what, at, by_slot.count, out.count);
  gather_column(what, at, by_slot.sum, out.sum);
  gather_column(what, at, by_slot.min, out.min);
  gather_column(what, at, by_slot.max, out.max);
  gather_column(what, at, by_slot.mean, out.mean);
  gather_column(what, at, by_slot.variance, out.variance);
  gather_column(what, at, by_slot.first, out.first);
  gather_column(what, at, by_slot.last, out.last);
}
}  // namespace detail

template <class KeyIt, class ValueIt, class ValidIt>
aggregates<typename std::iterator_traits<KeyIt>::value_type,
           typename std::iterator_traits<ValueIt>::value_type>
aggregate_by(KeyIt keys_first, KeyIt keys_last, ValueIt values_first, ValidIt valid_first,
             agg which) {
  using Key = typename std::iterator_traits<KeyIt>::value_type;
  char const* const what = "aggregate_by";
  auto const n = static_cast<std::uint64_t>(keys_last - keys_first);
  bool const nulls = !detail::all_valid(valid_first);
  aggregates<Key, typename std::iterator_traits<ValueIt>::value_type> out;
  std::uint64_t const predicted =
      detail::predict_distinct<device_map<Key, std::uint64_t>>(keys_first, n);
  if (detail::sorts_by_key(n, predicted)) {
    detail::aggregate_sorted(what, keys_first, n, values_first, valid_first, which, nulls, out);
  } else {
    detail::aggregate_hashed(what, keys_first, n, values_first, valid_first, which, nulls,
                             predicted, out);
  }
  if (!nulls) detail::translate_errors(what, [&] { out.rows = out.count; });
  return out;
}

template <class ValueIt, class ValidIt>
aggregates<std::uint64_t, typename std::iterator_traits<ValueIt>::value_type> aggregate_by(
    group_numbers const& numbers, ValueIt values_first, ValidIt valid_first, agg which) {
  char const* const what = "aggregate_by";
  aggregates<std::uint64_t, typename std::iterator_traits<ValueIt>::value_type> out;
  detail::translate_errors(what, [&] {
    out.unique_keys = numbers.first_row;
    out.rows = numbers.rows;
  });
  detail::fold_aggregates(
      what, detail::numbered_rows_ref{thrust::raw_pointer_cast(numbers.of_row.data())},
      thrust::counting_iterator<std::uint64_t>(0), numbers.of_row.size(), values_first, valid_first,
      which, out.size(), false, out);
  return out;
}

template <class ValueIt>
aggregates<std::uint64_t, typename std::iterator_traits<ValueIt>::value_type> aggregate_by(
    group_numbers const& numbers, ValueIt values_first, agg which) {
  return aggregate_by(numbers, values_first, thrust::constant_iterator<bool>(true), which);
}

template <class KeyIt, class ValueIt>
aggregates<typename std::iterator_traits<KeyIt>::value_type,
           typename std::iterator_traits<ValueIt>::value_type>
aggregate_by(KeyIt keys_first, KeyIt keys_last, ValueIt values_first, agg which) {
  return aggregate_by(keys_first, keys_last, values_first, thrust::constant_iterator<bool>(true),
                      which);
}

namespace detail {
/**
 * Runs `aggregate(values_first, valid_first)` on n host rows moved to the backend: `values`, and
 * `valid` as bytes (all true when null). `rows_are` names what gave the n rows, for the message.
 * @throw std::invalid_argument unless `values` (and `valid`) hold n entries
 */
template <class V, class F>
auto with_host_values(std::size_t n, char const* rows_are, std::vector<V> const& values,
                      std::vector<bool> const* valid, F aggregate) {
  char const* const what = "aggregate_by";
  if (values.size() != n || (valid != nullptr && valid->size() != n)) {
    throw std::invalid_argument(
        std::string("bulkmap::aggregate_by: ") + std::to_string(n) + " " + rows_are + ", " +
        std::to_string(values.size()) + " values" +
        (valid != nullptr ? ", " + std::to_string(valid->size()) + " validity flags" : "") +
        ": one of each per row");
  }
  thrust::device_allocator<char> const alloc;
  host_input<V, thrust::device_allocator<char>> const v(what, values, alloc);
  if (valid == nullptr) return aggregate(v.begin(), thrust::constant_iterator<bool>(true));
  std::vector<std::uint8_t> const bytes(valid->begin(), valid->end());
  host_input<std::uint8_t, thrust::device_allocator<char>> const f(what, bytes, alloc);
  return aggregate(v.begin(), f.begin());
}

/// `aggregate_by` of host keys and values (and flags, unless null).
template <class Key, class V>
aggregates<Key, V> aggregate_host_rows(std::vector<Key> const& keys, std::vector<V> const& values,
                                       std::vector<bool> const* valid, agg which) {
  return with_host_values(keys.size(), "keys", values, valid, [&](auto v, auto f) {
    host_input<Key, thrust::device_allocator<char>> const k("aggregate_by", keys,
                                                            thrust::device_allocator<char>{});
    return aggregate_by(k.begin(), k.begin() + static_cast<std::ptrdiff_t>(keys.size()), v, f,
                        which);
  });
}
}  // namespace detail

template <class Key, class V>
aggregates<Key, V> aggregate_by(std::vector<Key> const& keys, std::vector<V> const& values,
                                agg which) {
  return detail::aggregate_host_rows(keys, values, nullptr, which);
}

template <class Key, class V>
aggregates<Key, V> aggregate_by(std::vector<Key> const& keys, std::vector<V> const& values,
                                std::vector<bool> const& valid, agg which) {
  return detail::aggregate_host_rows(keys, values, &valid, which);
}

template <class V>
aggregates<std::uint64_t, V> aggregate_by(group_numbers const& numbers,
                                          std::vector<V> const& values, agg which) {
  return detail::with_host_values(
      numbers.of_row.size(), "numbered rows", values, nullptr,
      [&](auto v, auto f) { return aggregate_by(numbers, v, f, which); });
}

template <class V>
aggregates<std::uint64_t, V> aggregate_by(group_numbers const& numbers,
                                          std::vector<V> const& values,
                                          std::vector<bool> const& valid, agg which) {
  return detail::with_host_values(
      numbers.of_row.size(), "numbered rows", values, &valid,
      [&](auto v, auto f) { return aggregate_by(numbers, v, f, which); });
}

template <class KeyIt>
group_numbers number_groups(KeyIt keys_first, KeyIt keys_last) {
  using Key = typename std::iterator_traits<KeyIt>::value_type;
  char const* const what = "number_groups";
  auto const n = static_cast<std::uint64_t>(keys_last - keys_first);
  group_numbers out;
  std::uint64_t const predicted =
      detail::predict_distinct<device_map<Key, std::uint64_t>>(keys_first, n);
  if (detail::sorts_by_key(n, predicted)) {
    thrust::device_vector<Key> unique_keys;
    detail::sorted_rows const sorted = detail::sort_rows(what, keys_first, n, unique_keys);
    detail::translate_errors(what, [&] {
      std::size_t const g = sorted.offsets.size() - 1;
      detail::assign_fresh(out.of_row, n);
      thrust::scatter(thrust::device, sorted.of_sorted.begin(), sorted.of_sorted.end(),
                      sorted.rows.begin(), out.of_row.begin());
      // The sort is stable: a group's first sorted row is its least.
      detail::assign_fresh(out.first_row, g);
      thrust::gather(thrust::device, sorted.offsets.begin(), sorted.offsets.end() - 1,
                     sorted.rows.begin(), out.first_row.begin());
      detail::assign_fresh(out.rows, g);
      thrust::transform(thrust::device, sorted.offsets.begin() + 1, sorted.offsets.end(),
                        sorted.offsets.begin(), out.rows.begin(), thrust::minus<std::uint64_t>{});
    });
    return out;
  }
  device_map<Key, std::uint64_t> map;
  detail::rank_keys(what, keys_first, n, predicted, map, out.rows);
  detail::translate_errors(what, [&] { detail::assign_fresh(out.of_row, n); });
  map.find(keys_first, keys_last, out.of_row.begin(), std::uint64_t{0});
  detail::find_first_rows(what, out, out.rows.size());
  return out;
}

template <class Key>
group_numbers number_groups(std::vector<Key> const& keys) {
  detail::host_input<Key, thrust::device_allocator<char>> const k("number_groups", keys,
                                                                  thrust::device_allocator<char>{});
  return number_groups(k.begin(), k.begin() + static_cast<std::ptrdiff_t>(keys.size()));
}

namespace detail {
/// `number_groups` of the n keys `keys` (number to `byte_view`), each shorter than
/// sizeof(Word) bytes, as integers of the same order (`pack_short_key_fn`).
template <class Word, class Keys>
group_numbers number_short_keys(char const* what, Keys keys, std::uint64_t n) {
  thrust::device_vector<Word> packed;
  translate_errors(what, [&] {
    assign_fresh(packed, n);
    thrust::counting_iterator<std::uint64_t> const first(0);
    thrust::transform(thrust::device, first, first + static_cast<std::ptrdiff_t>(n), packed.begin(),
                      pack_short_key_fn<Word, Keys>{keys});
  });
  return number_groups(packed.begin(), packed.end());
}
}  // namespace detail

template <class BytePtr, class OffsetIt>
group_numbers number_groups(BytePtr bytes, OffsetIt offsets_first, OffsetIt offsets_last) {
  char const* const what = "number_groups";
  BULKMAP_EXPECTS(offsets_last - offsets_first >= 1,
                  "number_groups: offsets must hold n + 1 entries for n keys");
  std::uint64_t const n = static_cast<std::uint64_t>(offsets_last - offsets_first) - 1;
  auto const offsets = thrust::make_transform_iterator(offsets_first, detail::offset_as_u64{});
  thrust::counting_iterator<std::uint64_t> const first(0);
  auto const last = first + static_cast<std::ptrdiff_t>(n);
  BULKMAP_EXPECTS(
      detail::translate_errors(what,
                               [&] {
                                 return thrust::all_of(
                                     thrust::device, first, last,
                                     detail::offsets_ordered_fn<decltype(offsets)>{offsets});
                               }),
      "number_groups: offsets must not decrease");
  detail::batch_key_fn<decltype(offsets)> const batch{detail::raw_bytes(bytes), offsets};
  auto const keys = thrust::make_transform_iterator(first, batch);

  // Keys of at most 15 bytes (the common case: codes, identifiers, words) go as 8- or 16-byte
  // integers of the same order, through the map of fixed-size keys: no key bytes to store, hash
  // or compare.
  std::uint64_t const longest = detail::translate_errors(what, [&] {
    return thrust::transform_reduce(thrust::device, keys, keys + static_cast<std::ptrdiff_t>(n),
                                    detail::key_size_fn{}, std::uint64_t{0},
                                    thrust::maximum<std::uint64_t>{});
  });
  if (longest < 8) return detail::number_short_keys<std::uint64_t>(what, batch, n);
  if (longest < 16) return detail::number_short_keys<unsigned __int128>(what, batch, n);

  group_numbers out;
  string_map<std::uint64_t> map;
  detail::count_sized(map, keys, n, detail::predict_distinct<string_map<std::uint64_t>>(keys, n));
  string_pairs<std::uint64_t> counted = map.drain();  // capacity and arena kept: the keys fit
  std::size_t const g = counted.values.size();
  using keys_fn = detail::batch_key_fn<std::uint64_t const*>;
  keys_fn const distinct{thrust::raw_pointer_cast(counted.bytes.data()),
                         thrust::raw_pointer_cast(counted.offsets.data())};
  thrust::device_vector<std::uint64_t> order;
  detail::translate_errors(what, [&] {
    thrust::device_vector<std::uint64_t> prefixes;
    detail::assign_fresh(prefixes, g);
    thrust::transform(
        thrust::device, thrust::make_transform_iterator(first, distinct),
        thrust::make_transform_iterator(first + static_cast<std::ptrdiff_t>(g), distinct),
        prefixes.begin(), detail::key_prefix_fn{});
    order.assign(first, first + static_cast<std::ptrdiff_t>(g));
    detail::stable_sort(
        thrust::device, thrust::raw_pointer_cast(order.data()), g,
        detail::key_number_less_fn<keys_fn>{distinct, thrust::raw_pointer_cast(prefixes.data())});
    detail::assign_fresh(out.rows, g);
    thrust::gather(thrust::device, order.begin(), order.end(), counted.values.begin(),
                   out.rows.begin());
  });
  auto const sorted = thrust::make_permutation_iterator(
      thrust::make_transform_iterator(first, distinct), order.begin());
  map.insert(sorted, sorted + static_cast<std::ptrdiff_t>(g), first);
  detail::translate_errors(what, [&] { detail::assign_fresh(out.of_row, n); });
  map.find(keys, keys + static_cast<std::ptrdiff_t>(n), out.of_row.begin(), std::uint64_t{0});
  detail::find_first_rows(what, out, g);
  return out;
}

inline group_numbers number_groups(string_batch const& keys) {
  thrust::device_allocator<char> const alloc;
  detail::host_input<unsigned char, thrust::device_allocator<char>> const b(
      "number_groups", reinterpret_cast<unsigned char const*>(keys.bytes.data()), keys.bytes.size(),
      alloc);
  detail::host_input<std::uint64_t, thrust::device_allocator<char>> const o("number_groups",
                                                                            keys.offsets, alloc);
  return number_groups(b.data(), o.begin(),
                       o.begin() + static_cast<std::ptrdiff_t>(keys.offsets.size()));
}

namespace detail {
/**
 * Numbers the rows by `keys`, each below `range`: through an array of `range` counters indexed by
 * the key when `range` is small (at most the rows, or 2^16), else as `number_groups` does.
 */
inline group_numbers number_bounded_keys(char const* what,
                                         thrust::device_vector<std::uint64_t> const& keys,
                                         std::uint64_t range) {
  std::uint64_t const n = keys.size();
  if (range > std::max<std::uint64_t>(n, std::uint64_t{1} << 16)) {
    return number_groups(keys.begin(), keys.end());
  }
  group_numbers out;
  std::uint64_t g = 0;
  translate_errors(what, [&] {
    thrust::device_vector<std::uint64_t> counts;
    assign_fresh(counts, range, std::uint64_t{0});
    std::uint64_t const* const k = thrust::raw_pointer_cast(keys.data());
    launch(what, n, count_at_fn{k, thrust::raw_pointer_cast(counts.data())});
    thrust::device_vector<std::uint64_t> rank;
    assign_fresh(rank, range);
    thrust::transform_exclusive_scan(thrust::device, counts.begin(), counts.end(), rank.begin(),
                                     is_nonzero_fn{}, std::uint64_t{0},
                                     thrust::plus<std::uint64_t>{});
    g = range == 0 ? 0 : rank.back() + (counts.back() != 0 ? 1 : 0);
    assign_fresh(out.rows, g);
    thrust::copy_if(thrust::device, counts.begin(), counts.end(), out.rows.begin(),
                    is_nonzero_fn{});
    assign_fresh(out.of_row, n);
    thrust::gather(thrust::device, keys.begin(), keys.end(), rank.begin(), out.of_row.begin());
  });
  find_first_rows(what, out, g);
  return out;
}
}  // namespace detail

namespace detail {
/// `combine_groups` of the numberings `columns` points to.
inline group_numbers combine_columns(std::vector<group_numbers const*> const& columns) {
  char const* const what = "combine_groups";
  if (columns.empty()) throw std::invalid_argument("bulkmap::combine_groups: no numberings");
  std::uint64_t const n = columns.front()->of_row.size();
  for (group_numbers const* c : columns) {
    if (c->of_row.size() != n) {
      throw std::invalid_argument("bulkmap::combine_groups: the numberings have " +
                                  std::to_string(n) + " and " + std::to_string(c->of_row.size()) +
                                  " rows");
    }
  }
  std::uint64_t constexpr most = std::numeric_limits<std::uint64_t>::max();
  thrust::device_vector<std::uint64_t> keys;
  translate_errors(what, [&] { keys = columns.front()->of_row; });
  std::uint64_t range = columns.front()->size();  // every key is below it
  for (std::size_t c = 1; c < columns.size(); ++c) {
    std::uint64_t const g = columns[c]->size();
    if (g != 0 && range > most / g) {  // the next digit would overflow: number the key so far
      group_numbers const partial = number_bounded_keys(what, keys, range);
      range = partial.size();
      translate_errors(what, [&] { keys = partial.of_row; });
      if (g != 0 && range > most / g) {
        throw std::length_error("bulkmap::combine_groups: " + std::to_string(range) + " x " +
                                std::to_string(g) + " pairs of groups exceed 64-bit numbers");
      }
    }
    translate_errors(what, [&] {
      thrust::transform(thrust::device, keys.begin(), keys.end(), columns[c]->of_row.begin(),
                        keys.begin(), append_digit_fn{g});
    });
    range *= g;
  }
  return number_bounded_keys(what, keys, range);
}
}  // namespace detail

inline group_numbers combine_groups(std::vector<group_numbers> const& columns) {
  std::vector<group_numbers const*> pointers;
  for (group_numbers const& c : columns) pointers.push_back(&c);
  return detail::combine_columns(pointers);
}

template <class... More>
group_numbers combine_groups(group_numbers const& major, group_numbers const& minor,
                             More const&... more) {
  static_assert((std::is_same_v<More, group_numbers> && ...),
                "bulkmap::combine_groups: every argument must be a bulkmap::group_numbers");
  return detail::combine_columns({&major, &minor, &more...});
}

BULKMAP_NAMESPACE_END
