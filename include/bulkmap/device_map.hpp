/**
 * @file device_map.hpp
 * @brief `bulkmap::device_map`: a growing hash map on the backend's device, driven in bulk.
 *
 * Example: count integers and read the counts back on the host, sorted by key.
 * @code
 * bulkmap::device_map<std::int64_t, std::uint32_t> counts;
 * counts.count(std::vector<std::int64_t>{7, -1, 7, 7});   // *counts.entry(k).or_insert(0) += 1
 * auto mirror = counts.to_host();                         // {-1: 1, 7: 3}, ascending keys
 * for (auto&& [k, v] : mirror) std::printf("%lld\t%u\n", (long long)k, v);
 * @endcode
 */
#pragma once

#include <thrust/device_allocator.h>
#include <thrust/device_vector.h>
#include <thrust/functional.h>

#include <array>
#include <bulkmap/config.hpp>
#include <bulkmap/detail/backend.hpp>
#include <bulkmap/detail/table.hpp>
#include <bulkmap/device_map_ref.hpp>
#include <bulkmap/error.hpp>
#include <bulkmap/hash.hpp>
#include <bulkmap/host_mirror.hpp>
#include <bulkmap/pairs.hpp>
#include <bulkmap/stream.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <ostream>
#include <type_traits>
#include <vector>

BULKMAP_NAMESPACE_BEGIN

/**
 * @brief An open-addressing hash map whose storage lives on the backend's device (GPU memory on
 * `cuda`, host memory shared by all cores on `omp`), filled and queried a batch at a time.
 *
 * Rust counterpart: `std::collections::HashMap<Key, T>`, with each method taking a whole batch of
 * keys (device iterator ranges, or host `std::vector`s that are copied in). Within one batch,
 * repeated keys behave as the sequential Rust loop over the batch in order.
 *
 * Table: a power-of-two number of slots, linear probing from a 64-bit hash, keys claimed by atomic
 * compare-and-swap. Two key values are reserved internally as the empty and tombstone sentinels;
 * user keys equal to them live in two side slots, so every key value is valid. The map grows by
 * itself: a bulk call never fails for lack of room, and the capacity follows the number of
 * distinct keys, not the batch length.
 *
 * Owning and move-only. Not thread-safe: one host thread drives a map at a time. Every call waits
 * for its work to finish before it returns, except the `_async` calls (see "Asynchronous calls").
 *
 * Keys of 16 bytes take 32-byte slots; on GPUs before sm_90 and on the omp backend they are
 * claimed under a per-slot sequence lock (see `detail::key_word_ops`), elsewhere with one 128-bit
 * compare-and-swap. The README's "Memory" section gives each call's temporary device memory
 * (at most 8 bytes per input for insertions, in chunks of 2^22 inputs).
 *
 * @tparam Key an integer of 1 to 8 bytes (not `bool`), `__int128`, `unsigned __int128`, or a
 * trivially copyable type of at most 16 bytes without padding bits that specializes
 * `bulkmap::hash` (`bulkmap::is_key_v`; hash.hpp has an example). Keys compare with `KeyEqual`.
 * @tparam T an integer or floating type of 4 or 8 bytes, `__int128`, `unsigned __int128`, or a
 * trivially copyable type of 4, 8 or 16 bytes without padding bits (`bulkmap::is_value_v`).
 * 16-byte values are stored and folded with 128-bit compare-and-swap loops on sm_90 and later,
 * under the slot's guard elsewhere; `value_ref::atomic()` is not available for them.
 * @tparam Hash callable on host and device as `std::uint64_t(Key)`; equal keys hash equally
 * @tparam KeyEqual callable on host and device as `bool(Key const&, Key const&)`, an equivalence
 * relation; keys it calls equal must hash equally (`Hash`). Default `bulkmap::equal_to<Key>`:
 * equal bits. Rust counterpart: the `Eq` impl of `K`. With another `KeyEqual`, the map keeps one
 * key of each class of equal keys, as Rust does: a bulk insertion stores the first occurrence of
 * a key new to the map, and later equal keys change only values. Two exceptions: keys equal to
 * the key whose bits are all ones, or all ones but the lowest (the table's two reserved bit
 * patterns), are reported as that key; a `device_map_ref` stores whichever of the equal keys its
 * threads insert at once claims the slot first. `to_host()` and `host_mirror::get` compare keys
 * by their bits (the mirror is ordered by bits).
 * @tparam Allocator where the map's device memory comes from: a Thrust-style device allocator
 * (`thrust::device_allocator`, or `thrust::mr::allocator` over a memory resource such as a
 * `thrust::mr::disjoint_unsynchronized_pool_resource`), rebound by the map to each element type.
 * It allocates the slots, every call's temporaries and Thrust's scratch for them; the vectors
 * handed to the caller (`keys()`, `values()`, `drain()`, `extract_if`) use
 * `thrust::device_allocator`, so they may outlive the allocator. A stateful allocator is copied
 * into each of those uses; its copies must share one source of memory, and allocators that
 * compare unequal must propagate on move assignment and swap, as `thrust::mr::allocator` does.
 * A `std::bad_alloc` it throws surfaces as `bulkmap::out_of_memory`, with the call's usual
 * guarantee. One exception: on omp, `to_host()` sorts with scratch from the default allocator
 * (Thrust's OpenMP sort allocates inside a parallel region, where a failure cannot be caught).
 * Rust counterpart: the `A: Allocator` parameter of `HashMap<K, V, S, A>`.
 */
