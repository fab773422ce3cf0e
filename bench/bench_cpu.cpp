/**
 * @file bench_cpu.cpp
 * @brief The CPU maps' benchmarks, on the same key batches as the backend's (`cfg.cpu_n` keys):
 *   - single-threaded, reserved: `std::unordered_map` (`std`), `absl::flat_hash_map` (`absl`),
 *     `boost::unordered_flat_map` (`boost`);
 *   - on `cfg.threads` threads through `tbb::parallel_for`: `tbb::concurrent_hash_map` (`tbb`) and
 *     `libcuckoo::cuckoohash_map` (`libcuckoo`).
 * The maps run insert (first value kept), count (`++map[k]`), sum_by_key (`map[k] += v`), find,
 * erase and, single-threaded ones, retain half. Each count is checked against the batch's distinct
 * count.
 *
 * db-benchmark's group-by questions (dbbench.hpp) run on `absl::flat_hash_map`, single-threaded,
 * not reserved (a group-by does not know its groups beforehand): one pass over the rows folds each
 * into its group's accumulators (byte-string keys as `string_view`s into the table, multi-column
 * keys as tuples), then the groups are copied out as the result's rows.
 *
 * The words workload (suite.hpp) runs on `absl::flat_hash_map<std::string, std::uint64_t>` and
 * `boost::unordered_flat_map<std::string, std::uint64_t>`, single-threaded: each splits the text
 * as it goes and looks words up as `string_view`s (both maps' heterogeneous lookup), copying a
 * word into a `std::string` only when it is new.
 */
#include <absl/container/flat_hash_map.h>
#include <tbb/blocked_range.h>
#include <tbb/concurrent_hash_map.h>
#include <tbb/global_control.h>
#include <tbb/parallel_for.h>

#include <boost/unordered/unordered_flat_map.hpp>
#include <cstdint>
#include <functional>
#include <iostream>
#include <libcuckoo/cuckoohash_map.hh>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "dbbench.hpp"
#include "suite.hpp"

