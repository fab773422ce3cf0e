/**
 * @file locate.hpp
 * @brief The locate pass of every insertion: find or claim each input key's slot, record a ref.
 *
 * Insertions run in two steps over a chunk of inputs: first this pass gives every input a slot
 * reference (growing the table and repeating the pass while claims run out of room), then value
 * passes work on the referenced slots without probing. A failed growth undoes the chunk's
 * claims with `unclaim_fn`, so the map is left as it was. (A batch of several chunks also marks
 * the slots it claims in a slot bitmap, `claim_fn::claimed_marks`, and frees them if a later
 * chunk fails, `free_marked_fn`.)
 */
#pragma once

#include <algorithm>
#include <atomic>
#include <bulkmap/detail/table.hpp>
#include <bulkmap/kernels/accumulate.hpp>
#include <bulkmap/kernels/erase.hpp>
#include <bulkmap/kernels/insert.hpp>
#include <cuda/std/bit>
#include <memory>
#include <new>
#include <optional>
#include <type_traits>

BULKMAP_NAMESPACE_BEGIN
namespace detail {

/// Marks inputs whose key is absent before the chunk is applied (`ref::absent`).
template <class View, class KeyIt>
struct mark_absent_fn {
  View table;
  KeyIt keys;
  std::uint64_t* refs;

  BULKMAP_HOST_DEVICE void operator()(std::uint64_t i) const {
    refs[i] = table.find(keys[i]) == ref::npos ? ref::absent : 0;
  }
  BULKMAP_HOST_DEVICE void prefetch(std::uint64_t i) const { table.prefetch_home(keys[i]); }
};

/// Which inputs a locate pass runs, and what their refs hold before it.
enum class locate_inputs : std::uint8_t {
  fresh,  ///< every input; the refs hold nothing yet (the chunk's first pass, no absent marks)
  all,    ///< every input, keeping the flags of earlier passes (absent marks, or a growth since)
  failed  ///< only the inputs that failed in the last pass (no growth since)
};

/**
 * Finds or claims the slot of input i. Keeps the input's `absent`, `claimed` and `applied` flags
 * from earlier passes over the same chunk (a key claimed before a growth is found after it). An
 * input that finds no room is flagged `ref::failed` and raises `any_failed` with a plain store,
 * not a counter: once the budget is spent, most inputs of a pass may fail, and a shared counter
 * would serialize them. `Also`, what each input also does once it has a slot: nothing
 * (`locate_only`), fold its value (`fused_fold`), or store `insert`'s first value
 * (`first_writes`). With `claimed_marks`, a slot bitmap over the table, a claim also marks its
 * slot there: a batch of several chunks marks every slot it claims, so that a later chunk whose
 * growth fails can free them (`free_marked_fn`; the rehashes in between carry the marks). Setting
 * the bit in the pass spares a sweep over the refs after it: logging the claimed keys that way,
 * with a log that grew with them, took 10% of counting 10^7 u64 keys of 10^6 distinct values,
 * and 30% with all distinct, on 2 cores.
 */
template <class View, class KeyIt, class Also = locate_only>
struct claim_fn {
  View table;
  KeyIt keys;
  std::uint64_t* refs;
  unsigned long long* any_failed;
  locate_inputs which;
  Also also{};
  std::uint64_t* claimed_marks = nullptr;
  /// Fused passes whose claims are marked (`claimed_marks`) only: an input bitmap over the chunk
  /// that holds which inputs failed, in place of the refs (see `record`). Clear before the
  /// chunk's first pass; reruns (`locate_inputs::failed`) clear the bits of the inputs that then
  /// succeed.
  std::uint64_t* failed_bits = nullptr;

  static constexpr bool fused = is_fused_fold_v<Also>;
  static constexpr bool writes_first = is_first_writes_v<Also>;

