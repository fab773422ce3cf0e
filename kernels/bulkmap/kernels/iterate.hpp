/**
 * @file iterate.hpp
 * @brief Whole-map passes with a user functor: `for_each`, `transform_values`, `extract_if`, and
 * the pair check of `operator==`. One thread per slot (or per pair of the other map).
 */
#pragma once

#include <bulkmap/detail/table.hpp>
#include <bulkmap/kernels/erase.hpp>

BULKMAP_NAMESPACE_BEGIN
namespace detail {

/// `f(key, value)` for the live pair of slot s.
template <class View, class F>
struct for_each_fn {
  View table;
  F f;

  BULKMAP_HOST_DEVICE void operator()(std::uint64_t s) const {
    if (!table.is_live(s)) return;
    typename View::key_type const key = table.key_at(s);
    typename View::value_type const value = table.slots[s].value;
    f(key, value);
  }
};

/// `value = f(key, value)` for the live pair of slot s.
template <class View, class F>
struct transform_values_fn {
  View table;
  F f;

  BULKMAP_HOST_DEVICE void operator()(std::uint64_t s) const {
    if (!table.is_live(s)) return;
    using T = typename View::value_type;
    typename View::key_type const key = table.key_at(s);
    table.slots[s].value = static_cast<T>(f(key, static_cast<T const&>(table.slots[s].value)));
  }
};

/// Flag: slot s holds a live pair for which `pred(key, value)` is true (`pred` runs once a pair).
template <class View, class Pred>
struct select_fn {
  View table;
  Pred pred;

  BULKMAP_HOST_DEVICE std::uint8_t operator()(std::uint64_t s) const {
    if (!table.is_live(s)) return 0;
    typename View::key_type const key = table.key_at(s);
    typename View::value_type const value = table.slots[s].value;
    return pred(key, value) ? 1 : 0;
  }
};

/// Stencil: the flag is set.
struct is_set_fn {
  BULKMAP_HOST_DEVICE bool operator()(std::uint8_t flag) const { return flag != 0; }
};

/// Frees slot s if its flag is set; returns whether it did. Run as a `counted_pass` whose counter
/// counts the slots freed.
template <class View>
struct free_flagged_fn {
  View table;
  std::uint8_t const* flags;

  BULKMAP_HOST_DEVICE bool counted(std::uint64_t s) const {
    if (!flags[s]) return false;
    free_owned_slot(table, s);
    return true;
  }
};

/// Value equality of `operator==`: `==` for arithmetic values, equal bits for the others.
template <class T>
BULKMAP_HOST_DEVICE bool values_equal(T const& a, T const& b) {
  if constexpr (std::is_arithmetic_v<T> || is_integer_v<T>) {
    return a == b;
  } else {
    return key_bits(a) == key_bits(b);  // the bits of a value without padding
  }
}

/// Whether the table holds pair i of (keys, values) with an equal value (`values_equal`).
template <class View, class KeyIt, class ValueIt>
struct holds_pair_fn {
  View table;
  KeyIt keys;
  ValueIt values;

  BULKMAP_HOST_DEVICE bool operator()(std::uint64_t i) const {
    using T = typename View::value_type;
    std::uint64_t const s = table.find(keys[i]);
    return s != ref::npos && values_equal<T>(table.slots[s].value, values[i]);
  }
};

}  // namespace detail
BULKMAP_NAMESPACE_END
