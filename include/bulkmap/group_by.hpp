/**
 * @file group_by.hpp
 * @brief `bulkmap::group_by`: a batch of (key, value) rows regrouped by key, in compressed sparse
 * row (CSR) form: the bulk form of Rust's `groups.entry(k).or_default().push(v)`, and of SQL's
 * `GROUP BY` with a list of each group's values.
 *
 * Example: the values of each key, in input order.
 * @code
 * auto g = bulkmap::group_by(keys.begin(), keys.end(), values.begin());  // device vectors
 * // group i: key g.unique_keys[i], values g.values[g.offsets[i] .. g.offsets[i + 1])
 * @endcode
 */
#pragma once

#include <thrust/device_vector.h>

#include <bulkmap/config.hpp>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <vector>

BULKMAP_NAMESPACE_BEGIN

/**
 * @brief Rows grouped by key, in CSR form: group i has key `unique_keys[i]` and the values
 * `values[offsets[i]]` to `values[offsets[i + 1] - 1]`. Groups are in ascending key order (the
 * order of `device_map::to_host`); within a group, values keep their input order.
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
 * groups already in order).
 *
 * @param keys_first, keys_last device-accessible keys, n = keys_last - keys_first; Key as for
 *        `device_map` (hashed and compared with `bulkmap::hash` and `bulkmap::equal_to`)
 * @param values_first device-accessible values, n of them; any trivially copyable type
 * @return the groups (device vectors)
 * Memory: the map (16 bytes per slot for 8-byte keys, at most twice the number of groups), and 8
 * bytes per row for the row numbers, plus the output. Waits for completion.
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

BULKMAP_NAMESPACE_END

#include <bulkmap/detail/group_by.inl>