  /// Whether input i takes part in this pass; `r` is its ref before the pass.
  BULKMAP_HOST_DEVICE bool runs(std::uint64_t r) const {
    return which != locate_inputs::failed || (r & ref::failed);
  }
  /**
   * The first input of [i, last) that runs in this pass (`runs`), or `last`: i itself but in a
   * rerun of the failed inputs, which skips the zero words of `failed_bits` (64 inputs each) or,
   * without them, reads the refs. On omp most chunks that claim the last units of a budget rerun
   * (a unit left in one thread's allotment fails another thread's claim: warp.hpp), with few
   * inputs failed. Such a rerun stepping through every input, whose blocks then saw no cache hits
   * and prefetched each input's slot, took about a quarter of the time of counting 10^7 keys of 16
   * distinct values into a map reserved for them: skipping took 0.71 to 0.73 of the time, and 0.84
   * to 0.90 with 1024 (u32 and u64, 4 rounds in turns, 2 cores). Host loops only
   * (`claim_and_combine_fn`, `owner_pass`); the refs are read plainly, so only by the thread that
   * writes them.
   */
  std::uint64_t next_running(std::uint64_t i, std::uint64_t last) const {
    if (which != locate_inputs::failed) return i;
    if constexpr (fused) {
      if (failed_bits) {
        while (i < last) {
          std::uint64_t const bits = atomic_ref_t<std::uint64_t>(failed_bits[i / 64])
                                         .load(cuda::std::memory_order_relaxed) >>
                                     (i % 64);
          if (bits != 0) return std::min<std::uint64_t>(i + cuda::std::countr_zero(bits), last);
          i = (i / 64 + 1) * 64;
        }
        return last;
      }
    }
    while (i < last && !(refs[i] & ref::failed)) ++i;
    return i;
  }

  /// Input i's ref before this pass (nothing, on a fresh pass: the refs are not read).
  BULKMAP_HOST_DEVICE std::uint64_t ref_before(std::uint64_t i) const {
    if (which == locate_inputs::fresh) return 0;
    if constexpr (fused) {
      if (failed_bits) return test_bit(failed_bits, i) ? ref::failed : 0;
    }
    return refs[i];
  }

  /**
   * Records input i's ref; a fused pass records less. Its inputs either fail or fold their value
   * at once, and only a growth (which runs the failed inputs again) and the undo of a failed one
   * read its refs. So with `failed_bits` it records only which inputs failed: the undo finds the
   * other inputs' keys again to fold their values back out (`unfold_found_fn`), and the claimed
   * slots are marked. With room for every input (`table.budgeted` false) it records nothing: no
   * input fails, and the pass is the chunk's last. Writing the refs was a line of memory traffic
   * per 8 inputs: counting 10^7 u64 keys had 10% more last-level cache misses with them when all
   * were distinct, and 80% more with 10^6 distinct values (callgrind, scripts/cpu-counts).
   */
  BULKMAP_HOST_DEVICE void record(std::uint64_t i, std::uint64_t r) const {
    if constexpr (fused) {
      if (failed_bits) {
        if (r & ref::failed) {
          set_bit(failed_bits, i);
        } else if (which == locate_inputs::failed) {
          clear_bit(failed_bits, i);
        }
        return;
      }
      if (!table.budgeted) return;
    }
    refs[i] = r;
  }

  /// What `locate_input` did: input i's ref (`before`, its ref before the pass, when the input
  /// does not run), and its slot when the input's value is still to be folded there (fused, and
  /// not folded in an earlier pass), else ref::npos.
  struct located {
    std::uint64_t ref;
    std::uint64_t fold_at;
  };

  /// Locates input i and records its ref. Returns its slot when the input's value is still to be
  /// folded there, else ref::npos.
  BULKMAP_HOST_DEVICE std::uint64_t locate(std::uint64_t i) const {
    return locate_input(i).fold_at;
  }

  /// Locates input i and records its ref (see `located`). `Homed`: the caller has the home slot
  /// of the input's key, `home` (a pass by owners over a `table_view`: `run_owned`).
  template <bool Homed = false>
  BULKMAP_HOST_DEVICE BULKMAP_FORCE_INLINE located
  locate_input(std::uint64_t i, std::uint64_t home = ref::npos) const {
    std::uint64_t const before = ref_before(i);
    if (!runs(before)) return {before, ref::npos};
    std::uint64_t const kept = before & (ref::absent | ref::claimed | ref::applied);
    // (A key whose slot the chunk has not tried to claim was there before the chunk: absent
    // keys reach an empty slot. Marks, slot indices, are kept only for the first run.)
    bool const marks = [&] {
      if constexpr (writes_first) {
        return which == locate_inputs::fresh && !also.values_by_key && !also.in_order;
      }
      return false;
    }();
    claim_result r{};
    if constexpr (writes_first) {
      r = marks ? table.find_or_claim(keys[i], also.marking, home)
                : table.find_or_claim(keys[i], claim_key{}, home);
    } else if constexpr (Homed) {
      r = table.find_or_claim(keys[i], claim_key{}, home);
    } else {
      r = table.find_or_claim(keys[i]);  // (also a string table's, which takes no home)
    }
    if (r.index == ref::npos) {  // (an input with no room has an absent key)
      std::uint64_t const failed = kept | ref::failed | (writes_first ? ref::absent : 0);
      record(i, failed);
      atomic_ref_t<unsigned long long>(*any_failed).store(1, cuda::std::memory_order_relaxed);
      return {failed, ref::npos};
    }
    if (r.claimed && claimed_marks) set_bit(claimed_marks, r.index);
    std::uint64_t flags = r.claimed ? ref::claimed : 0;
    if constexpr (fused) flags |= ref::applied;
    if constexpr (writes_first) {
      using T = typename View::value_type;
      if (r.claimed) {
        value_ops<typename View::slot_type>::store(table.slots[r.index],
                                                   static_cast<T>(also.values[i]));
        flags |= ref::absent;
      } else if (marks && also.marking.claimed_by_pass(r.index)) {
        flags |= ref::absent;
        atomic_ref_t<unsigned long long>(*also.any_repeat)
            .store(1, cuda::std::memory_order_relaxed);
      }
    }
    record(i, kept | r.index | flags);
    return {kept | r.index | flags, fused && !(kept & ref::applied) ? r.index : ref::npos};
  }

