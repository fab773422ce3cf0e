/**
 * @file erase.hpp
 * @brief Removal of keys: the slot's key becomes a tombstone (main table) or free (side slot).
 *
 * A repeated key is removed once: only one compare-and-swap from the key to the tombstone
 * succeeds. A freed side slot's value is reset to zero, the invariant of free slots; main slots
 * keep theirs, since tombstones are never reused.
 */
#pragma once

#include <bulkmap/detail/table.hpp>

BULKMAP_NAMESPACE_BEGIN
namespace detail {

/// Frees live slot `s`; returns false when another thread freed it first.
template <class View>
BULKMAP_HOST_DEVICE bool free_slot(View const& table, std::uint64_t s) {
  using traits = typename View::traits;
  using word = typename traits::word;
  using T = typename View::value_type;
  word expected = View::load_key(table.slots[s]);
  if (s < table.capacity) {
    return !traits::is_sentinel(expected) &&
           atomic_ref_t<word>(table.slots[s].key)
               .compare_exchange_strong(expected, traits::tombstone,
                                        cuda::std::memory_order_relaxed);
  }
  if (expected != traits::side_occupied) return false;
  if (!atomic_ref_t<word>(table.slots[s].key)
           .compare_exchange_strong(expected, traits::empty, cuda::std::memory_order_relaxed)) {
    return false;
  }
  table.slots[s].value = T{};
  return true;
}

template <class View, class KeyIt>
struct erase_fn {
  View table;
  KeyIt keys;
  unsigned long long* removed;

  BULKMAP_HOST_DEVICE void operator()(std::uint64_t i) const {
    std::uint64_t const s = table.find(keys[i]);
    if (s != ref::npos && free_slot(table, s)) {
      add_to_counter(*removed, 1);
    }
  }
};

}  // namespace detail
BULKMAP_NAMESPACE_END
