/**
 * @file retain.hpp
 * @brief `retain`: frees every live slot whose pair fails the predicate. One thread per slot.
 */
#pragma once

#include <bulkmap/detail/table.hpp>
#include <bulkmap/kernels/erase.hpp>

BULKMAP_NAMESPACE_BEGIN
namespace detail {

template <class View, class Pred>
struct retain_fn {
  View table;
  Pred pred;
  unsigned long long* removed;

  BULKMAP_HOST_DEVICE void operator()(std::uint64_t s) const {
    if (!table.is_live(s)) return;
    typename View::key_type const key = table.key_at(s);
    typename View::value_type const value = table.slots[s].value;
    if (!pred(key, value)) {
      free_owned_slot(table, s);
      add_to_counter(*removed, 1);
    }
  }
};

}  // namespace detail
BULKMAP_NAMESPACE_END
