/**
 * @file compact.hpp
 * @brief Per-slot accessors for Thrust compaction of the live pairs (keys, values, drain, to_host).
 */
#pragma once

#include <thrust/functional.h>

#include <bulkmap/detail/table.hpp>
#include <type_traits>

BULKMAP_NAMESPACE_BEGIN
namespace detail {

/// Stencil: whether slot s holds a live pair.
template <class View>
struct live_at_fn {
  View table;
  BULKMAP_HOST_DEVICE bool operator()(std::uint64_t s) const { return table.is_live(s); }
};

/// The user key of slot s (side slots included).
template <class View>
struct key_at_fn {
  View table;
  BULKMAP_HOST_DEVICE typename View::key_type operator()(std::uint64_t s) const {
    return table.key_at(s);
  }
};

/// The value of slot s.
template <class View>
struct value_at_fn {
  View table;
  BULKMAP_HOST_DEVICE typename View::value_type operator()(std::uint64_t s) const {
    return table.slots[s].value;
  }
};

/**
 * The comparison to sort keys of type Key by: `thrust::less` (a radix sort) where it is right,
 * that is for integer keys of at most 8 bytes on a GPU (CUB's radix sort orders signed keys
 * correctly) and unsigned ones on the host; `bulkmap::key_less` (a comparison sort) for the rest.
 * A plain or `thrust::less` comparison sends 4-byte signed keys through Thrust's host radix
 * sort, which orders them as unsigned (CCCL 3.0.1, NVIDIA/cccl#4919); a functor of our own takes
 * the comparison sort.
 */
template <class Key>
using key_order = std::conditional_t<is_integer_v<Key> && sizeof(Key) <= 8 &&
                                         (backend_is_cuda || std::is_unsigned_v<Key>),
                                     thrust::less<Key>, bulkmap::key_less<Key>>;

}  // namespace detail
BULKMAP_NAMESPACE_END