namespace bulkmap_bench {
namespace {

/// Keys a map must be reserved for before `w` runs.
template <class Key>
std::size_t reservation(workload const& w) {
  return w.what == op::count || w.what == op::sum_by_key ? distinct_count<Key>(w.keys) : w.keys.n;
}

/// Runs `fn(i, keys[i])` for every key of `keys` on all of TBB's threads.
template <class Key, class F>
void parallel_keys(std::vector<Key> const& keys, F fn) {
  tbb::parallel_for(tbb::blocked_range<std::size_t>(0, keys.size(), 1 << 14),
                    [&](tbb::blocked_range<std::size_t> const& range) {
                      for (std::size_t i = range.begin(); i != range.end(); ++i) fn(i, keys[i]);
                    });
}

/// A single-threaded map (std, absl, boost), reserved, behind the calls `run_map` makes.
template <class Map, class Key>
struct sequential_map {
  static constexpr bool concurrent = false;
  Map map;
  explicit sequential_map(std::size_t n) { map.reserve(n); }
  void insert(Key k) { map.emplace(k, k); }
  void count(Key k) { ++map[k]; }
  void add(Key k, Key v) { map[k] += v; }
  Key find(Key k) const {
    auto const it = map.find(k);
    return it != map.end() ? it->second : Key{0};
  }
  void erase(Key k) { map.erase(k); }
  std::size_t size() const { return map.size(); }
  /// Removes the even keys, keeping about half.
  void retain_odd() {
    for (auto it = map.begin(); it != map.end();) {
      if ((it->first & 1) == 0) {
        map.erase(it++);
      } else {
        ++it;
      }
    }
  }
};

/// `tbb::concurrent_hash_map` behind the calls `run_map` makes.
template <class Key>
struct tbb_map {
  static constexpr bool concurrent = true;
  tbb::concurrent_hash_map<Key, Key> map;
  explicit tbb_map(std::size_t n) : map(n) {}
  void insert(Key k) { map.insert({k, k}); }
  void count(Key k) {
    typename tbb::concurrent_hash_map<Key, Key>::accessor a;
    map.insert(a, k);
    ++a->second;
  }
  void add(Key k, Key v) {
    typename tbb::concurrent_hash_map<Key, Key>::accessor a;
    map.insert(a, k);
    a->second += v;
  }
  Key find(Key k) const {
    typename tbb::concurrent_hash_map<Key, Key>::const_accessor a;
    return map.find(a, k) ? a->second : Key{0};
  }
  void erase(Key k) { map.erase(k); }
  std::size_t size() const { return map.size(); }
};

/// `libcuckoo::cuckoohash_map` behind the calls `run_map` makes.
template <class Key>
struct cuckoo_map {
  static constexpr bool concurrent = true;
  libcuckoo::cuckoohash_map<Key, Key> map;
  explicit cuckoo_map(std::size_t n) : map(n) {}
  void insert(Key k) { map.insert(k, k); }
  void count(Key k) {
    map.upsert(
        k, [](Key& v) { ++v; }, Key{1});
  }
  void add(Key k, Key v) {
    map.upsert(
        k, [v](Key& x) { x += v; }, v);
  }
  Key find(Key k) const {
    Key v{0};
    map.find(k, v);
    return v;
  }
  void erase(Key k) { map.erase(k); }
  std::size_t size() const { return map.size(); }
};

/// Workload `w` on a map adapter: concurrent ones on all of TBB's threads, the others on one.
template <class Map, class Key>
void run_map(benchmark::State& state, workload const& w) {
  auto const& keys = bulkmap_bench::keys<Key>(w.keys);
  auto const& resident = bulkmap_bench::keys<Key>(resident_keys(w));
  std::size_t const n = keys.size();
  auto const for_keys = [](std::vector<Key> const& batch, auto fn) {
    if constexpr (Map::concurrent) {
      parallel_keys(batch, fn);
    } else {
      for (std::size_t i = 0; i < batch.size(); ++i) fn(i, batch[i]);
    }
  };
  std::unique_ptr<Map> map;
  auto const reset = [&] { map = std::make_unique<Map>(reservation<Key>(w)); };
  auto const fill = [&] {
    reset();
    for_keys(resident, [&](std::size_t, Key k) { map->insert(k); });
  };
  switch (w.what) {
    case op::insert:
      timed<host_timer>(state, n, reset,
                        [&] { for_keys(keys, [&](std::size_t, Key k) { map->insert(k); }); });
      break;
    case op::count:
      timed<host_timer>(state, n, reset,
                        [&] { for_keys(keys, [&](std::size_t, Key k) { map->count(k); }); });
      if (map->size() != distinct_count<Key>(w.keys)) fail(state, "wrong distinct count");
      break;
    case op::sum_by_key:  // the values are the rows' numbers
      timed<host_timer>(state, n, reset, [&] {
        for_keys(keys, [&](std::size_t i, Key k) { map->add(k, static_cast<Key>(i)); });
      });
      if (map->size() != distinct_count<Key>(w.keys)) fail(state, "wrong distinct count");
      break;
    case op::find: {
      fill();
      std::vector<Key> found(n);
      timed<host_timer>(
          state, n, [] {},
          [&] { for_keys(keys, [&](std::size_t i, Key k) { found[i] = map->find(k); }); });
      benchmark::DoNotOptimize(found.data());
      break;
    }
    case op::erase:
      timed<host_timer>(state, n, fill,
                        [&] { for_keys(keys, [&](std::size_t, Key k) { map->erase(k); }); });
      if (map->size() != 0) fail(state, "erase left keys behind");
      break;
    case op::retain_half:
      if constexpr (!Map::concurrent) {
        timed<host_timer>(state, n, fill, [&] { map->retain_odd(); });
        break;
      }
      [[fallthrough]];
    default:
      state.SkipWithError("not run on this map");
  }
}

template <class Key>
void register_type(config const& cfg) {
  for (workload const& w : workloads(cfg.cpu_n)) {
    if (w.what == op::drain || w.what == op::to_host) continue;  // no counterpart in these maps
    std::string const prefix = w.name + "/" + type_name<Key>() + "/";
    add(cfg, prefix + "std", [w](benchmark::State& s) {
      run_map<sequential_map<std::unordered_map<Key, Key>, Key>, Key>(s, w);
    });
    add(cfg, prefix + "absl", [w](benchmark::State& s) {
      run_map<sequential_map<absl::flat_hash_map<Key, Key>, Key>, Key>(s, w);
    });
    add(cfg, prefix + "boost", [w](benchmark::State& s) {
      run_map<sequential_map<boost::unordered_flat_map<Key, Key>, Key>, Key>(s, w);
    });
    if (w.what == op::retain_half) continue;  // no concurrent retain
    add(cfg, prefix + "tbb", [w](benchmark::State& s) { run_map<tbb_map<Key>, Key>(s, w); });
    add(cfg, prefix + "libcuckoo",
        [w](benchmark::State& s) { run_map<cuckoo_map<Key>, Key>(s, w); });
  }
}

/// Hashes `std::string` and `std::string_view` alike, so boost's map looks up views.
struct transparent_string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return boost::hash<std::string_view>()(s);
  }
};

