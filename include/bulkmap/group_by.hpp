/**
 * @file group_by.hpp
 * @brief Batch grouping on the hash map: `bulkmap::group_by`, a batch of (key, value) rows
 * regrouped by key in compressed sparse row (CSR) form (the bulk form of Rust's
 * `groups.entry(k).or_default().push(v)`, and of SQL's `GROUP BY` with a list of each group's
 * values), and `bulkmap::aggregate_by`, SQL's aggregates per key.
 *
 * Example: the values of each key, in input order; then their sums and means.
 * @code
 * auto g = bulkmap::group_by(keys.begin(), keys.end(), values.begin());  // device vectors
 * // group i: key g.unique_keys[i], values g.values[g.offsets[i] .. g.offsets[i + 1])
 * auto a = bulkmap::aggregate_by(keys, values, bulkmap::agg::sum | bulkmap::agg::mean);
 * // a.sum[i], a.mean[i]: of the values of key a.unique_keys[i]
 * @endcode
 */
#pragma once

#include <thrust/device_vector.h>

#include <bulkmap/bytes.hpp>
#include <bulkmap/config.hpp>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <type_traits>
#include <vector>

BULKMAP_NAMESPACE_BEGIN

/**
 * @brief Rows grouped by key, in CSR form: group i has key `unique_keys[i]` and the values
 * `values[offsets[i]]` to `values[offsets[i + 1] - 1]`. Groups are in ascending key order (the
 * order of `device_map::to_host`); within a group, values keep their input order. For groups
 * given as `group_numbers` (byte-string or multi-column keys), Key is `std::uint64_t` and
 * `unique_keys[i]` is group i's first row: each key column holds the group's key there.
 * Shapes: `unique_keys` has one entry per group (G), `offsets` G + 1 (the first 0, the last the
 * number of rows), `values` one per row. Rust counterpart: `HashMap<K, Vec<V>>`, flattened.
 */
template <class Key, class V>
struct groups {
  thrust::device_vector<Key> unique_keys;
  thrust::device_vector<std::uint64_t> offsets;
  thrust::device_vector<V> values;

  /// Number of groups (distinct keys). O(1).
  [[nodiscard]] std::size_t size() const noexcept { return unique_keys.size(); }
};

/**
 * @brief Groups the rows (`keys[i]`, `values[i]`) by key. Rust: for each row,
 * `groups.entry(k).or_default().push(v)`, then the groups in key order.
 *
 * Built on the hash map, with no sort of the rows by key: a `device_map<Key, std::uint64_t>`
 * counts each key's rows; its G keys are sorted and an exclusive scan of their counts gives the
 * offsets; each row then takes the next place of its group with one atomic add (its key's group
 * found in the map) and writes its row number there; a sort of the row numbers within each group
 * (segmented: CUB's on cuda, each group's own on omp) restores input order; a gather moves the
 * values. O(n + G log G) work and O(n log m) for the in-group sorts (m: rows per group; none for
 * groups already in order). Batches of mostly distinct keys (over 2^17 rows, and a sample of
 * them predicting a group for at least 30% of the rows) are sorted by key instead, stably with
 * their row numbers (Thrust's radix sort for unsigned integer keys, and for any integer keys of
 * at most 8 bytes on cuda); the sorted rows give the offsets and the values' order directly.
 *
 * @param keys_first, keys_last device-accessible keys, n = keys_last - keys_first; Key as for
 *        `device_map` (hashed and compared with `bulkmap::hash` and `bulkmap::equal_to`)
 * @param values_first device-accessible values, n of them; any trivially copyable type
 * @return the groups (device vectors)
 * Memory: the map (16 bytes per slot for 8-byte keys; a power of two of slots, 2 to 4 per group
 * for batches sized from a sample), and 8 bytes per row for the row numbers, plus the output;
 * sorted: a copy of the keys, 24 bytes per row and the sort's scratch. Waits for completion.
 * @throw bulkmap::out_of_memory if an allocation fails (the inputs are untouched)
 */
template <class KeyIt, class ValueIt>
groups<typename std::iterator_traits<KeyIt>::value_type,
       typename std::iterator_traits<ValueIt>::value_type>
group_by(KeyIt keys_first, KeyIt keys_last, ValueIt values_first);

/**
 * @brief Host overload of `group_by`: the rows come from host vectors (copied to the device on
 * cuda); the groups are device vectors.
 * @throw std::invalid_argument if `keys` and `values` differ in length
 * @throw bulkmap::out_of_memory as the device overload
 */
template <class Key, class V>
groups<Key, V> group_by(std::vector<Key> const& keys, std::vector<V> const& values);

