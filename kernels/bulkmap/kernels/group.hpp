/**
 * @file group.hpp
 * @brief The per-row work of `bulkmap::group_by` (group_by.hpp).
 */
#pragma once

#include <thrust/functional.h>

#include <bulkmap/bytes.hpp>
#include <bulkmap/config.hpp>
#include <bulkmap/detail/table.hpp>
#include <bulkmap/kernels/accumulate.hpp>
#include <bulkmap/kernels/compact.hpp>
#include <cstdint>
#include <cuda/atomic>
#include <cuda/std/bit>
#include <cuda/std/limits>

BULKMAP_NAMESPACE_BEGIN
namespace detail {

/**
 * Row i takes the next free place of its group and writes its row number there. `groups` maps
 * each key to its group's number (a `device_map_ref` holding every key of the rows); `cursors[g]`
 * starts at group g's offset. Places within a group go in the order the rows reach them.
 */
template <class Ref, class KeyIt>
struct group_scatter_fn {
  Ref groups;
  KeyIt keys;
  std::uint64_t* cursors;
  std::uint64_t* rows;

  BULKMAP_HOST_DEVICE void operator()(std::uint64_t i) const {
    std::uint64_t const g = *groups.find(keys[i]);
    std::uint64_t const at =
        atomic_ref_t<std::uint64_t>(cursors[g]).fetch_add(1, cuda::std::memory_order_relaxed);
    rows[at] = i;
  }
};

/**
 * The groups of numbered rows (`group_numbers`) in the shape of a `device_map_ref` from keys to
 * group numbers, the key being the row's own number: with counting keys, the per-row functors
 * below run unchanged on groups numbered beforehand (byte strings, several key columns).
 */
struct numbered_rows_ref {
  /// Rows fold by group number (not by owners: with atomics, or into threads' own columns).
  static constexpr bool by_owners = false;
  std::uint64_t const* of_row;  ///< row i's group

  BULKMAP_HOST_DEVICE std::uint64_t const* find(std::uint64_t row) const noexcept {
    return of_row + row;
  }
  /// Row `row`'s group (`aggregate_fn`).
  BULKMAP_HOST_DEVICE std::uint64_t group_of(std::uint64_t row) const noexcept {
    return of_row[row];
  }
  /// Row `row`'s group, read ahead of its fold (its columns' prefetch).
  BULKMAP_HOST_DEVICE std::uint64_t prefetch_group(std::uint64_t row) const noexcept {
    return group_of(row);
  }
};

/**
 * Groups numbered by the slots of a table (`table_view`): a key's group is its slot, which
 * `group_of` finds, or claims while the table's room lasts (`aggregate_by` folds the rows into
 * columns indexed by slot, in the pass that inserts their keys). A key that finds no room gets
 * `ref::npos` and raises `*full`: the caller grows the table and runs the pass again.
 */
template <class View>
struct slot_groups {
  /// On omp, rows may fold by their keys' owners (`row_homes`), each group by one thread.
  static constexpr bool by_owners = true;
  View table;
  unsigned long long* full;

  /// `key`'s group; `home`, its home slot when the caller has it (a pass by owners), else
  /// `ref::npos`.
  BULKMAP_HOST_DEVICE std::uint64_t group_of(typename View::key_type const& key,
                                             std::uint64_t home = ref::npos) const {
    std::uint64_t const s = table.find_or_claim(key, claim_key{}, home).index;
    if (s == ref::npos) {
      atomic_ref_t<unsigned long long>(*full).store(1, cuda::std::memory_order_relaxed);
    }
    return s;
  }
  /// Prefetches the slot where `key`'s probe starts, and returns it: the group `group_of(key)`
  /// most likely gives, whose columns, indexed by slot, lie at the same place (omp).
  BULKMAP_HOST_DEVICE std::uint64_t prefetch_group(typename View::key_type const& key) const {
    return prefetch_home(table.home(key));
  }
  /// `prefetch_group` of a key whose home slot is `home`.
  BULKMAP_HOST_DEVICE std::uint64_t prefetch_home(std::uint64_t home) const {
    table.prefetch_slot(home);
    return home;
  }
};

/**
 * Over keys sorted by `key_order`: 1 where the key at j differs from the one before it (it starts
 * a group after the first), else 0. The inclusive scan of these numbers each sorted row's group.
 */
template <class Key>
struct starts_later_group_fn {
  Key const* sorted;