template <class Key, class T, class Hash = bulkmap::hash<Key>,
          class KeyEqual = bulkmap::equal_to<Key>, class Allocator = thrust::device_allocator<char>>
class device_map {
  static_assert(
      is_key_v<Key>,
      "bulkmap::device_map: Key must be an integer of 1 to 8 or 16 bytes (not bool), or "
      "a trivially copyable type of at most 16 bytes without padding (bulkmap::is_key_v)");
  static_assert(is_value_v<T>,
                "bulkmap::device_map: T must be an integer or floating type of 4 or 8 bytes, a "
                "16-byte integer, or a trivially copyable type of 4, 8 or 16 bytes without padding "
                "(bulkmap::is_value_v)");

 public:
  using key_type = Key;
  using mapped_type = T;
  using size_type = std::size_t;
  using hasher = Hash;
  using key_equal = KeyEqual;
  using allocator_type = Allocator;

  /// Default max load factor: half the slots, which keeps linear probes short.
  static constexpr double default_max_load_factor = 0.5;

  /**
   * @brief Makes an empty map with room for `n` keys before it first grows.
   * Rust: `HashMap::with_capacity(n)`. Allocates `capacity()` slots (at least 16), O(capacity).
   * @param n number of keys the map holds without growing
   * @param max_load_factor fraction of slots the map fills before it grows, in (0, 1)
   * @param alloc the allocator for all of the map's device memory (see `Allocator`); Rust:
   * `HashMap::with_capacity_and_hasher_in(n, hasher, alloc)`
   * @throw std::invalid_argument if `max_load_factor` is not in (0, 1)
   * @throw bulkmap::out_of_memory if the slots cannot be allocated. Waits for completion.
   */
  explicit device_map(size_type n = 0, double max_load_factor = default_max_load_factor,
                      Hash const& hash = Hash{}, KeyEqual const& equal = KeyEqual{},
                      Allocator const& alloc = Allocator{});

  /**
   * @brief An empty map of the smallest capacity whose memory comes from `alloc`.
   * Rust: `HashMap::new_in(alloc)`. Errors and waiting as the constructor above.
   */
  explicit device_map(Allocator const& alloc)
      : device_map(0, default_max_load_factor, Hash{}, KeyEqual{}, alloc) {}

  device_map(device_map&&) noexcept = default;
  /// Takes `other`'s contents; this map's own queued `_async` work finishes first.
  device_map& operator=(device_map&& other) noexcept {
    device_map(std::move(other)).swap(*this);
    return *this;
  }
  device_map(device_map const&) = delete;
  device_map& operator=(device_map const&) = delete;
  /// Waits for the map's queued `_async` work (ignoring its errors), then frees the table.
  ~device_map();

  // ---------------------------------------------------------------------------------------------
  // Size and capacity
  // ---------------------------------------------------------------------------------------------

  /**
   * @brief Number of keys. Rust: `len`. O(1): the map keeps a count; it never scans the slots.
   * After work through a `ref()` or `_async` calls, the first call reads that work's count from
   * the device (waiting for queued `_async` work first).
   */
  [[nodiscard]] size_type size() const {
    settle();
    return size_;
  }
  /// `size() == 0`. Rust: `is_empty`. O(1).
  [[nodiscard]] bool empty() const { return size() == 0; }
  /**
   * @brief Number of slots in the table (a power of two, at least 16). O(1).
   * Rust: `capacity`. Differs: Rust counts keys it can hold; that number here is
   * `capacity() * max_load_factor()`, and two more: keys equal to the table's two sentinel values
   * live in side slots, outside the slots counted here.
   */
  [[nodiscard]] size_type capacity() const noexcept { return capacity_; }
  /// `size() / capacity()`. No Rust counterpart (C++ `unordered_map::load_factor`). O(1).
  [[nodiscard]] double load_factor() const {
    return static_cast<double>(size()) / static_cast<double>(capacity_);
  }
  /// Fraction of slots (keys and tombstones) the map fills before it grows. O(1).
  [[nodiscard]] double max_load_factor() const noexcept { return max_load_factor_; }
  /// A copy of the map's hash function. Rust: `hasher()` (`hasher` names the type here). O(1).
  [[nodiscard]] hasher hash_function() const { return hash_; }
  /// A copy of the map's key equality. No Rust counterpart (C++ `unordered_map::key_eq`). O(1).
  [[nodiscard]] key_equal key_eq() const { return equal_; }
  /// A copy of the map's allocator. Rust: `allocator()`. O(1).
  [[nodiscard]] allocator_type get_allocator() const { return alloc_; }

  /**
   * @brief Makes room for at least `additional` more keys without growing.
   * Rust: `reserve(additional)`. O(capacity) when it rehashes, O(1) otherwise.
   * @throw bulkmap::out_of_memory if the larger table cannot be allocated; the map is unchanged.
   * Waits for completion.
   */
  void reserve(size_type additional);

