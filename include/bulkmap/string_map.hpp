/**
 * @file string_map.hpp
 * @brief `bulkmap::string_map`: a growing hash map with byte-string keys on the backend's device,
 * driven in bulk, that compares keys by their bytes (exact: no two keys ever merge).
 *
 * Example: count words given in the columnar layout, and read them back sorted.
 * @code
 * bulkmap::string_map<std::uint64_t> counts;
 * counts.count(bulkmap::string_batch({"to", "be", "or", "not", "to", "be"}));
 * auto mirror = counts.to_host();      // {"be": 2, "not": 1, "or": 1, "to": 2}
 * for (auto&& [word, n] : mirror) std::cout << word << '\t' << n << '\n';
 * @endcode
 */
#pragma once

#include <thrust/device_allocator.h>
#include <thrust/device_vector.h>
#include <thrust/functional.h>

#include <array>
#include <bulkmap/bytes.hpp>
#include <bulkmap/config.hpp>
#include <bulkmap/detail/backend.hpp>
#include <bulkmap/detail/string_table.hpp>
#include <bulkmap/error.hpp>
#include <bulkmap/hash.hpp>
#include <bulkmap/string_mirror.hpp>
#include <cstddef>
#include <cstdint>
#include <vector>

BULKMAP_NAMESPACE_BEGIN

/**
 * @brief Byte-string keys and their values in device vectors, in the columnar layout: key i is
 * `bytes[offsets[i], offsets[i + 1])` and goes with `values[i]`; `offsets` has one entry more
 * than `values`, and starts at 0. Rust counterpart: `Vec<(Vec<u8>, T)>`, from `HashMap::drain`.
 */
template <class T>
struct string_pairs {
  thrust::device_vector<unsigned char> bytes;
  thrust::device_vector<std::uint64_t> offsets;
  thrust::device_vector<T> values;
};

/**
 * @brief An open-addressing hash map from byte strings to values, whose storage lives on the
 * backend's device, filled and queried a batch at a time.
 *
 * Rust counterpart: `std::collections::HashMap<Vec<u8>, T>` (or `HashMap<String, T>` without the
 * UTF-8 check), each method taking a whole batch. Keys are any bytes: empty, longer than 64 KiB,
 * NUL, invalid UTF-8. Within a batch, repeated keys behave as the sequential loop over the batch
 * in order (`insert` keeps the first occurrence's value).
 *
 * **Batches** come in the columnar layout (Apache Arrow's, for one): a pointer to the bytes, and
 * n + 1 offsets into them, key i being `bytes[offsets[i], offsets[i + 1])`. Offsets may be any
 * integer type and need not start at 0, but must not decrease; `bytes` must be device-accessible
 * (a raw pointer or a `thrust::device_ptr`). Each call also takes a host `string_batch`, and a
 * device-accessible range of `byte_view`s (keys anywhere in device memory, such as the tokens
 * of a text, without copying them together first).
 *
 * **Storage.** The map owns its keys' bytes, in an arena that grows with the map. A slot holds
 * the key's 64-bit hash (its tag), a reference to the key's record in the arena, and the value;
 * keys are found by tag, then compared byte by byte, so keys whose hashes collide stay apart.
 * Erased keys leave their bytes in the arena until the map compacts it: at the start of an
 * insertion when at least half of the arena is garbage, and in `shrink_to_fit`. Keys of at most
 * 15 bytes live in their slot (32 bytes for 8-byte values) and take no arena. To receive a batch's
 * new keys, an insertion keeps room in the arena for every longer key of a chunk (2^22 keys, fewer
 * when their records would pass 64 MiB): 8 bytes per key plus its bytes, rounded up to 8.
 *
 * Owning and move-only. Not thread-safe: one host thread drives a map at a time. Every call waits
 * for its work to finish before it returns.
 *
 * @tparam T an integer or floating type of 4 or 8 bytes, or a trivially copyable type of 4 or 8
 * bytes without padding bits (`bulkmap::is_value_v`, at most 8 bytes)
 * @tparam Hash callable on host and device as `std::uint64_t(bulkmap::byte_view)`; equal bytes
 * must hash equally. Rust counterpart: the map's `BuildHasher`.
 * @tparam Allocator where the map's device memory comes from, as for `device_map`: the slots,
 * the arena, and every call's temporaries. Rust counterpart: `HashMap`'s `A: Allocator`.
 */
template <class T, class Hash = bulkmap::bytes_hash,
          class Allocator = thrust::device_allocator<char>>
