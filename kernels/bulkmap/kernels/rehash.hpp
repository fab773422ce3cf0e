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
 * padding between key and value, which nothing writes. With `from_marks`, a slot bitmap over
 * `from` (the slots a running insertion claimed, see `claim_fn`), a marked slot's new slot is
 * marked in `to_marks` (zeroed, over `to`).
 */
template <class View>
struct rehash_fn {
  View from;
  View to;
  std::uint64_t const* from_marks = nullptr;
  std::uint64_t* to_marks = nullptr;

  BULKMAP_HOST_DEVICE void operator()(std::uint64_t s) const {
    using traits = typename View::traits;
    using word = typename traits::word;
    auto const moved = [&](std::uint64_t i) {
      to.slots[i].value = from.slots[s].value;
      if (from_marks && test_bit(from_marks, s)) set_bit(to_marks, i);
    };
    if (s >= from.capacity) {
      std::uint64_t const i = to.capacity + (s - from.capacity);
      View::key_ops::store_unshared(to.slots[i], View::load_key(from.slots[s]));
      moved(i);
      return;
    }
    word const w = View::load_key(from.slots[s]);
    if (traits::is_sentinel(w)) return;
    std::uint64_t const mask = to.capacity - 1;
    for (std::uint64_t i = to.hash(traits::decode(w)) & mask;; i = (i + 1) & mask) {
      word expected = traits::empty;
      if (View::key_ops::compare_exchange(to.slots[i], expected, w)) {
        moved(i);
        return;
      }
    }
  }
};

}  // namespace detail
BULKMAP_NAMESPACE_END