  BULKMAP_HOST_DEVICE void operator()(std::uint64_t i) const {
    std::uint64_t const s = locate(i);
    if constexpr (fused) {
      using T = typename View::value_type;
      if (s != ref::npos) {
        value_ops<typename View::slot_type>::template fold<false>(
            table.slots[s], static_cast<T>(also.values[i]), also.op);
      }
    }
  }
  /// Prefetches input i's home slot, unless a rerun's failure bits say that the input does not
  /// run (most do not). Not by the refs: input i may be another thread's, writing its ref.
  BULKMAP_HOST_DEVICE void prefetch(std::uint64_t i) const {
    if constexpr (fused) {
      if (which == locate_inputs::failed && failed_bits && !test_bit(failed_bits, i)) return;
    }
    table.prefetch_home(keys[i]);
  }
};

/**
 * A thread's cache for the fused fold's cached pass (`claim_and_combine_fn`): `Entries` entries in
 * sets of `ways`, each a key word, its slot (ref::npos when the entry is free) and a partial sum,
 * and the entries that the running block has filled, in the order filled (a block then flushes
 * and empties only those). A key word's set comes from a multiply by the thread's own odd
 * `multiplier`: threads then differ in which keys find their set full, and those keys' folds go
 * to different table slots (with one multiplier, every thread folded the same few keys into the
 * table and their slots' lines passed between cores at each). One per thread, key word and value
 * type, shared by every pass with them.
 */
template <class Word, class T, std::uint64_t Entries>
struct combine_cache {
  static_assert(Entries <= std::uint64_t{1} << 16, "an entry must fit in `filled`");
  static constexpr std::uint64_t ways = 2;  ///< entries per set
  static constexpr int set_bits = cuda::std::bit_width(Entries / ways) - 1;
  struct entry {
    std::uint64_t slot;
    Word key;
    T sum;
  };
  entry entries[Entries];
  std::uint16_t filled[Entries];
  std::uint64_t multiplier;

  /// Key word `w` in 64 bits (a 16-byte word's halves xored), to be mixed by a multiply.
  static std::uint64_t folded(Word w) noexcept {
    auto x = static_cast<std::uint64_t>(w);
    if constexpr (sizeof(Word) == 16) x ^= static_cast<std::uint64_t>(w >> 64);
    return x;
  }
  /// The first entry of key word `w`'s set.
  entry* set_of(Word w) noexcept {
    return entries + ((folded(w) * multiplier) >> (64 - set_bits)) * ways;
  }
  /// The entry of set `set` that holds key word `w`, or null.
  static entry* holding(entry* set, Word w) noexcept {
    for (std::uint64_t j = 0; j < ways; ++j) {
      if (set[j].slot != ref::npos && set[j].key == w) return set + j;
    }
    return nullptr;
  }
  /// A free entry of set `set`, or null.
  static entry* vacancy(entry* set) noexcept {
    for (std::uint64_t j = 0; j < ways; ++j) {
      if (set[j].slot == ref::npos) return set + j;
    }
    return nullptr;
  }
  /// Fills free entry `e` with key word `w`, slot `slot` and sum `sum`, listed in `filled` at
  /// `used`, which it advances.
  void fill(entry* e, Word w, std::uint64_t slot, T sum, std::uint64_t& used) noexcept {
    *e = entry{slot, w, sum};
    filled[used++] = static_cast<std::uint16_t>(e - entries);
  }

