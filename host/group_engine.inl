/**
 * @file group_engine.inl
 * @brief The grouping engine of `bulkmap group`: numbers the rows by key with
 * `bulkmap::number_groups` and `combine_groups`, folds the aggregates with `aggregate_by` and
 * lists the rows of each group with `group_by`, on one chunk of rows (group.cpp merges the
 * chunks' groups).
 *
 * Portable backend source, compiled once per backend the binary holds through a generated
 * one-line wrapper (group_engine_omp.cpp, and group_engine_cuda.cu in a cuda build), as
 * count_engine.inl is. Each defines one `group_engine` (group.hpp).
 *
 * Keys: an int64 column is numbered by value; a float64 column by its bits made order-preserving
 * (negative numbers flipped), with -0 taken as 0, so groups come in numeric order; a string
 * column by its bytes (bytewise order). A column with NULLs is numbered twice, by validity (NULL
 * first) and by value (NULLs hold 0 or ""), and the two numberings combined: NULL is one group,
 * ordered first, as SQL's ORDER BY puts it.
 */
#include <thrust/copy.h>
#include <thrust/device_vector.h>
#include <thrust/iterator/counting_iterator.h>

#include <algorithm>
#include <bulkmap/bulkmap.hpp>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "group.hpp"

#if defined(BULKMAP_BACKEND_OMP)
#include <omp.h>
#endif

