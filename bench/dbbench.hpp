/**
 * @file dbbench.hpp
 * @brief db-benchmark's group-by task (h2oai/db-benchmark, now duckdblabs/db-benchmark) in library
 * form: its table, made in memory, its questions q1–q5 and q10, and a row-by-row CPU answer to
 * check every peer's result against.
 *
 * The table is the one `_data/groupby-datagen.R` writes as `G1_<N>_1e2_0_0.csv`: N rows, K = 100,
 * no NAs, rows in random order. Its columns, drawn independently for each row:
 *   - id1, id2: "id001" .. "id100" (R: `sample(sprintf("id%03d", 1:K), N, TRUE)`), large groups;
 *   - id3: "id0000000001" .. (N/K, as "id%010d"), small groups;
 *   - id4, id5: integers 1 .. K; id6: integers 1 .. N/K;
 *   - v1: integers 1 .. 5; v2: integers 1 .. 15; v3: uniform on [0, 100), rounded to 6 decimals.
 * The draws come from splitmix64 with a fixed seed (workloads.hpp), not from R's generator with
 * `set.seed(108)`: the distribution of every column matches db-benchmark's, the rows do not.
 * Made once per process and per N, on all cores.
 */
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace bulkmap_bench {

/// The suite's name of this workload: benchmarks are `dbbench_groupby/<question>/<peer>`.
inline constexpr char const* dbbench_workload = "dbbench_groupby";

/// A column of byte strings: string i is `bytes[offsets[i] .. offsets[i + 1])`.
struct text_column {
  std::vector<unsigned char> bytes;
  std::vector<std::uint64_t> offsets;  ///< one more than the strings
  [[nodiscard]] std::string_view operator[](std::size_t i) const {
    return {reinterpret_cast<char const*>(bytes.data()) + offsets[i],
            static_cast<std::size_t>(offsets[i + 1] - offsets[i])};
  }
};

/// db-benchmark's group-by table (see the file's comment), column by column.
struct groupby_table {
  std::size_t rows = 0;
  std::size_t k = 100;  ///< groups of id1, id2, id4, id5; id3 and id6 have rows / k
  text_column id1, id2, id3;
  std::vector<std::int32_t> id4, id5, id6, v1, v2;
  std::vector<double> v3;
};

/// The table of n rows, made on first use (on all cores) and kept for the rest of the process.
groupby_table const& groupby_data(std::size_t n);

enum class column { id1, id2, id3, id4, id5, id6, v1, v2, v3 };
/// An aggregate of a question's result; `count` is `COUNT(*)`, of no column.
enum class fold { sum, mean, count };
struct output {
  fold how = fold::sum;
  column of = column::v1;
};

/// One of db-benchmark's group-by questions.
struct question {
  std::string name;          ///< "q1"
  std::string title;         ///< db-benchmark's own name, as in its time.csv: "sum v1 by id1"
  std::vector<column> by;    ///< the grouping columns, in the order of GROUP BY
  std::vector<output> outs;  ///< the result's aggregate columns
};

/**
 * q1 sum v1 by id1; q2 sum v1 by id1:id2; q3 sum v1 mean v3 by id3; q4 mean v1:v3 by id4; q5 sum
 * v1:v3 by id6; q10 sum v3 count by id1:id6 (the SQL of db-benchmark's duckdb solution).
 */
std::vector<question> const& groupby_questions();

/**
 * A question's result, in any group order, for checking: each group's key, one number per
 * grouping column (for id1–id3 the number after "id"), and each aggregate column's values.
 */
struct answer {
  std::vector<std::array<std::int64_t, 6>> keys;  ///< per group; unused places are 0
  std::vector<std::vector<double>> values;        ///< per aggregate column, per group

  answer(std::size_t groups, std::size_t outputs)
      : keys(groups), values(outputs, std::vector<double>(groups)) {}
};

/// The number in an id string: 42 for "id042". Throws std::invalid_argument if there is none.
std::int64_t id_number(std::string_view id);

/**
 * Compares `got` with `q`'s answer on `data`, computed row by row into a `std::unordered_map`
 * (once per process, question and table). Integer aggregates must be equal; floating ones equal
 * to 1e-9, relative (sums add in different orders).
 * @return empty if they agree, otherwise what differs first
 */
std::string check_answer(question const& q, groupby_table const& data, answer const& got);

}  // namespace bulkmap_bench