  /**
   * The calling thread's cache, every entry free: allocated at its first use, then kept (too
   * large for the stack: it should hold a thousand hot keys with few of them sharing a set),
   * and left empty by each user. Null when it cannot be allocated, and the caller then goes
   * without: it is called inside parallel regions, which no exception may leave (one that does
   * ends the process).
   */
  static combine_cache* of_thread() noexcept {
    thread_local std::unique_ptr<combine_cache> cache;
    if (!cache) {
      cache.reset(new (std::nothrow) combine_cache);
      if (!cache) return nullptr;
      for (auto& e : cache->entries) e.slot = ref::npos;
      static std::atomic<std::uint64_t> made{0};  // caches so far, of this type
      cache->multiplier = 0x9e3779b97f4a7c15ull + 0x632be59bd9b4e01aull * made++;
    }
    return cache.get();
  }
};

/**
 * The fused locate-and-fold pass on the omp backend (`fused_fold`), one block of `block` inputs
 * per call, with a cache of `entries_per_thread` entries per thread in sets of two
 * (`combine_cache`), each a key, its slot and a partial sum. An input whose key is in the cache
 * neither probes nor folds: it takes the cached slot for its ref and adds its value to the partial
 * sum. An input whose key is not runs `claim_fn::locate` (with prefetching, in a table of more
 * than `small_table_bytes`); it takes a free entry of its set if there is one, else folds into
 * the table at once. A set thus stays with the first keys of the block to reach it: the keys that
 * recur are, most likely, among the first seen, and a key seen once evicts nothing. The partial
 * sums go to the table at the end of the block. A hot key then costs a thread one probe and one
 * atomic per block instead of one per input, and no cache line passes between cores for each (the
 * CPU's counterpart of a GPU warp combining its equal keys). Decided by the keys seen, as on the
 * GPU: when fewer than 1 in 8 of the chunk's first `sample` inputs find their key in the cache
 * (`sampled::repeat`), the keys rarely repeat nearby and the pass runs by owners instead
 * (`owner_pass`, which also takes skewed keys); when a block's own first `sample` inputs rarely
 * find theirs, the rest of the block locates and folds each input, as does every block of a thread
 * that finds no memory for its cache. Only for integer `plus` (`fused_fold`), whose identity,
 * zero, is an entry's empty sum. Measured on 2 cores, counting 10^7 keys of 1024 distinct values:
 * 2^14 entries that keep their first key took half the time of 2^11 entries replaced at every
 * miss; sets of two, with a multiplier per thread, took 0.71 to 0.94 of the time of direct-mapped
 * entries with one multiplier (u32 and u64, 4 rounds in turns): the keys that found their entry
 * taken, 3% of 1024, folded into the table at every input.
 */
template <class Claim>
struct claim_and_combine_fn {
  static constexpr std::uint64_t block = 1 << 17;
  static constexpr std::uint64_t entries_per_thread = 1 << 14;
  static constexpr std::uint64_t sample = 1 << 11;

  Claim claim;
  std::uint64_t n;

  using View = decltype(Claim::table);
  using word = typename View::word;
  using T = typename View::value_type;

  using store = combine_cache<word, T, entries_per_thread>;
  using entry = typename store::entry;

  /// `claim.locate_input(i)`, out of line: for the rare inputs whose key the cache lacks. Inlined
  /// into the loop, it slowed every input: counting 10^7 u32 keys of 1024 distinct values ran 60%
  /// more instructions per key (callgrind).
  BULKMAP_NOINLINE typename Claim::located locate_miss(std::uint64_t i) const {
    return claim.locate_input(i);
  }

  /// What the chunk's first `sample` inputs show of its keys (`sampled`).
  struct sampled {
    std::uint64_t inputs;  ///< the inputs seen
    std::uint64_t hits;    ///< those whose key was cached already
    /// Whether the keys repeat nearby: the test each block makes on its first `sample` inputs
    /// (at least 1 in 8 find their key cached).
    bool repeat() const noexcept { return hits * 8 >= inputs; }
    /// At least the distinct keys among the inputs seen (a key that lost its entry to another
    /// counts at each input).
    std::uint64_t distinct_bound() const noexcept { return inputs - hits; }
  };

  /// The chunk's first `sample` inputs run through the calling thread's cache, which is left
  /// empty again; nothing when the cache cannot be allocated.
  template <class KeyIt>
  static std::optional<sampled> sample_keys(KeyIt keys, std::uint64_t n) {
    store* const cache = store::of_thread();
    if (cache == nullptr) return std::nullopt;
    std::uint64_t const m = n < sample ? n : sample;
    std::uint64_t hits = 0;
    for (std::uint64_t i = 0; i < m; ++i) {
      word const kw = View::traits::encode(keys[i]);
      entry* const set = cache->set_of(kw);
      if (store::holding(set, kw)) {
        ++hits;
      } else if (entry* const e = store::vacancy(set)) {
        *e = entry{0, kw, T{}};
      }
    }
    for (std::uint64_t i = 0; i < m; ++i) {
      entry* const set = cache->set_of(View::traits::encode(keys[i]));
      for (std::uint64_t j = 0; j < store::ways; ++j) set[j].slot = ref::npos;
    }
    return sampled{m, hits};
  }