using absl_words = absl::flat_hash_map<std::string, std::uint64_t>;
using boost_words =
    boost::unordered_flat_map<std::string, std::uint64_t, transparent_string_hash, std::equal_to<>>;

/// The words workload on `Map`, reserved for the corpus's distinct words.
template <class Map>
void run_words(benchmark::State& state, config const& cfg) {
  corpus const& text = load_corpus(cfg.corpus, cfg.corpus_bytes);
  Map map;
  timed<host_timer>(
      state, text.words,
      [&] {
        map = Map();
        map.reserve(text.distinct);
      },
      [&] {
        for_each_word(text.text, [&](std::string_view word) {
          auto const it = [&] {
            if constexpr (std::is_same_v<Map, absl_words>) {
              return map.find(absl::string_view(word.data(), word.size()));
            } else {
              return map.find(word);
            }
          }();
          if (it != map.end()) {
            ++it->second;
          } else {
            map.emplace(std::string(word), 1);
          }
        });
      });
  if (map.size() != text.distinct) fail(state, "wrong distinct count");
}

/// Sums, and the rows, of one group of a db-benchmark question.
struct group_sums {
  std::int64_t v1 = 0, v2 = 0;
  double v3 = 0;
  std::uint64_t rows = 0;
};

/**
 * One db-benchmark question on `absl::flat_hash_map<Key, group_sums>`: `key_of(row)` is the row's
 * key, `fold(sums, row)` adds the row to its group, and after the timed run `emit(key, sums, out,
 * g)` writes group g of the checked answer.
 */
template <class Key, class KeyOf, class Fold, class Emit>
void run_absl_question(benchmark::State& state, question const& q, std::size_t n, KeyOf key_of,
                       Fold fold, Emit emit) {
  groupby_table const& t = groupby_data(n);
  std::vector<std::pair<Key, group_sums>> result;
  timed<host_timer>(
      state, n, [&] { result = {}; },
      [&] {
        absl::flat_hash_map<Key, group_sums> groups;
        for (std::size_t row = 0; row < n; ++row) fold(groups[key_of(t, row)], t, row);
        result.assign(groups.begin(), groups.end());
      });
  state.counters["groups"] = static_cast<double>(result.size());
  static std::set<std::string> checked;  // once per process and question
  if (!checked.insert(q.name).second) return;
  answer out(result.size(), q.outs.size());
  for (std::size_t g = 0; g < result.size(); ++g) emit(result[g].first, result[g].second, out, g);
  std::string const why = check_answer(q, t, out);
  if (!why.empty()) {
    std::cerr << "bulkmap_bench: " << dbbench_workload << "/" << q.name
              << "/absl computed a wrong result: " << why << "\n";
    fail(state, "wrong group-by result (see stderr)");
  }
}

