/**
 * @file dbbench.cpp
 * @brief db-benchmark's group-by table and questions, and the row-by-row answers the results are
 * checked against (see dbbench.hpp).
 */
#include "dbbench.hpp"

#include <bulkmap/hash.hpp>
#include <charconv>
#include <cmath>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <unordered_map>
#include <utility>

#include "workloads.hpp"

namespace bulkmap_bench {
namespace {

constexpr std::uint64_t seed = 0x5eed'db0b'e4c4'0108ULL;  // 108: db-benchmark's set.seed

/// Writes "id" and `value` zero-padded to `digits` digits (sprintf's "id%0<digits>d").
void write_id(unsigned char* out, std::uint64_t value, int digits) {
  out[0] = 'i';
  out[1] = 'd';
  for (int d = digits + 1; d >= 2; --d) {
    out[d] = static_cast<unsigned char>('0' + value % 10);
    value /= 10;
  }
}

/// A column of n strings of `width` bytes each.
void size_text(text_column& column, std::size_t n, std::size_t width) {
  column.bytes.resize(n * width);
  column.offsets.resize(n + 1);
}

groupby_table make(std::size_t n) {
  groupby_table t;
  t.rows = n;
  std::uint64_t const k = t.k;
  std::uint64_t const small = std::max<std::uint64_t>(1, n / k);  // N/K: id3's and id6's groups
  if (small >= 10'000'000'000ULL)
    throw std::invalid_argument("dbbench: N/K needs 10 digits at most");
  constexpr std::size_t wide = 5, narrow = 12;  // "id%03d", "id%010d"
  size_text(t.id1, n, wide);
  size_text(t.id2, n, wide);
  size_text(t.id3, n, narrow);
  for (auto* c : {&t.id4, &t.id5, &t.id6, &t.v1, &t.v2}) c->resize(n);
  t.v3.resize(n);
  for_blocks(n, [&](std::size_t block, std::size_t first, std::size_t last) {
    std::uint64_t state = seed ^ (static_cast<std::uint64_t>(block) << 32) ^ n;
    for (std::size_t i = first; i < last; ++i) {
      write_id(&t.id1.bytes[i * wide], 1 + below(state, k), 3);
      write_id(&t.id2.bytes[i * wide], 1 + below(state, k), 3);
      write_id(&t.id3.bytes[i * narrow], 1 + below(state, small), 10);
      t.id4[i] = static_cast<std::int32_t>(1 + below(state, k));
      t.id5[i] = static_cast<std::int32_t>(1 + below(state, k));
      t.id6[i] = static_cast<std::int32_t>(1 + below(state, small));
      t.v1[i] = static_cast<std::int32_t>(1 + below(state, 5));
      t.v2[i] = static_cast<std::int32_t>(1 + below(state, 15));
      t.v3[i] = std::round(unit(state) * 100 * 1e6) / 1e6;
    }
    for (std::size_t i = first; i < last; ++i) {
      t.id1.offsets[i] = t.id2.offsets[i] = i * wide;
      t.id3.offsets[i] = i * narrow;
    }
  });
  t.id1.offsets[n] = t.id2.offsets[n] = n * wide;
  t.id3.offsets[n] = n * narrow;
  return t;
}

using key_type = std::array<std::int64_t, 6>;

struct key_hash {
  std::size_t operator()(key_type const& key) const noexcept {
    std::uint64_t h = 0;
    for (std::int64_t part : key) h = bulkmap::fmix64(h ^ static_cast<std::uint64_t>(part));
    return h;
  }
};

/// One group's running aggregates: a sum per aggregate column, and the rows.
struct accumulator {
  std::array<double, 3> sums{};
  std::uint64_t rows = 0;
  std::size_t index = 0;  ///< the group's number, in order of first appearance
};

using reference = std::unordered_map<key_type, accumulator, key_hash>;

std::int64_t key_part(groupby_table const& t, column c, std::size_t row) {
  switch (c) {
    case column::id1:
      return id_number(t.id1[row]);
    case column::id2:
      return id_number(t.id2[row]);
    case column::id3:
      return id_number(t.id3[row]);
    case column::id4:
      return t.id4[row];
    case column::id5:
      return t.id5[row];
    case column::id6:
      return t.id6[row];
    default:
      throw std::invalid_argument("dbbench: a value column is no grouping column");
  }
}

double value(groupby_table const& t, column c, std::size_t row) {
  switch (c) {
    case column::v1:
      return t.v1[row];
    case column::v2:
      return t.v2[row];
    case column::v3:
      return t.v3[row];
    default:
      throw std::invalid_argument("dbbench: a grouping column is no value column");
  }
}

/// `q` on `t`, row by row into a `std::unordered_map`.
reference answer_row_by_row(question const& q, groupby_table const& t) {
  reference groups;
  for (std::size_t row = 0; row < t.rows; ++row) {
    key_type key{};
    for (std::size_t c = 0; c < q.by.size(); ++c) key[c] = key_part(t, q.by[c], row);
    auto [it, fresh] = groups.try_emplace(key);
    if (fresh) it->second.index = groups.size() - 1;
    ++it->second.rows;
    for (std::size_t j = 0; j < q.outs.size(); ++j) {
      if (q.outs[j].how != fold::count) it->second.sums[j] += value(t, q.outs[j].of, row);
    }
  }
  return groups;
}

reference const& cached_reference(question const& q, groupby_table const& t) {
  static std::map<std::pair<std::string, std::size_t>, std::unique_ptr<reference>> cache;
  auto& slot = cache[{q.name, t.rows}];
  if (!slot) slot = std::make_unique<reference>(answer_row_by_row(q, t));
  return *slot;
}

std::string describe(question const& q, key_type const& key) {
  std::ostringstream out;
  out << q.name << " group (";
  for (std::size_t c = 0; c < q.by.size(); ++c) out << (c ? ", " : "") << key[c];
  out << ")";
  return out.str();
}

}  // namespace

groupby_table const& groupby_data(std::size_t n) {
  static std::map<std::size_t, std::unique_ptr<groupby_table>> cache;
  auto& slot = cache[n];
  if (!slot) slot = std::make_unique<groupby_table>(make(n));
  return *slot;
}

std::vector<question> const& groupby_questions() {
  using c = column;
  static std::vector<question> const questions{
      {"q1", "sum v1 by id1", {c::id1}, {{fold::sum, c::v1}}},
      {"q2", "sum v1 by id1:id2", {c::id1, c::id2}, {{fold::sum, c::v1}}},
      {"q3", "sum v1 mean v3 by id3", {c::id3}, {{fold::sum, c::v1}, {fold::mean, c::v3}}},
      {"q4",
       "mean v1:v3 by id4",
       {c::id4},
       {{fold::mean, c::v1}, {fold::mean, c::v2}, {fold::mean, c::v3}}},
      {"q5",
       "sum v1:v3 by id6",
       {c::id6},
       {{fold::sum, c::v1}, {fold::sum, c::v2}, {fold::sum, c::v3}}},
      {"q10",
       "sum v3 count by id1:id6",
       {c::id1, c::id2, c::id3, c::id4, c::id5, c::id6},
       {{fold::sum, c::v3}, {fold::count, c::v3}}},
  };
  return questions;
}

std::int64_t id_number(std::string_view id) {
  std::int64_t number = 0;
  auto const [end, error] = std::from_chars(id.data() + std::min<std::size_t>(2, id.size()),
                                            id.data() + id.size(), number);
  if (id.size() < 3 || id.substr(0, 2) != "id" || error != std::errc{} ||
      end != id.data() + id.size()) {
    throw std::invalid_argument("dbbench: not an id: '" + std::string(id) + "'");
  }
  return number;
}

std::string check_answer(question const& q, groupby_table const& data, answer const& got) {
  reference const& expected = cached_reference(q, data);
  if (got.keys.size() != expected.size()) {
    return q.name + ": " + std::to_string(got.keys.size()) + " groups, expected " +
           std::to_string(expected.size());
  }
  if (got.values.size() != q.outs.size()) return q.name + ": wrong number of aggregate columns";
  std::vector<char> seen(expected.size(), 0);
  for (std::size_t g = 0; g < got.keys.size(); ++g) {
    auto const it = expected.find(got.keys[g]);
    if (it == expected.end()) return describe(q, got.keys[g]) + " is not in the data";
    if (seen[it->second.index]++) return describe(q, got.keys[g]) + " appears twice";
    accumulator const& acc = it->second;
    for (std::size_t j = 0; j < q.outs.size(); ++j) {
      output const& out = q.outs[j];
      double const want = out.how == fold::count  ? static_cast<double>(acc.rows)
                          : out.how == fold::mean ? acc.sums[j] / static_cast<double>(acc.rows)
                                                  : acc.sums[j];
      double const have = got.values[j][g];
      bool const exact = out.how == fold::count || (out.how == fold::sum && out.of != column::v3);
      bool const same =
          exact ? have == want : std::abs(have - want) <= 1e-9 * std::max(1.0, std::abs(want));
      if (!same) {
        std::ostringstream why;
        why.precision(17);
        why << describe(q, got.keys[g]) << ", aggregate " << j + 1 << ": " << have << ", expected "
            << want;
        return why.str();
      }
    }
  }
  return {};
}

}  // namespace bulkmap_bench