  void operator()(std::uint64_t b) const {
    auto const fold = [&](std::uint64_t s, T v) {
      if (v != T{}) {
        value_ops<typename View::slot_type>::template fold<false>(claim.table.slots[s], v,
                                                                  claim.also.op);
      }
    };
    store* const cache = store::of_thread();
    std::uint64_t const first = b * block;
    std::uint64_t const last = first + block < n ? first + block : n;
    // The rest of the block from input `from`, input by input (its keys rarely repeat nearby).
    auto const uncached = [&](std::uint64_t from) {
      for (std::uint64_t i = claim.next_running(from, last); i < last;
           i = claim.next_running(i + 1, last)) {
        if (i + prefetch_distance < last) claim.prefetch(i + prefetch_distance);
        std::uint64_t const s = claim.locate(i);
        if (s != ref::npos) fold(s, static_cast<T>(claim.also.values[i]));
      }
    };
    // The block with the cache; `prefetching`, whether inputs prefetch their slots ahead.
    std::uint64_t used = 0;  // entries this block has filled (`combine_cache::filled`)
    auto const cached = [&](auto prefetching) {
      // Input i through the cache; whether its key was there already.
      auto const step = [&](std::uint64_t i) {
        if constexpr (decltype(prefetching)::value) {
          if (i + prefetch_distance < last) {  // unless that input's key is cached already
            word const ahead = View::traits::encode(claim.keys[i + prefetch_distance]);
            if (!store::holding(cache->set_of(ahead), ahead)) claim.prefetch(i + prefetch_distance);
          }
        }
        std::uint64_t const r = claim.ref_before(i);  // (input i runs: `next_running`)
        word const kw = View::traits::encode(claim.keys[i]);
        entry* const set = cache->set_of(kw);
        T const v = static_cast<T>(claim.also.values[i]);
        if (entry* const e = store::holding(set, kw)) {  // the key's slot, from an earlier input
          std::uint64_t const kept = r & (ref::absent | ref::claimed | ref::applied);
          claim.record(i, kept | e->slot | ref::applied);
          if (!(kept & ref::applied)) e->sum = fold_values(claim.also.op, e->sum, v);
          return true;
        }
        auto const [r_after, s] = locate_miss(i);
        if (r_after & ref::failed) return false;
        if (entry* const e = store::vacancy(set)) {  // the first keys of a set keep its entries
          cache->fill(e, kw, r_after & ref::index_mask, s != ref::npos ? v : T{}, used);
        } else if (s != ref::npos) {
          fold(s, v);
        }
        return false;
      };
      // The block's first `sample` inputs count their hits; past them, the hits are not counted
      // (a count kept in memory across the loop made a chain of read-modify-writes).
      std::uint64_t const tested = last - first > sample ? first + sample : last;
      std::uint64_t ran = 0;
      std::uint64_t hits = 0;
      for (std::uint64_t i = claim.next_running(first, tested); i < tested;
           i = claim.next_running(i + 1, tested)) {
        ++ran;
        hits += step(i);
      }
      if (tested < last && !sampled{ran, hits}.repeat()) {
        uncached(tested);
        return;
      }
      for (std::uint64_t i = claim.next_running(tested, last); i < last;
           i = claim.next_running(i + 1, last)) {
        step(i);
      }
    };
    // The loop does not look ahead to prefetch the slots of a table that stays in a core's
    // level-2 cache (`small_table_bytes`), nor look up the cache twice per input to know which to
    // prefetch. Counting 10^7 keys of 1, 16 or 1024 distinct values took 0.55 to 0.90 of the time
    // so (u32 and u64; two runs of 3 and 4 rounds in turns, 2 cores).
    if (cache == nullptr) {  // (no memory for it)
      uncached(first);
      return;
    }
    if (claim.table.capacity * sizeof(typename View::slot_type) > small_table_bytes) {
      cached(std::true_type{});
    } else {
      cached(std::false_type{});
    }
    // The partial sums to the table; the cache left empty.
    for (std::uint64_t j = 0; j < used; ++j) {
      entry& e = cache->entries[cache->filled[j]];
      fold(e.slot, e.sum);
      e.slot = ref::npos;
    }
  }
};

/**
 * Most threads a pass by owners (`run_owned`) runs on. Every thread reads every input of the
 * pass, and saves a locked instruction on each of its own: on 2 cores the reading cost less than
 * the timings' noise, but it grows with the threads while the saving shrinks. Past this many, the
 * usual passes (an estimate: not measured past 2 cores).
 */
inline constexpr std::uint64_t max_owners = 8;

/**
 * Whether a pass by owners on `threads` threads keeps them evenly enough busy, given how many of
 * a sample's `inputs` each thread owns (`owned[t]`): no thread owns more than 3/2 of an even
 * share. A thread that owns more inputs does not take as much longer: the inputs of hot keys cost
 * less than others, their slots staying in the core's cache. Counting 10^7 Zipf keys (s = 1.2) of
 * 10^6 values on 2 cores, a chunk of 2^22 inputs whose sample gave one thread 0.60 to 0.64 of
 * them ran by owners in 14 and 16 ms on the two threads, and in 36 ms by the cached pass, where
 * a limit of 5/4 sent it.
 */
inline bool owners_balanced(std::uint64_t const* owned, std::uint64_t threads,
                            std::uint64_t inputs) {
  return 2 * *std::max_element(owned, owned + threads) * threads <= 3 * inputs;
}

/**
 * The thread of `threads` that owns the keys whose probe starts at slot `home` of a table of
 * `capacity` slots (a power of two), in a pass by owners: the threads split the table into equal
 * parts, so each thread's slots (and the columns indexed by them) lie mostly in its own part, and
 * few cache lines pass between cores.
 */
BULKMAP_HOST_DEVICE inline std::uint64_t owner_of_home(std::uint64_t home, std::uint64_t capacity,
                                                       std::uint64_t threads) noexcept {
  return (home * threads) >> cuda::std::countr_zero(capacity);
}

/**
 * Thread t's share of a pass by owners on nt threads (at most `max_owners`) over a table of
 * `capacity` slots: `apply(i, home(i))` for each input i in [0, n) that `next` steps through
 * (`next(i, last)`: the first input from i on that runs, at most `last`) and whose home slot
 * `home(i)` thread t owns (`owner_of_home`), in input order. Every thread reads every input, a
 * tile of `prefetch_distance` inputs per thread at a time: it picks its own without a branch (a
 * thread owns a random share of the inputs, and a branch would mispredict on every other one on
 * 2 cores), `prefetch`es their home slots, then applies the previous tile's. Each input's home is
 * computed once, for its owner, its prefetch and its probe.
 */
template <class Next, class Home, class Prefetch, class Apply>
BULKMAP_FORCE_INLINE void run_owned(std::uint64_t n, std::uint64_t t, std::uint64_t nt, Next next,
                                    std::uint64_t capacity, Home home, Prefetch prefetch,
                                    Apply apply) {
  std::uint64_t const tile = prefetch_distance * nt;  // inputs; about prefetch_distance owned
  std::uint64_t owned[2][prefetch_distance * max_owners];
  std::uint64_t homes[2][prefetch_distance * max_owners];
  std::uint64_t count[2] = {0, 0};
  for (std::uint64_t first = 0, k = 0; first < n + tile; first += tile, k ^= 1) {
    // This tile's inputs of this thread, picked without a branch; prefetched.
    std::uint64_t* const mine = owned[k];
    std::uint64_t* const at = homes[k];
    std::uint64_t c = 0;
    std::uint64_t const last = first + tile < n ? first + tile : n;
    for (std::uint64_t i = next(first, last); i < last; i = next(i + 1, last)) {
      std::uint64_t const h = home(i);
      mine[c] = i;
      at[c] = h;
      c += owner_of_home(h, capacity, nt) == t;
    }
    for (std::uint64_t j = 0; j < c; ++j) prefetch(at[j]);
    count[k] = c;
    // The previous tile's inputs, on their way.
    for (std::uint64_t j = 0; j < count[k ^ 1]; ++j) apply(owned[k ^ 1][j], homes[k ^ 1][j]);
    count[k ^ 1] = 0;
  }
}

/// Every input runs (`run_owned`'s `next`).
struct every_input {
  BULKMAP_HOST_DEVICE std::uint64_t operator()(std::uint64_t i, std::uint64_t) const noexcept {
    return i;
  }
};

/**
 * @brief The locate pass on omp by owners: each thread owns the keys whose home slots lie in its
 * part of the table (`owner_of_home`), and runs their inputs alone, in input order. Owners by
 * part of the table, in place of owners by a multiply of the key (which left slots of both threads
 * on every cache line and page of the table), took 0.69 to 0.82 of the time to count 10^7 keys of
 * 10^6 distinct values, all distinct, or Zipf (s = 0.99), and to insert unique keys at occupancy
 * 0.5 and 0.8 (medians of 7 to 10 rounds in turns over three runs; u32 and u64, 2 cores). Two
 * passes gain from it:
 * - a fused fold (counting, integer `plus`): the owner folds with a relaxed load and store
 *   (`owned_fold`) in place of a locked read-modify-write. On 2 cores (AMD EPYC), counting 10^7
 *   keys of 10^6 distinct values took 23 to 45% less time (u32) and 15 to 31% less (u64) in
 *   rounds of binaries run in turns; all-distinct keys (a claim per input) moved within noise.
 * - `insert`'s first writes: a key's first input in the pass is the one that claims its slot, so
 *   claims need no marks to tell repeats (`first_writes::in_order`), only a failed input calls
 *   for an election. Inserting unique keys at occupancy 0.5 and 0.8 took 5 to 22% less time
 *   for u64 and 4 to 13% for u32 (three rounds of runs in turns).
 * Claims still compare-and-swap: keys of other threads may reach the same empty slot. Every
 * thread reads every key of the chunk, a tile of `prefetch_distance` inputs per thread at a
 * time: it picks its own without a branch (a thread owns a random share of the inputs, and a
 * branch would mispredict on every other one on 2 cores), prefetches their slots, then runs the
 * previous tile's. Chosen (`chosen`) when the chunk's keys rarely repeat nearby, or repeat but
 * spread over the threads evenly in a table roomy enough; else the cached pass
 * (`claim_and_combine_fn`) runs.
 */
template <class Claim>
struct owner_pass {
  using View = decltype(Claim::table);
  using T = typename View::value_type;

