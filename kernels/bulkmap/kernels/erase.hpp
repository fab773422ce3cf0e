/**
 * @file erase.hpp
 * @brief Removal of keys: the slot's key becomes a tombstone (main table) or free (side slot).
 *
 * A repeated key is removed once: only one compare-and-swap from the key to the tombstone
 * succeeds. A freed side slot's value is reset to zero, the invariant of free slots; main slots
 * keep theirs, since tombstones are never reused.
 *
 * Erase that returns the removed values (Rust's `remove`, one `Option` per input) gives each
 * value to the first occurrence of its key in the batch, as the sequential loop would, in four
 * passes: `take_values_fn` reads every input's value and slot; `clear_tag_fn` zeroes the tag word
 * of each slot to be freed; `tag_fn`-style first-wins tags elect one input per slot
 * (`take_tag_fn`); `take_elect_fn` frees the slot for the winner and writes `missing` for the
 * other occurrences.
 */
#pragma once

#include <bulkmap/detail/table.hpp>
#include <bulkmap/kernels/insert.hpp>

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
           View::key_ops::compare_exchange(table.slots[s], expected, traits::tombstone);
  }
  if (expected != traits::side_occupied) return false;
  if (!View::key_ops::compare_exchange(table.slots[s], expected, traits::empty)) return false;
  value_ops<typename View::slot_type>::store(table.slots[s], T{});
  return true;
}

/**
 * Frees live slot `s` in a pass over the slots, one thread per slot (`retain`, `extract_if`):
 * nobody else reads or writes it meanwhile, so plain stores do what `free_slot`'s
 * compare-and-swap does.
 */
template <class View>
BULKMAP_HOST_DEVICE void free_owned_slot(View const& table, std::uint64_t s) {
  using traits = typename View::traits;
  if (s < table.capacity) {
    View::key_ops::store_unshared(table.slots[s], traits::tombstone);
    return;
  }
  table.slots[s].value = typename View::value_type{};
  View::key_ops::store_unshared(table.slots[s], traits::empty);
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
  BULKMAP_HOST_DEVICE void prefetch(std::uint64_t i) const { table.prefetch_home(keys[i]); }
};

/// Pass 1: each input's slot (or ref::npos) and the value there (or `missing`).
template <class View, class KeyIt, class OutIt>
struct take_values_fn {
  View table;
  KeyIt keys;
  OutIt values_out;
  typename View::value_type missing;
  std::uint64_t* refs;

  BULKMAP_HOST_DEVICE void operator()(std::uint64_t i) const {
    std::uint64_t const s = table.find(keys[i]);
    refs[i] = s;
    values_out[i] = s == ref::npos ? missing : table.slots[s].value;
  }
};

/// Pass 2: zero the tag word of each slot to be freed (its value has been read).
template <class View>
struct clear_tag_fn {
  View table;
  std::uint64_t const* refs;

  BULKMAP_HOST_DEVICE void operator()(std::uint64_t i) const {
    if (refs[i] == ref::npos) return;
    atomic_ref_t<std::uint32_t>(tag_word(table.slots[refs[i]].value))
        .store(0, cuda::std::memory_order_relaxed);
  }
};

/// Pass 3: first-wins tags (see insert.hpp).
template <class View>
struct take_tag_fn {
  View table;
  std::uint64_t const* refs;

  BULKMAP_HOST_DEVICE void operator()(std::uint64_t i) const {
    if (refs[i] == ref::npos) return;
    atomic_ref_t<std::uint32_t>(tag_word(table.slots[refs[i]].value))
        .fetch_max(input_tag(i, true), cuda::std::memory_order_relaxed);
  }
};

/// Pass 4: the first occurrence frees the slot and keeps its value; the others get `missing`.
template <class View, class OutIt>
struct take_elect_fn {
  View table;
  std::uint64_t const* refs;
  OutIt values_out;
  typename View::value_type missing;
  unsigned long long* removed;

  BULKMAP_HOST_DEVICE void operator()(std::uint64_t i) const {
    std::uint64_t const s = refs[i];
    if (s == ref::npos) return;
    std::uint32_t const tag = atomic_ref_t<std::uint32_t>(tag_word(table.slots[s].value))
                                  .load(cuda::std::memory_order_relaxed);
    if (tag == input_tag(i, true) && free_slot(table, s)) {
      add_to_counter(*removed, 1);
    } else {
      values_out[i] = missing;
    }
  }
};

}  // namespace detail
BULKMAP_NAMESPACE_END
