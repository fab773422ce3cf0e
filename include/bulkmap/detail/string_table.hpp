/**
 * @file detail/string_table.hpp
 * @brief The table of `string_map`: slots that hold a key's fingerprint and a reference into an
 * arena of key bytes, and the view that device code probes.
 *
 * Layout:
 * - **Slots** (`string_slot`, 32 bytes for 8-byte values): `tag`, the key's 64-bit hash with 0
 *   and 1 moved up to 2 and 3 (0 marks an empty slot, 1 a tombstone); `head` and `record`, the
 *   key itself when it has at most 15 bytes (`inline_head`, `inline_record`: its first 8 bytes,
 *   then a flag bit, the length and the other 7), else, in `record`, one past the arena word where
 *   the key's record starts; `record` is 0 while the claimer is still writing it; the value.
 * - **Arena**: 64-bit words. A record is the key's length in bytes, then its bytes, padded to a
 *   whole word. Claims append records (one atomic add on the arena's top); erasures leave their
 *   records behind as garbage, which `string_map` drops when it compacts the arena. Short keys
 *   (nine words in ten of the Linux source) take no arena at all, and are compared without
 *   reading it.
 *
 * Probing is linear from `tag & (capacity - 1)`, so a rehash moves slots without reading bytes.
 * A key is found where the tag matches and the record's bytes equal the key's: two keys with the
 * same hash never merge. A claim takes the slot with a compare-and-swap of its tag, then appends
 * the record and publishes it (release); a thread that finds the tag first waits for the record
 * (acquire) before it compares. The wait is the claimer's next few stores, made without
 * waiting on anything else, so every claim ends.
 *
 * The claim budget works as `table_view`'s (see table.hpp): claims stop at `claim_limit`, and
 * room in the arena is ensured on the host before each pass (`string_map::reserve_arena`).
 */
#pragma once

#include <bulkmap/bytes.hpp>
#include <bulkmap/config.hpp>
#include <bulkmap/detail/table.hpp>
#include <cstdint>
#include <cstring>
#include <cuda/atomic>

BULKMAP_NAMESPACE_BEGIN
namespace detail {

/// A `string_map` slot. `tag`: 0 empty, 1 tombstone, else the key's hash (see `string_tag`).
template <class T>
struct string_slot {
  std::uint64_t tag;
  std::uint64_t head;  ///< an inline key's first 8 bytes, zero-padded (`inline_head`)
  /// An inline key's flag, length and bytes 8 to 14 (`inline_record`), else the arena word of the
  /// key's record, plus one; 0 while being written
  std::uint64_t record;
  T value;
};

inline constexpr std::uint64_t string_empty = 0;
inline constexpr std::uint64_t string_tombstone = 1;

/// The tag of a key whose hash is `h`: `h`, with the two reserved values moved out of the way.
BULKMAP_HOST_DEVICE constexpr std::uint64_t string_tag(std::uint64_t h) noexcept {
  return h < 2 ? h + 2 : h;
}

/// Keys of at most this many bytes live in their slot's `head` and `record` words.
inline constexpr std::uint64_t inline_key_bytes = 15;
/// The flag of an inline key in a `record` word (arena references stay below it).
inline constexpr std::uint64_t inline_flag = std::uint64_t{1} << 63;

/// The `head` word of a key of at most 15 bytes: its first 8 bytes, zero-padded, the first byte
/// lowest (in memory, on a little-endian machine, the bytes come first).
BULKMAP_HOST_DEVICE inline std::uint64_t inline_head(byte_view key) noexcept {
  if (key.size < 8) return key.short_word();
  std::uint64_t w;
  memcpy(&w, key.data, 8);
  return w;
}

/// The `record` word of a key of at most 15 bytes: the flag, the length in bits 56 to 59, and
/// bytes 8 to 14 in bits 0 to 55, the first lowest. In memory they follow `head`, so the slot's
/// `head` word is where the key's bytes start.
BULKMAP_HOST_DEVICE inline std::uint64_t inline_record(byte_view key) noexcept {
  std::uint64_t const rest = key.size > 8 ? byte_view{key.data + 8, key.size - 8}.short_word() : 0;
  return inline_flag | (key.size << 56) | rest;
}

/// Arena words of the record of a key of `bytes` bytes: the length, then the padded bytes; none
/// for an inline key.
BULKMAP_HOST_DEVICE constexpr std::uint64_t record_words(std::uint64_t bytes) noexcept {
  return bytes <= inline_key_bytes ? 0 : 1 + (bytes + 7) / 8;
}

/// The trivially copyable view of a `string_map`'s table that device code probes.
template <class T, class Hash>
struct string_table_view {
  using slot_type = string_slot<T>;
  using value_type = T;
  using key_type = byte_view;

  slot_type* slots;
  std::uint64_t capacity;  ///< a power of two
  Hash hash;
  std::uint64_t* arena;
  /// The arena's top, in words: claims add their records there.
  unsigned long long* arena_top;
  /// Claims so far; a claim that would reach `claim_limit` fails instead (see table_view).
  unsigned long long* claims;
  unsigned long long claim_limit;
  bool budgeted = true;
  /// This view's pass, for the claim units its threads hold (warp.hpp: reserve_claim_unit).
  std::uint64_t budget_epoch = next_budget_epoch();

