/**
 * @file map_ops_fuzz.cpp
 * @brief Differential fuzzer of `bulkmap::device_map` (omp backend, libFuzzer): decodes its input
 * into a sequence of bulk calls, applies each to the map and to a `std::unordered_map`, and
 * stops the process at the first difference.
 *
 * The input, byte by byte (a byte past the end reads as 0):
 *   - byte 0: the key and value types, u32/u32 when even, u64/u64 when odd;
 *   - then calls, each an opcode byte (`call` below, modulo its count), an argument byte and,
 *     for the batch calls, a batch length byte n and n key bytes (each naming a key of the pool
 *     below), and for those that take values, n value bytes.
 * The keys come from a pool of 256: the two sentinel values the table reserves (all ones, all
 * ones minus one), 0, the top bit alone, and 252 other keys, so that the map grows, meets
 * tombstones and sees every sentinel. The `fault` call makes the k-th allocation of the next call
 * fail: that call must throw `bulkmap::out_of_memory` and leave the map as it was, or complete.
 *
 *   scripts/fuzz 60 -R map_ops     a bounded run on the corpus in tests/fuzz/corpus/map_ops
 */
#include <thrust/host_vector.h>

#include <algorithm>
#include <bulkmap/bulkmap.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <unordered_map>
#include <utility>
#include <vector>

#include "fault_allocator.hpp"

namespace {

using bulkmap_test::counting_allocator;
using bulkmap_test::ledger;

/// Reads the fuzzer's bytes in order; past the end, zeros.
class byte_reader {
 public:
  byte_reader(std::uint8_t const* data, std::size_t size) : data_(data), size_(size) {}
  bool done() const { return at_ >= size_; }
  std::uint8_t next() { return at_ < size_ ? data_[at_++] : 0; }

 private:
  std::uint8_t const* data_;
  std::size_t size_;
  std::size_t at_ = 0;
};

/// Key `i` (0..255) of the pool: the sentinels and the edge values first.
template <class Key>
Key pool_key(std::uint8_t i) {
  Key const ones = ~Key{0};
  switch (i) {
    case 0:
      return ones;
    case 1:
      return ones - 1;
    case 2:
      return 0;
    case 3:
      return Key{1} << (8 * sizeof(Key) - 1);
    default:
      return static_cast<Key>(i) * Key{0x9e3779b1};  // spread over the key space
  }
}

/// `retain`'s predicate: keeps a pair by a bit of key and value that `seed` picks.
template <class Key, class T>
struct keep_by_bit {
  unsigned seed;
  BULKMAP_HOST_DEVICE bool operator()(Key const& k, T const& v) const {
    return ((k ^ (v << 1)) >> (seed % 7)) & 1u;
  }
};

/// `insert_or_accumulate`'s operator: wrapping sum (the fast path) or max (the CAS loop).
template <class T>
struct max_op {
  BULKMAP_HOST_DEVICE T operator()(T a, T b) const { return a < b ? b : a; }
};

[[noreturn]] void mismatch(char const* call, char const* what) {
  std::fprintf(stderr, "map_ops_fuzz: after %s, %s differs from std::unordered_map\n", call, what);
  std::abort();
}

template <class Key, class T>
class session {
  using map_type = bulkmap::device_map<Key, T, bulkmap::hash<Key>, bulkmap::equal_to<Key>,
                                       counting_allocator<char>>;
  using model_type = std::unordered_map<Key, T>;

 public:
  explicit session(byte_reader& in) : in_(in), map_(counting_allocator<char>(&book_)) {}

  void run() {
    while (!in_.done()) step();
    book_.fail_at = 0;
    map_.clear();
    model_.clear();
    check("clear at the end", 0);
  }

 private:
  enum call : std::uint8_t {
    insert,
    insert_or_assign,
    accumulate_sum,
    accumulate_max,
    count,
    erase,
    erase_values,
    find,
    retain,
    drain,
    reserve,
    clear,
    shrink,
    fault,
    calls
  };

