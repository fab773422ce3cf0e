/**
 * @file device_map_ref.hpp
 * @brief `bulkmap::device_map_ref`: one key at a time, from inside users' own functors and kernels.
 *
 * Example: count the k-mers of a sequence inside a functor run by `thrust::for_each` (the full
 * program is examples/packed_kmers.cpp).
 * @code
 * struct count_kmer {
 *   bulkmap::device_map_ref<std::uint64_t, std::uint32_t> counts;
 *   std::uint64_t const* codes;
 *   int* full;
 *   BULKMAP_HOST_DEVICE void operator()(std::size_t i) const {
 *     // Rust: *counts.entry(code).or_insert(0) += 1
 *     auto value = counts.entry(codes[i]).or_insert(0);
 *     if (value) value.atomic().fetch_add(1);
 *     else *full = 1;  // no room: the host reserves and runs the failed inputs again
 *   }
 * };
 * thrust::for_each_n(thrust::device, thrust::counting_iterator<std::size_t>(0), n,
 *                    count_kmer{map.ref(), codes, full});
 * @endcode
 */
#pragma once

#include <bulkmap/config.hpp>
#include <bulkmap/detail/table.hpp>
#include <bulkmap/hash.hpp>
#include <bulkmap/kernels/accumulate.hpp>
#include <bulkmap/kernels/erase.hpp>
#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace bulkmap {

/**
 * @brief What one `device_map_ref` operation did.
 * Rust counterpart: the `Option`s and `Entry` variants its single-key methods return.
 */
enum class status : std::uint8_t {
  inserted,   ///< the key was absent; it is now present with the given value
  updated,    ///< the key was present; its value changed (insert_or_assign, insert_or_accumulate)
  found,      ///< the key was present (insert and entry left it as it was; erase removed it)
  not_found,  ///< the key was absent; nothing changed (erase)
  full,       ///< the key was absent and the ref has no room left: nothing changed
};

}  // namespace bulkmap

BULKMAP_NAMESPACE_BEGIN
namespace detail {
struct ref_access;
}  // namespace detail

/**
 * @brief The value slot an `entry(k).or_insert(v)` landed on, or nothing when the table was full.
 * Rust counterpart: the `&mut V` that `or_insert` returns, made atomic for parallel callers.
 */
template <class T>
class value_ref {
 public:
  BULKMAP_HOST_DEVICE value_ref(bulkmap::status s, T* value) : status_(s), value_(value) {}

  /// `inserted`, `found`, or `full` (then there is no value).
  BULKMAP_HOST_DEVICE bulkmap::status status() const { return status_; }
  /// False when the table was full.
  BULKMAP_HOST_DEVICE explicit operator bool() const { return value_ != nullptr; }
  /// The value, or nullptr when the table was full. Plain accesses race with other threads'.
  BULKMAP_HOST_DEVICE T* get() const { return value_; }
  /// The value as an atomic (device scope): `fetch_add`, `fetch_max`, `compare_exchange_*`, ...
  /// Requires `*this` to be true, and a value of at most 8 bytes (16-byte values have no
  /// `cuda::atomic_ref`; fold into them with `device_map_ref::insert_or_accumulate`).
  BULKMAP_HOST_DEVICE detail::atomic_ref_t<T> atomic() const {
    static_assert(sizeof(T) <= 8,
                  "value_ref::atomic: no atomic_ref for 16-byte values; use insert_or_accumulate");
    return detail::atomic_ref_t<T>(*value_);
  }

 private:
  bulkmap::status status_;
  T* value_;
};