namespace bulkmap::cli {
namespace {

template <class T>
std::vector<T> to_host(thrust::device_vector<T> const& values) {
  std::vector<T> out(values.size());
  thrust::copy(values.begin(), values.end(), out.begin());
  return out;
}

/// `x`'s bits as an unsigned number of the same order as `x` (finite x; -0 as 0).
std::uint64_t ordered_bits(double x) {
  if (x == 0) x = 0.0;
  std::uint64_t u = 0;
  std::memcpy(&u, &x, sizeof u);
  return (u >> 63) != 0 ? ~u : u | (std::uint64_t{1} << 63);
}

/// The rows of `column` numbered by value (NULLs hold 0 or "").
bulkmap::group_numbers number_values(group_column const& column) {
  switch (column.type) {
    case column_type::int64:
      return bulkmap::number_groups(column.ints);
    case column_type::float64: {
      std::vector<std::uint64_t> keys(column.reals.size());
      std::transform(column.reals.begin(), column.reals.end(), keys.begin(), ordered_bits);
      return bulkmap::number_groups(keys);
    }
    default: {
      bulkmap::string_batch batch;
      batch.bytes = column.text.bytes;
      batch.offsets = column.text.offsets;
      return bulkmap::number_groups(batch);
    }
  }
}

/// The rows of `column` numbered by key, NULL a group of its own, first.
bulkmap::group_numbers number_keys(group_column const& column) {
  bulkmap::group_numbers values = number_values(column);
  if (std::find(column.valid.begin(), column.valid.end(), 0) == column.valid.end()) return values;
  return bulkmap::combine_groups(bulkmap::number_groups(column.valid), values);
}

bulkmap::agg flag_of(agg_kind kind) {
  switch (kind) {
    case agg_kind::sum:
      return bulkmap::agg::sum;
    case agg_kind::mean:
      return bulkmap::agg::mean;
    case agg_kind::min:
      return bulkmap::agg::min;
    case agg_kind::max:
      return bulkmap::agg::max;
    case agg_kind::variance:
      return bulkmap::agg::variance;
    case agg_kind::first:
      return bulkmap::agg::first;
    case agg_kind::last:
      return bulkmap::agg::last;
    default:
      return bulkmap::agg::count;
  }
}

/// The column of `a` that holds `kind`'s results.
template <class Key, class V>
auto const& column_of(bulkmap::aggregates<Key, V> const& a, agg_kind kind) {
  switch (kind) {
    case agg_kind::min:
      return a.min;
    case agg_kind::max:
      return a.max;
    case agg_kind::first:
      return a.first;
    default:
      return a.last;
  }
}

/// Fills `out` (the requests `which` on column `c`) from aggregates of the column's values.
template <class V>
void fill(bulkmap::aggregates<std::uint64_t, V> const& a, std::vector<agg_request> const& aggs,
          std::vector<std::size_t> const& which, std::vector<agg_result>& out,
          std::vector<std::uint64_t> const* rank_rows) {
  std::vector<std::uint64_t> const count = to_host(a.count);
  for (std::size_t i : which) {
    agg_kind const kind = aggs[i].kind;
    agg_result& r = out[i];
    r.count = count;
    if (kind == agg_kind::count) continue;
    if (kind == agg_kind::sum || kind == agg_kind::mean || kind == agg_kind::variance) {
      auto const sums = to_host(a.sum);
      if constexpr (std::is_floating_point_v<V>) {
        r.reals = sums;
      } else {
        r.ints.assign(sums.begin(), sums.end());
      }
      if (kind == agg_kind::variance) r.variance = to_host(a.variance);
    } else {
      auto const values = to_host(column_of(a, kind));
      if (rank_rows != nullptr) {  // a string column: ranks to rows
        r.rows.resize(values.size());
        for (std::size_t g = 0; g < values.size(); ++g) {
          r.rows[g] = r.count[g] > 0 ? (*rank_rows)[values[g]] : 0;
        }
      } else if constexpr (std::is_floating_point_v<V>) {
        r.reals = values;
      } else {
        r.ints.assign(values.begin(), values.end());
      }
    }
  }
}

group_result run(group_request const& request) {
#if defined(BULKMAP_BACKEND_OMP)
  if (request.threads) omp_set_num_threads(*request.threads);
#endif
  auto const& columns = *request.columns;
  group_result result;
  result.aggs.resize(request.aggs.size());
  if (request.rows == 0) {
    if (request.list) result.list_offsets.assign(1, 0);
    return result;
  }

  bulkmap::group_numbers numbers = number_keys(columns[request.keys[0]]);
  for (std::size_t k = 1; k < request.keys.size(); ++k) {
    numbers = bulkmap::combine_groups(numbers, number_keys(columns[request.keys[k]]));
  }
  result.first_row = to_host(numbers.first_row);
  result.rows = to_host(numbers.rows);

  // One aggregate_by per column, for every aggregate asked of it.
  std::vector<std::vector<std::size_t>> by_column(columns.size());
  for (std::size_t i = 0; i < request.aggs.size(); ++i) {
    if (request.aggs[i].kind == agg_kind::count_rows) {
      result.aggs[i].count = result.rows;
    } else {
      by_column[request.aggs[i].column].push_back(i);
    }
  }
  for (std::size_t c = 0; c < columns.size(); ++c) {
    if (by_column[c].empty()) continue;
    group_column const& column = columns[c];
    bulkmap::agg which = bulkmap::agg::count;
    for (std::size_t i : by_column[c]) which = which | flag_of(request.aggs[i].kind);
    std::vector<bool> const valid(column.valid.begin(), column.valid.end());
    switch (column.type) {
      case column_type::int64:
        fill(bulkmap::aggregate_by(numbers, column.ints, valid, which), request.aggs, by_column[c],
             result.aggs, nullptr);
        break;
      case column_type::float64:
        fill(bulkmap::aggregate_by(numbers, column.reals, valid, which), request.aggs, by_column[c],
             result.aggs, nullptr);
        break;
      default: {
        // Strings fold as their ranks in bytewise order; a rank's first row holds its string.
        bulkmap::group_numbers const ranks = number_values(column);
        std::vector<std::uint64_t> const rank = to_host(ranks.of_row);
        std::vector<std::uint64_t> const rank_rows = to_host(ranks.first_row);
        fill(bulkmap::aggregate_by(numbers, rank, valid, which), request.aggs, by_column[c],
             result.aggs, &rank_rows);
      }
    }
  }

  if (request.list) {
    auto const lists = bulkmap::group_by(numbers, thrust::counting_iterator<std::uint64_t>(0));
    result.list_offsets = to_host(lists.offsets);
    result.list_rows = to_host(lists.values);
  }
  return result;
}

}  // namespace

#if defined(BULKMAP_BACKEND_CUDA)
group_engine const cuda_group_engine{"cuda", run};
#else
group_engine const omp_group_engine{"omp", run};
#endif

}  // namespace bulkmap::cli
