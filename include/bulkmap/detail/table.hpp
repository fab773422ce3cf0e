/**
 * @file detail/table.hpp
 * @brief The open-addressing table every kernel works on: slot layout, sentinels, probing.
 *
 * Layout: `capacity` main slots (a power of two) followed by two side slots. A main slot's key
 * word is a user key, `empty` or `tombstone`. User keys whose word equals one of those two
 * sentinels live in the side slots (side slot 0 for `empty`, 1 for `tombstone`), which are
 * occupied when their key word is `side_occupied` and free when it is `empty`. Key words are 32,
 * 64 or 128 bits (`key_word_t`); `key_word_ops` reads and swaps them atomically.
 *
 * Invariants the kernels rely on:
 * - A free slot (empty main slot, free side slot) has a value of all-zero bits, so a new key's
 *   value starts at zero, the identity of `plus`, `bit_or`, `bit_xor` and unsigned `maximum`.
 * - Claims never reuse a tombstone, and at least one main slot stays empty (claims are budgeted
 *   below the capacity), so every probe ends.
 *
 * Key equality. With `bulkmap::equal_to` two keys are equal when their words are, and a key
 * belongs in a side slot when its word is a sentinel. A custom `KeyEqual` runs only between user
 * keys: empty and tombstone are still recognised by their bits. A key belongs in side slot 0 or 1
 * when it is equal to the key whose bits are `empty` or `tombstone` (so no key of that class can
 * land in the main slots too), and a side slot reports that sentinel key as its key. A main slot
 * holds one key of its class, whose bits bulk insertions choose (see insert.hpp: keep_key_fn).
 */
#pragma once

#include <bulkmap/config.hpp>
#include <bulkmap/detail/warp.hpp>
#include <bulkmap/hash.hpp>
#include <cstdint>
#include <cstring>
#include <cuda/atomic>
#include <cuda/std/cstdint>
#include <cuda/std/type_traits>

BULKMAP_NAMESPACE_BEGIN
namespace detail {

/// How a user key is stored in a slot: its bits (`key_bits`), a 32-, 64- or 128-bit word.
template <class Key>
struct key_traits {
  using word = key_word_t<Key>;
  static constexpr word empty = ~word{0};
  static constexpr word tombstone = ~word{0} - 1;
  static constexpr word side_occupied = 0;
  /// Keys narrower than their word (1-, 2- and 12-byte keys, say) never equal a sentinel.
  static constexpr bool needs_side_slots = sizeof(Key) == sizeof(word);
  /// 16-byte words: their atomics need more than one instruction on some machines (key_word_ops).
  static constexpr bool wide = sizeof(word) == 16;