/**
 * @brief A trivially copyable handle to a `device_map` for users' own per-element code: a functor
 * run by `thrust::for_each` (both backends) or a CUDA kernel, which calls it one key per thread.
 *
 * Rust counterpart: `&mut HashMap` shared by many threads, each calling `entry`, `insert`, `get`,
 * `remove` one key at a time.
 *
 * - **Getting one.** `map.ref()`. Pass it by value. Every operation is O(1) expected (one probe
 *   sequence) and callable on host and device; none blocks.
 * - **It never grows the table.** It may claim the slots the map had free below its load limit
 *   when `ref()` was called. Past that, an operation on an absent key returns `status::full` and
 *   changes nothing. The documented way on: record which inputs came back `full` (a flag or a
 *   list), then on the host `map.reserve(n)`, take a new `map.ref()` and run those inputs again.
 *   Near the limit a `full` can also be momentary: threads racing for one new key each hold a
 *   unit of the room until one wins. The same loop covers it.
 * - **Lifetime.** Like a C++ iterator: valid until the next non-const call on the map (insert,
 *   erase, reserve, clear, ...), which may move the table. Const calls (`size()`, `find`,
 *   `to_host`, ...) see the ref's work once the code that used it has finished (on cuda: a
 *   kernel on the default stream, or synchronized), and keep it valid.
 * - **Concurrency.** Operations on different keys never interfere. On the same key from several
 *   threads at once: `insert_or_accumulate` folds every value exactly once, and so do atomic
 *   updates through `entry(k).or_insert(T{})` (a new slot's value is `T{}` from the start, so
 *   the counting idiom `entry(k).or_insert(0).atomic().fetch_add(1)` is exact). Where a slot is
 *   8 bytes (a key of at most 4 bytes, a 4-byte value), the claim writes the key and its first
 *   value in one compare-and-swap. In larger slots a non-zero first value is stored just after
 *   the key is claimed: until then, other threads that find the key see `T{}`, and an update
 *   they make in that window may be overwritten. `insert` and `insert_or_assign` of one key
 *   store in an unspecified order, so one of them wins.
 *
 * @tparam Key, T, Hash, KeyEqual as for `device_map`
 */
template <class Key, class T, class Hash = bulkmap::hash<Key>,
          class KeyEqual = bulkmap::equal_to<Key>>
class device_map_ref {
 public:
  using key_type = Key;
  using mapped_type = T;
  using view_type = detail::table_view<Key, T, Hash, KeyEqual>;

  /// Made by `device_map::ref()`.
  BULKMAP_HOST_DEVICE device_map_ref(view_type table, unsigned long long* removed)
      : table_(table), removed_(removed) {}

  /**
   * @brief Inserts `(key, value)` if `key` is absent; a present key keeps its value.
   * Rust: `m.entry(key).or_insert(value)`.
   * @return `inserted`, `found`, or `full`
   */
  BULKMAP_HOST_DEVICE bulkmap::status insert(Key const& key, T const& value) const {
    return entry(key).or_insert(value).status();
  }

  /**
   * @brief Sets `key`'s value to `value`, inserting the key if absent.
   * Rust: `m.insert(key, value)`.
   * @return `inserted`, `updated`, or `full`
   */
  BULKMAP_HOST_DEVICE bulkmap::status insert_or_assign(Key const& key, T const& value) const {
    detail::claim_result const r = claim_holding(key, value);
    if (r.index == detail::ref::npos) return bulkmap::status::full;
    if (!r.claimed) store(r.index, value);
    return r.claimed ? bulkmap::status::inserted : bulkmap::status::updated;
  }

  /**
   * @brief Folds `value` into `key`'s value with `op`; an absent key starts at `value`.
   * Rust: `m.entry(key).and_modify(|x| *x = op(*x, value)).or_insert(value)`.
   * O(1) expected: one probe, then one atomic read-modify-write (or compare-and-swap loop).
   * Exact under any number of threads on one key: every value is folded once.
   * @tparam Op associative and commutative, callable on host and device as `T(T, T)`. Either
   * - an operator whose identity is zero, the value of a new slot: `thrust::plus<T>`, and for
   *   integral T `bit_or`, `bit_xor`, and `maximum` when T is unsigned. A thread that finds the
   *   key just claimed by another folds into it at once; or
   * - any operator, when the slot is 8 bytes: a key of at most 4 bytes and a 4-byte value
   *   (`std::uint32_t` counts, `float` sums, ...). The claim writes the key and its first value
   *   with one 64-bit compare-and-swap, so nobody folds into a value not yet there.
   * Other pairings fail to compile with a message: there a thread could find the key before its
   * first value, and fold into zero. The bulk `device_map::insert_or_accumulate` takes any
   * operator for any slot.
   * @return `inserted`, `updated`, or `full`
   */
  template <class Op>
  BULKMAP_HOST_DEVICE bulkmap::status insert_or_accumulate(Key const& key, T const& value,
                                                           Op op) const {
    using slot_type = typename view_type::slot_type;
    constexpr bool starts_at_identity = detail::has_zero_identity_v<Op, T>;
    static_assert(starts_at_identity || detail::is_packed_slot_v<slot_type>,
                  "device_map_ref::insert_or_accumulate: Op needs the identity zero (thrust::plus; "
                  "for integers bit_or, bit_xor; for unsigned integers maximum), or a key of at "
                  "most 4 bytes with a 4-byte value; use device_map::insert_or_accumulate for "
                  "other operators");
    // A packed claim writes the first value; elsewhere the new slot's zero is folded into.
    constexpr bool packed = detail::is_packed_slot_v<slot_type>;
    detail::claim_result const r = packed ? claim_holding(key, value) : table_.find_or_claim(key);
    if (r.index == detail::ref::npos) return bulkmap::status::full;
    if (!(packed && r.claimed))
      detail::value_ops<slot_type>::fold(table_.slots[r.index], value, op);
    return r.claimed ? bulkmap::status::inserted : bulkmap::status::updated;
  }

