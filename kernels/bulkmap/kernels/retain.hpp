/**
 * @file retain.hpp
 * @brief `retain`: frees every live slot whose pair fails the predicate. One thread per slot on a
 * GPU; a block of slots per call on omp (`counted_pass`).
 */
#pragma once

#include <bulkmap/detail/table.hpp>
#include <bulkmap/kernels/erase.hpp>

BULKMAP_NAMESPACE_BEGIN
namespace detail {

/// Frees slot s when it holds a live pair that fails `pred`; returns whether it did. Run as a
/// `counted_pass` whose counter counts the removals.
template <class View, class Pred>
struct retain_fn {
  View table;
  Pred pred;

  BULKMAP_HOST_DEVICE bool counted(std::uint64_t s) const {
    if (!table.is_live(s)) return false;
    typename View::key_type const key = table.key_at(s);
    typename View::value_type const value = table.slots[s].value;
    if (pred(key, value)) return false;
    free_owned_slot(table, s);
    return true;
  }
};

}  // namespace detail
BULKMAP_NAMESPACE_END