  std::vector<Key> read_keys() {
    std::vector<Key> keys(in_.next());
    for (Key& k : keys) k = pool_key<Key>(in_.next());
    return keys;
  }
  std::vector<T> read_values(std::size_t n) {
    std::vector<T> values(n);
    for (T& v : values) v = static_cast<T>(in_.next()) * T{0x01000193} + T{in_.next()};
    return values;
  }

  /// Runs `on_map`; if it throws out_of_memory after an armed fault, the map must hold what it
  /// held before and the model stays; otherwise `on_model` is applied and the counts compared.
  template <class OnMap, class OnModel>
  void apply(char const* name, OnMap on_map, OnModel on_model) {
    std::size_t got = 0;
    bool failed = false;
    try {
      got = on_map();
    } catch (bulkmap::out_of_memory const&) {
      if (book_.fail_at == 0) mismatch(name, "out_of_memory with no fault armed:");
      failed = true;
    }
    book_.fail_at = 0;
    if (failed) {
      check(name, model_.size());
      return;
    }
    std::size_t const want = on_model();
    if (got != want) mismatch(name, "the returned count");
    check(name, model_.size());
  }

  void check(char const* name, std::size_t size) const {
    if (map_.size() != size) mismatch(name, "size()");
    auto const mirror = map_.to_host();
    if (mirror.size() != size) mismatch(name, "to_host().size()");
    auto const keys = mirror.keys();
    auto const values = mirror.values();
    for (std::size_t i = 0; i < keys.size(); ++i) {
      if (i > 0 && !(keys[i - 1] < keys[i])) mismatch(name, "to_host()'s key order");
      auto it = model_.find(keys[i]);
      if (it == model_.end() || it->second != values[i]) mismatch(name, "a pair");
    }
  }

  template <class Op>
  std::size_t model_accumulate(std::vector<Key> const& keys, std::vector<T> const& values, Op op) {
    std::size_t fresh = 0;
    for (std::size_t i = 0; i < keys.size(); ++i) {
      auto [it, is_new] = model_.emplace(keys[i], values[i]);
      if (!is_new) it->second = op(it->second, values[i]);
      fresh += is_new;
    }
    return fresh;
  }

  /// A batch of keys and values from the input, into the map by `on_map(keys, values)` and into
  /// the model by `fold(old, new)` on keys already present.
  template <class OnMap, class Fold>
  void insertion(char const* name, OnMap on_map, Fold fold) {
    auto const keys = read_keys();
    auto const values = read_values(keys.size());
    apply(
        name, [&] { return on_map(keys, values); },
        [&] { return model_accumulate(keys, values, fold); });
  }

