/**
 * @file test_support.hpp
 * @brief Shared helpers of the bulkmap tests: the typed-test type list, seeded random keys and
 * values (with the table's sentinel patterns and other special keys mixed in), a sequential
 * `std::unordered_map` reference of every bulk operation, and comparisons that sort first.
 *
 * Portable: every test body includes this header and builds with g++ (omp backend) and nvcc
 * (cuda backend). Functors handed to the map are named structs with a `BULKMAP_HOST_DEVICE`
 * call operator; no `__device__` lambdas, no kernel launches.
 */
#pragma once

#include <gtest/gtest.h>
#include <thrust/device_allocator.h>
#include <thrust/device_vector.h>
#include <thrust/host_vector.h>

#include <algorithm>
#include <bulkmap/bulkmap.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <new>
#include <random>
#include <sstream>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "fault_allocator.hpp"

namespace bulkmap_test {

// -------------------------------------------------------------------------------------------------
// Sanitizers
// -------------------------------------------------------------------------------------------------

#if defined(__clang__) && defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BULKMAP_TEST_CLANG_ASAN 1
#endif
#endif
/// Whether clang's AddressSanitizer runs this binary (scripts/sanitize). Its `operator new` (LLVM
/// 14) stops the process on a request past memory instead of throwing std::bad_alloc, so the
/// tests that ask for terabytes skip there. A failed allocation is still tested under it: the
/// fault-injection tests (allocator.inc) fail allocations themselves.
#ifdef BULKMAP_TEST_CLANG_ASAN
inline constexpr bool new_past_memory_aborts = true;
#else
inline constexpr bool new_past_memory_aborts = false;
#endif

// -------------------------------------------------------------------------------------------------
// Types
// -------------------------------------------------------------------------------------------------

/// A (key, value) type pair for typed tests.
template <class K, class V>
struct kv {
  using key_type = K;
  using mapped_type = V;
};

using u128 = unsigned __int128;

/**
 * The key/value pairs every typed test runs over: 4-, 8- and 16-byte keys (which collide with
 * the table's sentinels), signed and unsigned, integral and floating values of 4, 8 and 16
 * bytes, and one 1-byte key.
 */
using map_types = ::testing::Types<kv<std::uint32_t, std::uint32_t>,
                                   kv<std::uint64_t, std::uint64_t>, kv<std::int64_t, double>,
                                   kv<std::int32_t, float>, kv<std::int8_t, std::int64_t>,
                                   kv<u128, std::uint32_t>, kv<std::uint32_t, u128>>;

/// `std::is_integral_v`, also for `unsigned __int128`.
template <class U>
inline constexpr bool is_int_v = std::is_integral_v<U> || std::is_same_v<U, u128>;

/// `std::numeric_limits<U>::max()` and `lowest()`, also for `unsigned __int128`.
template <class U>
U max_value() {
  if constexpr (std::is_same_v<U, u128>) {
    return ~u128{0};
  } else {
    return std::numeric_limits<U>::max();
  }
}
template <class U>
U lowest_value() {
  if constexpr (std::is_same_v<U, u128>) {
    return 0;
  } else {
    return std::numeric_limits<U>::lowest();
  }
}

/// `std::make_unsigned_t`, also for `unsigned __int128` (not an integral type in strict C++17).
template <class U>
struct unsigned_of : std::make_unsigned<U> {};
template <>
struct unsigned_of<u128> {
  using type = u128;
};
template <class U>
using unsigned_t = typename unsigned_of<U>::type;

template <class U>
std::string type_name() {
  if constexpr (std::is_same_v<U, float>) return "f32";
  if constexpr (std::is_same_v<U, double>) return "f64";
  if constexpr (std::is_same_v<U, u128>) return "u128";
  if constexpr (std::is_integral_v<U>) {
    return (std::is_signed_v<U> ? "i" : "u") + std::to_string(8 * sizeof(U));
  }
  return "unknown";
}

/// Readable typed-test names: `u32_u32`, `i64_f64`, ...
struct kv_names {
  template <class P>
  static std::string GetName(int) {
    return type_name<typename P::key_type>() + "_" + type_name<typename P::mapped_type>();
  }
};

/// Prints a key or value readably (1-byte integers as numbers, not characters).
template <class U>
std::string show(U x) {
  std::ostringstream os;
  if constexpr (std::is_integral_v<U> && sizeof(U) == 1) {
    os << static_cast<int>(x);
  } else if constexpr (std::is_same_v<U, u128>) {
    std::string digits;
    do {
      digits.insert(digits.begin(), static_cast<char>('0' + static_cast<int>(x % 10)));
      x /= 10;
    } while (x != 0);
    os << digits;
  } else {
    os << x;
  }
  return os.str();
}

// -------------------------------------------------------------------------------------------------
// Seeds and random inputs
// -------------------------------------------------------------------------------------------------

/// The base seed: fixed, or `BULKMAP_TEST_SEED` from the environment to explore other inputs.
inline std::uint64_t base_seed() {
  char const* s = std::getenv("BULKMAP_TEST_SEED");
  if (s != nullptr && *s != 0) return std::strtoull(s, nullptr, 0);
  return 0x5eedb01dULL;
}

/// A seeded generator. Tests declare `auto rng = seeded(n); SCOPED_TRACE(rng.trace);` so a
/// failure prints the seed that reproduces it.
struct seeded_rng {
  std::uint64_t seed;
  std::mt19937_64 engine;
  std::string trace;
  std::uint64_t operator()() { return engine(); }
  /// Uniform in [0, n).
  std::uint64_t below(std::uint64_t n) {
    return std::uniform_int_distribution<std::uint64_t>(0, n - 1)(engine);
  }
  bool chance(double p) { return std::uniform_real_distribution<double>(0.0, 1.0)(engine) < p; }
};

inline seeded_rng seeded(std::uint64_t salt) {
  std::uint64_t const seed = bulkmap::fmix64(base_seed() ^ (salt * 0x9e3779b97f4a7c15ULL));
  return seeded_rng{seed, std::mt19937_64(seed),
                    "seed " + std::to_string(seed) + " (base seed " + std::to_string(base_seed()) +
                        ", set BULKMAP_TEST_SEED to change it)"};
}

/// Number of distinct values of `Key` (saturated at 2^64 - 1).
template <class Key>
constexpr std::uint64_t key_range() {
  if constexpr (sizeof(Key) >= 8) {
    return std::numeric_limits<std::uint64_t>::max();
  } else {
    return std::uint64_t{1} << (8 * sizeof(Key));
  }
}

/**
 * Keys that must behave like any other: the table's sentinel bit patterns (all ones and all ones
 * minus one, i.e. -1 and -2 for signed keys), 0, 1, the minimum and maximum and their neighbours.
 */
template <class Key>
std::vector<Key> special_keys() {
  using U = unsigned_t<Key>;
  std::vector<Key> keys = {Key(0), Key(1), static_cast<Key>(static_cast<U>(~U(0))),
                           static_cast<Key>(static_cast<U>(~U(0) - 1)),
                           static_cast<Key>(static_cast<U>(~U(0) - 2))};
  if constexpr (std::is_same_v<Key, u128>) {
    // Keys that share one 64-bit half with a sentinel (all ones in the high half, or in the low
    // half), and the edges between the halves.
    u128 const ones = ~std::uint64_t{0};
    for (u128 k : {ones, ones - 1, ones + 1, ones << 64, (ones << 64) | 1, ones << 63, ones - 2,
                   (ones << 64) | (ones - 2), ~u128{0} - 3}) {
      keys.push_back(k);
    }
  } else {
    for (Key k :
         {std::numeric_limits<Key>::min(), static_cast<Key>(std::numeric_limits<Key>::min() + 1),
          std::numeric_limits<Key>::max(), static_cast<Key>(std::numeric_limits<Key>::max() - 1)}) {
      keys.push_back(k);
    }
  }
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  return keys;
}

/// A key with uniformly random bits.
template <class Key>
Key random_key(seeded_rng& rng) {
  if constexpr (std::is_same_v<Key, u128>) {
    u128 const high = rng();
    return (high << 64) | rng();
  } else {
    return static_cast<Key>(static_cast<std::make_unsigned_t<Key>>(rng()));
  }
}

/// Hash of the reference containers: `std::hash` has no 128-bit integers in strict C++17.
struct key_hash {
  template <class Key>
  std::size_t operator()(Key const& k) const {
    if constexpr (std::is_same_v<Key, u128>) {
      return std::hash<std::uint64_t>{}(static_cast<std::uint64_t>(k) ^
                                        bulkmap::fmix64(static_cast<std::uint64_t>(k >> 64)));
    } else {
      return std::hash<Key>{}(k);
    }
  }
};

template <class Key>
using key_set = std::unordered_set<Key, key_hash>;

/**
 * `n` distinct keys (fewer if `Key` has fewer values) in random order: every special key, then
 * random ones.
 */
template <class Key>
std::vector<Key> distinct_keys(std::size_t n, seeded_rng& rng, bool with_specials = true) {
  n = static_cast<std::size_t>(std::min<std::uint64_t>(n, key_range<Key>()));
  std::vector<Key> out;
  out.reserve(n);
  key_set<Key> seen;
  if (with_specials) {
    for (Key k : special_keys<Key>()) {
      if (out.size() < n && seen.insert(k).second) out.push_back(k);
    }
  }
  if (key_range<Key>() <= (std::uint64_t{1} << 16)) {
    // Small key types: draw from the shuffled full range so the loop always ends.
    std::vector<Key> all;
    for (std::uint64_t i = 0; i < key_range<Key>(); ++i) {
      all.push_back(static_cast<Key>(static_cast<unsigned_t<Key>>(i)));
    }
    std::shuffle(all.begin(), all.end(), rng.engine);
    for (Key k : all) {
      if (out.size() >= n) break;
      if (seen.insert(k).second) out.push_back(k);
    }
  } else {
    while (out.size() < n) {
      Key const k = random_key<Key>(rng);
      if (seen.insert(k).second) out.push_back(k);
    }
  }
  std::shuffle(out.begin(), out.end(), rng.engine);
  return out;
}

/// `n` keys drawn with replacement from `pool`.
template <class Key>
std::vector<Key> sample(std::vector<Key> const& pool, std::size_t n, seeded_rng& rng) {
  std::vector<Key> out(n);
  for (auto& k : out) k = pool[rng.below(pool.size())];
  return out;
}

/**
 * A batch of `n` keys drawn with replacement from a pool of `distinct` keys, with the special
 * keys mixed into the pool (so repeats, sentinels and extremes all appear).
 */
template <class Key>
std::vector<Key> random_batch(std::size_t n, std::size_t distinct, seeded_rng& rng) {
  return sample(distinct_keys<Key>(distinct, rng), n, rng);
}

/// Each of `keys` repeated `multiplicity` times, shuffled.
template <class Key>
std::vector<Key> repeated(std::vector<Key> const& keys, std::size_t multiplicity, seeded_rng& rng) {
  std::vector<Key> out;
  out.reserve(keys.size() * multiplicity);
  for (std::size_t m = 0; m < multiplicity; ++m) out.insert(out.end(), keys.begin(), keys.end());
  std::shuffle(out.begin(), out.end(), rng.engine);
  return out;
}

/**
 * A value that tells occurrences apart: integral values over the full range, floating values
 * integer-valued (exact in `float`) in (-2^23, 2^23).
 */
template <class T>
T random_value(seeded_rng& rng) {
  if constexpr (std::is_same_v<T, u128>) {
    return random_key<u128>(rng);
  } else if constexpr (std::is_integral_v<T>) {
    return static_cast<T>(static_cast<std::make_unsigned_t<T>>(rng()));
  } else {
    return static_cast<T>(static_cast<std::int64_t>(rng.below(std::uint64_t{1} << 24)) -
                          (std::int64_t{1} << 23));
  }
}

/// A small value for accumulation: in [-100, 100] for signed and floating `T`, [0, 200] else.
/// Sums over up to 10^4 occurrences stay exact in `float` whatever the order of additions.
template <class T>
T small_value(seeded_rng& rng) {
  auto const x = static_cast<std::int64_t>(rng.below(201));
  if constexpr (!std::is_signed_v<T>) return static_cast<T>(x);
  return static_cast<T>(x - 100);
}

template <class T>
std::vector<T> random_values(std::size_t n, seeded_rng& rng) {
  std::vector<T> out(n);
  for (auto& v : out) v = random_value<T>(rng);
  return out;
}

template <class T>
std::vector<T> small_values(std::size_t n, seeded_rng& rng) {
  std::vector<T> out(n);
  for (auto& v : out) v = small_value<T>(rng);
  return out;
}

// -------------------------------------------------------------------------------------------------
// Functors handed to the map (named, callable on host and device)
// -------------------------------------------------------------------------------------------------

/**
 * Max by absolute value, ties broken by the larger value: the maximum under the total order
 * (|x|, x), so associative and commutative. Not one of the map's fast paths: runs the CAS loop.
 */
template <class T>
struct max_abs {
  BULKMAP_HOST_DEVICE static T magnitude(T x) {
    if constexpr (std::is_signed_v<T>) {
      return x < T(0) ? T(-x) : x;
    } else {
      return x;
    }
  }
  BULKMAP_HOST_DEVICE T operator()(T a, T b) const {
    T const ma = magnitude(a);
    T const mb = magnitude(b);
    if (ma != mb) return ma > mb ? a : b;
    return a > b ? a : b;
  }
};

/// Bitwise xor on integral values: associative and commutative, not a fast path (CAS loop).
template <class T>
struct xor_op {
  BULKMAP_HOST_DEVICE T operator()(T a, T b) const { return static_cast<T>(a ^ b); }
};

/// Keeps a pair when bit `bit` of the key's mixed bits, xored with `flip`, is set: about half.
template <class Key, class T>
struct keep_by_key_hash {
  unsigned bit = 0;
  bool flip = false;
  BULKMAP_HOST_DEVICE bool operator()(Key const& k, T const&) const {
    u128 const bits = static_cast<unsigned_t<Key>>(k);
    std::uint64_t const h = bulkmap::fmix64(static_cast<std::uint64_t>(bits ^ (bits >> 64)));
    return (((h >> bit) & 1u) != 0) != flip;
  }
};

/// Keeps a pair when its value is below `limit` (depends on the value only).
template <class Key, class T>
struct keep_value_below {
  T limit;
  BULKMAP_HOST_DEVICE bool operator()(Key const&, T const& v) const { return v < limit; }
};

/// Keeps every pair (`keep = true`) or none (`keep = false`).
template <class Key, class T>
struct keep_constant {
  bool keep;
  BULKMAP_HOST_DEVICE bool operator()(Key const&, T const&) const { return keep; }
};

/// Maps an index to a key by a bijective mix of `(i % modulus) + offset`: deterministic key
/// streams for counting/transform iterators. The host computes the same keys for the reference.
template <class Key>
struct mixed_key {
  std::uint64_t modulus;
  std::uint64_t offset;
  BULKMAP_HOST_DEVICE Key operator()(std::uint64_t i) const {
    std::uint64_t const x = bulkmap::fmix64(i % modulus + offset);
    if constexpr (sizeof(Key) == 16) {
      return static_cast<Key>((static_cast<u128>(bulkmap::fmix64(~x)) << 64) | x);
    } else {
      return static_cast<Key>(x);
    }
  }
};

// -------------------------------------------------------------------------------------------------
// How a batch reaches the map
// -------------------------------------------------------------------------------------------------

/// Every bulk call has a host-vector overload and device-range overloads (any device-accessible
/// random-access iterator: device_vector iterators, device_ptr, raw device pointers): tests run
/// each.
enum class input_kind { host_vector, device_vector, device_ptr, raw_pointer };

inline constexpr input_kind all_input_kinds[] = {input_kind::host_vector, input_kind::device_vector,
                                                 input_kind::device_ptr, input_kind::raw_pointer};

inline std::string name(input_kind k) {
  switch (k) {
    case input_kind::host_vector:
      return "host std::vector overload";
    case input_kind::device_vector:
      return "thrust::device_vector iterators";
    case input_kind::device_ptr:
      return "thrust::device_ptr range";
    case input_kind::raw_pointer:
      return "raw device pointer range";
  }
  return "?";
}

template <class U>
thrust::device_vector<U> to_device(std::vector<U> const& v) {
  return thrust::device_vector<U>(v.begin(), v.end());
}

/// The raw device pointer of a device vector's data (what CUDA code would hand over).
template <class U>
U* raw(thrust::device_vector<U>& v) {
  return thrust::raw_pointer_cast(v.data());
}

template <class U>
std::vector<U> to_std(thrust::device_vector<U> const& v) {
  thrust::host_vector<U> h = v;
  return std::vector<U>(h.begin(), h.end());
}

/// Tags naming the keyed bulk operations, for `apply`.
struct op_insert {};
struct op_insert_or_assign {};
template <class Op>
struct op_accumulate {
  Op op;
};

/// Calls `insert`, `insert_or_assign` or `insert_or_accumulate` through the overload `kind`.
template <class Map, class Key, class T, class Which>
std::size_t apply(Which which, input_kind kind, Map& map, std::vector<Key> const& keys,
                  std::vector<T> const& values) {
  auto call = [&](auto kf, auto kl, auto vf) -> std::size_t {
    if constexpr (std::is_same_v<Which, op_insert>) {
      return map.insert(kf, kl, vf);
    } else if constexpr (std::is_same_v<Which, op_insert_or_assign>) {
      return map.insert_or_assign(kf, kl, vf);
    } else {
      return map.insert_or_accumulate(kf, kl, vf, which.op);
    }
  };
  if (kind == input_kind::host_vector) {
    if constexpr (std::is_same_v<Which, op_insert>) {
      return map.insert(keys, values);
    } else if constexpr (std::is_same_v<Which, op_insert_or_assign>) {
      return map.insert_or_assign(keys, values);
    } else {
      return map.insert_or_accumulate(keys, values, which.op);
    }
  }
  auto dk = to_device(keys);
  auto dv = to_device(values);
  if (kind == input_kind::device_vector) return call(dk.begin(), dk.end(), dv.begin());
  if (kind == input_kind::device_ptr) return call(dk.data(), dk.data() + dk.size(), dv.data());
  return call(raw(dk), raw(dk) + dk.size(), raw(dv));
}

template <class Map, class Key>
std::size_t count_via(input_kind kind, Map& map, std::vector<Key> const& keys) {
  if (kind == input_kind::host_vector) return map.count(keys);
  auto dk = to_device(keys);
  if (kind == input_kind::device_vector) return map.count(dk.begin(), dk.end());
  if (kind == input_kind::device_ptr) return map.count(dk.data(), dk.data() + dk.size());
  return map.count(raw(dk), raw(dk) + dk.size());
}

template <class Map, class Key>
std::size_t erase_via(input_kind kind, Map& map, std::vector<Key> const& keys) {
  if (kind == input_kind::host_vector) return map.erase(keys);
  auto dk = to_device(keys);
  if (kind == input_kind::device_vector) return map.erase(dk.begin(), dk.end());
  if (kind == input_kind::device_ptr) return map.erase(dk.data(), dk.data() + dk.size());
  return map.erase(raw(dk), raw(dk) + dk.size());
}

template <class Map, class Key, class T>
std::vector<T> find_via(input_kind kind, Map const& map, std::vector<Key> const& keys, T missing) {
  if (kind == input_kind::host_vector) return map.find(keys, missing);
  auto dk = to_device(keys);
  // Pre-fill with a value other than `missing` so an unwritten output shows.
  thrust::device_vector<T> out(keys.size(), missing == T(0) ? T(1) : T(0));
  if (kind == input_kind::device_vector) {
    map.find(dk.begin(), dk.end(), out.begin(), missing);
  } else if (kind == input_kind::device_ptr) {
    map.find(dk.data(), dk.data() + dk.size(), out.data(), missing);
  } else {
    map.find(raw(dk), raw(dk) + dk.size(), raw(out), missing);
  }
  return to_std(out);
}

template <class Map, class Key>
std::vector<bool> contains_via(input_kind kind, Map const& map, std::vector<Key> const& keys) {
  if (kind == input_kind::host_vector) return map.contains(keys);
  auto dk = to_device(keys);
  // An int output (assignable from bool), pre-filled with 2 so an unwritten flag shows.
  thrust::device_vector<int> out(keys.size(), 2);
  if (kind == input_kind::device_vector) {
    map.contains(dk.begin(), dk.end(), out.begin());
  } else if (kind == input_kind::device_ptr) {
    map.contains(dk.data(), dk.data() + dk.size(), out.data());
  } else {
    map.contains(raw(dk), raw(dk) + dk.size(), raw(out));
  }
  std::vector<int> h = to_std(out);
  std::vector<bool> flags(h.size());
  for (std::size_t i = 0; i < h.size(); ++i) {
    EXPECT_TRUE(h[i] == 0 || h[i] == 1) << "contains wrote " << h[i] << " at " << i;
    flags[i] = h[i] == 1;
  }
  return flags;
}

// -------------------------------------------------------------------------------------------------
// The reference: the sequential Rust loop, on std::unordered_map
// -------------------------------------------------------------------------------------------------

template <class Key, class T>
class reference_map {
 public:
  std::unordered_map<Key, T, key_hash> map;

