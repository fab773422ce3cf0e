/**
 * @file bench_backend.cpp
 * @brief The backend's benchmarks, built by nvcc on cuda and by the host compiler on omp:
 *   - `bulkmap`: every workload on `bulkmap::device_map<Key, Key>` (u32, u64), or
 *     `device_map<unsigned __int128, std::uint64_t>` (u128: the CPU maps do not run it);
 *   - `thrust_sort_reduce`: counting by `thrust::sort` + `thrust::reduce_by_key`, summing by key
 *     by `thrust::sort_by_key` + `thrust::reduce_by_key`;
 *   - `gups`: the memory system's ceiling, one relaxed atomic add per key into a random slot of a
 *     table the size of the one bulkmap uses for the same workload.
 * On cuda the clock is a pair of CUDA events around the operation; on omp the host's clock
 * (device_timer.hpp).
 * Each bulkmap and Thrust count is checked against the batch's distinct count.
 *
 * The words workload (suite.hpp) runs `bulkmap count --words`'s own path: `count_words`
 * (host/words.hpp) tokenizes each 16 MiB chunk of the device-resident text on the backend and
 * counts its words into a `bulkmap::string_map<std::uint64_t>`.
 */
#include <thrust/copy.h>
#include <thrust/device_vector.h>
#include <thrust/execution_policy.h>
#include <thrust/for_each.h>
#include <thrust/iterator/constant_iterator.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/reduce.h>
#include <thrust/sequence.h>
#include <thrust/sort.h>

#include <bulkmap/bulkmap.hpp>
#include <cuda/atomic>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "device_timer.hpp"
#include "suite.hpp"
#include "words.hpp"

#if defined(BULKMAP_BACKEND_OMP)
#include <omp.h>
#endif