  /**
   * @brief `reserve`, reporting a failure instead of throwing it.
   * Rust: `try_reserve(additional)`. O(capacity) when it rehashes, O(1) otherwise.
   * @return empty on success; `try_reserve_error::capacity_overflow` if no table can hold
   * `size() + additional` keys; `try_reserve_error::alloc_error` if the larger table cannot be
   * allocated. The map is unchanged on failure.
   * @throw bulkmap::cuda_error if the device fails otherwise. Waits for completion.
   */
  [[nodiscard]] std::optional<try_reserve_error> try_reserve(size_type additional);

  /**
   * @brief Rehashes into the smallest table that holds `size()` keys, dropping tombstones, and
   * frees the buffer of slot references that insertions keep with the map (8 bytes per input
   * of the longest batch, at most 32 MiB). Rust: `shrink_to_fit`. O(capacity).
   * @throw bulkmap::out_of_memory if the new table cannot be allocated; the map is unchanged.
   * Waits for completion.
   */
  void shrink_to_fit();

  /**
   * @brief Shrinks the table as far as it holds `max(size(), min_keys)` keys; never grows it.
   * A shrink rehashes, which also drops tombstones. Rust: `shrink_to(min_capacity)`.
   * O(capacity) when it rehashes, O(1) otherwise.
   * @param min_keys keys the map must still hold without growing
   * @throw bulkmap::out_of_memory if the new table cannot be allocated; the map is unchanged.
   * Waits for completion.
   */
  void shrink_to(size_type min_keys);

  /**
   * @brief Removes every key; keeps the capacity. Rust: `clear`. O(capacity). Waits for completion.
   */
  void clear();

  // ---------------------------------------------------------------------------------------------
  // Bulk insertion
  // ---------------------------------------------------------------------------------------------

  /**
   * @brief Inserts each (key, value) pair whose key is absent; present keys keep their value.
   * Rust: `for (k, v) in kv { m.entry(k).or_insert(v); }`. A key repeated in the batch gets the
   * value of its **first** occurrence, as in the sequential loop.
   * @param keys_first, keys_last device-accessible random-access range of `Key`, length n
   * @param values_first device-accessible random-access range of `T`, length n
   * @return number of keys that were new. O(n) expected.
   * Temporary memory: 8 bytes per input, for at most 2^22 inputs at a time; a longer batch also
   * logs its new keys (sizeof(Key) each), so that a failure can undo them.
   * @throw bulkmap::out_of_memory if growth fails. The map then holds exactly the pairs it held
   * before the call (its capacity may have grown) and stays usable. Same for every insertion.
   * @throw std::invalid_argument if `keys_last` comes before `keys_first`
   * Waits for completion.
   */
  template <class KeyIt, class ValueIt>
  size_type insert(KeyIt keys_first, KeyIt keys_last, ValueIt values_first);
  /// Host overload of `insert`; copies both vectors to the device.
  /// @throw std::invalid_argument if the lengths differ
  size_type insert(std::vector<Key> const& keys, std::vector<T> const& values);

  /**
   * @brief `insert` that also writes, for each input, whether it inserted its key.
   * Rust: `m.entry(k)` matched as `Vacant` (then `or_insert(v)`) for each pair. Input i is new
   * when its key was absent before the call and i is the key's first occurrence in the batch.
   * @param new_out device-accessible output range of length n, assignable from `bool`
   * Shapes, complexity, errors and waiting as `insert`, with one more pass per chunk. On an
   * exception the flags are unspecified.
   */
  template <class KeyIt, class ValueIt, class FlagIt>
  size_type insert(KeyIt keys_first, KeyIt keys_last, ValueIt values_first, FlagIt new_out);
  /// Host overload of the flagged `insert`: sets `is_new` (resized to n).
  size_type insert(std::vector<Key> const& keys, std::vector<T> const& values,
                   std::vector<bool>& is_new);

  /**
   * @brief Inserts each absent key with the value `make_value(key)`; present keys keep theirs.
   * Rust: `for k in keys { m.entry(k).or_insert_with_key(make_value); }`. `make_value` runs once
   * per key that is new, in parallel, and never for a key already present; on `out_of_memory` it
   * may have run for keys that were then undone. It must be pure: it is called with one
   * occurrence of the key, not necessarily the first.
   * @tparam MakeValue callable on host and device as `T(Key const&)`
   * @param keys_first, keys_last device-accessible random-access range of `Key`, length n
   * @return number of keys that were new. Complexity, temporary memory, errors and waiting as
   * `insert`.
   */
  template <class KeyIt, class MakeValue>
  size_type insert_with(KeyIt keys_first, KeyIt keys_last, MakeValue make_value);
  /// Host overload of `insert_with`; copies the keys to the device.
  template <class MakeValue>
  size_type insert_with(std::vector<Key> const& keys, MakeValue make_value);

