/**
 * @file workloads.cpp
 * @brief Making the benchmark's key batches: splitmix64 draws, Zipf by rejection-inversion
 * (Hörmann and Derflinger, "Rejection-inversion to generate variates from monotone discrete
 * distributions", 1996), ranks mixed into keys by the MurmurHash3 finalizers.
 *
 * A batch is cut into a fixed number of blocks, each with its own generator, and the blocks are
 * shared among the cores: the keys depend on the seed only, never on the number of threads.
 */
#include "workloads.hpp"

#include <algorithm>
#include <atomic>
#include <bulkmap/hash.hpp>
#include <cmath>
#include <map>
#include <memory>
#include <sstream>
#include <thread>
#include <utility>

namespace bulkmap_bench {
namespace {

constexpr std::uint64_t seed = 0x5eed'b01c'3a90'0001ULL;
/// Ranks of "missing" keys start here, past any rank `unique` uses.
constexpr std::uint64_t missing_base = std::uint64_t{1} << 31;

/// The key of rank `r`: a bijection on Key (the MurmurHash3 finalizer of its width).
template <class Key>
Key key_of_rank(std::uint64_t r) {
  if constexpr (sizeof(Key) == 4) {
    auto h = static_cast<std::uint32_t>(r);
    h ^= h >> 16;
    h *= 0x85ebca6bU;
    h ^= h >> 13;
    h *= 0xc2b2ae35U;
    h ^= h >> 16;
    return h;
  } else if constexpr (sizeof(Key) == 8) {
    return bulkmap::fmix64(r);
  } else {  // the low half alone is a bijection; the high half spreads the keys over 128 bits
    return (static_cast<Key>(bulkmap::fmix64(r ^ 0x9e3779b97f4a7c15ULL)) << 64) |
           bulkmap::fmix64(r);
  }
}

/// Zipf(s) over ranks 1..n by rejection-inversion; about 1.1 uniform draws per sample.
class zipf_sampler {
 public:
  zipf_sampler(std::uint64_t n, double s) : n_(static_cast<double>(n)), s_(s) {
    h_integral_x1_ = h_integral(1.5) - 1.0;
    h_integral_n_ = h_integral(n_ + 0.5);
    squeeze_ = 2.0 - h_integral_inverse(h_integral(2.5) - h(2.0));
  }

  std::uint64_t operator()(std::uint64_t& state) const {
    for (;;) {
      double const u = h_integral_n_ + unit(state) * (h_integral_x1_ - h_integral_n_);
      double const x = h_integral_inverse(u);
      double const k = std::clamp(std::floor(x + 0.5), 1.0, n_);
      if (k - x <= squeeze_ || u >= h_integral(k + 0.5) - h(k)) {
        return static_cast<std::uint64_t>(k);
      }
    }
  }

 private:
  double h(double x) const { return std::exp(-s_ * std::log(x)); }
  /// ∫ x^-s dx from 1, written to stay exact as s → 1.
  double h_integral(double x) const {
    double const log_x = std::log(x);
    return expm1_over_x((1.0 - s_) * log_x) * log_x;
  }
  double h_integral_inverse(double x) const {
    double t = x * (1.0 - s_);
    if (t < -1.0) t = -1.0;  // rounding can step just past the domain
    return std::exp(log1p_over_x(t) * x);
  }
  static double expm1_over_x(double x) { return std::abs(x) > 1e-8 ? std::expm1(x) / x : 1.0; }
  static double log1p_over_x(double x) { return std::abs(x) > 1e-8 ? std::log1p(x) / x : 1.0; }

  double n_, s_, h_integral_x1_, h_integral_n_, squeeze_;
};

template <class Key>
struct batch {
  std::vector<Key> keys;
  std::uint64_t distinct = 0;
};

template <class Key>
batch<Key> make(key_spec const& spec) {
  batch<Key> out;
  out.keys.resize(spec.n);
  if (spec.kind == distribution::unique || spec.kind == distribution::missing) {
    std::uint64_t const base = spec.kind == distribution::missing ? missing_base : 0;
    for_blocks(spec.n, [&](std::size_t, std::size_t first, std::size_t last) {
      for (std::size_t i = first; i < last; ++i) out.keys[i] = key_of_rank<Key>(base + i);
    });
    out.distinct = spec.n;
    return out;
  }
  // Draw ranks, marking each in a bitmap to count the distinct ones.
  std::uint64_t const universe = spec.kind == distribution::uniform ? spec.distinct : spec.n;
  std::vector<std::atomic<std::uint64_t>> seen((universe + 63) / 64);
  zipf_sampler const zipf(std::max<std::uint64_t>(universe, 1), spec.s);
  for_blocks(spec.n, [&](std::size_t block, std::size_t first, std::size_t last) {
    std::uint64_t state = seed ^ (static_cast<std::uint64_t>(spec.kind) << 56) ^
                          (static_cast<std::uint64_t>(block) << 32) ^ spec.distinct;
    for (std::size_t i = first; i < last; ++i) {
      std::uint64_t const rank =
          spec.kind == distribution::uniform ? below(state, universe) : zipf(state) - 1;
      seen[rank / 64].fetch_or(std::uint64_t{1} << (rank % 64), std::memory_order_relaxed);
      out.keys[i] = key_of_rank<Key>(rank);
    }
  });
  for (auto const& word : seen) out.distinct += __builtin_popcountll(word.load());
  return out;
}

template <class Key>
batch<Key> const& cached(key_spec const& spec) {
  static std::map<std::pair<std::string, std::size_t>, std::unique_ptr<batch<Key>>> cache;
  auto& slot = cache[{spec.name(), spec.n}];
  if (!slot) slot = std::make_unique<batch<Key>>(make<Key>(spec));
  return *slot;
}

}  // namespace

std::string key_spec::name() const {
  std::ostringstream out;
  switch (kind) {
    case distribution::unique:
      out << "unique";
      break;
    case distribution::missing:
      out << "missing";
      break;
    case distribution::uniform:
      out << "uniform_d" << distinct;
      break;
    case distribution::zipf:
      out << "zipf_s" << s;
      break;
  }
  return out.str();
}

template <class Key>
std::vector<Key> const& keys(key_spec const& spec) {
  return cached<Key>(spec).keys;
}

template <class Key>
std::uint64_t distinct_count(key_spec const& spec) {
  return cached<Key>(spec).distinct;
}

template std::vector<std::uint32_t> const& keys<std::uint32_t>(key_spec const&);
template std::vector<std::uint64_t> const& keys<std::uint64_t>(key_spec const&);
template std::uint64_t distinct_count<std::uint32_t>(key_spec const&);
template std::uint64_t distinct_count<std::uint64_t>(key_spec const&);
template std::vector<unsigned __int128> const& keys<unsigned __int128>(key_spec const&);
template std::uint64_t distinct_count<unsigned __int128>(key_spec const&);

}  // namespace bulkmap_bench
