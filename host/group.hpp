/**
 * @file group.hpp
 * @brief `bulkmap group` on any backend: its options, the columns it reads, and the interface of
 * a grouping engine.
 *
 * Everything here is plain host C++, compiled once (group.cpp reads the CSV chunk by chunk, types
 * the columns, merges the groups of each chunk into those of the chunks before, and writes the
 * output). The grouping itself is backend code (group_engine.inl, over `bulkmap::number_groups`,
 * `combine_groups`, `aggregate_by` and `group_by`), compiled once per backend the binary holds, as
 * the counting engine is.
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

/**
 * @brief One column the command uses: its rows in the chunk being grouped (or, as a key column of
 * `group_partials`, one value per group).
 */
struct group_column {
  std::string name;
  std::size_t index = 0;  ///< position in the header
  column_type type = column_type::string;
  bool declared = false;            ///< the type came from --types
  csv_column text;                  ///< the fields as read (what string columns hold once typed)
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
 * @brief One aggregate per group, in a form that merges exactly with the same aggregate of other
 * rows (see `group_partials`). `count` holds the column's non-NULL values per group (what decides
 * SQL's NULL results); count_rows and count fill `count` only. The other columns, by kind:
 * - sum and mean: the sum, in `ints` (int64 columns, wrapping modulo 2^64) or `reals` (float64);
 *   the mean is the sum over `count`, divided when written;
 * - variance: the sum as for mean, and the sample variance in `variance` (NaN below two values);
 * - min, max, first and last: the value, in `ints`, `reals` or, for string columns, `rows` (the
 *   engine's result: the row of the chunk holding it) or `strings` (in `group_partials`: the
 *   value itself, NULL where the group has none).
 * Where `count` is 0 the value is 0, NaN or NULL.
 */
struct agg_result {
  std::vector<std::uint64_t> count;
  std::vector<std::int64_t> ints;
  std::vector<double> reals;
  std::vector<double> variance;
  std::vector<std::uint64_t> rows;
  csv_column strings;
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
 * @brief The groups of some rows of the input (a chunk, or every chunk so far) with their partial
 * aggregates, independent of the rows: group i's key is row i of `keys`, its aggregates entry i
 * of each `aggs` (string values held as strings). Two of them merge into the groups of both
 * (group.cpp's `merge`); G groups in key order (the engine's: NULL first, numbers by value,
 * strings bytewise, the first key column major).
 */
struct group_partials {
  std::vector<group_column> keys;   ///< one per key column, one value per group
  std::vector<std::uint64_t> rows;  ///< each group's rows
  std::vector<agg_result> aggs;     ///< one per `group_request::aggs`

  /// Number of groups.
  [[nodiscard]] std::size_t size() const noexcept { return rows.size(); }
};

/**
 * @brief One backend's grouping code. Defined by group_engine.inl, once per backend built into
 * the binary; whether the backend can run is the counting engine's `unavailable`.
 */
struct group_engine {
  char const* name;  ///< "cuda" or "omp"
  /// Groups the request's rows: keys, aggregates and lists.
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
 * the output (committing it only once everything succeeded). Without a list column, memory holds
 * one chunk of rows and the groups: each chunk is grouped and merged into the groups so far. A
 * type inferred from the first chunks that widens later makes it read the input a second time
 * (so where a type is inferred, an input that cannot be read twice, such as a pipe, is copied to
 * a temporary file first). With a list column, the whole input is held and grouped at once.
 * @throw usage_error for bad options (an unknown aggregate or type, a bad delimiter)
 * @throw input_error `file:line: what` for bad input (an unknown column, a value that is not of
 * its column's type, a malformed record), or a failed read or write
 */
group_totals run_group(group_options const& options, group_engine const& engine);

}  // namespace bulkmap::cli