  BULKMAP_HOST_DEVICE static word encode(Key const& key) noexcept { return key_bits(key); }
  BULKMAP_HOST_DEVICE static Key decode(word w) noexcept { return key_from_bits<Key>(w); }
  BULKMAP_HOST_DEVICE static constexpr bool is_sentinel(word w) noexcept { return w >= tombstone; }
};

/**
 * How a slot is laid out: `plain`, a key word and a value; `wide_key`, a 16-byte key word, the
 * value and a guard word; `wide_value`, a key word of at most 8 bytes, a guard word and a 16-byte
 * value. The guard (see key_word_ops and value_ops) fills padding that 16-byte alignment leaves,
 * so a slot of a 16-byte key or value is 32 bytes (48 when both are 16 bytes).
 */
enum class slot_layout { plain, wide_key, wide_value };

template <class Key, class T>
inline constexpr slot_layout layout_of = key_traits<Key>::wide
                                             ? slot_layout::wide_key
                                             : (sizeof(T) == 16 ? slot_layout::wide_value
                                                                : slot_layout::plain);

/// Alignment of a slot's value: 16 for 16-byte values (for 128-bit atomics), else the type's.
template <class T>
inline constexpr std::size_t value_alignment = sizeof(T) == 16 ? 16 : alignof(T);

/// One slot: a key word and its value, array of structs.
template <class Key, class T, slot_layout Layout = layout_of<Key, T>>
struct slot {
  typename key_traits<Key>::word key;
  T value;
};

/// A slot of a 16-byte key: the key word as two 64-bit halves (low first, the layout of an
/// `unsigned __int128`), the value and the guard.
template <class Key, class T>
struct slot<Key, T, slot_layout::wide_key> {
  alignas(16) std::uint64_t key[2];
  alignas(value_alignment<T>) T value;
  std::uint32_t guard;
};

/// A slot of a 16-byte value and a key of at most 8 bytes.
template <class Key, class T>
struct slot<Key, T, slot_layout::wide_value> {
  typename key_traits<Key>::word key;
  std::uint32_t guard;
  alignas(16) T value;
};

/**
 * @brief Atomic access to a slot's key word: a load and a strong compare-and-swap, both relaxed.
 *
 * Words of 4 and 8 bytes use the hardware's atomics. 16-byte words:
 * - **On a GPU of compute capability 9.0 or later:** one 128-bit compare-and-swap
 *   (`atom.cas.b128`) and one 128-bit load (`ld.relaxed.gpu.b128`); the guard is unused.
 * - **Elsewhere (the omp backend, GPUs before sm_90):** a sequence lock in the slot's guard word
 *   (`slot_guard`). A writer takes the guard from even to odd with a 32-bit compare-and-swap,
 *   writes the two halves and releases the guard at the next even number. A reader reads the
 *   guard, the halves and the guard again, and retries until the guard was even and unchanged,
 *   so it never sees a half-written key. A slot's key changes at most a few times (empty, key,
 *   tombstone), so readers rarely retry and writers rarely wait.
 */
template <class Slot, bool Wide = sizeof(Slot::key) == 16>
struct key_word_ops {
  using word = decltype(Slot::key);

  BULKMAP_HOST_DEVICE static word load(Slot const& s) noexcept {
    return atomic_ref_t<word>(const_cast<word&>(s.key)).load(cuda::std::memory_order_relaxed);
  }
  BULKMAP_HOST_DEVICE static bool compare_exchange(Slot& s, word& expected, word desired) noexcept {
    return atomic_ref_t<word>(s.key).compare_exchange_strong(expected, desired,
                                                             cuda::std::memory_order_relaxed);
  }
  /// A plain store, for slots no other thread reads or writes meanwhile.
  BULKMAP_HOST_DEVICE static void store_unshared(Slot& s, word w) noexcept { s.key = w; }
};

/// Whether this code runs where 16-byte words have native atomics (a GPU of sm_90 or later).
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
#define BULKMAP_NATIVE_ATOMIC128 1
#endif

/**
 * The guard word of a slot with a 16-byte key or value, where 128-bit atomics are not native: a
 * sequence lock. `lock` waits for an even value and makes it odd; `unlock` makes it even again,
 * one step on. Readers compare the values before and after their reads (`stable`).
 */
struct slot_guard {
  atomic_ref_t<std::uint32_t> word;

