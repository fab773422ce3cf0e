/**
 * @file group.hpp
 * @brief The per-row work of `bulkmap::group_by` (group_by.hpp).
 */
#pragma once

#include <bulkmap/config.hpp>
#include <bulkmap/detail/table.hpp>
#include <cstdint>
#include <cuda/atomic>

BULKMAP_NAMESPACE_BEGIN
namespace detail {

/**
 * Row i takes the next free place of its group and writes its row number there. `groups` maps
 * each key to its group's number (a `device_map_ref` holding every key of the rows); `cursors[g]`
 * starts at group g's offset. Places within a group go in the order the rows reach them.
 */
template <class Ref, class KeyIt>
struct group_scatter_fn {
  Ref groups;
  KeyIt keys;
  std::uint64_t* cursors;
  std::uint64_t* rows;

  BULKMAP_HOST_DEVICE void operator()(std::uint64_t i) const {
    std::uint64_t const g = *groups.find(keys[i]);
    std::uint64_t const at =
        atomic_ref_t<std::uint64_t>(cursors[g]).fetch_add(1, cuda::std::memory_order_relaxed);
    rows[at] = i;
  }
};

}  // namespace detail
BULKMAP_NAMESPACE_END