  BULKMAP_HOST_DEVICE std::uint64_t operator()(std::uint64_t j) const {
    return j != 0 && key_order<Key>{}(sorted[j - 1], sorted[j]) ? 1 : 0;
  }
};

/// Over rows numbered by group in order (`of_sorted`): whether row j is its group's first.
struct first_of_group_fn {
  std::uint64_t const* of_sorted;

  BULKMAP_HOST_DEVICE bool operator()(std::uint64_t j) const {
    return j == 0 || of_sorted[j] != of_sorted[j - 1];
  }
};

/// The j-th live slot in key order (`at[j]`) takes j, its key's rank, as its value.
template <class View>
struct rank_slot_fn {
  View table;
  std::uint64_t const* at;

  BULKMAP_HOST_DEVICE void operator()(std::uint64_t j) const {
    value_ops<typename View::slot_type>::store(table.slots[at[j]], j);
  }
};

/// Each group's least row: row i lowers `first_row[of_row[i]]` (which starts at ~0) to i. The
/// plain read first skips the atomic for all but the rows that lower it.
struct first_row_fn {
  std::uint64_t const* of_row;
  std::uint64_t* first_row;

  BULKMAP_HOST_DEVICE void operator()(std::uint64_t i) const {
    std::uint64_t& first = first_row[of_row[i]];
    if (i < atomic_ref_t<std::uint64_t>(first).load(cuda::std::memory_order_relaxed)) {
      atomic_fold(first, i, thrust::minimum<std::uint64_t>{});
    }
  }
};

/// Every `step`-th number: i * step.
struct stride_fn {
  std::uint64_t step;

  BULKMAP_HOST_DEVICE std::uint64_t operator()(std::uint64_t i) const { return i * step; }
};

/// A mixed-radix key with one digit more, of base `base`: `key * base + digit`. Ascending in
/// the lexicographic order of the digits (`combine_groups`).
struct append_digit_fn {
  std::uint64_t base;

  BULKMAP_HOST_DEVICE std::uint64_t operator()(std::uint64_t key, std::uint64_t digit) const {
    return key * base + digit;
  }
};

/// Counts row i at its key: `counts[keys[i]] += 1` (combined per warp on a GPU first).
struct count_at_fn {
  std::uint64_t const* keys;
  std::uint64_t* counts;

  BULKMAP_HOST_DEVICE void operator()(std::uint64_t i) const {
    grouped_fold(counts[keys[i]], std::uint64_t{1}, thrust::plus<std::uint64_t>{});
  }
};

/// 1 for a nonzero count, else 0 (as a predicate: whether it is nonzero).
struct is_nonzero_fn {
  BULKMAP_HOST_DEVICE std::uint64_t operator()(std::uint64_t x) const { return x != 0 ? 1 : 0; }
};

/// A byte string's first 8 bytes as a big-endian number (`byte_view::prefix`).
struct key_prefix_fn {
  BULKMAP_HOST_DEVICE std::uint64_t operator()(byte_view key) const { return key.prefix(); }
};

/**
 * Key i of a batch (`Keys`: number to `byte_view`) of fewer than sizeof(Word) bytes, packed into
 * one integer whose order is the keys' bytewise order: the bytes big-endian from the top, zeros
 * after them, and the length in the lowest byte (which breaks the tie between a key and the same
 * key with NUL bytes appended, shorter first).
 */
template <class Word, class Keys>
struct pack_short_key_fn {
  Keys keys;

  BULKMAP_HOST_DEVICE Word operator()(std::uint64_t i) const {
    byte_view const key = keys(i);
    Word w = 0;
    for (std::uint64_t j = 0; j + 1 < sizeof(Word); ++j) {
      w = (w << 8) | (j < key.size ? key.data[j] : 0u);
    }
    return (w << 8) | static_cast<Word>(key.size);
  }
};

/// A key's length in bytes.
struct key_size_fn {
  BULKMAP_HOST_DEVICE std::uint64_t operator()(byte_view key) const { return key.size; }
};

/// The bytewise order of keys named by their numbers (`Keys`: number to `byte_view`), their
/// prefixes (`key_prefix_fn`) compared first so that most comparisons read no key bytes.
template <class Keys>
struct key_number_less_fn {
  Keys keys;
  std::uint64_t const* prefixes;

