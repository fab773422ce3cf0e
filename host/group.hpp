/**
 * @file group.hpp
 * @brief `bulkmap group` on any backend: its options, the columns it reads, and the interface of
 * a grouping engine.
 *
 * Everything here is plain host C++, compiled once (group.cpp reads the CSV, types the columns and
 * writes the output). The grouping itself is backend code (group_engine.inl, over
 * `bulkmap::number_groups`, `combine_groups`, `aggregate_by` and `group_by`), compiled once per
 * backend the binary holds, as the counting engine is.
 */
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "csv_reader.hpp"

namespace bulkmap::cli {

/// Everything `bulkmap group` was asked to do, as the command line gave it.
struct group_options {
  std::vector<std::string> by;      ///< key columns
  std::vector<std::string> aggs;    ///< "count", or "KIND:COLUMN"
  std::optional<std::string> list;  ///< the column whose values each group lists
  std::vector<std::string> types;   ///< "COLUMN:TYPE"
  std::string delimiter = ",";
  bool no_header = false;
  bool skip_bad_rows = false;
  std::string output;
  std::string backend = "auto";
  std::optional<int> threads;
  std::size_t chunk_bytes = 0;  ///< 0: csv_reader's default
  std::string file;
};

/// A column's type: declared with --types, or inferred from its values.
enum class column_type { int64, float64, string };

/// One column the command uses, every row of it.
struct group_column {
  std::string name;
  std::size_t index = 0;  ///< position in the header
  column_type type = column_type::string;
  bool declared = false;  ///< the type came from --types
  csv_column text;        ///< the fields as read (kept for string columns only, once typed)
  std::vector<std::uint8_t> valid;  ///< 1 where the field is not NULL
  std::vector<std::int64_t> ints;   ///< int64 columns: the values (0 where NULL)
  std::vector<double> reals;        ///< float64 columns: the values (0 where NULL)
};

/// The aggregates `--agg` names.
enum class agg_kind { count_rows, count, sum, mean, min, max, variance, first, last };

/// One output column of aggregates.
struct agg_request {
  agg_kind kind = agg_kind::count_rows;
  std::size_t column = 0;  ///< index into `group_request::columns` (not for count_rows)
  std::string header;      ///< the output column's name, e.g. "sum_v1"
};

/// What an engine is asked to compute.
struct group_request {
  std::vector<group_column> const* columns = nullptr;
  std::size_t rows = 0;
  std::vector<std::size_t> keys;  ///< indices into `columns`, major first
  std::vector<agg_request> aggs;
  std::optional<std::size_t> list;  ///< index into `columns`
  std::optional<int> threads;
};

/**
 * @brief One aggregate per group. `count` holds the column's non-NULL values per group (what
 * decides SQL's NULL results); exactly one of `ints`, `reals` and `rows` holds the results:
 * `ints` for sum, min, max, first and last of int64 columns, `reals` for those of float64
 * columns and for mean and variance, `rows` for min, max, first and last of string columns (the
 * row holding the value). count_rows and count fill `count` only.
 */
struct agg_result {
  std::vector<std::uint64_t> count;
  std::vector<std::int64_t> ints;
  std::vector<double> reals;
  std::vector<std::uint64_t> rows;
};

/// What an engine computes: G groups in key order.
struct group_result {
  std::vector<std::uint64_t> first_row;  ///< each group's first row (where its key is read)
  std::vector<std::uint64_t> rows;       ///< each group's rows
  std::vector<agg_result> aggs;          ///< one per `group_request::aggs`
  /// With a list column: group i's rows, in input order, are
  /// `list_rows[list_offsets[i], list_offsets[i + 1])`.
  std::vector<std::uint64_t> list_offsets;
  std::vector<std::uint64_t> list_rows;
};

/**
 * @brief One backend's grouping code. Defined by group_engine.inl, once per backend built into
 * the binary; whether the backend can run is the counting engine's `unavailable`.
 */
struct group_engine {
  char const* name;  ///< "cuda" or "omp"
  /// @throw bulkmap::error (device failures, out of memory)
  group_result (*run)(group_request const& request);
};

/// The omp engine: every binary holds it.
extern group_engine const omp_group_engine;
#if defined(BULKMAP_CLI_HAVE_CUDA)
/// The cuda engine: only a cuda build holds it.
extern group_engine const cuda_group_engine;
#endif

/// What `run_group` hands to the summary.
struct group_totals {
  std::uint64_t rows = 0;
  std::uint64_t groups = 0;
  std::uint64_t skipped_rows = 0;
};

/**
 * @brief Runs `bulkmap group` on `engine`: reads the CSV, types the columns, groups, and writes
 * the output (committing it only once everything succeeded).
 * @throw usage_error for bad options (an unknown aggregate or type, a bad delimiter)
 * @throw input_error `file:line: what` for bad input (an unknown column, a value that is not of
 * its column's type, a malformed record), or a failed read or write
 */
group_totals run_group(group_options const& options, group_engine const& engine);

}  // namespace bulkmap::cli