  BULKMAP_HOST_DEVICE explicit slot_guard(std::uint32_t& w) noexcept : word(w) {}
  /// Takes the lock; returns the even value it found.
  BULKMAP_HOST_DEVICE std::uint32_t lock() const noexcept {
    std::uint32_t g = word.load(cuda::std::memory_order_relaxed);
    for (;;) {
      if (g & 1u) {
        g = word.load(cuda::std::memory_order_relaxed);
      } else if (word.compare_exchange_weak(g, g + 1, cuda::std::memory_order_acquire,
                                            cuda::std::memory_order_relaxed)) {
        return g;
      }
    }
  }
  /// Releases the lock taken at `g`.
  BULKMAP_HOST_DEVICE void unlock(std::uint32_t g) const noexcept {
    word.store(g + 2, cuda::std::memory_order_release);
  }
  /// An even guard value to read under (waits out a writer).
  BULKMAP_HOST_DEVICE std::uint32_t read_begin() const noexcept {
    for (;;) {
      std::uint32_t const g = word.load(cuda::std::memory_order_acquire);
      if (!(g & 1u)) return g;
    }
  }
  /// Whether no writer came between `read_begin` (which returned `g`) and now.
  BULKMAP_HOST_DEVICE bool stable(std::uint32_t g) const noexcept {
    cuda::atomic_thread_fence(cuda::std::memory_order_acquire, cuda::thread_scope_device);
    return word.load(cuda::std::memory_order_relaxed) == g;
  }
};

/// The 16 bytes at `p` (16-aligned), read as two relaxed 64-bit atomic loads.
BULKMAP_HOST_DEVICE inline unsigned __int128 load_halves(void* p) noexcept {
  auto* h = static_cast<std::uint64_t*>(p);
  auto const low = atomic_ref_t<std::uint64_t>(h[0]).load(cuda::std::memory_order_relaxed);
  auto const high = atomic_ref_t<std::uint64_t>(h[1]).load(cuda::std::memory_order_relaxed);
  return (static_cast<unsigned __int128>(high) << 64) | low;
}

/// Writes the 16 bytes at `p` (16-aligned) as two relaxed 64-bit atomic stores.
BULKMAP_HOST_DEVICE inline void store_halves(void* p, unsigned __int128 w) noexcept {
  auto* h = static_cast<std::uint64_t*>(p);
  atomic_ref_t<std::uint64_t>(h[0]).store(static_cast<std::uint64_t>(w),
                                          cuda::std::memory_order_relaxed);
  atomic_ref_t<std::uint64_t>(h[1]).store(static_cast<std::uint64_t>(w >> 64),
                                          cuda::std::memory_order_relaxed);
}

#if defined(BULKMAP_NATIVE_ATOMIC128)
/// One 128-bit relaxed load (`ld.relaxed.gpu.b128`) of the 16 bytes at `p` (16-aligned).
__device__ inline unsigned __int128 load128(void const* p) noexcept {
  std::uint64_t low, high;
  asm volatile("{\n\t.reg .b128 w;\n\tld.relaxed.gpu.b128 w, [%2];\n\tmov.b128 {%0, %1}, w;\n\t}"
               : "=l"(low), "=l"(high)
               : "l"(p)
               : "memory");
  return (static_cast<unsigned __int128>(high) << 64) | low;
}
#endif

template <class Slot>
struct key_word_ops<Slot, true> {
  using word = unsigned __int128;

  BULKMAP_HOST_DEVICE static word load(Slot const& cs) noexcept {
    Slot& s = const_cast<Slot&>(cs);
#if defined(BULKMAP_NATIVE_ATOMIC128)
    return load128(s.key);
#else
    slot_guard const guard(s.guard);
    for (;;) {
      std::uint32_t const g = guard.read_begin();
      word const w = load_halves(s.key);
      if (guard.stable(g)) return w;
    }
#endif
  }

  BULKMAP_HOST_DEVICE static bool compare_exchange(Slot& s, word& expected, word desired) noexcept {
#if defined(BULKMAP_NATIVE_ATOMIC128)
    word const old = atomicCAS(reinterpret_cast<word*>(s.key), expected, desired);
#else
    word const seen = load(s);
    if (seen != expected) {  // fails without taking the guard
      expected = seen;
      return false;
    }
    slot_guard const guard(s.guard);
    std::uint32_t const g = guard.lock();
    word const old = load_halves(s.key);
    if (old == expected) store_halves(s.key, desired);
    guard.unlock(g);
#endif
    if (old == expected) return true;
    expected = old;
    return false;
  }