class string_map {
  static_assert(is_value_v<T> && sizeof(T) <= 8,
                "bulkmap::string_map: T must be an integer or floating type of 4 or 8 bytes, or a "
                "trivially copyable type of 4 or 8 bytes without padding");

 public:
  using key_type = byte_view;
  using mapped_type = T;
  using size_type = std::size_t;
  using hasher = Hash;
  using allocator_type = Allocator;

  /// Default max load factor: half the slots, which keeps linear probes short.
  static constexpr double default_max_load_factor = 0.5;

  /**
   * @brief Makes an empty map with room for `n` keys before its table first grows.
   * Rust: `HashMap::with_capacity(n)`. Allocates `capacity()` slots (at least 16), O(capacity);
   * the arena starts empty.
   * @param max_load_factor fraction of slots the map fills before it grows, in (0, 1)
   * @throw std::invalid_argument if `max_load_factor` is not in (0, 1)
   * @throw bulkmap::out_of_memory if the slots cannot be allocated. Waits for completion.
   */
  explicit string_map(size_type n = 0, double max_load_factor = default_max_load_factor,
                      Hash const& hash = Hash{}, Allocator const& alloc = Allocator{});

  string_map(string_map&&) noexcept = default;
  string_map& operator=(string_map&&) noexcept = default;
  string_map(string_map const&) = delete;
  string_map& operator=(string_map const&) = delete;

  /// Number of keys. Rust: `len`. O(1), no device access.
  [[nodiscard]] size_type size() const noexcept { return size_; }
  /// Rust: `is_empty`. O(1).
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
  /// Number of slots (a power of two); the map holds up to `capacity() * max_load_factor()`
  /// keys before it grows. O(1).
  [[nodiscard]] size_type capacity() const noexcept { return capacity_; }
  /// `size() / capacity()`. O(1).
  [[nodiscard]] double load_factor() const noexcept {
    return static_cast<double>(size_) / static_cast<double>(capacity_);
  }
  [[nodiscard]] double max_load_factor() const noexcept { return max_load_factor_; }
  /// Bytes the arena holds: the records of the keys (8 bytes of length each, and the key's bytes
  /// rounded up to 8), erased keys' records not yet compacted away, and room for new keys. O(1).
  [[nodiscard]] size_type arena_bytes() const noexcept { return 8 * arena_.size(); }
  [[nodiscard]] hasher hash_function() const { return hash_; }
  [[nodiscard]] allocator_type get_allocator() const { return alloc_; }

  /**
   * @brief Makes room for `additional` more keys without growing the table. Rust: `reserve`.
   * O(capacity) when it rehashes. Key bytes are not reserved: the arena grows as keys arrive.
   * @throw bulkmap::out_of_memory if the larger table cannot be allocated; the map is unchanged.
   * Waits for completion.
   */
  void reserve(size_type additional);

  /**
   * @brief Rehashes into the smallest table that holds `size()` keys, dropping tombstones, and
   * compacts the arena to the live keys' records. Rust: `shrink_to_fit`. O(capacity + key bytes).
   * @throw bulkmap::out_of_memory if the new table or arena cannot be allocated; the map is
   * unchanged. Waits for completion.
   */
  void shrink_to_fit();

  /// Removes every key; keeps the table's capacity and the arena's memory. Rust: `clear`.
  /// O(capacity). Waits for completion.
  void clear();

  /**
   * @brief Inserts each absent key with its value; present keys keep theirs. For a key repeated
   * in the batch, the first occurrence's value wins, as in the sequential loop.
   * Rust: `for (k, v) in kv { m.entry(k).or_insert(v); }`.
   * @param bytes device-accessible pointer to the keys' bytes
   * @param offsets_first, offsets_last the n + 1 offsets of the n keys into `bytes`
   * (random-access, device-accessible, integers that do not decrease)
   * @param values_first device-accessible random-access range of n values
   * @return number of keys that were new
   * @throw std::invalid_argument if the offsets are fewer than one or decrease
   * @throw bulkmap::out_of_memory if the table or the arena cannot grow; the map is then exactly
   * as before the call. Waits for completion. Complexity: O(n + key bytes) expected.
   */
  template <class BytePtr, class OffsetIt, class ValueIt>
  size_type insert(BytePtr bytes, OffsetIt offsets_first, OffsetIt offsets_last,
                   ValueIt values_first);
  /// Host overload of `insert`; `values` has one value per key of `keys`.
  size_type insert(string_batch const& keys, std::vector<T> const& values);
  /// `insert` of keys given as a device-accessible random-access range of `byte_view`s (each
  /// pointing to device-accessible bytes, valid during the call).
  template <class KeyIt, class ValueIt>
  size_type insert(KeyIt keys_first, KeyIt keys_last, ValueIt values_first);

