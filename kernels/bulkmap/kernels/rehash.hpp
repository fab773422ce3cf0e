/**
 * @file rehash.hpp
 * @brief Moving every live pair into a new table (growth, shrink, dropping tombstones).
 */
#pragma once

#include <bulkmap/detail/table.hpp>

BULKMAP_NAMESPACE_BEGIN
namespace detail {

/**
 * Reinserts live main slot `s` of `from` into `to`, or copies side slot `s` (s >= from.capacity)
 * to the same side slot of `to`. Copies go field by field: a whole-slot copy would also read the
 * padding between key and value, which nothing writes.
 */
template <class View>
struct rehash_fn {
  View from;
  View to;

  BULKMAP_HOST_DEVICE void operator()(std::uint64_t s) const {
    using traits = typename View::traits;
    using word = typename traits::word;
    if (s >= from.capacity) {
      auto& side = to.slots[to.capacity + (s - from.capacity)];
      View::key_ops::store_unshared(side, View::load_key(from.slots[s]));
      side.value = from.slots[s].value;
      return;
    }
    word const w = View::load_key(from.slots[s]);
    if (traits::is_sentinel(w)) return;
    std::uint64_t const mask = to.capacity - 1;
    for (std::uint64_t i = to.hash(traits::decode(w)) & mask;; i = (i + 1) & mask) {
      word expected = traits::empty;
      if (View::key_ops::compare_exchange(to.slots[i], expected, w)) {
        to.slots[i].value = from.slots[s].value;
        return;
      }
    }
  }
};

}  // namespace detail
BULKMAP_NAMESPACE_END