/**
 * @brief The aggregates `aggregate_by` computes, as flags to combine with `|`. The counts are
 * always computed; `sum` is also filled when `mean` or `variance` is asked for, and `mean` when
 * `variance` is.
 */
enum class agg : unsigned {
  count = 0,           ///< `rows` and `count` only (always there)
  sum = 1u << 0,       ///< SQL `SUM`
  min = 1u << 1,       ///< SQL `MIN`
  max = 1u << 2,       ///< SQL `MAX`
  mean = 1u << 3,      ///< SQL `AVG`
  variance = 1u << 4,  ///< SQL `VAR_SAMP` (divides by count - 1)
  first = 1u << 5,     ///< the value of the group's first row with one, in input order
  last = 1u << 6,      ///< the value of its last row with one
  all = (1u << 7) - 1,
};
constexpr agg operator|(agg a, agg b) noexcept {
  return static_cast<agg>(static_cast<unsigned>(a) | static_cast<unsigned>(b));
}
/// Whether `set` holds every flag of `flag`.
constexpr bool has(agg set, agg flag) noexcept {
  return (static_cast<unsigned>(set) & static_cast<unsigned>(flag)) == static_cast<unsigned>(flag);
}

/// The type of `aggregates::sum` for values of type V: 64-bit integers of V's signedness (sums
/// wrap modulo 2^64), `double` for floating V.
template <class V>
using sum_type_t =
    std::conditional_t<std::is_floating_point_v<V>, double,
                       std::conditional_t<std::is_signed_v<V>, std::int64_t, std::uint64_t>>;

/**
 * @brief Aggregates per group, one entry per group in each column: group i has key
 * `unique_keys[i]` (its first row, for groups given as `group_numbers`), groups in ascending key
 * order (as `groups`). Columns not asked for are empty.
 * A row whose value is null (see `aggregate_by`) counts in `rows` only, as SQL skips NULL.
 * Where a group has no value (`count[i] == 0`, SQL's NULL), `sum` is 0, `min`, `max`, `first` and
 * `last` are V{}, and `mean` and `variance` are NaN; `variance` is also NaN where `count[i] == 1`.
 */
template <class Key, class V>
struct aggregates {
  thrust::device_vector<Key> unique_keys;
  thrust::device_vector<std::uint64_t> rows;   ///< rows of the group, nulls included: `COUNT(*)`
  thrust::device_vector<std::uint64_t> count;  ///< values: `COUNT(column)`
  thrust::device_vector<sum_type_t<V>> sum;
  thrust::device_vector<V> min;
  thrust::device_vector<V> max;
  thrust::device_vector<double> mean;
  thrust::device_vector<double> variance;
  thrust::device_vector<V> first;
  thrust::device_vector<V> last;

  /// Number of groups (distinct keys). O(1).
  [[nodiscard]] std::size_t size() const noexcept { return unique_keys.size(); }
};

/**
 * @brief SQL's `SELECT key, COUNT(*), COUNT(v), SUM(v), ... GROUP BY key` over the rows
 * (`keys[i]`, `values[i]`), skipping the values of rows where `valid[i]` is false (NULL).
 * Rust: for each row, `*aggs.entry(k).or_default() += v`, one accumulator per aggregate.
 *
 * Hash aggregation: one pass over the rows inserts each key into a map, reserved for the
 * distinct keys a sample of the rows predicts, and folds the row into columns indexed by its
 * key's slot: counts and sums by addition, `min` and `max`, `first` and `last` as the least and
 * greatest row number, gathered afterwards. (Should the keys outgrow the map, they are counted
 * into it, growing it, and the pass runs again.) On omp where the threads' copies of the columns
 * fit in 16 MiB in all (threads × slots at most n), each thread folds into its own copy, merged
 * at the end; else, where the keys spread evenly over the table, by owners: each thread reads
 * every row and folds those whose key's probe starts in its part of the table, with plain
 * writes; else, and on a GPU, with atomics (counts and sums combined per warp on a GPU first;
 * compare-and-swap loops for floating min and max). On omp each row's slot and entries are
 * prefetched ahead where the table is large. The live slots, sorted by key, then pick the groups'
 * entries. Batches of mostly distinct keys (as `group_by` tells them) are sorted by key instead,
 * as `group_by` sorts them, and fold in key order into columns indexed by group. `mean` is
 * `sum / count`; `variance` takes a second pass over the rows, summing squared distances from
 * the mean. Floating sums add in an unspecified order, so their last bits may
 * differ from run to run; a NaN value makes its group's `min` and `max` unspecified (it compares
 * false with everything). Integer sums wrap modulo 2^64, and `mean` divides the wrapped sum.
 * O(n + G log G), sorted O(n log n).
 *
 * @param keys_first, keys_last device-accessible keys, n rows; Key as for `device_map`
 * @param values_first device-accessible values: an integer or floating type of at most 8 bytes
 * @param valid_first device-accessible, one per row, convertible to bool: false marks a null value
 * @param which the aggregates to compute (`agg` flags)
 * Memory: the map (16 bytes per slot for 8-byte keys; a power of two of slots, 1.6 to 3.2 per
 * group the sample predicts, 8 to 16 where that table takes at most 256 KiB) and the columns
 * asked for, an entry per slot, then one per group; sorted: a copy of the keys, 24 bytes per row
 * and the sort's scratch, and the columns. Waits for completion.
 * @throw bulkmap::out_of_memory if an allocation fails (the inputs are untouched)
 */
