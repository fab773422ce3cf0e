/**
 * @file find.hpp
 * @brief Lookups: `find` writes each key's value (and optionally whether it was found),
 * `contains` whether the key is present.
 */
#pragma once

#include <bulkmap/detail/table.hpp>

BULKMAP_NAMESPACE_BEGIN
namespace detail {

/// Writes each key's value (or `missing_value`) and whether it was found (`found_out` may be a
/// discard iterator).
template <class View, class KeyIt, class OutIt, class FlagIt>
struct find_fn {
  View table;
  KeyIt keys;
  OutIt values_out;
  FlagIt found_out;
  typename View::value_type missing_value;

  BULKMAP_HOST_DEVICE void operator()(std::uint64_t i) const {
    std::uint64_t const s = table.find(keys[i]);
    values_out[i] = s == ref::npos ? missing_value : table.slots[s].value;
    found_out[i] = s != ref::npos;
  }
  BULKMAP_HOST_DEVICE void prefetch(std::uint64_t i) const { table.prefetch_home(keys[i]); }
};

template <class View, class KeyIt, class OutIt>
struct contains_fn {
  View table;
  KeyIt keys;
  OutIt flags_out;

  BULKMAP_HOST_DEVICE void operator()(std::uint64_t i) const {
    flags_out[i] = table.find(keys[i]) != ref::npos;
  }
  BULKMAP_HOST_DEVICE void prefetch(std::uint64_t i) const { table.prefetch_home(keys[i]); }
};

}  // namespace detail
BULKMAP_NAMESPACE_END
