/**
 * @file group.hpp
 * @brief The per-row work of `bulkmap::group_by` (group_by.hpp).
 */
#pragma once

#include <thrust/functional.h>

#include <bulkmap/config.hpp>
#include <bulkmap/detail/table.hpp>
#include <bulkmap/kernels/accumulate.hpp>
#include <cstdint>
#include <cuda/atomic>
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

/// The per-group columns `aggregate_fn` folds into; null for a column not asked for.
template <class V, class S>
struct aggregate_columns {
  std::uint64_t* count;
  S* sum;
  V* min;
  V* max;
  std::uint64_t* first_row;  ///< the least row of the group with a value
  std::uint64_t* last_row;   ///< the greatest
};

/**
 * The one pass of `aggregate_by`: row i, unless it is null, folds its value into its group's
 * columns, each with one atomic (sums and counts combined per warp on a GPU first).
 */
template <class Ref, class KeyIt, class ValueIt, class ValidIt, class V, class S>
struct aggregate_fn {
  Ref groups;
  KeyIt keys;
  ValueIt values;
  ValidIt valid;
  aggregate_columns<V, S> to;

  BULKMAP_HOST_DEVICE void operator()(std::uint64_t i) const {
    if (!static_cast<bool>(valid[i])) return;
    std::uint64_t const g = *groups.find(keys[i]);
    V const v = values[i];
    grouped_fold(to.count[g], std::uint64_t{1}, thrust::plus<std::uint64_t>{});
    if (to.sum != nullptr) grouped_fold(to.sum[g], static_cast<S>(v), thrust::plus<S>{});
    if (to.min != nullptr) atomic_fold(to.min[g], v, thrust::minimum<V>{});
    if (to.max != nullptr) atomic_fold(to.max[g], v, thrust::maximum<V>{});
    if (to.first_row != nullptr) atomic_fold(to.first_row[g], i, thrust::minimum<std::uint64_t>{});
    if (to.last_row != nullptr) atomic_fold(to.last_row[g], i, thrust::maximum<std::uint64_t>{});
  }
};

/// The variance's second pass: row i, unless null, adds its squared distance from its group's
/// mean to `squares` (two passes: one pass of sums of squares loses the digits that matter).
template <class Ref, class KeyIt, class ValueIt, class ValidIt>
struct squared_deviation_fn {
  Ref groups;
  KeyIt keys;
  ValueIt values;
  ValidIt valid;
  double const* mean;
  double* squares;

  BULKMAP_HOST_DEVICE void operator()(std::uint64_t i) const {
    if (!static_cast<bool>(valid[i])) return;
    std::uint64_t const g = *groups.find(keys[i]);
    double const d = static_cast<double>(values[i]) - mean[g];
    grouped_fold(squares[g], d * d, thrust::plus<double>{});
  }
};

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