  /**
   * @brief Inserts each pair, overwriting the value of keys already present.
   * Rust: `for (k, v) in kv { m.insert(k, v); }`. A key repeated in the batch gets the value of
   * its **last** occurrence. Shapes, complexity, errors and waiting as `insert`.
   * @return number of keys that were new
   */
  template <class KeyIt, class ValueIt>
  size_type insert_or_assign(KeyIt keys_first, KeyIt keys_last, ValueIt values_first);
  /// Host overload of `insert_or_assign`. @throw std::invalid_argument if the lengths differ
  size_type insert_or_assign(std::vector<Key> const& keys, std::vector<T> const& values);

  /**
   * @brief Folds each value into its key's value with `op`; absent keys start at their first value.
   * Rust: `m.entry(k).and_modify(|x| *x = op(*x, v)).or_insert(v)` for each pair.
   * Operators whose identity is zero take one atomic per key: `thrust::plus<T>` (which treats a
   * new key's value as starting from zero, so a lone `-0.0` reads back as `+0.0`), and for
   * integers `bit_or`, `bit_xor` and unsigned `maximum`. `thrust::minimum<T>`, signed
   * `thrust::maximum<T>` and any other functor take a few more passes and an atomic or
   * compare-and-swap loop. Integer results do not depend on thread order;
   * floating-point sums do (rounding depends on the order of additions).
   * @tparam Op associative, commutative functor `T(T, T)` callable on host and device
   * Shapes, complexity, errors and waiting as `insert`.
   * @return number of keys that were new
   */
  template <class KeyIt, class ValueIt, class Op>
  size_type insert_or_accumulate(KeyIt keys_first, KeyIt keys_last, ValueIt values_first, Op op);
  /// Host overload of `insert_or_accumulate`. @throw std::invalid_argument if lengths differ
  template <class Op>
  size_type insert_or_accumulate(std::vector<Key> const& keys, std::vector<T> const& values, Op op);

  /**
   * @brief `insert_or_accumulate` that also writes, for each input, whether it inserted its key
   * (as the flagged `insert` defines it). Rust: `m.entry(k)` matched as `Vacant` or `Occupied`.
   * @param new_out device-accessible output range of length n, assignable from `bool`
   * Shapes, complexity, errors and waiting as `insert_or_accumulate`, with up to three more
   * passes per chunk. On an exception the flags are unspecified.
   */
  template <class KeyIt, class ValueIt, class Op, class FlagIt>
  size_type insert_or_accumulate(KeyIt keys_first, KeyIt keys_last, ValueIt values_first, Op op,
                                 FlagIt new_out);
  /// Host overload of the flagged `insert_or_accumulate`: sets `is_new` (resized to n).
  template <class Op>
  size_type insert_or_accumulate(std::vector<Key> const& keys, std::vector<T> const& values, Op op,
                                 std::vector<bool>& is_new);

  /**
   * @brief Adds 1 to each key's count, starting absent keys at 0.
   * Rust: `*m.entry(k).or_insert(0) += 1` for each key. The bulk-counting fast path: one probe and
   * one atomic add per key. Shapes (keys only), complexity, errors and waiting as `insert`.
   * @return number of keys that were new
   */
  template <class KeyIt>
  size_type count(KeyIt keys_first, KeyIt keys_last);
  /// Host overload of `count`; copies the keys to the device.
  size_type count(std::vector<Key> const& keys);

  // ---------------------------------------------------------------------------------------------
  // Bulk queries and removal
  // ---------------------------------------------------------------------------------------------

  /**
   * @brief Writes each key's value, or `missing_value` where the key is absent.
   * Rust: `m.get(&k).copied().unwrap_or(missing_value)`. O(n) expected; never grows.
   * @param values_out device-accessible output range of length n
   * Waits for completion.
   */
  template <class KeyIt, class OutIt>
  void find(KeyIt keys_first, KeyIt keys_last, OutIt values_out, T missing_value) const;
  /// Host overload of `find`: returns the n values in a host vector.
  std::vector<T> find(std::vector<Key> const& keys, T missing_value) const;

  /**
   * @brief `find` that also writes, for each key, whether it was found.
   * Rust: `m.get(&k)` for each key, the `Option` split into a value and a flag.
   * @param found_out device-accessible output range of length n, assignable from `bool`
   * O(n) expected; never grows. Waits for completion.
   */
  template <class KeyIt, class OutIt, class FlagIt>
  void find(KeyIt keys_first, KeyIt keys_last, OutIt values_out, T missing_value,
            FlagIt found_out) const;
  /// Host overload of the flagged `find`: returns the values and sets `found` (resized to n).
  std::vector<T> find(std::vector<Key> const& keys, T missing_value,
                      std::vector<bool>& found) const;

  /**
   * @brief Writes for each key whether it is present. Rust: `contains_key`. O(n) expected.
   * @param flags_out device-accessible output range of length n, assignable from `bool`
   * Waits for completion.
   */
  template <class KeyIt, class OutIt>
  void contains(KeyIt keys_first, KeyIt keys_last, OutIt flags_out) const;
  /// Host overload of `contains`: returns the n flags in a host vector.
  std::vector<bool> contains(std::vector<Key> const& keys) const;