  /**
   * @brief Folds each value into its key's value with `op`; absent keys start at their first
   * value. Rust: `m.entry(k).and_modify(|x| *x = op(*x, v)).or_insert(v)` for each pair.
   * `thrust::plus<T>` (and for integers `bit_or`, `bit_xor`, unsigned `maximum`) take one atomic
   * per key; other operators take a few more passes, as in `device_map`.
   * @tparam Op associative, commutative functor `T(T, T)` callable on host and device
   * Arguments, result, errors and waiting as `insert`.
   */
  template <class BytePtr, class OffsetIt, class ValueIt, class Op>
  size_type insert_or_accumulate(BytePtr bytes, OffsetIt offsets_first, OffsetIt offsets_last,
                                 ValueIt values_first, Op op);
  /// Host overload of `insert_or_accumulate`.
  template <class Op>
  size_type insert_or_accumulate(string_batch const& keys, std::vector<T> const& values, Op op);
  /// `insert_or_accumulate` of keys given as `byte_view`s (see `insert`).
  template <class KeyIt, class ValueIt, class Op>
  size_type insert_or_accumulate(KeyIt keys_first, KeyIt keys_last, ValueIt values_first, Op op);

  /**
   * @brief Adds one to each key's count; absent keys start at one. Rust:
   * `*m.entry(k).or_insert(0) += 1` for each key. Arguments, errors and waiting as `insert`.
   * @return number of keys that were new
   */
  template <class BytePtr, class OffsetIt>
  size_type count(BytePtr bytes, OffsetIt offsets_first, OffsetIt offsets_last);
  /// Host overload of `count`.
  size_type count(string_batch const& keys);
  /// `count` of keys given as `byte_view`s (see `insert`).
  template <class KeyIt>
  size_type count(KeyIt keys_first, KeyIt keys_last);

  /**
   * @brief Writes each key's value, or `missing_value` for an absent key. Rust: `m.get(&k)`.
   * @param values_out device-accessible random-access output of n values
   * @throw std::invalid_argument as `insert`. Waits for completion. O(n + key bytes) expected.
   */
  template <class BytePtr, class OffsetIt, class OutIt>
  void find(BytePtr bytes, OffsetIt offsets_first, OffsetIt offsets_last, OutIt values_out,
            T missing_value) const;
  /// Host overload of `find`.
  [[nodiscard]] std::vector<T> find(string_batch const& keys, T missing_value) const;
  /// `find` of keys given as `byte_view`s (see `insert`).
  template <class KeyIt, class OutIt>
  void find(KeyIt keys_first, KeyIt keys_last, OutIt values_out, T missing_value) const;

  /**
   * @brief Writes whether each key is present. Rust: `m.contains_key(&k)`.
   * @param flags_out device-accessible random-access output of n values convertible from `bool`
   * @throw std::invalid_argument as `insert`. Waits for completion. O(n + key bytes) expected.
   */
  template <class BytePtr, class OffsetIt, class OutIt>
  void contains(BytePtr bytes, OffsetIt offsets_first, OffsetIt offsets_last,
                OutIt flags_out) const;
  /// Host overload of `contains`.
  [[nodiscard]] std::vector<bool> contains(string_batch const& keys) const;
  /// `contains` of keys given as `byte_view`s (see `insert`).
  template <class KeyIt, class OutIt>
  void contains(KeyIt keys_first, KeyIt keys_last, OutIt flags_out) const;

  /**
   * @brief Removes each key that is present. Rust: `m.remove(&k)`. A repeated key is removed
   * once. Its bytes stay in the arena until the next compaction.
   * @return number of keys removed
   * @throw std::invalid_argument as `insert`. Waits for completion. O(n + key bytes) expected.
   */
  template <class BytePtr, class OffsetIt>
  size_type erase(BytePtr bytes, OffsetIt offsets_first, OffsetIt offsets_last);
  /// Host overload of `erase`.
  size_type erase(string_batch const& keys);
  /// `erase` of keys given as `byte_view`s (see `insert`).
  template <class KeyIt>
  size_type erase(KeyIt keys_first, KeyIt keys_last);

  /**
   * @brief Removes every pair for which `pred(key, value)` is false. Keeps capacity.
   * Rust: `HashMap::retain`. Differs: `pred` runs in parallel, in unspecified order, and cannot
   * change the value.
   * @tparam Pred callable on host and device as `bool(bulkmap::byte_view, T const&)`; the view
   * points into the map's arena
   * @return number of pairs removed
   * @throw bulkmap::cuda_error if a kernel fails. Waits for completion. O(capacity).
   */
  template <class Pred>
  size_type retain(Pred pred);