  BULKMAP_HOST_DEVICE static void store_unshared(Slot& s, word w) noexcept {
    s.key[0] = static_cast<std::uint64_t>(w);
    s.key[1] = static_cast<std::uint64_t>(w >> 64);
  }
};

/**
 * @brief How `table_view::find_or_claim` takes an empty slot: a compare-and-swap of the key word
 * alone (the slot's value stays zero until the claimer writes it).
 */
struct claim_key {
  template <class Slot, class Word>
  BULKMAP_HOST_DEVICE bool operator()(Slot& s, Word& expected, Word desired) const noexcept {
    return key_word_ops<Slot>::compare_exchange(s, expected, desired);
  }
};

// Bitmaps of 64-bit words, bit i of word i / 64 for item i: slot bitmaps (a bit per slot, main
// and side: the claims of a batch, `claim_marking`'s attempts) and input bitmaps (`claim_fn`'s
// failed inputs). Bits change atomically: other threads change bits of the same word.

/// Words of a bitmap of n bits.
BULKMAP_HOST_DEVICE constexpr std::uint64_t bitmap_words(std::uint64_t n) noexcept {
  return (n + 63) / 64;
}

/// Sets bit i of `bits`; skips the read-modify-write when the bit is set already.
BULKMAP_HOST_DEVICE inline void set_bit(std::uint64_t* bits, std::uint64_t i) noexcept {
  std::uint64_t const bit = std::uint64_t{1} << (i % 64);
  atomic_ref_t<std::uint64_t> word(bits[i / 64]);
  if (!(word.load(cuda::std::memory_order_relaxed) & bit)) {
    word.fetch_or(bit, cuda::std::memory_order_relaxed);
  }
}

/// Clears bit i of `bits`.
BULKMAP_HOST_DEVICE inline void clear_bit(std::uint64_t* bits, std::uint64_t i) noexcept {
  atomic_ref_t<std::uint64_t>(bits[i / 64])
      .fetch_and(~(std::uint64_t{1} << (i % 64)), cuda::std::memory_order_relaxed);
}

/// Whether bit i of `bits` is set.
BULKMAP_HOST_DEVICE inline bool test_bit(std::uint64_t const* bits, std::uint64_t i) noexcept {
  return (atomic_ref_t<std::uint64_t>(const_cast<std::uint64_t&>(bits[i / 64]))
              .load(cuda::std::memory_order_relaxed) >>
          (i % 64)) &
         1;
}

/**
 * @brief How `table_view::find_or_claim` takes an empty slot in `insert`'s one-pass path
 * (`first_writes`): it sets slot i's bit in `attempted` (one bit per slot, main and side, cleared
 * before the pass), then swaps the key in. Slots go from empty to a key, never back, while keys
 * are inserted: so a set bit means the slot was empty during the pass, and whatever key it holds
 * now was claimed by the pass. The fences order the bit before the key: a thread that finds the
 * key, then asks `claimed_by_pass`, sees the bit.
 */
template <class Slot>
struct claim_marking {
  Slot const* slots;
  std::uint64_t* attempted;

  template <class Word>
  BULKMAP_HOST_DEVICE bool operator()(Slot& s, Word& expected, Word desired) const noexcept {
    // Only a slot that is empty gets a mark (a side slot is tried whatever it holds).
    if (Word const now = key_word_ops<Slot>::load(s); now != expected) {
      expected = now;
      return false;
    }
    set_bit(attempted, static_cast<std::uint64_t>(&s - slots));
    cuda::atomic_thread_fence(cuda::std::memory_order_release, cuda::thread_scope_device);
    return key_word_ops<Slot>::compare_exchange(s, expected, desired);
  }
  /// Whether the key found in slot i was claimed during the pass (call after finding it).
  BULKMAP_HOST_DEVICE bool claimed_by_pass(std::uint64_t i) const noexcept {
    cuda::atomic_thread_fence(cuda::std::memory_order_acquire, cuda::thread_scope_device);
    return test_bit(attempted, i);
  }
};

/// Whether a slot is one 64-bit word, a 4-byte key word and a 4-byte value with no padding, so
/// one compare-and-swap can write its key and value together (`claim_with_value`).
template <class Slot>
inline constexpr bool is_packed_slot_v = sizeof(Slot) == 8 && sizeof(Slot::key) == 4 &&
                                         sizeof(Slot::value) == 4;

/**
 * @brief How `table_view::find_or_claim` takes an empty slot of a packed slot type
 * (`is_packed_slot_v`): one 64-bit compare-and-swap from (empty, zero) to (key, `value`), so no
 * thread ever sees the key without its first value. A side slot being freed holds `empty` with
 * its old value for a moment (erase.hpp: free_slot); the claim waits that moment out.
 */
template <class Slot>
struct claim_with_value {
  static_assert(is_packed_slot_v<Slot>, "claim_with_value: the slot must be 8 bytes, 4 + 4");
  decltype(Slot::value) value;

