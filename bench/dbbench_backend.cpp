/**
 * @file dbbench_backend.cpp
 * @brief db-benchmark's group-by questions (dbbench.hpp) on bulkmap, in library form: the columns
 * are in device memory before the clock starts, and a question's time runs from its first call to
 * its result columns, keys included. Portable source: nvcc builds it on cuda, g++ on omp.
 *
 * - Byte-string keys (id1, id2, id3) and multi-column keys: `number_groups` per column (byte
 *   strings: a device byte buffer and its offsets), `combine_groups` to join columns, then one
 *   `aggregate_by(groups, values, ...)` per value column; the key columns are gathered from each
 *   group's first row.
 * - Integer keys (q4, q5): `bulkmap` runs the fixed-key `aggregate_by(keys, values, ...)` once per
 *   value column, each numbering the groups itself; `bulkmap_numbered` numbers them once
 *   (`number_groups` on the integers) and aggregates each value column on those numbers.
 * Each peer's result is checked once per process against a row-by-row answer (dbbench.cpp).
 */
#include <thrust/copy.h>
#include <thrust/device_vector.h>
#include <thrust/execution_policy.h>
#include <thrust/for_each.h>
#include <thrust/gather.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/scan.h>
#include <thrust/transform.h>

#include <bulkmap/bulkmap.hpp>
#include <cstdint>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "dbbench.hpp"
#include "device_timer.hpp"
#include "suite.hpp"