  /**
   * @brief Removes each key that is present, leaving a tombstone in its slot.
   * Rust: `for k in keys { m.remove(&k); }`. A key repeated in the batch is removed once.
   * Tombstones count toward the load factor until the next rehash drops them; an insert never
   * reuses one, so a key erased and inserted again is never stored twice. O(n) expected.
   * @return number of keys removed. Waits for completion.
   */
  template <class KeyIt>
  size_type erase(KeyIt keys_first, KeyIt keys_last);
  /// Host overload of `erase`.
  size_type erase(std::vector<Key> const& keys);

  /**
   * @brief `erase` that also writes each removed value.
   * Rust: `for k in keys { out.push(m.remove(&k).unwrap_or(missing_value)); }`: a key repeated in
   * the batch gives its value to its first occurrence, and the others get `missing_value`, as
   * in the sequential loop; absent keys get `missing_value` too.
   * @param values_out device-accessible output range of length n
   * @return number of keys removed. O(n) expected, in four passes. Temporary memory: 8 bytes
   * per input. Waits for completion.
   */
  template <class KeyIt, class OutIt>
  size_type erase(KeyIt keys_first, KeyIt keys_last, OutIt values_out, T missing_value);
  /// Host overload of the value-returning `erase`: sets `values` (resized to n).
  size_type erase(std::vector<Key> const& keys, std::vector<T>& values, T missing_value);

  // ---------------------------------------------------------------------------------------------
  // Asynchronous calls
  //
  // Each bulk call over device ranges has an `_async` form taking a `bulkmap::stream_ref` last
  // (default: the default stream). Semantics, shapes and errors are those of the waiting form;
  // what differs:
  // - **Waiting.** The call queues its work on `stream` and returns without waiting (cuda). Its
  //   inputs must stay valid and unchanged, and its outputs untouched, until the stream has run
  //   it; its results are ready once it has (`stream.wait()`, or any waiting call on the map).
  //   On omp the work runs before the call returns and the stream is ignored.
  // - **Order.** A map's `_async` calls on one stream run in the order they are made. A call on
  //   another stream first waits for the map's queued work. Every waiting call on the map
  //   (`size()`, `find`, `to_host`, ...) first waits for all of it; so does `ref()`.
  // - **Room.** An `_async` insertion never grows the table. When there is room for every input
  //   to be a new key (occupied slots, plus the inputs of `_async` insertions still unsettled,
  //   plus n, within the load limit; `reserve(n)` makes that room), it is queued. Otherwise it
  //   waits for `stream` and for the map's queued work, then runs as the waiting form, growing
  //   as needed. No input is ever dropped.
  // - **Results.** The calls return nothing: `size()` (which waits) counts the keys afterwards.
  // - **Memory.** Insertions and the value-returning erase use the buffer of slot references
  //   that the map keeps (see `shrink_to_fit`): 8 bytes per input, for at most 2^22 inputs.
  // - **Errors.** Arguments are checked, and the work is queued, before the call returns: it
  //   throws `std::invalid_argument`, `bulkmap::out_of_memory` (the scratch buffer, or growth in
  //   the waiting fallback) or `bulkmap::cuda_error` (a failed launch). A fault while the device
  //   runs the work surfaces at the next wait, as a `bulkmap::cuda_error`.
  // - **Refs.** The calls that change keys end outstanding refs, as the waiting ones do.
  // Rust has no counterpart (its maps have no device); the waiting forms name theirs.
  // ---------------------------------------------------------------------------------------------

  /// `insert`, queued on `stream`. O(n) expected; see "Asynchronous calls".
  template <class KeyIt, class ValueIt>
  void insert_async(KeyIt keys_first, KeyIt keys_last, ValueIt values_first,
                    stream_ref stream = {});
  /// The flagged `insert`, queued on `stream`; `new_out` is written once the stream has run it.
  template <class KeyIt, class ValueIt, class FlagIt,
            std::enable_if_t<!std::is_convertible_v<FlagIt, stream_ref>, int> = 0>
  void insert_async(KeyIt keys_first, KeyIt keys_last, ValueIt values_first, FlagIt new_out,
                    stream_ref stream = {});
  /// `insert_with`, queued on `stream`. O(n) expected; see "Asynchronous calls".
  template <class KeyIt, class MakeValue>
  void insert_with_async(KeyIt keys_first, KeyIt keys_last, MakeValue make_value,
                         stream_ref stream = {});
  /// `insert_or_assign`, queued on `stream`. O(n) expected; see "Asynchronous calls".
  template <class KeyIt, class ValueIt>
  void insert_or_assign_async(KeyIt keys_first, KeyIt keys_last, ValueIt values_first,
                              stream_ref stream = {});
  /**
   * @brief `insert_or_accumulate`, queued on `stream`. O(n) expected; see "Asynchronous calls".
   * On cuda its folds always combine a warp's equal keys first (the waiting form samples the
   * batch to decide): results are the same, only the speed differs.
   */
  template <class KeyIt, class ValueIt, class Op>
  void insert_or_accumulate_async(KeyIt keys_first, KeyIt keys_last, ValueIt values_first, Op op,
                                  stream_ref stream = {});
  /// The flagged `insert_or_accumulate`, queued on `stream`.
  template <class KeyIt, class ValueIt, class Op, class FlagIt,
            std::enable_if_t<!std::is_convertible_v<FlagIt, stream_ref>, int> = 0>
  void insert_or_accumulate_async(KeyIt keys_first, KeyIt keys_last, ValueIt values_first, Op op,
                                  FlagIt new_out, stream_ref stream = {});
  /// `count`, queued on `stream`. O(n) expected; see "Asynchronous calls" and
  /// `insert_or_accumulate_async`.
  template <class KeyIt>
  void count_async(KeyIt keys_first, KeyIt keys_last, stream_ref stream = {});