  /// Slots of the table per distinct key of the sample, at least, for keys that repeat to run by
  /// owners: few distinct keys run faster through the cached pass, which sums them in each
  /// thread's own cache (counting 10^7 keys of 1024 or 16 distinct values by owners took 3.5 to
  /// 18 times as long as the cached pass, on 2 cores, with owners by home slot or by key alike).
  static constexpr std::uint64_t room_per_key = 64;

  /**
   * Whether the chunk at `keys` (n inputs) runs by owners in `table`, on at most `max_owners`
   * threads:
   * - keys that rarely repeat nearby (`claim_and_combine_fn::sampled::repeat`): always;
   * - keys that do (skewed keys, or few distinct ones): when the table has `room_per_key` slots
   *   per distinct key of the sample, and the owners of the sample's inputs are balanced enough
   *   (`owners_balanced`). Counting 10^7 Zipf keys of 10^6 values by owners took 0.67 to 0.74
   *   of the cached pass's time for s = 1.2, and 0.50 to 0.71 for s = 0.99 (u32 and u64; two
   *   runs of 3 rounds in turns, 2 cores).
   */
  template <class KeyIt>
  static bool chosen(View const& table, KeyIt keys, std::uint64_t n) {
#if defined(BULKMAP_BACKEND_OMP)
    auto const threads = static_cast<std::uint64_t>(omp_get_max_threads());
    if (threads > max_owners) return false;
    auto const seen = claim_and_combine_fn<Claim>::sample_keys(keys, n);
    if (!seen) return false;  // (no memory for a cache: the cached pass then goes without one)
    if (!seen->repeat()) return true;
    if (table.capacity < room_per_key * seen->distinct_bound()) return false;
    std::uint64_t owned[max_owners] = {};
    for (std::uint64_t i = 0; i < seen->inputs; ++i) {
      ++owned[owner_of_home(table.home(keys[i]), table.capacity, threads)];
    }
    return owners_balanced(owned, threads, seen->inputs);
#else
    (void)table;
    (void)keys;
    (void)n;
    return false;
#endif
  }