namespace bulkmap_bench {
namespace {

using bulkmap::agg;

/// A column of byte strings in device memory: string i is `bytes[offsets[i] .. offsets[i + 1])`.
struct device_text {
  thrust::device_vector<unsigned char> bytes;
  thrust::device_vector<std::uint64_t> offsets;  ///< one more than the strings
};

/// `groupby_table` in device memory.
struct device_table {
  std::size_t rows = 0;
  device_text id1, id2, id3;
  thrust::device_vector<std::int32_t> id4, id5, id6, v1, v2;
  thrust::device_vector<double> v3;
};

device_text to_device(text_column const& text) {
  device_text out;
  out.bytes.assign(text.bytes.begin(), text.bytes.end());
  out.offsets.assign(text.offsets.begin(), text.offsets.end());
  return out;
}

/// The table of n rows in device memory, copied once per process and kept.
device_table const& device_data(std::size_t n) {
  static std::map<std::size_t, std::unique_ptr<device_table>> cache;
  auto& slot = cache[n];
  if (!slot) {
    groupby_table const& host = groupby_data(n);
    slot = std::make_unique<device_table>();
    slot->rows = n;
    slot->id1 = to_device(host.id1);
    slot->id2 = to_device(host.id2);
    slot->id3 = to_device(host.id3);
    slot->id4.assign(host.id4.begin(), host.id4.end());
    slot->id5.assign(host.id5.begin(), host.id5.end());
    slot->id6.assign(host.id6.begin(), host.id6.end());
    slot->v1.assign(host.v1.begin(), host.v1.end());
    slot->v2.assign(host.v2.begin(), host.v2.end());
    slot->v3.assign(host.v3.begin(), host.v3.end());
  }
  return *slot;
}

/// One column of a question's result: exactly one member is filled.
struct result_column {
  device_text text;                            ///< a key of byte strings
  thrust::device_vector<std::int32_t> int32;   ///< an integer key
  thrust::device_vector<std::int64_t> int64;   ///< an integer sum
  thrust::device_vector<double> real;          ///< a floating sum or a mean
  thrust::device_vector<std::uint64_t> count;  ///< COUNT(*)
};
/// A question's result: its key columns in GROUP BY order, then its aggregate columns.
using device_result = std::vector<result_column>;

/// Groups numbered by a column of byte strings.
bulkmap::group_numbers number(device_text const& text) {
  return bulkmap::number_groups(thrust::raw_pointer_cast(text.bytes.data()), text.offsets.begin(),
                                text.offsets.end());
}

/// Groups numbered by a column of integers.
bulkmap::group_numbers number(thrust::device_vector<std::int32_t> const& keys) {
  return bulkmap::number_groups(keys.begin(), keys.end());
}

/// The length of string `row`.
struct text_length {
  std::uint64_t const* offsets;
  BULKMAP_HOST_DEVICE std::uint64_t operator()(std::uint64_t row) const {
    return offsets[row + 1] - offsets[row];
  }
};

/// Copies string `rows[i]` of one text column to place i of another.
struct copy_text {
  unsigned char const* from;
  std::uint64_t const* from_offsets;
  std::uint64_t const* rows;
  unsigned char* to;
  std::uint64_t const* to_offsets;
  BULKMAP_HOST_DEVICE void operator()(std::uint64_t i) const {
    unsigned char const* const source = from + from_offsets[rows[i]];
    std::uint64_t const length = to_offsets[i + 1] - to_offsets[i];
    for (std::uint64_t b = 0; b < length; ++b) to[to_offsets[i] + b] = source[b];
  }
};

/// The key column of the groups: `text`'s string at each group's first row.
result_column gather_key(device_text const& text, bulkmap::group_numbers const& groups) {
  std::size_t const g = groups.size();
  result_column out;
  out.text.offsets.resize(g + 1);
  thrust::transform(thrust::device, groups.first_row.begin(), groups.first_row.end(),
                    out.text.offsets.begin(),
                    text_length{thrust::raw_pointer_cast(text.offsets.data())});
  out.text.offsets[g] = 0;
  thrust::exclusive_scan(thrust::device, out.text.offsets.begin(), out.text.offsets.end(),
                         out.text.offsets.begin());
  out.text.bytes.resize(out.text.offsets[g]);
  thrust::for_each_n(thrust::device, thrust::counting_iterator<std::uint64_t>(0), g,
                     copy_text{thrust::raw_pointer_cast(text.bytes.data()),
                               thrust::raw_pointer_cast(text.offsets.data()),
                               thrust::raw_pointer_cast(groups.first_row.data()),
                               thrust::raw_pointer_cast(out.text.bytes.data()),
                               thrust::raw_pointer_cast(out.text.offsets.data())});
  return out;
}

/// The key column of the groups: `keys`' value at each group's first row.
result_column gather_key(thrust::device_vector<std::int32_t> const& keys,
                         bulkmap::group_numbers const& groups) {
  result_column out;
  out.int32.resize(groups.size());
  thrust::gather(thrust::device, groups.first_row.begin(), groups.first_row.end(), keys.begin(),
                 out.int32.begin());
  return out;
}

template <class Key, class V>
result_column sum_column(bulkmap::aggregates<Key, V>&& a) {
  result_column out;
  if constexpr (std::is_floating_point_v<V>) {
    out.real = std::move(a.sum);
  } else {
    out.int64 = std::move(a.sum);
  }
  return out;
}

template <class Key, class V>
result_column mean_column(bulkmap::aggregates<Key, V>&& a) {
  result_column out;
  out.real = std::move(a.mean);
  return out;
}

// The questions. Each returns its result columns; dbbench.hpp has their SQL.

device_result q1(device_table const& t) {  // sum v1 by id1
  auto const g = number(t.id1);
  device_result r;
  r.push_back(gather_key(t.id1, g));
  r.push_back(sum_column(bulkmap::aggregate_by(g, t.v1.begin(), agg::sum)));
  return r;
}

device_result q2(device_table const& t) {  // sum v1 by id1:id2
  auto const g = bulkmap::combine_groups(number(t.id1), number(t.id2));
  device_result r;
  r.push_back(gather_key(t.id1, g));
  r.push_back(gather_key(t.id2, g));
  r.push_back(sum_column(bulkmap::aggregate_by(g, t.v1.begin(), agg::sum)));
  return r;
}

device_result q3(device_table const& t) {  // sum v1 mean v3 by id3
  auto const g = number(t.id3);
  device_result r;
  r.push_back(gather_key(t.id3, g));
  r.push_back(sum_column(bulkmap::aggregate_by(g, t.v1.begin(), agg::sum)));
  r.push_back(mean_column(bulkmap::aggregate_by(g, t.v3.begin(), agg::mean)));
  return r;
}

/// q4 and q5 with the fixed-key `aggregate_by`, which numbers the groups on each call.
template <class Out>
device_result by_integer_key(thrust::device_vector<std::int32_t> const& keys, device_table const& t,
                             agg which, Out column_of) {
  auto a1 = bulkmap::aggregate_by(keys.begin(), keys.end(), t.v1.begin(), which);
  device_result r(1);
  r[0].int32 = std::move(a1.unique_keys);
  r.push_back(column_of(std::move(a1)));
  r.push_back(column_of(bulkmap::aggregate_by(keys.begin(), keys.end(), t.v2.begin(), which)));
  r.push_back(column_of(bulkmap::aggregate_by(keys.begin(), keys.end(), t.v3.begin(), which)));
  return r;
}

/// q4 and q5 with the groups numbered once.
template <class Out>
device_result by_integer_numbers(thrust::device_vector<std::int32_t> const& keys,
                                 device_table const& t, agg which, Out column_of) {
  auto const g = number(keys);
  device_result r;
  r.push_back(gather_key(keys, g));
  r.push_back(column_of(bulkmap::aggregate_by(g, t.v1.begin(), which)));
  r.push_back(column_of(bulkmap::aggregate_by(g, t.v2.begin(), which)));
  r.push_back(column_of(bulkmap::aggregate_by(g, t.v3.begin(), which)));
  return r;
}

struct as_mean {
  template <class A>
  result_column operator()(A&& a) const {
    return mean_column(std::forward<A>(a));
  }
};
struct as_sum {
  template <class A>
  result_column operator()(A&& a) const {
    return sum_column(std::forward<A>(a));
  }
};

device_result q4(device_table const& t) {  // mean v1:v3 by id4
  return by_integer_key(t.id4, t, agg::mean, as_mean{});
}
device_result q4_numbered(device_table const& t) {
  return by_integer_numbers(t.id4, t, agg::mean, as_mean{});
}
device_result q5(device_table const& t) {  // sum v1:v3 by id6
  return by_integer_key(t.id6, t, agg::sum, as_sum{});
}
device_result q5_numbered(device_table const& t) {
  return by_integer_numbers(t.id6, t, agg::sum, as_sum{});
}

device_result q10(device_table const& t) {  // sum v3 count by id1:id6
  auto const g = bulkmap::combine_groups(number(t.id1), number(t.id2), number(t.id3), number(t.id4),
                                         number(t.id5), number(t.id6));
  device_result r;
  r.push_back(gather_key(t.id1, g));
  r.push_back(gather_key(t.id2, g));
  r.push_back(gather_key(t.id3, g));
  r.push_back(gather_key(t.id4, g));
  r.push_back(gather_key(t.id5, g));
  r.push_back(gather_key(t.id6, g));
  auto a = bulkmap::aggregate_by(g, t.v3.begin(), agg::sum);
  result_column rows;
  rows.count = std::move(a.rows);
  r.push_back(sum_column(std::move(a)));
  r.push_back(std::move(rows));
  return r;
}

/// The groups of a result (the length of its first column).
std::size_t groups_of(device_result const& r) {
  result_column const& c = r.front();
  return !c.text.offsets.empty() ? c.text.offsets.size() - 1 : c.int32.size();
}

/// A result copied to the host in `answer`'s form, for checking.
answer to_answer(question const& q, device_result const& r) {
  std::size_t const g = groups_of(r);
  answer out(g, r.size() - q.by.size());
  for (std::size_t c = 0; c < r.size(); ++c) {
    result_column const& column = r[c];
    auto const length_ok = [&](std::size_t length) {
      if (length != g) throw std::runtime_error("dbbench: result columns differ in length");
    };
    if (c < q.by.size()) {
      if (!column.text.offsets.empty()) {
        text_column text;
        text.bytes.resize(column.text.bytes.size());
        text.offsets.resize(column.text.offsets.size());
        thrust::copy(column.text.bytes.begin(), column.text.bytes.end(), text.bytes.begin());
        thrust::copy(column.text.offsets.begin(), column.text.offsets.end(), text.offsets.begin());
        length_ok(text.offsets.size() - 1);
        for (std::size_t i = 0; i < g; ++i) out.keys[i][c] = id_number(text[i]);
      } else {
        std::vector<std::int32_t> keys(column.int32.size());
        thrust::copy(column.int32.begin(), column.int32.end(), keys.begin());
        length_ok(keys.size());
        for (std::size_t i = 0; i < g; ++i) out.keys[i][c] = keys[i];
      }
      continue;
    }
    std::vector<double>& values = out.values[c - q.by.size()];
    auto const take = [&](auto const& device) {
      using T = typename std::decay_t<decltype(device)>::value_type;
      std::vector<T> host(device.size());
      thrust::copy(device.begin(), device.end(), host.begin());
      length_ok(host.size());
      for (std::size_t i = 0; i < g; ++i) values[i] = static_cast<double>(host[i]);
    };
    if (!column.int64.empty()) {
      take(column.int64);
    } else if (!column.real.empty()) {
      take(column.real);
    } else {
      take(column.count);
    }
  }
  return out;
}

using question_fn = device_result (*)(device_table const&);

void run_question(benchmark::State& state, question const& q, std::string const& peer,
                  question_fn fn, std::size_t n) {
  device_table const& table = device_data(n);
  device_result result;
  timed<device_timer>(
      state, n, [&] { result = device_result(); }, [&] { result = fn(table); });
  state.counters["groups"] = static_cast<double>(groups_of(result));
  static std::set<std::string> checked;  // once per process and benchmark
  if (!checked.insert(q.name + "/" + peer).second) return;
  std::string const why = check_answer(q, groupby_data(n), to_answer(q, result));
  if (!why.empty()) {
    std::cerr << "bulkmap_bench: " << dbbench_workload << "/" << q.name << "/" << peer
              << " computed a wrong result: " << why << "\n";
    fail(state, "wrong group-by result (see stderr)");
  }
}

}  // namespace

void register_dbbench_backend(config const& cfg) {
  std::map<std::string, std::vector<std::pair<std::string, question_fn>>> const peers{
      {"q1", {{"bulkmap", q1}}},
      {"q2", {{"bulkmap", q2}}},
      {"q3", {{"bulkmap", q3}}},
      {"q4", {{"bulkmap", q4}, {"bulkmap_numbered", q4_numbered}}},
      {"q5", {{"bulkmap", q5}, {"bulkmap_numbered", q5_numbered}}},
      {"q10", {{"bulkmap", q10}}},
  };
  std::size_t const n = cfg.dbbench_n;
  for (question const& q : groupby_questions()) {
    for (auto const& [peer, fn] : peers.at(q.name)) {
      add(cfg, std::string(dbbench_workload) + "/" + q.name + "/" + peer,
          [q, peer = peer, fn = fn, n](benchmark::State& s) { run_question(s, q, peer, fn, n); });
    }
  }
}

}  // namespace bulkmap_bench