  /// `find`, queued on `stream`. O(n) expected; never grows; no scratch memory.
  template <class KeyIt, class OutIt>
  void find_async(KeyIt keys_first, KeyIt keys_last, OutIt values_out, T missing_value,
                  stream_ref stream = {}) const;
  /// The flagged `find`, queued on `stream`.
  template <class KeyIt, class OutIt, class FlagIt,
            std::enable_if_t<!std::is_convertible_v<FlagIt, stream_ref>, int> = 0>
  void find_async(KeyIt keys_first, KeyIt keys_last, OutIt values_out, T missing_value,
                  FlagIt found_out, stream_ref stream = {}) const;
  /// `contains`, queued on `stream`. O(n) expected; no scratch memory.
  template <class KeyIt, class OutIt>
  void contains_async(KeyIt keys_first, KeyIt keys_last, OutIt flags_out,
                      stream_ref stream = {}) const;
  /// `erase`, queued on `stream`; `size()` (which waits) counts what is left. O(n) expected.
  template <class KeyIt>
  void erase_async(KeyIt keys_first, KeyIt keys_last, stream_ref stream = {});
  /// The value-returning `erase`, queued on `stream`, in chunks of 2^22 inputs (same results).
  template <class KeyIt, class OutIt>
  void erase_async(KeyIt keys_first, KeyIt keys_last, OutIt values_out, T missing_value,
                   stream_ref stream = {});
  /// `retain`, queued on `stream`. O(capacity).
  template <class Pred>
  void retain_async(Pred pred, stream_ref stream = {});
  /// `for_each`, queued on `stream`. O(capacity).
  template <class F>
  void for_each_async(F f, stream_ref stream = {}) const;
  /// `transform_values`, queued on `stream`. O(capacity).
  template <class F>
  void transform_values_async(F f, stream_ref stream = {});

  // ---------------------------------------------------------------------------------------------
  // One key at a time, in users' own code
  // ---------------------------------------------------------------------------------------------

  /// The handle `ref()` returns.
  using ref_type = device_map_ref<Key, T, Hash, KeyEqual>;

  /**
   * @brief A trivially copyable handle for users' functors and kernels: `insert`, `find`,
   * `erase`, `entry(k).or_insert(v)`, ... one key per call (see `device_map_ref`).
   * Rust counterpart: `&mut HashMap` shared by threads (rayon), one key per call.
   * The ref may claim the slots free below the load limit now; it never grows the table, and
   * reports `status::full` past that: `reserve`, take a new ref, and run the failed keys again.
   * It stays valid until the next non-const call on the map (other than `ref()` itself, which
   * returns a handle sharing the same room). Const calls see its work once that work finished.
   * O(1); does not wait.
   */
  [[nodiscard]] ref_type ref();

  // ---------------------------------------------------------------------------------------------
  // Whole-map operations
  // ---------------------------------------------------------------------------------------------

  /**
   * @brief Removes every pair for which `pred(key, value)` is false. Keeps capacity.
   * Rust: `HashMap::retain`. Differs: `pred` runs in parallel, in unspecified order, once per pair.
   * @tparam Pred callable on host and device as `bool(Key const&, T const&)`
   * @return number of pairs removed. O(capacity). Waits for completion.
   */
  template <class Pred>
  size_type retain(Pred pred);

  /**
   * @brief Removes the pairs for which `pred(key, value)` is true and returns them.
   * Rust: `m.extract_if(pred).collect()`. `pred` runs once per pair, in parallel, in unspecified
   * order; the pairs come out in unspecified order, `keys[i]` with `values[i]`. Keeps capacity.
   * @tparam Pred callable on host and device as `bool(Key const&, T const&)`
   * @return the removed pairs. O(capacity). Temporary memory: 1 byte per slot.
   * @throw bulkmap::out_of_memory if the flags or the output cannot be allocated; the map is
   * unchanged. Waits for completion.
   */
  template <class Pred>
  pairs<Key, T> extract_if(Pred pred);

  /**
   * @brief Calls `f(key, value)` once for every pair, in parallel, in unspecified order.
   * Rust: `m.par_iter().for_each(|(k, v)| f(k, v))` (rayon). O(capacity). Waits for completion.
   * @tparam F callable on host and device as `void(Key const&, T const&)`; to produce output, it
   * writes through device pointers it holds (with atomics where pairs may meet)
   */
  template <class F>
  void for_each(F f) const;

  /**
   * @brief Replaces every value by `f(key, value)`, in parallel, in unspecified order.
   * Rust: `m.par_iter_mut().for_each(|(k, v)| *v = f(k, *v))` (rayon), or `values_mut`.
   * O(capacity). Waits for completion.
   * @tparam F callable on host and device as `T(Key const&, T const&)`
   */
  template <class F>
  void transform_values(F f);

