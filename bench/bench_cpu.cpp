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
#include <libcuckoo/cuckoohash_map.hh>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <vector>

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

}  // namespace

void register_cpu_benchmarks(config const& cfg) {
  // Caps TBB's threads for the whole run; kept alive until the process ends.
  static tbb::global_control const threads(tbb::global_control::max_allowed_parallelism,
                                           cfg.threads);
  register_type<std::uint32_t>(cfg);
  register_type<std::uint64_t>(cfg);
  if (cfg.corpus.empty()) return;
  std::string const words = words_workload;
  add(cfg, words + "absl", [cfg](benchmark::State& s) { run_words<absl_words>(s, cfg); });
  add(cfg, words + "boost", [cfg](benchmark::State& s) { run_words<boost_words>(s, cfg); });
}

}  // namespace bulkmap_bench
