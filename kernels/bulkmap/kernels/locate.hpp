/**
 * @file locate.hpp
 * @brief The locate pass of every insertion: find or claim each input key's slot, record a ref.
 *
 * Insertions run in two steps over a chunk of inputs: first this pass gives every input a slot
 * reference (growing the table and repeating the pass while claims run out of room), then value
 * passes work on the referenced slots without probing. A failed growth undoes the chunk's
 * claims with `unclaim_fn`, so the map is left as it was. (A batch of several chunks also logs
 * the keys each chunk claimed, `is_claimed_fn`, and erases them if a later chunk fails.)
 */
#pragma once

#include <bulkmap/detail/table.hpp>
#include <bulkmap/kernels/accumulate.hpp>
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

/// Clears the refs of a chunk whose inputs need no `ref::absent` marks.
struct clear_refs_fn {
  std::uint64_t* refs;

  BULKMAP_HOST_DEVICE void operator()(std::uint64_t i) const { refs[i] = 0; }
};

/**
 * Finds or claims the slot of input i. Keeps the input's `absent`, `claimed` and `applied` flags
 * from earlier passes over the same chunk (a key claimed before a growth is found after it). An
 * input that finds no room is flagged `ref::failed` and raises `any_failed` with a plain store,
 * not a counter: once the budget is spent, most inputs of a pass may fail, and a shared counter
 * would serialize them. With a `fused_fold`, each input also folds its value once it has a slot.
 */
template <class View, class KeyIt, class Fold = no_fused_fold>
struct claim_fn {
  View table;
  KeyIt keys;
  std::uint64_t* refs;
  unsigned long long* any_failed;
  bool failed_only;  ///< skip inputs that located their slot in the last pass (no growth since)
  Fold fold{};

  static constexpr bool fused = !std::is_same_v<Fold, no_fused_fold>;

  /// Locates input i and records its ref. Returns its slot when the input's value is still to be
  /// folded there (fused, and not folded in an earlier pass), else ref::npos.
  BULKMAP_HOST_DEVICE std::uint64_t locate(std::uint64_t i) const {
    if (failed_only && !(refs[i] & ref::failed)) return ref::npos;
    std::uint64_t const kept = refs[i] & (ref::absent | ref::claimed | ref::applied);
    claim_result const r = table.find_or_claim(keys[i]);
    if (r.index == ref::npos) {
      refs[i] = kept | ref::failed;
      atomic_ref_t<unsigned long long>(*any_failed).store(1, cuda::std::memory_order_relaxed);
      return ref::npos;
    }
    refs[i] = kept | r.index | (r.claimed ? ref::claimed : 0) | (fused ? ref::applied : 0);
    return fused && !(kept & ref::applied) ? r.index : ref::npos;
  }

  BULKMAP_HOST_DEVICE void operator()(std::uint64_t i) const {
    std::uint64_t const s = locate(i);
    if constexpr (fused) {
      using T = typename View::value_type;
      if (s != ref::npos) {
        value_ops<typename View::slot_type>::template fold<false>(
            table.slots[s], static_cast<T>(fold.values[i]), fold.op);
      }
    }
  }
  BULKMAP_HOST_DEVICE void prefetch(std::uint64_t i) const { table.prefetch_home(keys[i]); }
};

/**
 * The fused locate-and-fold pass on the omp backend (`fused_fold`), one block of `block` inputs
 * per call: `claim_fn::locate` for each input, with prefetching, and the folds combined per slot
 * in a direct-mapped cache of `ways` partial sums first. A slot's partial sum goes to the table
 * when another slot takes its cache entry and at the end of the block. A hot key then costs a
 * thread one atomic per block instead of one per input, and no cache line passes between cores
 * for each (the CPU's counterpart of a GPU warp combining its equal keys). Decided by the keys
 * seen, as on the GPU: when fewer than 1 in 8 of a block's first `sample` inputs find their slot
 * in the cache, the keys rarely repeat nearby, and the rest of the block folds straight into the
 * table.
 */
template <class Claim>
struct claim_and_combine_fn {
  static constexpr std::uint64_t block = 1 << 15;
  static constexpr std::uint64_t ways = 1 << 11;
  static constexpr std::uint64_t sample = 1 << 11;

  Claim claim;
  std::uint64_t n;

  void operator()(std::uint64_t b) const {
    using View = decltype(claim.table);
    using T = typename View::value_type;
    auto const fold = [&](std::uint64_t s, T v) {
      value_ops<typename View::slot_type>::template fold<false>(claim.table.slots[s], v,
                                                                claim.fold.op);
    };
    std::uint64_t slot_of[ways];
    T sum[ways];
    for (auto& s : slot_of) s = ref::npos;
    std::uint64_t const first = b * block;
    std::uint64_t const last = first + block < n ? first + block : n;
    std::uint64_t hits = 0;
    bool combine = true;
    for (std::uint64_t i = first; i < last; ++i) {
      if (i + prefetch_distance < last) claim.prefetch(i + prefetch_distance);
      if (i - first == sample && hits * 8 < sample) combine = false;
      std::uint64_t const s = claim.locate(i);
      if (s == ref::npos) continue;
      T const v = static_cast<T>(claim.fold.values[i]);
      if (!combine) {
        fold(s, v);
        continue;
      }
      std::uint64_t const w = s % ways;
      if (slot_of[w] == s) {
        sum[w] = claim.fold.op(sum[w], v);
        ++hits;
      } else {
        if (slot_of[w] != ref::npos) fold(slot_of[w], sum[w]);
        slot_of[w] = s;
        sum[w] = v;
      }
    }
    for (std::uint64_t w = 0; w < ways; ++w) {
      if (slot_of[w] != ref::npos) fold(slot_of[w], sum[w]);
    }
  }
};

/**
 * Undoes the claims of a chunk whose growth failed: a claimed main slot becomes a tombstone (its
 * key may sit on the probe path of a key placed after it by a rehash), a claimed side slot is
 * freed. Values of claimed slots are still zero: no value pass has run.
 */
template <class View>
struct unclaim_fn {
  View table;
  std::uint64_t const* refs;

  BULKMAP_HOST_DEVICE void operator()(std::uint64_t i) const {
    using traits = typename View::traits;
    if (!(refs[i] & ref::claimed)) return;
    std::uint64_t const s = refs[i] & ref::index_mask;
    View::key_ops::store_unshared(table.slots[s],
                                  s < table.capacity ? traits::tombstone : traits::empty);
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