  /**
   * @brief Moves every pair out into device vectors and leaves the map empty, capacity kept.
   * Rust: `m.drain().collect()`. Pairs come in unspecified order; `keys[i]` goes with `values[i]`.
   * O(capacity). @throw bulkmap::out_of_memory if the output cannot be allocated; the map is
   * unchanged. Waits for completion.
   */
  pairs<Key, T> drain();

  /**
   * @brief The keys, in a device vector of length `size()`, in unspecified order.
   * Rust: `m.keys().copied().collect()`. Same order as `values()` while the map is unchanged.
   * O(capacity). Waits for completion.
   */
  thrust::device_vector<Key> keys() const;
  /// The values, in a device vector of length `size()`. Rust: `m.values().copied().collect()`.
  thrust::device_vector<T> values() const;

  /**
   * @brief A host snapshot of every pair, sorted by key ascending.
   * Rust: `m.iter()` on the host (its order is arbitrary; this one is sorted). Compacts and sorts
   * on the device, then copies once; the mirror owns its data. O(capacity + size log size).
   * Waits for completion.
   */
  host_mirror<Key, T> to_host() const;

  /**
   * @brief Makes the map hold exactly the mirror's pairs (clears, then inserts them).
   * No Rust counterpart (Rust mutates in place). Grows if needed.
   * @throw bulkmap::out_of_memory if the new table cannot be allocated; the map is unchanged.
   * Waits for completion.
   */
  void assign(host_mirror<Key, T> const& mirror);

  /**
   * @brief Whether both maps hold the same pairs (values compared with `==`, so a NaN value is
   * never equal). Rust: `PartialEq for HashMap`. Capacity and insertion history do not matter.
   * O(size + other's capacity). Temporary memory: the other map's pairs. Waits for completion.
   */
  [[nodiscard]] bool operator==(device_map const& other) const;
  /// `!(*this == other)`. Rust: `ne`.
  [[nodiscard]] bool operator!=(device_map const& other) const { return !(*this == other); }

  /// Exchanges the contents of two maps; no element moves. Rust: `std::mem::swap`. O(1).
  void swap(device_map& other) noexcept;
  friend void swap(device_map& a, device_map& b) noexcept { a.swap(b); }

  /**
   * @brief Prints `{k: v, k: v}` sorted by key, for debugging small maps.
   * Rust: `Debug for HashMap` (`{:?}`), whose order is arbitrary. Copies every pair to the host
   * first (`to_host`). Waits for completion.
   */
  friend std::ostream& operator<<(std::ostream& os, device_map const& map) {
    return os << map.to_host();
  }

 private:
  using traits_type = detail::key_traits<Key>;
  using slot_type = detail::slot<Key, T>;
  using view_type = detail::table_view<Key, T, Hash, KeyEqual>;

  enum class order_rule { first_wins, last_wins, fold };

  [[nodiscard]] view_type view() const;
  [[nodiscard]] std::array<unsigned long long, detail::counter_count> read_counters() const;
  void reset_counters();
  [[nodiscard]] size_type live_side_slots() const;
  void rehash(size_type new_capacity);
  /// Gives each of a chunk's n inputs its slot in `refs`, claiming and growing as needed; returns
  /// the number of keys it claimed. With a `detail::fused_fold`, also folds each input's value;
  /// with `detail::first_writes`, also writes the first values (electing them if it must).
  /// A failed growth undoes its claims (and folds) before out_of_memory.
  template <class KeyIt, class Also = detail::locate_only>
  size_type locate_chunk(KeyIt keys, size_type n, std::uint64_t* refs, bool mark_absent,
                         Also also = {});
  /// Undoes the `claimed` claims that `refs` record (they must still name their slots), and the
  /// folds of a fused fold.
  template <class Also = detail::locate_only>
  void unclaim_chunk(std::uint64_t const* refs, size_type n, size_type claimed, Also also = {});
  /// Writes the first value of each key absent at the chunk's start (first occurrence wins).
  template <class ValueIt>
  void write_first_values(ValueIt values, size_type n, std::uint64_t* refs);
  /// The rest of `rule`: last_wins writes every key's last value; fold folds every non-writer.
  template <class ValueIt, class Op>
  void write_other_values(ValueIt values, size_type n, std::uint64_t* refs, order_rule rule, Op op);
  /// Whether a chunk's inputs are marked absent at its start (`ref::absent`): for first values,
  /// for the "was new" flags, and under a custom KeyEqual for the first occurrences' keys.
  template <class FlagIt>
  static bool marks_absent(bool first_values);
  /// After a chunk's locate pass (absent inputs marked): writes the first values when
  /// `first_values`, the first occurrences' keys under a custom KeyEqual, and the "was new"
  /// flags unless `new_out` is a discard iterator.
  template <class KeyIt, class ValueIt, class FlagIt>
  void write_first_values_and_flags(KeyIt keys, ValueIt values, size_type n, std::uint64_t* refs,
                                    bool first_values, FlagIt new_out);
  /// Applies a batch of any length; see the out_of_memory guarantee of `insert`. `new_out`:
  /// the "was new" flags, or a discard iterator.
  template <class KeyIt, class ValueIt, class Op, class FlagIt>
  size_type apply_in_chunks(KeyIt keys_first, KeyIt keys_last, ValueIt values_first,
                            order_rule rule, Op op, FlagIt new_out);
  /// The live slots' `column` values, in a device vector of `size()` from `out_alloc`.
  template <class U, class OutAllocator, class Column>
  detail::vector_of<U, OutAllocator> collect(char const* what, Column column,
                                             OutAllocator const& out_alloc) const;

