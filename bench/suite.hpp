/**
 * @file suite.hpp
 * @brief The benchmark suite's shape: its settings, the workloads every peer runs, and how a
 * benchmark is named, shared by the backend's part (bulkmap, Thrust, GUPS) and the CPU maps' part.
 *
 * A benchmark is named `<workload>/<key type>/<peer>`, e.g. `count_uniform_d1024/u32/bulkmap`.
 * Each reports the median of its repetitions, in keys per second (`items_per_second`), timed
 * around the operation alone: inputs are resident and the map is set up before the clock starts.
 */
#pragma once

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "text.hpp"
#include "workloads.hpp"

namespace bulkmap_bench {

struct config {
  std::size_t n = 0;      ///< keys per batch on the backend (bulkmap, Thrust, GUPS)
  std::size_t cpu_n = 0;  ///< keys per batch for the CPU maps (their runs take far longer)
  int repetitions = 5;    ///< timed runs per benchmark; the median is reported
  unsigned threads = 1;   ///< threads for the concurrent CPU maps (TBB, libcuckoo)
  std::string corpus;     ///< the words workload's text (text.hpp); empty: not run
  std::size_t corpus_bytes = 200'000'000;  ///< bytes of `corpus` the words workload counts
  std::size_t dbbench_n = 10'000'000;      ///< rows of the db-benchmark group-by table
};

/**
 * The words workload, `count_words/bytes/<peer>`: counts every word of the corpus (text.hpp),
 * tokenizing included, into a map reserved for the corpus's distinct words. The text is resident
 * (on the device for bulkmap) before the clock starts. Keys per second are words per second.
 */
inline constexpr char const* words_workload = "count_words/bytes/";

enum class op { insert, count, sum_by_key, find, erase, retain_half, drain, to_host };

/**
 * One workload: an operation on a batch of keys. The map it runs on is set up untimed first:
 * empty with room for the keys (insert, count, sum_by_key), or holding `unique` keys of the
 * batch's size (find, erase, retain_half, drain, to_host). `sum_by_key` sums each key's values,
 * the rows' numbers (0, 1, ...): SQL's `SELECT k, SUM(v) GROUP BY k`, which bulkmap answers with
 * `aggregate_by` (groups in key order), Thrust with `sort_by_key` + `reduce_by_key`, and the
 * CPU maps with `m[k] += v`.
 */
struct workload {
  std::string name;  ///< e.g. "count_zipf_s1.2", "insert_occ0.8", "find_miss"
  op what = op::count;
  key_spec keys;         ///< the batch: inserted, counted, looked up or erased
  double occupancy = 0;  ///< insert: fraction of the table's slots filled at the end
};

/// The smallest power of two ≥ n (at least 16): the slot count the insert workloads fill.
std::size_t table_slots(std::size_t n);

/**
 * Every workload at batch size n: unique insert at occupancy 0.5 and 0.8 (of `table_slots(n)`
 * slots); count over {1, 16, 1024, 10^6, n} distinct keys (uniform; n means each key once) and
 * Zipf s ∈ {0.99, 1.2}; sum_by_key over {1024, 10^6, n} distinct keys; find with all queries
 * hitting or all missing; erase; retain half; drain; to_host.
 */
std::vector<workload> workloads(std::size_t n);

/// "u32", "u64" or "u128".
template <class Key>
constexpr char const* type_name() {
  return sizeof(Key) == 4 ? "u32" : sizeof(Key) == 8 ? "u64" : "u128";
}

/// The keys a map must hold before `w` runs (find, erase, retain_half, drain, to_host).
key_spec resident_keys(workload const& w);

/// Wall-clock time of host work, in seconds.
class host_timer {
 public:
  void start() { start_ = std::chrono::steady_clock::now(); }
  double stop() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_;
};

/**
 * Runs a benchmark's operation, warm-up round included. Never inlined, so a profiler can count
 * the operation alone: `scripts/cpu-counts` has callgrind collect only inside this function.
 */
template <class Op>
__attribute__((noinline)) void measured_op(Op& op) {
  op();
}

/**
 * @brief The loop every benchmark runs: `setup()` untimed, then `op()` timed by `Timer`
 * (`start()`, `stop()` → seconds), once per repetition, after one untimed warm-up round.
 * Reports `items` keys per run as `items_per_second`.
 */
template <class Timer, class Setup, class Op>
void timed(benchmark::State& state, std::size_t items, Setup setup, Op op) {
  Timer timer;
  setup();
  measured_op(op);
  for (auto _ : state) {
    setup();
    timer.start();
    measured_op(op);
    state.SetIterationTime(timer.stop());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * items));
  state.counters["keys"] = static_cast<double>(items);
}

/**
 * @brief Marks the running benchmark failed (a wrong result, not a slow one): Google Benchmark
 * skips it, and bulkmap_bench exits non-zero at the end.
 */
void fail(benchmark::State& state, char const* why);
/// Whether any benchmark failed.
bool any_failed();

/// Queues `fn(state)` as benchmark `name`, timed manually, `cfg.repetitions` runs, median
/// reported. Nothing runs until `register_queued`.
void add(config const& cfg, std::string const& name, std::function<void(benchmark::State&)> fn);

/**
 * Registers the queued benchmarks with Google Benchmark, which runs them in that order: grouped
 * by workload and key type (the name without its peer), each group where its first benchmark was
 * queued. So every peer of a workload runs right after bulkmap rather than a quarter of an hour
 * later: on a shared machine whose speed drifts by up to 2× from hour to hour, neighbours' ratios
 * drift far less.
 */
void register_queued();

/// Queues the backend's benchmarks (`add`): bulkmap, Thrust sort + reduce_by_key, GUPS.
void register_backend_benchmarks(config const& cfg);
/// Queues the CPU maps' benchmarks.
void register_cpu_benchmarks(config const& cfg);
/**
 * Queues db-benchmark's group-by questions (dbbench.hpp) on bulkmap, `cfg.dbbench_n` rows:
 * `dbbench_groupby/<question>/bulkmap` (and `/bulkmap_numbered` for q4 and q5). Keys per second
 * are rows per second; the time of one run is the question's time.
 */
void register_dbbench_backend(config const& cfg);
/// The same questions on `absl::flat_hash_map`, single-threaded: `dbbench_groupby/<q>/absl`.
void register_dbbench_cpu(config const& cfg);
/// The backend's device in words: GPU name, memory and driver, or the OpenMP thread count.
std::string backend_device();
/// "cuda" or "omp".
std::string backend_name();

}  // namespace bulkmap_bench