template <class KeyIt, class ValueIt, class ValidIt>
aggregates<typename std::iterator_traits<KeyIt>::value_type,
           typename std::iterator_traits<ValueIt>::value_type>
aggregate_by(KeyIt keys_first, KeyIt keys_last, ValueIt values_first, ValidIt valid_first,
             agg which);

/// `aggregate_by` with no null values.
template <class KeyIt, class ValueIt>
aggregates<typename std::iterator_traits<KeyIt>::value_type,
           typename std::iterator_traits<ValueIt>::value_type>
aggregate_by(KeyIt keys_first, KeyIt keys_last, ValueIt values_first, agg which);

/**
 * @brief Host overloads of `aggregate_by`: rows from host vectors (copied to the device on cuda),
 * `valid` (if given) one flag per row; the columns are device vectors.
 * @throw std::invalid_argument if the vectors differ in length
 */
template <class Key, class V>
aggregates<Key, V> aggregate_by(std::vector<Key> const& keys, std::vector<V> const& values,
                                agg which);
template <class Key, class V>
aggregates<Key, V> aggregate_by(std::vector<Key> const& keys, std::vector<V> const& values,
                                std::vector<bool> const& valid, agg which);

/**
 * @brief Rows numbered by group: row i belongs to group `of_row[i]`, the groups numbered 0 to
 * G - 1 in ascending key order. The general form of a grouping key: what `number_groups` makes of
 * fixed-size keys and of byte strings, and `combine_groups` of several key columns; what
 * `group_by` and `aggregate_by` then group by. Shapes: `of_row` n entries; `first_row` and `rows`
 * G. Rust counterpart: each key's index in a `BTreeMap<K, usize>` of the distinct keys.
 *
 * Example: SQL's `SELECT a, b, SUM(v) ... GROUP BY a, b` with a byte-string column a.
 * @code
 * auto g = bulkmap::combine_groups(
 *     bulkmap::number_groups(a_bytes, a_offsets.begin(), a_offsets.end()),
 *     bulkmap::number_groups(b.begin(), b.end()));
 * auto s = bulkmap::aggregate_by(g, v.begin(), bulkmap::agg::sum);
 * // group i: key (a[s.unique_keys[i]], b[s.unique_keys[i]]), sum s.sum[i]
 * @endcode
 */
struct group_numbers {
  thrust::device_vector<std::uint64_t> of_row;     ///< each row's group
  thrust::device_vector<std::uint64_t> first_row;  ///< each group's first row, in input order
  thrust::device_vector<std::uint64_t> rows;       ///< each group's number of rows

  /// Number of groups (distinct keys). O(1).
  [[nodiscard]] std::size_t size() const noexcept { return rows.size(); }
};

/**
 * @brief Numbers the rows of fixed-size keys by group: equal keys, one group; groups in ascending
 * key order (as `device_map::to_host`). A `device_map<Key, std::uint64_t>` counts the keys; its
 * keys, sorted, take their ranks as numbers (written into their slots); each row then finds its
 * number. O(n + G log G). Batches of mostly distinct keys (as `group_by` tells them) are sorted
 * by key instead, as `group_by` sorts them, and each sorted row's number goes to its place:
 * O(n log n).
 * @param keys_first, keys_last device-accessible keys, n rows; Key as for `device_map` (floating
 *        keys compare bitwise: 0.0 and -0.0 are two groups, and a NaN's group holds its bit
 *        pattern)
 * Memory: the map (16 bytes per slot for 8-byte keys; a power of two of slots, 2 to 4 per group
 * for batches sized from a sample) and the output; sorted: a copy of the keys, 24 bytes per row
 * and the sort's scratch, and the output. Waits for completion.
 * @throw bulkmap::out_of_memory if an allocation fails
 */
template <class KeyIt>
group_numbers number_groups(KeyIt keys_first, KeyIt keys_last);

/// Host overload of `number_groups` (the keys copied to the device on cuda).
template <class Key>
group_numbers number_groups(std::vector<Key> const& keys);

