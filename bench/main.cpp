/**
 * @file main.cpp
 * @brief bulkmap_bench: the suite's entry point. Reads its own flags, records the machine in the
 * output's context, registers every benchmark and hands over to Google Benchmark, whose flags
 * (--benchmark_filter, --benchmark_out, ...) work as usual.
 *
 *   bulkmap_bench [--n=N] [--cpu-n=N] [--repetitions=R] [--threads=T] [--corpus=PATH]
 *                 [--corpus-bytes=N] [--dbbench-n=N] [benchmark flags]
 *
 * --dbbench-n: rows of db-benchmark's group-by table (dbbench.hpp); default 10^7, or --n when
 * that is smaller (so `scripts/bench --quick` runs 10^6). Only the group-by questions:
 * --benchmark_filter=dbbench_groupby.
 *
 * --corpus: the words workload's text, plain or .xz (default: Debian's linux-source tarball; the
 * workload is left out, with a note, when the file is missing); --corpus-bytes: how much of it.
 *
 * Memory freed by one repetition is kept for the next (`keep_freed_memory`), for bulkmap and its
 * peers alike; the cost of a fresh page is recorded with the run (`fresh_page_us`).
 *
 * Exits 1 if any benchmark computed a wrong result (each checks its distinct count or leftovers).
 */
#include <benchmark/benchmark.h>
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "suite.hpp"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace {

/// The CPU's model name, from /proc/cpuinfo.
std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown CPU";
}

/// Parses "--name=<positive integer>" into `out`; false if `arg` is another flag.
bool parse_size(char const* arg, char const* name, std::size_t& out) {
  std::size_t const len = std::strlen(name);
  if (std::strncmp(arg, name, len) != 0 || arg[len] != '=') return false;
  char* end = nullptr;
  double const value = std::strtod(arg + len + 1, &end);  // accepts 1e8
  if (end == arg + len + 1 || *end != '\0' || value < 1) {
    std::cerr << "bulkmap_bench: " << name << " needs a positive number, got '" << arg + len + 1
              << "'\n";
    std::exit(2);
  }
  out = static_cast<std::size_t>(value);
  return true;
}

/**
 * Microseconds the OS takes to give the process a fresh 4 KiB page (the fault of its first
 * touch, zeroing included), over 64 MiB; -1 if the memory cannot be mapped. On a virtual machine
 * it varies from day to day: 10 us on this project's 2-core machine on 2026-12-03, where a bare
 * machine takes a fraction of a microsecond.
 */
double fresh_page_us() {
  std::size_t const bytes = std::size_t{64} << 20, page = 4096;
  void* const p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return -1;
  auto const start = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < bytes; i += page) static_cast<char volatile*>(p)[i] = 1;
  std::chrono::duration<double, std::micro> const took = std::chrono::steady_clock::now() - start;
  munmap(p, bytes);
  return took.count() / static_cast<double>(bytes / page);
}

/**
 * Keeps the memory a repetition frees for the next one to reuse (glibc: large blocks from the heap
 * instead of their own mappings, and the heap never trimmed), as a long-running process or a
 * pool allocator would: each operation is timed without the OS's first-touch faults of the
 * tables and temporaries it allocates, which at 10 us per page (`fresh_page_us`) took more time
 * than the work itself (summing 10^7 u64 rows over distinct keys at 007c55c: 3.9 s, 1.3 s with
 * memory kept). Every peer allocates through the same malloc. Returns whether it applies (glibc
 * only).
 */
bool keep_freed_memory() {
#if defined(__GLIBC__)
  return mallopt(M_MMAP_MAX, 0) == 1 && mallopt(M_TRIM_THRESHOLD, INT_MAX) == 1;
#else
  return false;
#endif
}

}  // namespace

int main(int argc, char** argv) {
  bulkmap_bench::config cfg;
  cfg.threads = std::max(1u, std::thread::hardware_concurrency());
  bool const gpu = bulkmap_bench::backend_name() == "cuda";
  cfg.n = gpu ? 100'000'000 : 10'000'000;
  cfg.cpu_n = 10'000'000;
  std::size_t cpu_n = 0, reps = 0, threads = 0, dbbench_n = 0;

  cfg.corpus = bulkmap_bench::default_corpus;
  std::vector<char*> rest{argv[0]};
  for (int i = 1; i < argc; ++i) {
    if (parse_size(argv[i], "--n", cfg.n) || parse_size(argv[i], "--cpu-n", cpu_n) ||
        parse_size(argv[i], "--repetitions", reps) || parse_size(argv[i], "--threads", threads) ||
        parse_size(argv[i], "--corpus-bytes", cfg.corpus_bytes) ||
        parse_size(argv[i], "--dbbench-n", dbbench_n)) {
      continue;
    }
    if (std::strncmp(argv[i], "--corpus=", 9) == 0) {
      cfg.corpus = argv[i] + 9;
      continue;
    }
    rest.push_back(argv[i]);
  }
  cfg.cpu_n = cpu_n != 0 ? cpu_n : std::min(cfg.n, cfg.cpu_n);
  cfg.dbbench_n = dbbench_n != 0 ? dbbench_n : std::min(cfg.n, cfg.dbbench_n);
  if (reps != 0) cfg.repetitions = static_cast<int>(reps);
  if (threads != 0) cfg.threads = static_cast<unsigned>(threads);

  benchmark::AddCustomContext("bulkmap_backend", bulkmap_bench::backend_name());
  benchmark::AddCustomContext("bulkmap_device", bulkmap_bench::backend_device());
  benchmark::AddCustomContext("cpu_model", cpu_model());
  benchmark::AddCustomContext("n", std::to_string(cfg.n));
  benchmark::AddCustomContext("cpu_n", std::to_string(cfg.cpu_n));
  benchmark::AddCustomContext("cpu_map_threads", std::to_string(cfg.threads));
  benchmark::AddCustomContext("repetitions", std::to_string(cfg.repetitions));
  benchmark::AddCustomContext("dbbench_n", std::to_string(cfg.dbbench_n));
  char page_us[32];
  std::snprintf(page_us, sizeof page_us, "%.2f", fresh_page_us());
  benchmark::AddCustomContext("fresh_page_us", page_us);
  benchmark::AddCustomContext("freed_memory_kept", keep_freed_memory() ? "yes" : "no");
  if (std::filesystem::exists(cfg.corpus)) {
    benchmark::AddCustomContext("corpus", std::filesystem::path(cfg.corpus).filename());
    benchmark::AddCustomContext("corpus_bytes", std::to_string(cfg.corpus_bytes));
  } else {
    std::cerr << "bulkmap_bench: no words workload: " << cfg.corpus
              << " is missing (apt-get install linux-source-6.1, or --corpus=PATH)\n";
    cfg.corpus.clear();
  }

  bulkmap_bench::register_backend_benchmarks(cfg);
  bulkmap_bench::register_cpu_benchmarks(cfg);
  bulkmap_bench::register_queued();

  int rest_argc = static_cast<int>(rest.size());
  benchmark::Initialize(&rest_argc, rest.data());
  if (benchmark::ReportUnrecognizedArguments(rest_argc, rest.data())) return 2;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  if (bulkmap_bench::any_failed()) {
    std::cerr << "bulkmap_bench: some benchmarks computed wrong results (see above)\n";
    return 1;
  }
  return 0;
}