  std::size_t size() const { return map.size(); }
  bool empty() const { return map.empty(); }

  /// `m.entry(k).or_insert(v)` for each pair; returns the number of new keys.
  std::size_t insert(std::vector<Key> const& keys, std::vector<T> const& values) {
    std::size_t fresh = 0;
    for (std::size_t i = 0; i < keys.size(); ++i) fresh += map.emplace(keys[i], values[i]).second;
    return fresh;
  }
  /// `m.insert(k, v)` for each pair.
  std::size_t insert_or_assign(std::vector<Key> const& keys, std::vector<T> const& values) {
    std::size_t fresh = 0;
    for (std::size_t i = 0; i < keys.size(); ++i) {
      fresh += map.insert_or_assign(keys[i], values[i]).second;
    }
    return fresh;
  }
  /// `m.entry(k).and_modify(|x| *x = op(*x, v)).or_insert(v)` for each pair.
  template <class Op>
  std::size_t insert_or_accumulate(std::vector<Key> const& keys, std::vector<T> const& values,
                                   Op op) {
    std::size_t fresh = 0;
    for (std::size_t i = 0; i < keys.size(); ++i) {
      auto [it, is_new] = map.emplace(keys[i], values[i]);
      if (!is_new) it->second = op(it->second, values[i]);
      fresh += is_new;
    }
    return fresh;
  }
  std::size_t count(std::vector<Key> const& keys) {
    std::size_t fresh = 0;
    for (Key k : keys) {
      auto [it, is_new] = map.emplace(k, T(0));
      it->second = static_cast<T>(it->second + T(1));
      fresh += is_new;
    }
    return fresh;
  }
  template <class Op>
  std::size_t apply(op_accumulate<Op> which, std::vector<Key> const& k, std::vector<T> const& v) {
    return insert_or_accumulate(k, v, which.op);
  }
  std::size_t apply(op_insert, std::vector<Key> const& k, std::vector<T> const& v) {
    return insert(k, v);
  }
  std::size_t apply(op_insert_or_assign, std::vector<Key> const& k, std::vector<T> const& v) {
    return insert_or_assign(k, v);
  }
  std::size_t erase(std::vector<Key> const& keys) {
    std::size_t removed = 0;
    for (Key k : keys) removed += map.erase(k);
    return removed;
  }
  template <class Pred>
  std::size_t retain(Pred pred) {
    std::size_t removed = 0;
    for (auto it = map.begin(); it != map.end();) {
      if (pred(it->first, it->second)) {
        ++it;
      } else {
        it = map.erase(it);
        ++removed;
      }
    }
    return removed;
  }
  /// The per-input "was new" flags an insertion of `keys` reports: the key is absent now and
  /// this is its first occurrence in the batch (call before applying the batch).
  std::vector<bool> new_flags(std::vector<Key> const& keys) const {
    std::vector<bool> out(keys.size());
    key_set<Key> seen;
    for (std::size_t i = 0; i < keys.size(); ++i) {
      out[i] = map.count(keys[i]) == 0 && seen.insert(keys[i]).second;
    }
    return out;
  }
  std::vector<T> find(std::vector<Key> const& keys, T missing) const {
    std::vector<T> out(keys.size());
    for (std::size_t i = 0; i < keys.size(); ++i) {
      auto it = map.find(keys[i]);
      out[i] = it == map.end() ? missing : it->second;
    }
    return out;
  }
  std::vector<bool> contains(std::vector<Key> const& keys) const {
    std::vector<bool> out(keys.size());
    for (std::size_t i = 0; i < keys.size(); ++i) out[i] = map.count(keys[i]) != 0;
    return out;
  }
  std::vector<Key> keys() const {
    std::vector<Key> out;
    for (auto const& kv : map) out.push_back(kv.first);
    return out;
  }
  /// Every pair, ascending by key.
  std::vector<std::pair<Key, T>> sorted() const {
    std::vector<std::pair<Key, T>> out(map.begin(), map.end());
    std::sort(out.begin(), out.end(),
              [](auto const& a, auto const& b) { return a.first < b.first; });
    return out;
  }
};

// -------------------------------------------------------------------------------------------------
// Comparisons (sort first, report the first differences)
// -------------------------------------------------------------------------------------------------

/// Zips two columns into pairs sorted by key.
template <class Key, class T>
std::vector<std::pair<Key, T>> zip_sorted(std::vector<Key> const& keys,
                                          std::vector<T> const& values) {
  std::vector<std::pair<Key, T>> out;
  std::size_t const n = std::min(keys.size(), values.size());
  for (std::size_t i = 0; i < n; ++i) out.emplace_back(keys[i], values[i]);
  std::sort(out.begin(), out.end(), [](auto const& a, auto const& b) { return a.first < b.first; });
  return out;
}

/// Same sorted pairs, each key once. Reports the first few differences.
template <class Key, class T>
::testing::AssertionResult same_pairs(std::vector<std::pair<Key, T>> const& actual,
                                      std::vector<std::pair<Key, T>> const& expected) {
  std::ostringstream why;
  int shown = 0;
  for (std::size_t i = 1; i < actual.size() && shown < 5; ++i) {
    if (actual[i - 1].first == actual[i].first) {
      why << "\n  key " << show(actual[i].first) << " appears more than once";
      ++shown;
    }
  }
  if (actual.size() != expected.size()) {
    why << "\n  " << actual.size() << " pairs, expected " << expected.size();
  }
  std::size_t i = 0, j = 0;
  while ((i < actual.size() || j < expected.size()) && shown < 10) {
    if (j == expected.size() || (i < actual.size() && actual[i].first < expected[j].first)) {
      why << "\n  unexpected key " << show(actual[i].first) << " -> " << show(actual[i].second);
      ++i, ++shown;
    } else if (i == actual.size() || expected[j].first < actual[i].first) {
      why << "\n  missing key " << show(expected[j].first) << " -> " << show(expected[j].second);
      ++j, ++shown;
    } else {
      if (!(actual[i].second == expected[j].second)) {
        why << "\n  key " << show(actual[i].first) << ": value " << show(actual[i].second)
            << ", expected " << show(expected[j].second);
        ++shown;
      }
      ++i, ++j;
    }
  }
  if (why.str().empty()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "pairs differ:" << why.str();
}

/// Element-wise equality of two result vectors, reporting the first differences with their keys.
template <class Key, class U>
::testing::AssertionResult same_results(std::vector<Key> const& keys, std::vector<U> const& actual,
                                        std::vector<U> const& expected) {
  if (actual.size() != expected.size()) {
    return ::testing::AssertionFailure()
           << actual.size() << " results, expected " << expected.size();
  }
  std::ostringstream why;
  std::size_t bad = 0;
  for (std::size_t i = 0; i < actual.size(); ++i) {
    if (!(actual[i] == expected[i])) {
      if (++bad <= 5) {
        why << "\n  [" << i << "] key " << show(keys[i]) << ": " << show(U(actual[i]))
            << ", expected " << show(U(expected[i]));
      }
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << bad << " of " << actual.size() << " differ:" << why.str();
}

/// The map's pairs read through `keys()` and `values()` (which pair up while the map is
/// unchanged), sorted by key.
template <class Map>
auto device_pairs(Map const& map) {
  return zip_sorted(to_std(map.keys()), to_std(map.values()));
}

/**
 * The map holds exactly the reference's pairs: `size()`, `empty()`, `load_factor()`, and the
 * pairs from `keys()`/`values()` (sorted, each key once).
 */
template <class Map, class Key, class T>
::testing::AssertionResult matches(Map const& map, reference_map<Key, T> const& ref) {
  std::ostringstream why;
  if (map.size() != ref.size()) why << "\n  size() " << map.size() << ", expected " << ref.size();
  if (map.empty() != ref.empty()) why << "\n  empty() is " << map.empty();
  double const lf = static_cast<double>(map.size()) / static_cast<double>(map.capacity());
  if (map.load_factor() != lf) {
    why << "\n  load_factor() " << map.load_factor() << ", size/capacity " << lf;
  }
  auto const keys = to_std(map.keys());
  auto const values = to_std(map.values());
  if (keys.size() != map.size() || values.size() != map.size()) {
    why << "\n  keys() has " << keys.size() << " and values() " << values.size()
        << " elements; size() is " << map.size();
  }
  auto const pairs = same_pairs(zip_sorted(keys, values), ref.sorted());
  if (!pairs) why << "\n  " << pairs.message();
  if (why.str().empty()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "the map differs from the reference:" << why.str();
}

// -------------------------------------------------------------------------------------------------
// Shared drivers of the keyed insertions (insert, insert_or_assign, insert_or_accumulate)
// -------------------------------------------------------------------------------------------------

/**
 * Random batches drawn from one pool (so later batches hit present keys), through every input
 * kind, into a default-constructed map that grows: the return value, `size()` and the contents
 * match the reference after every batch. `small` picks small values (for accumulation).
 */
template <class Key, class T, class Which>
void check_random_rounds(Which which, std::uint64_t salt, bool small, std::size_t pool_size = 20000,
                         std::size_t batch = 15000, int rounds = 4) {
  for (input_kind kind : all_input_kinds) {
    auto rng = seeded(salt * 16 + static_cast<std::uint64_t>(kind));
    SCOPED_TRACE(rng.trace);
    SCOPED_TRACE(name(kind));
    bulkmap::device_map<Key, T> map;
    reference_map<Key, T> ref;
    auto const pool = distinct_keys<Key>(pool_size, rng);
    for (int r = 0; r < rounds; ++r) {
      SCOPED_TRACE("batch " + std::to_string(r));
      auto const keys = sample(pool, batch, rng);
      auto const values = small ? small_values<T>(batch, rng) : random_values<T>(batch, rng);
      EXPECT_EQ(apply(which, kind, map, keys, values), ref.apply(which, keys, values));
      ASSERT_TRUE(matches(map, ref));
    }
  }
}

/// Multiplicities (each key repeated m times in one shuffled batch, m in {1, 10, 100, 10^4}),
/// into an empty map, then the same keys again with new values into the filled map.
template <class Key, class T, class Which>
void check_multiplicities(Which which, std::uint64_t salt, bool small) {
  for (std::size_t m : {std::size_t{1}, std::size_t{10}, std::size_t{100}, std::size_t{10000}}) {
    auto rng = seeded(salt * 16 + m);
    SCOPED_TRACE(rng.trace);
    SCOPED_TRACE("multiplicity " + std::to_string(m));
    bulkmap::device_map<Key, T> map;
    reference_map<Key, T> ref;
    auto const distinct = distinct_keys<Key>(std::max<std::size_t>(200000 / m, 20), rng);
    for (int r = 0; r < 2; ++r) {
      SCOPED_TRACE("batch " + std::to_string(r));
      auto const keys = repeated(distinct, m, rng);
      auto const values =
          small ? small_values<T>(keys.size(), rng) : random_values<T>(keys.size(), rng);
      EXPECT_EQ(apply(which, input_kind::device_vector, map, keys, values),
                ref.apply(which, keys, values));
      ASSERT_TRUE(matches(map, ref));
    }
  }
}

inline bool is_power_of_two(std::size_t x) { return x != 0 && (x & (x - 1)) == 0; }

}  // namespace bulkmap_test