namespace bulkmap_bench {
namespace {

/// The batch `spec` in device memory, copied once per process and kept.
template <class Key>
thrust::device_vector<Key> const& device_keys(key_spec const& spec) {
  static std::map<std::pair<std::string, std::size_t>, std::unique_ptr<thrust::device_vector<Key>>>
      cache;
  auto& slot = cache[{spec.name(), spec.n}];
  if (!slot) slot = std::make_unique<thrust::device_vector<Key>>(keys<Key>(spec));
  return *slot;
}

/// The value type of the maps: the key type, or 64 bits for 16-byte keys (values hold 8 bytes).
template <class Key>
using value_type = std::conditional_t<sizeof(Key) <= 8, Key, std::uint64_t>;

template <class Key>
using map_type = bulkmap::device_map<Key, value_type<Key>>;

/// An empty map sized the way workload `w` runs on it (so GUPS can use the same slot count).
template <class Key>
map_type<Key> empty_map_for(workload const& w) {
  switch (w.what) {
    case op::insert:
      return map_type<Key>(w.keys.n, w.occupancy);
    case op::count:
    case op::sum_by_key:
      return map_type<Key>(distinct_count<Key>(w.keys));
    default:
      return map_type<Key>(resident_keys(w).n);
  }
}

struct odd_key {
  template <class Key, class T>
  BULKMAP_HOST_DEVICE bool operator()(Key const& key, T const&) const {
    return (key & 1) != 0;
  }
};

template <class Key>
void run_bulkmap(benchmark::State& state, workload const& w) {
  auto const& keys = device_keys<Key>(w.keys);
  std::size_t const n = keys.size();
  auto map = empty_map_for<Key>(w);
  std::size_t const slots = map.capacity();
  auto const& resident = device_keys<Key>(resident_keys(w));
  auto const fill = [&] {
    map.clear();
    map.insert(resident.begin(), resident.end(), resident.begin());
  };
  auto const nothing = [] {};
  switch (w.what) {
    case op::insert:
      timed<device_timer>(
          state, n, [&] { map.clear(); },
          [&] { map.insert(keys.begin(), keys.end(), keys.begin()); });
      break;
    case op::count:
      timed<device_timer>(
          state, n, [&] { map.clear(); }, [&] { map.count(keys.begin(), keys.end()); });
      if (map.size() != distinct_count<Key>(w.keys)) fail(state, "wrong distinct count");
      break;
    case op::sum_by_key: {
      std::size_t groups = 0;
      timed<device_timer>(state, n, nothing, [&] {
        groups =
            bulkmap::aggregate_by(keys.begin(), keys.end(),
                                  thrust::counting_iterator<std::uint64_t>(0), bulkmap::agg::sum)
                .size();
      });
      if (groups != distinct_count<Key>(w.keys)) fail(state, "wrong number of groups");
      break;
    }
    case op::find: {
      fill();
      thrust::device_vector<value_type<Key>> found(n);
      timed<device_timer>(state, n, nothing, [&] {
        map.find(keys.begin(), keys.end(), found.begin(), value_type<Key>{0});
      });
      break;
    }
    case op::erase:
      timed<device_timer>(state, n, fill, [&] { map.erase(keys.begin(), keys.end()); });
      if (!map.empty()) fail(state, "erase left keys behind");
      break;
    case op::retain_half:
      timed<device_timer>(state, n, fill, [&] { map.retain(odd_key{}); });
      break;
    case op::drain:
      timed<device_timer>(state, n, fill, [&] { map.drain(); });
      break;
    case op::to_host:
      fill();
      timed<device_timer>(state, n, nothing, [&] { benchmark::DoNotOptimize(map.to_host()); });
      break;
  }
  if (map.capacity() != slots) fail(state, "the map grew: the workload's sizing is off");
  state.counters["slots"] = static_cast<double>(slots);
}

/// The order Thrust sorts keys by: its default (a radix sort), except for 16-byte keys on the
/// host, where Thrust has no radix sort and takes a comparison.
template <class Key>
using thrust_order = std::conditional_t<sizeof(Key) == 16 && !bulkmap::backend_is_cuda,
                                        bulkmap::key_less<Key>, thrust::less<Key>>;

/// Thrust's answer to `count` (sort, then `reduce_by_key` of ones) and to `sum_by_key` (the
/// rows' numbers carried by `sort_by_key`, then `reduce_by_key`).
template <class Key>
void run_thrust_reduce(benchmark::State& state, workload const& w) {
  auto const& keys = device_keys<Key>(w.keys);
  std::size_t const n = keys.size();
  bool const sum = w.what == op::sum_by_key;
  thrust::device_vector<Key> sorted(n), unique_keys(n);
  thrust::device_vector<std::uint64_t> rows(sum ? n : 0), reduced(n);
  std::size_t distinct = 0;
  timed<device_timer>(
      state, n,
      [&] {
        thrust::copy(keys.begin(), keys.end(), sorted.begin());
        if (sum) thrust::sequence(rows.begin(), rows.end());
      },
      [&] {
        auto const reduce = [&](auto values) {
          auto const ends = thrust::reduce_by_key(thrust::device, sorted.begin(), sorted.end(),
                                                  values, unique_keys.begin(), reduced.begin());
          distinct = static_cast<std::size_t>(ends.first - unique_keys.begin());
        };
        if (sum) {
          thrust::sort_by_key(thrust::device, sorted.begin(), sorted.end(), rows.begin(),
                              thrust_order<Key>{});
          reduce(rows.begin());
        } else {
          thrust::sort(thrust::device, sorted.begin(), sorted.end(), thrust_order<Key>{});
          reduce(thrust::constant_iterator<std::uint64_t>(1));
        }
      });
  if (distinct != distinct_count<Key>(w.keys)) fail(state, "wrong distinct count");
}

/**
 * One GUPS update: a relaxed atomic add to the value word of a random slot. A slot is `stride`
 * value words, as bulkmap's: key and value (2), or for 16-byte keys two key words, the value and
 * padding (4); the value is the word after the key.
 */
template <class Key>
struct gups_fn {
  using word = value_type<Key>;
  static constexpr std::size_t stride = sizeof(Key) <= 8 ? 2 : 4;
  static constexpr std::size_t value_offset = sizeof(Key) <= 8 ? 1 : 2;
  word* slots;
  std::uint64_t mask;
  BULKMAP_HOST_DEVICE void operator()(std::uint64_t i) const {
    std::uint64_t const slot = bulkmap::fmix64(i) & mask;
    cuda::atomic_ref<word, cuda::thread_scope_device>(slots[stride * slot + value_offset])
        .fetch_add(word{1}, cuda::std::memory_order_relaxed);
  }
};

template <class Key>
void run_gups(benchmark::State& state, workload const& w) {
  std::size_t const n = w.keys.n;
  std::size_t const slots = empty_map_for<Key>(w).capacity();
  thrust::device_vector<value_type<Key>> table(gups_fn<Key>::stride * slots, 0);
  gups_fn<Key> const fn{thrust::raw_pointer_cast(table.data()), slots - 1};
  timed<device_timer>(
      state, n, [] {},
      [&] {
        thrust::for_each_n(thrust::device, thrust::counting_iterator<std::uint64_t>(0), n, fn);
      });
  state.counters["slots"] = static_cast<double>(slots);
}

/// Where the chunks of `text` end: after the last whitespace byte of each `chunk` bytes (or at
/// the text's end), so that no word is split, as `bulkmap count --words` cuts its chunks.
std::vector<std::size_t> chunk_ends(std::string const& text, std::size_t chunk) {
  std::vector<std::size_t> ends;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = std::min(text.size(), start + chunk);
    std::size_t cut = end;
    while (cut > start && cut < text.size() && !is_space(static_cast<unsigned char>(text[cut - 1])))
      --cut;
    if (cut == start) {  // a word longer than a chunk: the chunk takes all of it
      while (end < text.size() && !is_space(static_cast<unsigned char>(text[end - 1]))) ++end;
    } else {
      end = cut;
    }
    ends.push_back(end);
    start = end;
  }
  return ends;
}

void run_bulkmap_words(benchmark::State& state, config const& cfg) {
  corpus const& text = load_corpus(cfg.corpus, cfg.corpus_bytes);
  thrust::device_vector<unsigned char> device_text(text.text.begin(), text.text.end());
  unsigned char* const bytes = thrust::raw_pointer_cast(device_text.data());
  std::vector<std::size_t> const ends = chunk_ends(text.text, bulkmap::cli::word_chunk_bytes);
  bulkmap::string_map<std::uint64_t> map(text.distinct);
  bulkmap::cli::word_scratch scratch;
  std::uint64_t words = 0;
  timed<device_timer>(
      state, text.words,
      [&] {
        map.clear();
        words = 0;
      },
      [&] {
        std::size_t start = 0;
        for (std::size_t end : ends) {
          words += bulkmap::cli::count_words(bytes + start, end - start,
                                             bulkmap::cli::word_rule::not_whitespace, false, map,
                                             scratch);
          start = end;
        }
      });
  if (map.size() != text.distinct || words != text.words) fail(state, "wrong word counts");
}

template <class Key>
void register_type(config const& cfg) {
  for (workload const& w : workloads(cfg.n)) {
    std::string const prefix = w.name + "/" + type_name<Key>() + "/";
    add(cfg, prefix + "bulkmap", [w](benchmark::State& s) { run_bulkmap<Key>(s, w); });
    if (w.what == op::count || w.what == op::sum_by_key) {
      add(cfg, prefix + "thrust_sort_reduce",
          [w](benchmark::State& s) { run_thrust_reduce<Key>(s, w); });
    }
    add(cfg, prefix + "gups", [w](benchmark::State& s) { run_gups<Key>(s, w); });
  }
}

}  // namespace

void register_backend_benchmarks(config const& cfg) {
  register_type<std::uint32_t>(cfg);
  register_type<std::uint64_t>(cfg);
  register_type<unsigned __int128>(cfg);
  if (!cfg.corpus.empty()) {
    add(cfg, std::string(words_workload) + "bulkmap",
        [cfg](benchmark::State& s) { run_bulkmap_words(s, cfg); });
  }
  register_dbbench_backend(cfg);
}

std::string backend_name() { return bulkmap::backend_name; }

std::string backend_device() {
  std::ostringstream out;
#if defined(BULKMAP_BACKEND_CUDA)
  int device = 0, driver = 0;
  cudaDeviceProp prop{};
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaGetDeviceProperties(&prop, device) != cudaSuccess) {
    return "no CUDA device";
  }
  cudaDriverGetVersion(&driver);
  out << prop.name << ", " << prop.multiProcessorCount << " SMs, "
      << prop.totalGlobalMem / (1024 * 1024) << " MiB, CUDA driver " << driver / 1000 << "."
      << driver % 1000 / 10;
#else
  out << "OpenMP, " << omp_get_max_threads() << " threads";
#endif
  return out.str();
}

}  // namespace bulkmap_bench