  BULKMAP_HOST_DEVICE static std::uint64_t pack(Slot const& s) noexcept {
    std::uint64_t bits;
    memcpy(&bits, &s, sizeof(bits));
    return bits;
  }
  BULKMAP_HOST_DEVICE bool operator()(Slot& s, decltype(Slot::key)& expected,
                                      decltype(Slot::key) desired) const noexcept {
    std::uint64_t const want = pack(Slot{desired, value});
    atomic_ref_t<std::uint64_t> whole(*reinterpret_cast<std::uint64_t*>(&s));
    for (;;) {
      std::uint64_t seen = pack(Slot{expected, {}});
      if (whole.compare_exchange_strong(seen, want, cuda::std::memory_order_relaxed)) return true;
      Slot now;
      memcpy(&now, &seen, sizeof(now));
      if (now.key != expected) {
        expected = now.key;
        return false;
      }
    }
  }
};

/// A free slot: the empty key word, a zero value (and a zero guard).
template <class Key, class T>
BULKMAP_HOST_DEVICE slot<Key, T> empty_slot() noexcept {
  slot<Key, T> s{};
  key_word_ops<slot<Key, T>>::store_unshared(s, key_traits<Key>::empty);
  return s;
}

/// Indices of the map's kernel-side counters, in each row (see `counter_rows`).
enum counter : std::size_t { claims, side_claims, any_failed, removed, any_repeat, counter_count };
static_assert(counter_count <= units_handed_out,
              "the counters must fit in a row, before the budget's");
static_assert(claims == 0, "the claim budget's counter is column 0 (reserve_claim_unit)");

/// Number of side slots after the main table.
inline constexpr std::size_t side_slot_count = 2;

/**
 * Per-input slot references written by the locate pass: the slot index in the low bits, and
 * flags in the high bits.
 */
struct ref {
  static constexpr std::uint64_t failed = std::uint64_t{1} << 63;   ///< no room: retry after growth
  static constexpr std::uint64_t claimed = std::uint64_t{1} << 62;  ///< this input claimed the slot
  static constexpr std::uint64_t absent = std::uint64_t{1} << 61;   ///< key absent at chunk start
  static constexpr std::uint64_t winner = std::uint64_t{1} << 60;   ///< this input writes the value
  static constexpr std::uint64_t applied = std::uint64_t{1} << 59;  ///< value folded while located
  static constexpr std::uint64_t index_mask = applied - 1;
  static constexpr std::uint64_t npos = index_mask;
};

/// Result of `table_view::find_or_claim`.
struct claim_result {
  std::uint64_t index;  ///< slot index, or ref::npos when the claim budget ran out
  bool claimed;         ///< true when this call claimed the slot for the key
};

/// Tables of at most this many bytes of slots stay in a core's level-2 cache, on the CPUs the omp
/// backend was measured on: their passes need not prefetch (`claim_and_combine_fn`), and their
/// short probes matter more than their memory (`aggregate_by` sizes its table so).
inline constexpr std::uint64_t small_table_bytes = std::uint64_t{1} << 18;

/// How many inputs ahead the omp backend's passes prefetch slots (detail::prefetching). On 2
/// cores (AMD EPYC, u64 keys), find with every query hitting took 20% less time with 32 than with
/// 16, 8 was slower than 16, and 64 gained nothing over 32.
inline constexpr std::uint64_t prefetch_distance = 32;

/**
 * Asks the CPU to fetch the cache line at `p` for a write soon; on the omp backend only (a GPU
 * hides memory latency with its other warps instead). The empty volatile asm keeps the prefetch:
 * GCC (12, here) counts `__builtin_prefetch` as no side effect, so it marks a function that only
 * prefetches "looping pure" and deletes every call to it, whose result is unused, from the loops
 * that are not inlined early. It had deleted the prefetches of most omp passes
 * (tests/prefetch_emitted.sh now checks the machine code); with them, `find`, `erase` and
 * counting 10^7 distinct u64 keys took 40 to 55% less time on 2 cores.
 */
BULKMAP_HOST_DEVICE inline void prefetch_for_write(void const* p) noexcept {
#if defined(BULKMAP_BACKEND_OMP) && !defined(__CUDA_ARCH__)
  __builtin_prefetch(p, 1, 3);
  asm volatile("");
#else
  (void)p;
#endif
}

/**
 * @brief A trivially copyable view of the table, passed by value into per-element functors.
 * Probing is linear from `home(key)`, `hash(key) & mask`.
 */
template <class Key, class T, class Hash, class KeyEqual = bulkmap::equal_to<Key>>
struct table_view {
  using traits = key_traits<Key>;
  using word = typename traits::word;
  using slot_type = slot<Key, T>;
  using key_ops = key_word_ops<slot_type>;
  using key_type = Key;
  using value_type = T;