  /// The value of `key`, or nullptr when absent. Rust: `m.get(&key)` / `get_mut`.
  BULKMAP_HOST_DEVICE T* find(Key const& key) const {
    std::uint64_t const s = table_.find(key);
    return s == detail::ref::npos ? nullptr : &table_.slots[s].value;
  }

  /// Whether `key` is present. Rust: `m.contains_key(&key)`.
  BULKMAP_HOST_DEVICE bool contains(Key const& key) const {
    return table_.find(key) != detail::ref::npos;
  }

  /**
   * @brief Removes `key`, leaving a tombstone. Rust: `m.remove(&key)`.
   * @return `found` (removed by this call) or `not_found` (absent, or removed by another thread)
   */
  BULKMAP_HOST_DEVICE bulkmap::status erase(Key const& key) const {
    std::uint64_t const s = table_.find(key);
    if (s == detail::ref::npos || !detail::free_slot(table_, s)) return bulkmap::status::not_found;
    detail::add_to_counter(*removed_, 1, table_.aggregate_counters);
    return bulkmap::status::found;
  }

  /// `key`'s entry; see `entry_type::or_insert`. Rust: `m.entry(key)`.
  class entry_type {
   public:
    BULKMAP_HOST_DEVICE entry_type(device_map_ref const& map, Key const& key)
        : map_(map), key_(key) {}

    /**
     * @brief The key's value, inserting `value` first if the key is absent.
     * Rust: `m.entry(key).or_insert(value)`, here returning an atomic reference.
     * @return a `value_ref` with status `inserted` or `found`, or an empty one (`full`)
     */
    BULKMAP_HOST_DEVICE value_ref<T> or_insert(T const& value) const {
      detail::claim_result const r = map_.claim_holding(key_, value);
      if (r.index == detail::ref::npos) return {bulkmap::status::full, nullptr};
      return {r.claimed ? bulkmap::status::inserted : bulkmap::status::found,
              &map_.table_.slots[r.index].value};
    }

   private:
    device_map_ref map_;
    Key key_;
  };

  BULKMAP_HOST_DEVICE entry_type entry(Key const& key) const { return entry_type(*this, key); }

 private:
  /// Whether every bit of `value` is zero, as in `T{}` (a new slot's value).
  BULKMAP_HOST_DEVICE static bool is_zero(T const& value) {
    auto const* bytes = reinterpret_cast<unsigned char const*>(&value);
    for (std::size_t i = 0; i < sizeof(T); ++i) {
      if (bytes[i] != 0) return false;
    }
    return true;
  }

  /**
   * Finds `key`, or claims a slot for it that holds `value`. Packed slots (a key of at most 4
   * bytes, a 4-byte value): the claim's compare-and-swap writes both. Other slots: `value` is
   * stored just after the claim, unless it is zero, the new slot's value already (storing a zero
   * again could overwrite what threads that found the key meanwhile added to it).
   */
  BULKMAP_HOST_DEVICE detail::claim_result claim_holding(Key const& key, T const& value) const {
    using slot_type = typename view_type::slot_type;
    if constexpr (detail::is_packed_slot_v<slot_type>) {
      return table_.find_or_claim(key, detail::claim_with_value<slot_type>{value});
    } else {
      detail::claim_result const r = table_.find_or_claim(key);
      // (A claim always has a slot; saying so keeps g++ from warning of a store at npos.)
      if (r.claimed && r.index != detail::ref::npos && !is_zero(value)) store(r.index, value);
      return r;
    }
  }

  BULKMAP_HOST_DEVICE void store(std::uint64_t s, T const& value) const {
    detail::value_ops<typename view_type::slot_type>::store(table_.slots[s], value);
  }

  view_type table_;
  unsigned long long* removed_;

  friend struct detail::ref_access;
};

namespace detail {
/// The table a `device_map_ref` works on, with its room: for bulkmap's own passes that fold by
/// slot index (`aggregate_by`), which the public ref does not give.
struct ref_access {
  template <class Key, class T, class Hash, class KeyEqual>
  static auto table(device_map_ref<Key, T, Hash, KeyEqual> const& ref) {
    return ref.table_;
  }
};
}  // namespace detail

BULKMAP_NAMESPACE_END