  void step() {
    auto const op = static_cast<call>(in_.next() % calls);
    std::uint8_t const arg = in_.next();
    switch (op) {
      case insert:  // first wins: the model keeps the old value
        insertion(
            "insert", [&](auto const& k, auto const& v) { return map_.insert(k, v); },
            [](T old, T) { return old; });
        break;
      case insert_or_assign:  // last wins
        insertion(
            "insert_or_assign",
            [&](auto const& k, auto const& v) { return map_.insert_or_assign(k, v); },
            [](T, T v) { return v; });
        break;
      case accumulate_sum:
        insertion(
            "insert_or_accumulate(plus)",
            [&](auto const& k, auto const& v) {
              return map_.insert_or_accumulate(k, v, thrust::plus<T>{});
            },
            thrust::plus<T>{});
        break;
      case accumulate_max:
        insertion(
            "insert_or_accumulate(max)",
            [&](auto const& k, auto const& v) {
              return map_.insert_or_accumulate(k, v, max_op<T>{});
            },
            max_op<T>{});
        break;
      case count: {
        auto const keys = read_keys();
        std::vector<T> const ones(keys.size(), T{1});
        apply(
            "count", [&] { return map_.count(keys); },
            [&] { return model_accumulate(keys, ones, thrust::plus<T>{}); });
        break;
      }
      case erase: {
        auto const keys = read_keys();
        apply(
            "erase", [&] { return map_.erase(keys); },
            [&] {
              std::size_t removed = 0;
              for (Key k : keys) removed += model_.erase(k);
              return removed;
            });
        break;
      }
      case erase_values: {
        auto const keys = read_keys();
        T const missing = T{arg};
        std::vector<T> got;
        apply(
            "erase with values", [&] { return map_.erase(keys, got, missing); },
            [&] {
              std::size_t removed = 0;
              for (std::size_t i = 0; i < keys.size(); ++i) {
                auto it = model_.find(keys[i]);
                T const want = it == model_.end() ? missing : it->second;
                if (got.size() != keys.size() || got[i] != want)
                  mismatch("erase", "a removed value");
                if (it != model_.end()) {
                  model_.erase(it);
                  ++removed;
                }
              }
              return removed;
            });
        break;
      }
      case find: {
        auto const keys = read_keys();
        T const missing = T{arg};
        std::vector<T> got;
        std::vector<bool> present;
        apply(
            "find and contains",
            [&] {
              got = map_.find(keys, missing);
              present = map_.contains(keys);
              return std::size_t{0};
            },
            [&] {
              for (std::size_t i = 0; i < keys.size(); ++i) {
                auto it = model_.find(keys[i]);
                if (got[i] != (it == model_.end() ? missing : it->second))
                  mismatch("find", "a value");
                if (present[i] != (it != model_.end())) mismatch("contains", "a flag");
              }
              return std::size_t{0};
            });
        break;
      }
      case retain: {
        keep_by_bit<Key, T> const keep{arg};
        apply(
            "retain", [&] { return map_.retain(keep); },
            [&] {
              std::size_t removed = 0;
              for (auto it = model_.begin(); it != model_.end();) {
                if (keep(it->first, it->second)) {
                  ++it;
                } else {
                  it = model_.erase(it);
                  ++removed;
                }
              }
              return removed;
            });
        break;
      }
      case drain: {
        std::size_t const capacity = map_.capacity();
        std::vector<std::pair<Key, T>> got;
        apply(
            "drain",
            [&] {
              auto taken = map_.drain();
              thrust::host_vector<Key> const keys = taken.keys;
              thrust::host_vector<T> const values = taken.values;
              for (std::size_t i = 0; i < keys.size(); ++i) got.emplace_back(keys[i], values[i]);
              return got.size();
            },
            [&] {
              std::sort(got.begin(), got.end());
              std::vector<std::pair<Key, T>> want(model_.begin(), model_.end());
              std::sort(want.begin(), want.end());
              if (got != want) mismatch("drain", "the drained pairs");
              if (map_.capacity() != capacity) mismatch("drain", "capacity()");
              model_.clear();
              return want.size();
            });
        break;
      }
      case reserve: {
        std::size_t const more = std::size_t{arg} * 16;
        apply(
            "reserve",
            [&] {
              map_.reserve(more);
              return std::size_t{0};
            },
            [&] {
              // (Keys equal to the two sentinels live in side slots, outside the load limit.)
              std::size_t const aside =
                  model_.count(pool_key<Key>(0)) + model_.count(pool_key<Key>(1));
              if (map_.capacity() * map_.max_load_factor() + 1 <
                  double(model_.size() - aside + more))
                mismatch("reserve", "capacity()");
              return std::size_t{0};
            });
        break;
      }
      case clear:
        apply(
            "clear",
            [&] {
              map_.clear();
              return std::size_t{0};
            },
            [&] {
              model_.clear();
              return std::size_t{0};
            });
        break;
      case shrink:
        apply(
            "shrink_to_fit",
            [&] {
              map_.shrink_to_fit();
              return std::size_t{0};
            },
            [&] { return std::size_t{0}; });
        break;
      case fault:
        book_.fail_at = book_.attempts + 1 + arg % 8;
        break;
      default:
        break;
    }
  }

  byte_reader& in_;
  ledger book_;
  map_type map_;
  model_type model_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
  byte_reader in(data, size);
  if (in.next() % 2 == 0) {
    session<std::uint32_t, std::uint32_t>(in).run();
  } else {
    session<std::uint64_t, std::uint64_t>(in).run();
  }
  return 0;
}