  BULKMAP_HOST_DEVICE bool operator()(std::uint64_t a, std::uint64_t b) const {
    if (prefixes[a] != prefixes[b]) return prefixes[a] < prefixes[b];
    return keys(a) < keys(b);
  }
};

/// The per-group columns `aggregate_fn` and `squared_deviation_fn` fold into; null for a column
/// not asked for.
template <class V, class S>
struct aggregate_columns {
  std::uint64_t* rows;  ///< every row, nulls included (null when the rows are counted already)
  std::uint64_t* count;
  S* sum;
  V* min;
  V* max;
  std::uint64_t* first_row;  ///< the least row of the group with a value
  std::uint64_t* last_row;   ///< the greatest
  double* squares;           ///< the variance's sums of squared distances from the mean
};

/// Prefetches group g's entries of the columns `to` has (omp; see `prefetching`).
template <class V, class S>
BULKMAP_HOST_DEVICE void prefetch_columns(aggregate_columns<V, S> const& to, std::uint64_t g) {
  auto const at = [g](auto* column) {
    if (column != nullptr) prefetch_for_write(column + g);
  };
  at(to.rows);
  at(to.count);
  at(to.sum);
  at(to.min);
  at(to.max);
  at(to.first_row);
  at(to.last_row);
  at(to.squares);
}

/// `target = op(target, v)`: atomically (combined per warp on a GPU first, where `Grouped`), or,
/// into columns only one thread writes, as a plain read and write.
template <bool Atomic, bool Grouped = false, class T, class Op>
BULKMAP_HOST_DEVICE void fold_into(T& target, T v, Op op) {
  if constexpr (!Atomic) {
    target = fold_values(op, target, v);
  } else if constexpr (Grouped) {
    grouped_fold(target, v, op);
  } else {
    atomic_fold(target, v, op);
  }
}

/**
 * The one pass of `aggregate_by`: row i counts in its group's `rows` and, unless it is null, folds
 * its value into the group's other columns: with atomics (sums and counts combined per warp on a
 * GPU first), or with plain writes into columns of the calling thread's own (`Atomic` false).
 * `Ref::group_of` gives the row's group; a row with none (`ref::npos`: no room) folds nothing.
 */
template <class Ref, class KeyIt, class ValueIt, class ValidIt, class V, class S,
          bool Atomic = true>
struct aggregate_fn {
  Ref groups;
  KeyIt keys;
  ValueIt values;
  ValidIt valid;
  aggregate_columns<V, S> to;

  BULKMAP_HOST_DEVICE void operator()(std::uint64_t i) const { fold(i, groups.group_of(keys[i])); }
  /// Row i, whose key's home slot is `home` (a pass by owners: `slot_groups`).
  BULKMAP_HOST_DEVICE void operator()(std::uint64_t i, std::uint64_t home) const {
    fold(i, groups.group_of(keys[i], home));
  }
  /// On omp, a pass over columns beyond the caches fetches row i's entries (and slot) ahead.
  BULKMAP_HOST_DEVICE void prefetch(std::uint64_t i) const {
    prefetch_columns(to, groups.prefetch_group(keys[i]));
  }
  /// `prefetch` of a row whose key's home slot is `home` (`slot_groups`).
  BULKMAP_HOST_DEVICE void prefetch_home(std::uint64_t home) const {
    prefetch_columns(to, groups.prefetch_home(home));
  }

 private:
  /// Row i into group g (none: `ref::npos`).
  BULKMAP_HOST_DEVICE void fold(std::uint64_t i, std::uint64_t g) const {
    if (g == ref::npos) return;
    if (to.rows != nullptr) {
      fold_into<Atomic, true>(to.rows[g], std::uint64_t{1}, thrust::plus<std::uint64_t>{});
    }
    if (!static_cast<bool>(valid[i])) return;
    V const v = values[i];
    fold_into<Atomic, true>(to.count[g], std::uint64_t{1}, thrust::plus<std::uint64_t>{});
    if (to.sum != nullptr) fold_into<Atomic, true>(to.sum[g], static_cast<S>(v), thrust::plus<S>{});
    if (to.min != nullptr) fold_into<Atomic>(to.min[g], v, thrust::minimum<V>{});
    if (to.max != nullptr) fold_into<Atomic>(to.max[g], v, thrust::maximum<V>{});
    if (to.first_row != nullptr) {
      fold_into<Atomic>(to.first_row[g], i, thrust::minimum<std::uint64_t>{});
    }
    if (to.last_row != nullptr)
      fold_into<Atomic>(to.last_row[g], i, thrust::maximum<std::uint64_t>{});
  }
};

/// The variance's second pass: row i, unless null, adds its squared distance from its group's
/// mean to `to.squares` (two passes: one pass of sums of squares loses the digits that matter).
template <class Ref, class KeyIt, class ValueIt, class ValidIt, class V, class S,
          bool Atomic = true>
struct squared_deviation_fn {
  Ref groups;
  KeyIt keys;
  ValueIt values;
  ValidIt valid;
  double const* mean;
  aggregate_columns<V, S> to;