void run_absl_groupby(benchmark::State& state, question const& q, std::size_t n) {
  using sv = std::string_view;
  using table = groupby_table;
  auto const mean = [](auto sum, std::uint64_t rows) {
    return static_cast<double>(sum) / static_cast<double>(rows);
  };
  if (q.name == "q1") {
    run_absl_question<sv>(
        state, q, n, [](table const& t, std::size_t i) { return t.id1[i]; },
        [](group_sums& s, table const& t, std::size_t i) { s.v1 += t.v1[i]; },
        [](sv k, group_sums const& s, answer& out, std::size_t g) {
          out.keys[g][0] = id_number(k);
          out.values[0][g] = static_cast<double>(s.v1);
        });
  } else if (q.name == "q2") {
    run_absl_question<std::pair<sv, sv>>(
        state, q, n, [](table const& t, std::size_t i) { return std::pair(t.id1[i], t.id2[i]); },
        [](group_sums& s, table const& t, std::size_t i) { s.v1 += t.v1[i]; },
        [](std::pair<sv, sv> const& k, group_sums const& s, answer& out, std::size_t g) {
          out.keys[g][0] = id_number(k.first);
          out.keys[g][1] = id_number(k.second);
          out.values[0][g] = static_cast<double>(s.v1);
        });
  } else if (q.name == "q3") {
    run_absl_question<sv>(
        state, q, n, [](table const& t, std::size_t i) { return t.id3[i]; },
        [](group_sums& s, table const& t, std::size_t i) {
          s.v1 += t.v1[i];
          s.v3 += t.v3[i];
          ++s.rows;
        },
        [&](sv k, group_sums const& s, answer& out, std::size_t g) {
          out.keys[g][0] = id_number(k);
          out.values[0][g] = static_cast<double>(s.v1);
          out.values[1][g] = mean(s.v3, s.rows);
        });
  } else if (q.name == "q4" || q.name == "q5") {
    bool const means = q.name == "q4";
    run_absl_question<std::int32_t>(
        state, q, n, [means](table const& t, std::size_t i) { return means ? t.id4[i] : t.id6[i]; },
        [](group_sums& s, table const& t, std::size_t i) {
          s.v1 += t.v1[i];
          s.v2 += t.v2[i];
          s.v3 += t.v3[i];
          ++s.rows;
        },
        [&](std::int32_t k, group_sums const& s, answer& out, std::size_t g) {
          out.keys[g][0] = k;
          out.values[0][g] = means ? mean(s.v1, s.rows) : static_cast<double>(s.v1);
          out.values[1][g] = means ? mean(s.v2, s.rows) : static_cast<double>(s.v2);
          out.values[2][g] = means ? mean(s.v3, s.rows) : s.v3;
        });
  } else if (q.name == "q10") {
    using key = std::tuple<sv, sv, sv, std::int32_t, std::int32_t, std::int32_t>;
    run_absl_question<key>(
        state, q, n,
        [](table const& t, std::size_t i) {
          return key(t.id1[i], t.id2[i], t.id3[i], t.id4[i], t.id5[i], t.id6[i]);
        },
        [](group_sums& s, table const& t, std::size_t i) {
          s.v3 += t.v3[i];
          ++s.rows;
        },
        [](key const& k, group_sums const& s, answer& out, std::size_t g) {
          out.keys[g] = {id_number(std::get<0>(k)),
                         id_number(std::get<1>(k)),
                         id_number(std::get<2>(k)),
                         std::get<3>(k),
                         std::get<4>(k),
                         std::get<5>(k)};
          out.values[0][g] = s.v3;
          out.values[1][g] = static_cast<double>(s.rows);
        });
  } else {
    state.SkipWithError("not run on this map");
  }
}

}  // namespace

void register_dbbench_cpu(config const& cfg) {
  for (question const& q : groupby_questions()) {
    add(cfg, std::string(dbbench_workload) + "/" + q.name + "/absl",
        [q, n = cfg.dbbench_n](benchmark::State& s) { run_absl_groupby(s, q, n); });
  }
}

void register_cpu_benchmarks(config const& cfg) {
  // Caps TBB's threads for the whole run; kept alive until the process ends.
  static tbb::global_control const threads(tbb::global_control::max_allowed_parallelism,
                                           cfg.threads);
  register_type<std::uint32_t>(cfg);
  register_type<std::uint64_t>(cfg);
  register_dbbench_cpu(cfg);
  if (cfg.corpus.empty()) return;
  std::string const words = words_workload;
  add(cfg, words + "absl", [cfg](benchmark::State& s) { run_words<absl_words>(s, cfg); });
  add(cfg, words + "boost", [cfg](benchmark::State& s) { run_words<boost_words>(s, cfg); });
}

}  // namespace bulkmap_bench