  /// Runs the pass over the chunk's n inputs.
  static void run(Claim const& claim, std::uint64_t n) {
#if defined(BULKMAP_BACKEND_OMP)
    auto const threads = std::min(static_cast<std::uint64_t>(omp_get_max_threads()), max_owners);
#pragma omp parallel num_threads(static_cast <int>(threads))
    {
      auto const t = static_cast<std::uint64_t>(omp_get_thread_num());
      auto const nt = static_cast<std::uint64_t>(omp_get_num_threads());
      std::uint64_t const capacity = claim.table.capacity;
      auto const home = [&](std::uint64_t i) { return claim.table.home(claim.keys[i]); };
      auto const prefetch = [&](std::uint64_t h) { claim.table.prefetch_slot(h); };
      auto const locate = [&](std::uint64_t i, std::uint64_t h) { apply(claim, i, h); };
      // A rerun skips to its failed inputs by the bitmap, whose words are read atomically; the
      // refs, which each owner writes as it goes, only their owner reads (`apply`).
      if (claim.which == locate_inputs::failed && claim.failed_bits != nullptr) {
        auto const failed = [&](std::uint64_t i, std::uint64_t last) {
          return claim.next_running(i, last);
        };
        run_owned(n, t, nt, failed, capacity, home, prefetch, locate);
      } else {
        run_owned(n, t, nt, every_input{}, capacity, home, prefetch, locate);
      }
    }
#else
    (void)claim;
    (void)n;
#endif
  }