  BULKMAP_HOST_DEVICE void operator()(std::uint64_t i) const {
    if (static_cast<bool>(valid[i])) fold(i, groups.group_of(keys[i]));
  }
  /// Row i, whose key's home slot is `home` (a pass by owners: `slot_groups`).
  BULKMAP_HOST_DEVICE void operator()(std::uint64_t i, std::uint64_t home) const {
    if (static_cast<bool>(valid[i])) fold(i, groups.group_of(keys[i], home));
  }
  BULKMAP_HOST_DEVICE void prefetch(std::uint64_t i) const {
    prefetch_at(groups.prefetch_group(keys[i]));
  }
  /// `prefetch` of a row whose key's home slot is `home` (`slot_groups`).
  BULKMAP_HOST_DEVICE void prefetch_home(std::uint64_t home) const {
    prefetch_at(groups.prefetch_home(home));
  }

 private:
  BULKMAP_HOST_DEVICE void fold(std::uint64_t i, std::uint64_t g) const {
    if (g == ref::npos) return;
    double const d = static_cast<double>(values[i]) - mean[g];
    fold_into<Atomic, true>(to.squares[g], d * d, thrust::plus<double>{});
  }
  /// Group g's entries, ahead of a row's fold.
  BULKMAP_HOST_DEVICE void prefetch_at(std::uint64_t g) const {
    prefetch_columns(to, g);
    prefetch_for_write(mean + g);
  }
};

/// Folds group g of `part`'s columns (a thread's own) into `to`'s, column by column.
template <class V, class S>
BULKMAP_HOST_DEVICE void merge_columns(aggregate_columns<V, S> const& to,
                                       aggregate_columns<V, S> const& part, std::uint64_t g) {
  if (to.rows != nullptr) to.rows[g] += part.rows[g];
  if (to.count != nullptr) to.count[g] += part.count[g];
  if (to.sum != nullptr) to.sum[g] = fold_values(thrust::plus<S>{}, to.sum[g], part.sum[g]);
  if (to.min != nullptr) to.min[g] = thrust::minimum<V>{}(to.min[g], part.min[g]);
  if (to.max != nullptr) to.max[g] = thrust::maximum<V>{}(to.max[g], part.max[g]);
  if (to.first_row != nullptr) {
    to.first_row[g] = thrust::minimum<std::uint64_t>{}(to.first_row[g], part.first_row[g]);
  }
  if (to.last_row != nullptr) {
    to.last_row[g] = thrust::maximum<std::uint64_t>{}(to.last_row[g], part.last_row[g]);
  }
  if (to.squares != nullptr) to.squares[g] += part.squares[g];
}

/**
 * After the pass of `aggregate_fn`, for group i: `mean` from the sum and count; `first` and `last`
 * gathered from their rows; and, for a group with no value, V{} in `min`, `max`, `first` and
 * `last` and NaN in `mean`. Null pointers for columns not asked for.
 */
template <class ValueIt, class V, class S>
struct finish_aggregates_fn {
  ValueIt values;
  aggregate_columns<V, S> in;
  double* mean;
  V* first;
  V* last;

  BULKMAP_HOST_DEVICE void operator()(std::uint64_t i) const {
    std::uint64_t const c = in.count[i];
    if (in.min != nullptr && c == 0) in.min[i] = V{};
    if (in.max != nullptr && c == 0) in.max[i] = V{};
    if (first != nullptr) first[i] = c != 0 ? static_cast<V>(values[in.first_row[i]]) : V{};
    if (last != nullptr) last[i] = c != 0 ? static_cast<V>(values[in.last_row[i]]) : V{};
    if (mean != nullptr) {
      mean[i] = c != 0 ? static_cast<double>(in.sum[i]) / static_cast<double>(c)
                       : cuda::std::numeric_limits<double>::quiet_NaN();
    }
  }
};

/// The sample variance of group i from its sum of squared deviations (in place), NaN below two
/// values.
struct finish_variance_fn {
  std::uint64_t const* count;
  double* squares;

  BULKMAP_HOST_DEVICE void operator()(std::uint64_t i) const {
    squares[i] = count[i] > 1 ? squares[i] / static_cast<double>(count[i] - 1)
                              : cuda::std::numeric_limits<double>::quiet_NaN();
  }
};

}  // namespace detail
BULKMAP_NAMESPACE_END