/**
 * @brief Numbers the rows of byte-string keys by group: equal bytes, one group; groups in
 * bytewise order (unsigned bytes, a proper prefix first, as `string_mirror`). A
 * `string_map<std::uint64_t>` counts the keys; its keys, sorted on the backend, take their ranks
 * as numbers; each row then finds its number. O(n + key bytes + G log G key comparisons).
 * @param bytes device-accessible pointer to the keys' bytes
 * @param offsets_first, offsets_last the n + 1 offsets of the n keys into `bytes`: key i is
 *        `bytes[offsets[i], offsets[i + 1])` (device-accessible integers that do not decrease)
 * Memory: the map and its arena (about 16 bytes per slot, and the distinct keys' bytes), a copy
 * of the distinct keys while they are sorted, and the output. Waits for completion.
 * @throw std::invalid_argument if the offsets are fewer than one or decrease
 * @throw bulkmap::out_of_memory if an allocation fails
 */
template <class BytePtr, class OffsetIt>
group_numbers number_groups(BytePtr bytes, OffsetIt offsets_first, OffsetIt offsets_last);

/// Host overload of `number_groups` for byte strings.
inline group_numbers number_groups(string_batch const& keys);

/**
 * @brief The groups of several key columns together (a multi-column key): rows whose groups agree
 * in every column share a group, numbered in the lexicographic order of the tuples (the first
 * column major): the order of the keys, column by column.
 *
 * The columns' numbers are joined as digits of one mixed-radix 64-bit key (`a * b.size() + b`,
 * and so on while the product of the group counts fits; past that, the key so far is numbered
 * first and its numbers become the next digit). When that product is at most the number of rows
 * (or 2^16), the key indexes an array of counters directly, with no hashing; otherwise it is
 * numbered as `number_groups` numbers 64-bit keys. O(n × columns + G log G). Waits for completion.
 * Memory: 8 bytes per row for the key, and the counters (16 bytes per possible key) or the map.
 * @throw std::invalid_argument if the numberings differ in their number of rows, or none is given
 * @throw std::length_error if two group counts multiply past 2^64 - 1 (more than 2^32 rows)
 * @throw bulkmap::out_of_memory if an allocation fails
 */
inline group_numbers combine_groups(std::vector<group_numbers> const& columns);

/// `combine_groups` of two or more numberings given as arguments, the first major.
template <class... More>
group_numbers combine_groups(group_numbers const& major, group_numbers const& minor,
                             More const&... more);

/**
 * @brief `group_by` over rows numbered beforehand (`number_groups`, `combine_groups`): value i
 * joins group `numbers.of_row[i]`. The result's `unique_keys[i]` is group i's first row.
 * Order, complexity and memory as `group_by`; waits for completion.
 * @param values_first device-accessible values, one per row of `numbers`
 * @throw bulkmap::out_of_memory if an allocation fails
 */
template <class ValueIt>
groups<std::uint64_t, typename std::iterator_traits<ValueIt>::value_type> group_by(
    group_numbers const& numbers, ValueIt values_first);

/**
 * @brief `aggregate_by` over rows numbered beforehand (`number_groups`, `combine_groups`): value
 * i, unless null, folds into group `numbers.of_row[i]`. The result's `unique_keys[i]` is group
 * i's first row, and its `rows` are `numbers.rows`. Aggregates, complexity and waiting as
 * `aggregate_by`.
 * @param values_first device-accessible values, one per row of `numbers`
 * @param valid_first device-accessible, one per row, convertible to bool: false marks a null value
 * @throw bulkmap::out_of_memory if an allocation fails
 */
template <class ValueIt, class ValidIt>
aggregates<std::uint64_t, typename std::iterator_traits<ValueIt>::value_type> aggregate_by(
    group_numbers const& numbers, ValueIt values_first, ValidIt valid_first, agg which);

/// `aggregate_by` over numbered rows with no null values.
template <class ValueIt>
aggregates<std::uint64_t, typename std::iterator_traits<ValueIt>::value_type> aggregate_by(
    group_numbers const& numbers, ValueIt values_first, agg which);

/**
 * @brief Host overloads of `aggregate_by` over numbered rows: values (and validity flags) from
 * host vectors, one per row of `numbers`.
 * @throw std::invalid_argument if a vector's length is not the number of rows
 */
template <class V>
aggregates<std::uint64_t, V> aggregate_by(group_numbers const& numbers,
                                          std::vector<V> const& values, agg which);
template <class V>
aggregates<std::uint64_t, V> aggregate_by(group_numbers const& numbers,
                                          std::vector<V> const& values,
                                          std::vector<bool> const& valid, agg which);

BULKMAP_NAMESPACE_END

#include <bulkmap/detail/group_by.inl>
