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
};

/// Clears the refs of a chunk whose inputs need no `ref::absent` marks.
struct clear_refs_fn {
  std::uint64_t* refs;

  BULKMAP_HOST_DEVICE void operator()(std::uint64_t i) const { refs[i] = 0; }
};

/**
 * Finds or claims the slot of input i. Keeps the input's `absent` and `claimed` flags from earlier
 * passes over the same chunk (a key claimed before a growth is found after it). An input that
 * finds no room is flagged `ref::failed` and raises `any_failed` with a plain store, not a
 * counter: once the budget is spent, most inputs of a pass may fail, and a shared counter would
 * serialize them.
 */
template <class View, class KeyIt>
struct claim_fn {
  View table;
  KeyIt keys;
  std::uint64_t* refs;
  unsigned long long* any_failed;
  bool failed_only;  ///< skip inputs that located their slot in the last pass (no growth since)

  BULKMAP_HOST_DEVICE void operator()(std::uint64_t i) const {
    if (failed_only && !(refs[i] & ref::failed)) return;
    std::uint64_t const kept = refs[i] & (ref::absent | ref::claimed);
    claim_result const r = table.find_or_claim(keys[i]);
    if (r.index == ref::npos) {
      refs[i] = kept | ref::failed;
      atomic_ref_t<unsigned long long>(*any_failed).store(1, cuda::std::memory_order_relaxed);
      return;
    }
    refs[i] = kept | r.index | (r.claimed ? ref::claimed : 0);
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