  /// Writes each erased value of a chunk of m keys (first occurrence takes it; see `erase`).
  template <class KeyIt, class OutIt>
  void take_chunk(KeyIt keys, size_type m, OutIt values_out, T missing_value, std::uint64_t* refs);
  /// Runs `fn(i)` for i in [0, n) where `on_` places it (the default stream, or an `_async`
  /// call's stream).
  template <class F>
  void run(char const* what, std::uint64_t n, F const& fn) const {
    detail::launch(what, n, fn, on_);
  }
  /// While alive, the map's launches go to an `_async` call's stream, without waiting.
  struct placed_on {
    device_map const& map;
    placed_on(device_map const& m, stream_ref s) : map(m) { map.on_ = {s, true}; }
    ~placed_on() { map.on_ = {}; }
    placed_on(placed_on const&) = delete;
    placed_on& operator=(placed_on const&) = delete;
  };
  /// Opens an `_async` call on `stream`: first waits for the map's queued work on another stream.
  void begin_async(stream_ref stream) const;
  /// `begin_async` for a call that changes keys: also ends outstanding refs, and opens a counter
  /// epoch for the counts of `_async` work (folded by `settle`) unless one is open.
  void begin_async_change(stream_ref stream);
  /// The slot references of insertions, waiting and `_async`, and of `erase_async` with values:
  /// at least m of them. Kept with the map, so later calls neither allocate nor touch new pages;
  /// `shrink_to_fit` releases it (`release_scratch`).
  std::uint64_t* ref_scratch(size_type m);
  void release_scratch() const;
  /// The `_async` insertions (see "Asynchronous calls"): queued when every input fits as a new
  /// key, else the waiting `apply_in_chunks`.
  template <class KeyIt, class ValueIt, class Op, class FlagIt>
  void apply_async(KeyIt keys_first, KeyIt keys_last, ValueIt values_first, order_rule rule, Op op,
                   FlagIt new_out, stream_ref stream);

  /// Waits for the map's queued `_async` work. Keeps its counts unfolded.
  void join() const;
  /// `join`, then folds the counts of `_async` work and outstanding refs into `size_` and
  /// `occupied_` (their counts since the last fold, read from the device). Keeps refs valid.
  void settle() const;
  /// `settle`, then invalidates outstanding refs and closes the counter epoch: every waiting call
  /// that changes the keys or moves the table begins here.
  void end_refs();

  double max_load_factor_;
  Hash hash_;
  KeyEqual equal_;
  Allocator alloc_;
  size_type capacity_ = 0;          ///< slots in the main table (a power of two)
  mutable size_type size_ = 0;      ///< live keys, side slots included
  mutable size_type occupied_ = 0;  ///< main-table slots that are live or tombstones
  /// capacity_ main slots, then the 2 side slots
  detail::vector_of<slot_type, Allocator> slots_{detail::rebind_t<Allocator, slot_type>(alloc_)};
  /// kernel-side counts: `counter_rows` rows of `counter_stride` (see detail/warp.hpp)
  mutable detail::vector_of<unsigned long long, Allocator> counters_{
      detail::rebind_t<Allocator, unsigned long long>(alloc_)};
  bool refs_out_ = false;          ///< refs were handed out and are valid
  size_type ref_claim_limit_ = 0;  ///< main slots the refs may claim, from their first ref()
  /// counters_ hold counts of refs' or `_async` work, since the last reset, not all folded yet
  mutable bool unsettled_ = false;
  mutable std::array<unsigned long long, detail::counter_count> ref_seen_{};  ///< folded so far
  /// The stream of the map's queued `_async` work, if any.
  mutable std::optional<stream_ref> async_stream_;
  /// Inputs of `_async` insertions since the last fold: a bound on the slots they claimed.
  mutable size_type async_claims_ = 0;
  /// Slot references for insertions and `erase_async` (`ref_scratch`), kept between calls.
  mutable detail::vector_of<std::uint64_t, Allocator> scratch_{
      detail::rebind_t<Allocator, std::uint64_t>(alloc_)};
  /// The slots claimed so far by the running insertion of several chunks, a bit per slot (see
  /// detail::claim_fn), carried by rehashes; empty otherwise.
  detail::vector_of<std::uint64_t, Allocator> claim_marks_{
      detail::rebind_t<Allocator, std::uint64_t>(alloc_)};
  /// Whether an insertion of several chunks is running: it undoes the claims of every chunk
  /// after a failed growth (freeing the marked slots, or clearing a map it found empty).
  bool in_batch_ = false;
  /// Where launches go now (`run`).
  mutable detail::placement on_{};
};

BULKMAP_NAMESPACE_END

#include <bulkmap/detail/device_map.inl>