  slot_type* slots;
  std::uint64_t capacity;  ///< main slots, a power of two
  Hash hash;
  KeyEqual equal;
  /// Claims of main slots so far; a claim that would reach `claim_limit` fails instead.
  unsigned long long* claims;
  unsigned long long claim_limit;
  /// Claims of side slots so far.
  unsigned long long* side_claims;
  /// Whether counter updates are warp-aggregated: true in bulkmap's kernels, false in a
  /// device_map_ref (users' code may reach one call site with the refs of several maps).
  bool aggregate_counters = true;
  /// Whether claims hold the budget (see find_or_claim). A caller that knows every one of its
  /// inputs fits below `claim_limit` turns it off: claims then only count, after their
  /// compare-and-swap, with no round trip to the shared counter before it.
  bool budgeted = true;
  /// This view's pass, for the claim units its threads hold (warp.hpp: reserve_claim_unit).
  std::uint64_t budget_epoch = next_budget_epoch();

  /// Whether `KeyEqual` is the default, bitwise equality (keys equal exactly when their words are).
  static constexpr bool bitwise = cuda::std::is_same_v<KeyEqual, bulkmap::equal_to<Key>>;

  /// The side slot `key` (whose word is `w`) belongs in, or `ref::npos` for the main slots.
  BULKMAP_HOST_DEVICE std::uint64_t side_index(Key const& key, word w) const noexcept {
    if constexpr (!traits::needs_side_slots) {
      return ref::npos;
    } else if constexpr (bitwise) {
      if (!traits::is_sentinel(w)) return ref::npos;
      return capacity + (w == traits::empty ? 0 : 1);
    } else {
      if (equal(key, traits::decode(traits::empty))) return capacity;
      if (equal(key, traits::decode(traits::tombstone))) return capacity + 1;
      return ref::npos;
    }
  }

  /// Whether main slot word `s` holds `key` (whose word is `w`).
  BULKMAP_HOST_DEVICE bool holds(word s, Key const& key, word w) const noexcept {
    if constexpr (bitwise) {
      return s == w;
    } else {
      return s == w || (!traits::is_sentinel(s) && equal(traits::decode(s), key));
    }
  }

  BULKMAP_HOST_DEVICE static word load_key(slot_type const& s) noexcept { return key_ops::load(s); }

  /// Asks the CPU to fetch slot `i` for a write soon (omp backend; see detail::prefetching).
  BULKMAP_HOST_DEVICE void prefetch_slot(std::uint64_t i) const noexcept {
    prefetch_for_write(&slots[i]);
  }
  /// The slot where `key`'s probe starts.
  BULKMAP_HOST_DEVICE std::uint64_t home(Key const& key) const noexcept {
    return hash(key) & (capacity - 1);
  }
  /// Prefetches the slot where `key`'s probe starts.
  BULKMAP_HOST_DEVICE void prefetch_home(Key const& key) const noexcept {
#if defined(BULKMAP_BACKEND_OMP) && !defined(__CUDA_ARCH__)
    prefetch_slot(home(key));
#else
    (void)key;
#endif
  }

