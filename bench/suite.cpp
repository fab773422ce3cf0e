/**
 * @file suite.cpp
 * @brief The workload list (see suite.hpp).
 */
#include "suite.hpp"

#include <algorithm>
#include <sstream>
#include <utility>

namespace bulkmap_bench {

std::size_t table_slots(std::size_t n) {
  std::size_t slots = 16;
  while (slots < n) slots *= 2;
  return slots;
}

std::vector<workload> workloads(std::size_t n) {
  std::vector<workload> out;
  for (double occupancy : {0.5, 0.8}) {
    std::ostringstream name;
    name << "insert_occ" << occupancy;
    auto const keys = static_cast<std::size_t>(occupancy * static_cast<double>(table_slots(n)));
    out.push_back({name.str(), op::insert, {distribution::unique, keys}, occupancy});
  }
  for (std::uint64_t distinct :
       {std::uint64_t{1}, std::uint64_t{16}, std::uint64_t{1024}, std::uint64_t{1'000'000}}) {
    if (distinct >= n) continue;
    key_spec const keys{distribution::uniform, n, distinct};
    out.push_back({"count_" + keys.name(), op::count, keys});
  }
  out.push_back({"count_unique", op::count, {distribution::unique, n}});
  for (double s : {0.99, 1.2}) {
    key_spec const keys{distribution::zipf, n, 0, s};
    out.push_back({"count_" + keys.name(), op::count, keys});
  }
  for (std::uint64_t distinct : {std::uint64_t{1024}, std::uint64_t{1'000'000}}) {
    if (distinct >= n) continue;
    key_spec const keys{distribution::uniform, n, distinct};
    out.push_back({"sum_by_key_" + keys.name(), op::sum_by_key, keys});
  }
  out.push_back({"sum_by_key_unique", op::sum_by_key, {distribution::unique, n}});
  out.push_back({"find_hit", op::find, {distribution::unique, n}});
  out.push_back({"find_miss", op::find, {distribution::missing, n}});
  out.push_back({"erase", op::erase, {distribution::unique, n}});
  out.push_back({"retain_half", op::retain_half, {distribution::unique, n}});
  out.push_back({"drain", op::drain, {distribution::unique, n}});
  out.push_back({"to_host", op::to_host, {distribution::unique, n}});
  return out;
}

namespace {
bool failed = false;

struct queued {
  std::string name;
  std::function<void(benchmark::State&)> fn;
  int repetitions;
};
std::vector<queued> queue;
}  // namespace

void add(config const& cfg, std::string const& name, std::function<void(benchmark::State&)> fn) {
  queue.push_back({name, std::move(fn), cfg.repetitions});
}

void register_queued() {
  auto const group = [](std::string const& name) { return name.substr(0, name.rfind('/')); };
  std::vector<std::string> groups;  // in the order of their first benchmark
  for (queued const& q : queue) {
    if (std::find(groups.begin(), groups.end(), group(q.name)) == groups.end()) {
      groups.push_back(group(q.name));
    }
  }
  for (std::string const& g : groups) {
    for (queued const& q : queue) {
      if (group(q.name) != g) continue;
      benchmark::RegisterBenchmark(q.name.c_str(), q.fn)
          ->UseManualTime()
          ->Iterations(1)
          ->Repetitions(q.repetitions)
          ->ReportAggregatesOnly(true)
          ->Unit(benchmark::kMillisecond);
    }
  }
  queue.clear();
}

void fail(benchmark::State& state, char const* why) {
  failed = true;
  state.SkipWithError(why);
}

bool any_failed() { return failed; }

key_spec resident_keys(workload const& w) { return {distribution::unique, w.keys.n}; }

}  // namespace bulkmap_bench
