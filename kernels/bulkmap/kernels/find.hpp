/**
 * @file find.hpp
 * @brief Lookups: `find` writes each key's value, `contains` whether the key is present.
 */
#pragma once

#include <bulkmap/detail/table.hpp>

BULKMAP_NAMESPACE_BEGIN
namespace detail {

template <class View, class KeyIt, class OutIt>
struct find_fn {
  View table;
  KeyIt keys;
  OutIt values_out;
  typename View::value_type missing_value;

  BULKMAP_HOST_DEVICE void operator()(std::uint64_t i) const {
    std::uint64_t const s = table.find(keys[i]);
    values_out[i] = s == ref::npos ? missing_value : table.slots[s].value;
  }
};

template <class View, class KeyIt, class OutIt>
struct contains_fn {
  View table;
  KeyIt keys;
  OutIt flags_out;

  BULKMAP_HOST_DEVICE void operator()(std::uint64_t i) const {
    flags_out[i] = table.find(keys[i]) != ref::npos;
  }
};

}  // namespace detail
BULKMAP_NAMESPACE_END