  BULKMAP_HOST_DEVICE bool is_live(std::uint64_t i) const noexcept {
    word const w = load_key(slots[i]);
    return i < capacity ? !traits::is_sentinel(w) : w == traits::side_occupied;
  }

  /// The user key stored in slot `i` (which must be live).
  BULKMAP_HOST_DEVICE Key key_at(std::uint64_t i) const noexcept {
    if (i < capacity) return traits::decode(load_key(slots[i]));
    return traits::decode(i == capacity ? traits::empty : traits::tombstone);
  }

  /// Index of `key`'s slot, or `ref::npos` when absent. O(probe length).
  BULKMAP_HOST_DEVICE std::uint64_t find(Key const& key) const noexcept {
    word const w = traits::encode(key);
    if (std::uint64_t const i = side_index(key, w); i != ref::npos) {
      return load_key(slots[i]) == traits::side_occupied ? i : ref::npos;
    }
    std::uint64_t const mask = capacity - 1;
    for (std::uint64_t i = home(key);; i = (i + 1) & mask) {
      word const s = load_key(slots[i]);
      if (holds(s, key, w)) return i;
      if (s == traits::empty) return ref::npos;
    }
  }

  /**
   * @brief Finds `key`, or claims an empty slot for it if the claim budget allows.
   * A claim takes one unit of the budget before its compare-and-swap and gives it back if another
   * thread claimed the slot for the same key first. The new slot's value is zero (invariant).
   * A failure can be transient: threads racing for the same new key hold a unit each until one
   * wins, and may spend the whole budget for a moment. The caller retries while budget is left.
   * Unbudgeted (`budgeted` false), a claim never fails and counts itself once it has won.
   * @tparam Claim how an empty slot is taken: `claim_key`, or `claim_with_value` (then the new
   * slot's value is the claimer's, from the same compare-and-swap)
   * @param start `home(key)` when the caller has it already (a pass by owners computes it to
   * pick each key's owner: `run_owned`), else `ref::npos`
   */
  template <class Claim = claim_key>
  BULKMAP_HOST_DEVICE BULKMAP_FORCE_INLINE claim_result
  find_or_claim(Key const& key, Claim claim = {}, std::uint64_t start = ref::npos) const noexcept {
    word const w = traits::encode(key);
    if (std::uint64_t const i = side_index(key, w); i != ref::npos) {
      word expected = traits::empty;
      bool const won = claim(slots[i], expected, traits::side_occupied);
      if (won) add_to_counter(*side_claims, 1, aggregate_counters);
      return {i, won};
    }
    std::uint64_t const mask = capacity - 1;
    bool reserved = false;  // holds one unit of the claim budget
    auto found = [&](std::uint64_t i) {
      if (reserved) release_claim_unit(*claims, aggregate_counters);
      return claim_result{i, false};
    };
    for (std::uint64_t i = start != ref::npos ? start : home(key);; i = (i + 1) & mask) {
      word s = load_key(slots[i]);
      if (holds(s, key, w)) return found(i);
      if (s != traits::empty) continue;
      if (budgeted && !reserved) {
        // No read of the counter first: a load per claim would queue at the counter's cache line
        // as much as the read-modify-write does, which a GPU warp shares (fetch_add_one).
        if (!reserve_claim_unit(*claims, claim_limit, budget_epoch, aggregate_counters)) {
          return {ref::npos, false};
        }
        reserved = true;
      }
      if (claim(slots[i], s, w)) {
        count_claim(*claims, budgeted, aggregate_counters);
        return {i, true};
      }
      if (holds(s, key, w)) return found(i);  // another thread claimed this slot for the key
    }
  }
};

}  // namespace detail
BULKMAP_NAMESPACE_END