  /// Input i's locate, and for a fused fold its fold, by the key's owner; `home`, its key's.
  static void apply(Claim const& claim, std::uint64_t i, std::uint64_t home) {
    std::uint64_t const s = claim.template locate_input<true>(i, home).fold_at;
    if constexpr (Claim::fused) {
      if (s != ref::npos) {
        owned_fold(claim.table.slots[s].value, static_cast<T>(claim.also.values[i]), claim.also.op);
      }
    }
  }
};

/**
 * Undoes the claims of a chunk whose growth failed: a claimed main slot becomes a tombstone (its
 * key may sit on the probe path of a key placed after it by a rehash), a claimed side slot is
 * freed, with the zero value of a free slot (a `first_writes` claimer stored its value there).
 */
template <class View>
struct unclaim_fn {
  View table;
  std::uint64_t const* refs;

  BULKMAP_HOST_DEVICE void operator()(std::uint64_t i) const {
    using traits = typename View::traits;
    if (!(refs[i] & ref::claimed)) return;
    std::uint64_t const s = refs[i] & ref::index_mask;
    if (s >= table.capacity) {
      value_ops<typename View::slot_type>::store(table.slots[s], typename View::value_type{});
    }
    View::key_ops::store_unshared(table.slots[s],
                                  s < table.capacity ? traits::tombstone : traits::empty);
  }
};

/**
 * Frees live slot s if it is marked in `marks` (`claim_fn::claimed_marks`): undoes the claims of
 * a batch of several chunks when a later chunk cannot grow the table. (A marked slot that is no
 * longer live was claimed by a chunk whose own claims were undone, `unclaim_fn`.)
 */
template <class View>
struct free_marked_fn {
  View table;
  std::uint64_t const* marks;
  unsigned long long* removed;

  BULKMAP_HOST_DEVICE void operator()(std::uint64_t s) const {
    if (!test_bit(marks, s) || !table.is_live(s)) return;
    free_owned_slot(table, s);
    add_to_counter(*removed, 1);
  }
};

/**
 * Folds the inputs' values back out, `values` being negated, finding each key again: the undo of
 * the chunks of a count or integer `plus` whose later chunk cannot grow. With `failed_bits` (a
 * fused pass that recorded no refs, `claim_fn::failed_bits`), the inputs that failed, and folded
 * nothing, are skipped. Every other input's key is present.
 */
template <class View, class KeyIt, class ValueIt, class Op>
struct unfold_found_fn {
  View table;
  KeyIt keys;
  ValueIt values;
  Op op;
  std::uint64_t const* failed_bits;

  BULKMAP_HOST_DEVICE void operator()(std::uint64_t i) const {
    using T = typename View::value_type;
    if (failed_bits && test_bit(failed_bits, i)) return;
    value_ops<typename View::slot_type>::template fold<false>(table.slots[table.find(keys[i])],
                                                              static_cast<T>(values[i]), op);
  }
  BULKMAP_HOST_DEVICE void prefetch(std::uint64_t i) const { table.prefetch_home(keys[i]); }
};

/// Counts the set bits of a bitmap word.
struct popcount_fn {
  BULKMAP_HOST_DEVICE std::uint64_t operator()(std::uint64_t w) const {
    return static_cast<std::uint64_t>(cuda::std::popcount(w));
  }
};

/// Whether input i failed to find room in the last locate pass.
struct is_failed_fn {
  BULKMAP_HOST_DEVICE bool operator()(std::uint64_t r) const { return (r & ref::failed) != 0; }
};

/// Whether input i claimed its key's slot: exactly one input per key new to the chunk.
struct is_claimed_fn {
  BULKMAP_HOST_DEVICE bool operator()(std::uint64_t r) const { return (r & ref::claimed) != 0; }
};

}  // namespace detail
BULKMAP_NAMESPACE_END