  /**
   * @brief Moves every pair out and leaves the map empty, with its capacity and arena memory.
   * Rust: `m.drain().collect()`. Order: unspecified (the slots').
   * @throw bulkmap::out_of_memory if the output cannot be allocated; the map is unchanged.
   * Waits for completion. O(capacity + key bytes).
   */
  string_pairs<T> drain();

  /**
   * @brief Copies the pairs to host memory, sorted by key bytes. Rust: `m.iter()` on the host.
   * @throw bulkmap::out_of_memory if the device-side copy cannot be allocated.
   * Waits for completion. O(capacity + key bytes + n log n).
   */
  [[nodiscard]] string_mirror<T> to_host() const;

 private:
  using view_type = detail::string_table_view<T, Hash>;
  using slot_type = detail::string_slot<T>;
  enum class order_rule { first_wins, fold };

  /// The map's kernel-side counters (each a column of `counter_rows` rows; see warp.hpp).
  enum counter : std::size_t {
    claims,
    any_failed,
    removed,
    removed_words,
    arena_top,
    counter_count
  };
  static_assert(claims == 0, "the claim budget's counter is column 0 (reserve_claim_unit)");

  [[nodiscard]] view_type view() const;
  [[nodiscard]] std::array<unsigned long long, counter_count> read_counters() const;
  void reset_counters(unsigned long long top);
  template <class F>
  void run(char const* what, size_type n, F const& fn) const;
  void rehash(size_type new_capacity);
  /// Makes the arena hold at least `words` more words past its top. Before any claim.
  void reserve_arena(size_type words);
  /// Copies the live keys' records into a new arena of their size plus `spare` words.
  void compact_arena(size_type spare);
  /// Finds or claims the slots of a chunk's n inputs, growing the table as needed (see
  /// device_map::locate_chunk); returns the keys claimed. A failed growth undoes the chunk.
  /// `also`: `detail::locate_only`, or a `detail::fused_fold` (folds each input as it locates).
  template <class KeyIt, class Also = detail::locate_only>
  size_type locate_chunk(KeyIt keys, size_type n, std::uint64_t* refs, bool mark_absent,
                         Also also = {});
  /// Undoes the `claimed` claims that a chunk's `refs` record (and the folds of a fused fold),
  /// and its records past `top`.
  template <class KeyIt, class Also = detail::locate_only>
  void unclaim_chunk(KeyIt keys, std::uint64_t const* refs, size_type n, size_type claimed,
                     size_type top, Also also = {});
  /// The keys of a batch in the columnar layout, as a range of `byte_view`s.
  /// @throw std::invalid_argument unless the offsets are at least one and do not decrease
  template <class BytePtr, class OffsetIt>
  auto batch_keys(char const* what, BytePtr bytes, OffsetIt offsets_first,
                  OffsetIt offsets_last) const;
  /// Every insertion: the keys in chunks, as the file head of string_map.inl says.
  template <class KeyIt, class ValueIt, class Op>
  size_type apply(char const* what, KeyIt keys_first, KeyIt keys_last, ValueIt values_first,
                  order_rule rule, Op op);
  /// A chunk's value passes: the first values' election (`first`), the folds (`fold`).
  template <class ValueIt, class Op>
  void write_values(ValueIt values, size_type n, std::uint64_t* refs, bool first, bool fold, Op op);
  /// The live slots' pairs, in the layout of `string_pairs`.
  [[nodiscard]] string_pairs<T> collect() const;

  double max_load_factor_;
  Hash hash_;
  Allocator alloc_;
  size_type capacity_ = 0;
  size_type size_ = 0;           ///< live keys
  size_type occupied_ = 0;       ///< slots that are live or tombstones
  size_type arena_top_ = 0;      ///< arena words in use: records, live or garbage
  size_type garbage_words_ = 0;  ///< words of erased keys' records
  detail::vector_of<slot_type, Allocator> slots_{detail::rebind_t<Allocator, slot_type>(alloc_)};
  detail::vector_of<std::uint64_t, Allocator> arena_{
      detail::rebind_t<Allocator, std::uint64_t>(alloc_)};
  mutable detail::vector_of<unsigned long long, Allocator> counters_{
      detail::rebind_t<Allocator, unsigned long long>(alloc_)};
};

BULKMAP_NAMESPACE_END

#include <bulkmap/detail/string_map.inl>