  BULKMAP_HOST_DEVICE static std::uint64_t load_tag(slot_type const& s) noexcept {
    return atomic_ref_t<std::uint64_t>(const_cast<std::uint64_t&>(s.tag))
        .load(cuda::std::memory_order_relaxed);
  }

  BULKMAP_HOST_DEVICE bool is_live(std::uint64_t i) const noexcept {
    return load_tag(slots[i]) > string_tombstone;
  }

  /// The `record` word of live slot `i`, once its claimer has written it.
  BULKMAP_HOST_DEVICE std::uint64_t record_word(std::uint64_t i) const noexcept {
    atomic_ref_t<std::uint64_t> const r(slots[i].record);
    std::uint64_t w = r.load(cuda::std::memory_order_acquire);
    while (w == 0) w = r.load(cuda::std::memory_order_acquire);  // the claimer is writing it
    return w;
  }

  /// The key held by live slot `i`: bytes in the slot itself (inline), or in the arena.
  BULKMAP_HOST_DEVICE byte_view key_at(std::uint64_t i) const noexcept {
    std::uint64_t const w = record_word(i);
    if (w & inline_flag) {
      return {reinterpret_cast<unsigned char const*>(&slots[i].head), (w >> 56) & 15};
    }
    std::uint64_t const* r = arena + (w - 1);
    return {reinterpret_cast<unsigned char const*>(r + 1), r[0]};
  }

  /// Whether live slot `i`, whose tag is the key's, holds `key`.
  BULKMAP_HOST_DEVICE bool holds(std::uint64_t i, byte_view key) const noexcept {
    if (key.size <= inline_key_bytes) {
      return record_word(i) == inline_record(key) && slots[i].head == inline_head(key);
    }
    std::uint64_t const w = record_word(i);
    return !(w & inline_flag) && key_at(i) == key;
  }

  /// Asks the CPU to fetch slot `i` for a write soon (omp backend; see detail::prefetching).
  BULKMAP_HOST_DEVICE void prefetch_slot(std::uint64_t i) const noexcept {
    prefetch_for_write(&slots[i]);
  }
  /// Prefetches the slot where `key`'s probe starts, hashing the key once more: counting the words
  /// of 100 MB of the Linux source on 2 cores took 14% less time with it.
  BULKMAP_HOST_DEVICE void prefetch_home(byte_view key) const noexcept {
#if defined(BULKMAP_BACKEND_OMP) && !defined(__CUDA_ARCH__)
    prefetch_slot(string_tag(hash(key)) & (capacity - 1));
#else
    (void)key;
#endif
  }

  /// Index of `key`'s slot, or `ref::npos` when absent. O(probe length + key length).
  BULKMAP_HOST_DEVICE std::uint64_t find(byte_view key) const noexcept {
    std::uint64_t const tag = string_tag(hash(key));
    std::uint64_t const mask = capacity - 1;
    for (std::uint64_t i = tag & mask;; i = (i + 1) & mask) {
      std::uint64_t const t = load_tag(slots[i]);
      if (t == string_empty) return ref::npos;
      if (t == tag && holds(i, key)) return i;
    }
  }

  /**
   * @brief Finds `key`, or claims an empty slot for it and appends its record, if the claim
   * budget allows (as `table_view::find_or_claim`). The new slot's value is zero.
   */
  BULKMAP_HOST_DEVICE claim_result find_or_claim(byte_view key) const noexcept {
    std::uint64_t const tag = string_tag(hash(key));
    std::uint64_t const mask = capacity - 1;
    bool reserved = false;  // holds one unit of the claim budget
    auto found = [&](std::uint64_t i) {
      if (reserved) release_claim_unit(*claims);
      return claim_result{i, false};
    };
    for (std::uint64_t i = tag & mask;; i = (i + 1) & mask) {
      std::uint64_t t = load_tag(slots[i]);
      if (t == string_empty) {
        if (budgeted && !reserved) {
          if (!reserve_claim_unit(*claims, claim_limit, budget_epoch)) return {ref::npos, false};
          reserved = true;
        }
        if (atomic_ref_t<std::uint64_t>(slots[i].tag)
                .compare_exchange_strong(t, tag, cuda::std::memory_order_relaxed)) {
          write_record(i, key);
          count_claim(*claims, budgeted);
          return {i, true};
        }
      }
      if (t == tag && holds(i, key)) return found(i);
    }
  }

 private:
  /// Publishes `key` in slot `i` (its claimer): inline, or as a record appended to the arena.
  BULKMAP_HOST_DEVICE void write_record(std::uint64_t i, byte_view key) const noexcept {
    atomic_ref_t<std::uint64_t> const published(slots[i].record);
    if (key.size <= inline_key_bytes) {
      slots[i].head = inline_head(key);
      published.store(inline_record(key), cuda::std::memory_order_release);
      return;
    }
    std::uint64_t const words = record_words(key.size);
    std::uint64_t const at = atomic_ref_t<unsigned long long>(*arena_top)
                                 .fetch_add(words, cuda::std::memory_order_relaxed);
    std::uint64_t* const r = arena + at;
    r[0] = key.size;
    if (key.size != 0) {
      r[words - 1] = 0;  // the padding after the last byte
      memcpy(r + 1, key.data, key.size);
    }
    published.store(at + 1, cuda::std::memory_order_release);
  }
};

}  // namespace detail
BULKMAP_NAMESPACE_END
