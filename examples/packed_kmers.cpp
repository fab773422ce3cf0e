/**
 * @file packed_kmers.cpp
 * @brief Worked example of `device_map_ref`: count the k-mers of a 2-bit packed DNA sequence
 * inside a functor of your own, one k-mer per thread, with no intermediate array of k-mers.
 *
 * Rust counterpart of the counting loop:
 *   for p in 0..=n - k { *counts.entry(kmer_at(p)).or_insert(0) += 1; }
 *
 * The functor reads its k-mer straight from the packed bases and counts it through the ref
 * (`entry(code).or_insert(0)`, then an atomic add). A ref never grows the table: positions whose
 * k-mer found no room report `full`, and the host reserves and runs just those again. The
 * result is checked against a count made on the host with std::unordered_map.
 *
 * Usage: packed_kmers [BASES [K]]   (defaults: 2,000,000 bases, K = 21). Exit code 0 when the
 * counts agree, 1 otherwise. The same source builds for the cuda and omp backends.
 */
#include <thrust/device_vector.h>
#include <thrust/execution_policy.h>
#include <thrust/for_each.h>
#include <thrust/iterator/counting_iterator.h>

#include <algorithm>
#include <bulkmap/bulkmap.hpp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

/// Base `i` of a sequence packed 4 bases a byte, 2 bits each (A=0, C=1, G=2, T=3).
BULKMAP_HOST_DEVICE inline std::uint64_t base_at(std::uint8_t const* packed, std::uint64_t i) {
  return (packed[i / 4] >> (2 * (i % 4))) & 3u;
}

/// The k-mer starting at position `p`, first base in the most significant bits.
BULKMAP_HOST_DEVICE inline std::uint64_t kmer_at(std::uint8_t const* packed, std::uint64_t p,
                                                 int k) {
  std::uint64_t code = 0;
  for (int j = 0; j < k; ++j) code = (code << 2) | base_at(packed, p + static_cast<unsigned>(j));
  return code;
}

using count_map = bulkmap::device_map<std::uint64_t, std::uint32_t>;

/// Counts the k-mer at position `positions[j]` (or j); flags the position if there was no room.
struct count_kmer {
  count_map::ref_type counts;
  std::uint8_t const* packed;
  int k;
  std::uint64_t const* positions;  // nullptr: every position
  std::uint8_t* full;              // one flag per position

  BULKMAP_HOST_DEVICE void operator()(std::uint64_t j) const {
    std::uint64_t const p = positions != nullptr ? positions[j] : j;
    auto const value = counts.entry(kmer_at(packed, p, k)).or_insert(0);  // Rust: or_insert(0)
    if (value) {
      value.atomic().fetch_add(1, cuda::std::memory_order_relaxed);  // += 1
      full[p] = 0;
    } else {
      full[p] = 1;  // status::full: nothing changed; counted again after reserve
    }
  }
};

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t const bases = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 2'000'000;
  int const k = argc > 2 ? std::atoi(argv[2]) : 21;
  if (bases < static_cast<std::uint64_t>(k) || k < 1 || k > 32) {
    std::fprintf(stderr, "packed_kmers: need 1 <= K <= 32 and at least K bases\n");
    return 2;
  }

  // A random sequence with repeats (a 1000-base motif every 10,000 bases), packed on the host.
  std::mt19937_64 rng(42);
  std::vector<std::uint8_t> sequence(bases);
  for (auto& b : sequence) b = static_cast<std::uint8_t>(rng() & 3u);
  for (std::uint64_t at = 10'000; at + 1000 <= bases; at += 10'000) {
    std::copy(sequence.begin(), sequence.begin() + 1000,
              sequence.begin() + static_cast<std::ptrdiff_t>(at));
  }
  std::vector<std::uint8_t> packed((bases + 3) / 4, 0);
  for (std::uint64_t i = 0; i < bases; ++i) {
    packed[i / 4] = static_cast<std::uint8_t>(packed[i / 4] | (sequence[i] << (2 * (i % 4))));
  }

  // Count on the backend. Start small on purpose, so that the ref runs out of room and the
  // reserve-and-retry loop runs.
  thrust::device_vector<std::uint8_t> d_packed(packed.begin(), packed.end());
  std::uint64_t const positions = bases - static_cast<std::uint64_t>(k) + 1;
  thrust::device_vector<std::uint8_t> full(positions, 0);
  count_map counts(1024);
  std::vector<std::uint64_t> pending;  // empty in the first round: every position
  int rounds = 0;
  for (;;) {
    ++rounds;
    thrust::device_vector<std::uint64_t> d_pending(pending.begin(), pending.end());
    std::uint64_t const n = pending.empty() ? positions : pending.size();
    thrust::for_each_n(
        thrust::device, thrust::counting_iterator<std::uint64_t>(0), n,
        count_kmer{counts.ref(), thrust::raw_pointer_cast(d_packed.data()), k,
                   pending.empty() ? nullptr : thrust::raw_pointer_cast(d_pending.data()),
                   thrust::raw_pointer_cast(full.data())});
    std::vector<std::uint8_t> const flags(full.begin(), full.end());
    std::vector<std::uint64_t> again;
    for (std::uint64_t p = 0; p < positions; ++p) {
      if (flags[p] != 0) again.push_back(p);
    }
    if (again.empty()) break;
    counts.reserve(again.size());  // room for every k-mer still to count, then a fresh ref
    pending.swap(again);
  }

  // The independent count, on the host.
  std::unordered_map<std::uint64_t, std::uint32_t> expected;
  for (std::uint64_t p = 0; p < positions; ++p) ++expected[kmer_at(packed.data(), p, k)];

  auto const mirror = counts.to_host();
  bool same = mirror.size() == expected.size();
  for (auto const& [code, n] : mirror) {
    auto const it = expected.find(code);
    same = same && it != expected.end() && it->second == n;
  }
  std::printf("packed_kmers: %llu positions, %zu distinct %d-mers, %d rounds, backend %s: %s\n",
              static_cast<unsigned long long>(positions), mirror.size(), k, rounds,
              bulkmap::backend_name, same ? "counts agree" : "COUNTS DIFFER");
  return same ? 0 : 1;
}
