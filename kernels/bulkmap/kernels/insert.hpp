/**
 * @file insert.hpp
 * @brief Ordered insertion: which input of a batch writes a key's value.
 *
 * `insert` keeps the first occurrence of a repeated key, `insert_or_assign` the last, as the
 * sequential loop would; `insert_or_accumulate` with an operator whose identity is not zero
 * starts a new key from one input's value and folds the others in. After the locate pass, the
 * inputs that take part (see below) elect one writer per slot:
 *
 * 1. `tag_fn`: each takes an atomic max of its tag into the low 32 bits of the slot's value, which
 *    is zero for every participating slot. First-wins tags fall with the input index, last-wins
 *    tags rise with it; all tags are non-zero.
 * 2. `elect_fn`: the input whose tag stayed is the slot's writer (`ref::winner`).
 * 3. `write_fn`: each writer stores its value.
 * 4. `fold_fn` (accumulate.hpp; accumulate only): every other input folds its value in.
 *
 * Participants: `insert` and `insert_or_accumulate`, the inputs whose key was absent at the chunk's
 * start; `insert_or_assign`, every input, after `zero_fn` cleared the values it will overwrite.
 * Chunks hold fewer than 2^31 inputs, so tags fit in 32 bits.
 *
 * On omp, `insert` first tries without an election (`first_writes`): most batches hold each new
 * key once, and then the input that claims a key's slot is its first occurrence.
 */
#pragma once

#include <bulkmap/detail/table.hpp>
#include <bulkmap/kernels/accumulate.hpp>

BULKMAP_NAMESPACE_BEGIN
namespace detail {

/// Low 32 bits of a slot value, where the tags go.
template <class T>
BULKMAP_HOST_DEVICE std::uint32_t& tag_word(T& value) {
  return *reinterpret_cast<std::uint32_t*>(&value);
}

/// The tag of input i: larger wins. First-wins: 2^31 - i; last-wins: i + 1.
BULKMAP_HOST_DEVICE inline std::uint32_t input_tag(std::uint64_t i, bool first_wins) {
  return first_wins ? static_cast<std::uint32_t>((std::uint64_t{1} << 31) - i)
                    : static_cast<std::uint32_t>(i + 1);
}

/// Clears the value of every slot the chunk refers to (`insert_or_assign` overwrites them all),
/// or with `absent_only`, of the slots the chunk claimed (`first_writes` before an election).
template <class View>
struct zero_fn {
  View table;
  std::uint64_t const* refs;
  bool absent_only = false;

  BULKMAP_HOST_DEVICE void operator()(std::uint64_t i) const {
    using T = typename View::value_type;
    if (absent_only && !(refs[i] & ref::absent)) return;
    value_ops<typename View::slot_type>::store(table.slots[refs[i] & ref::index_mask], T{});
  }
};

/**
 * `insert`'s first values, written by the locate pass itself (`claim_fn`; omp, default key
 * equality, no per-input flags). The input that claims a key's slot stores its value at once:
 * when the chunk holds each new key once (the usual batch), that input is the key's first
 * occurrence, and no pass after the locate pass touches the slots. The claims mark their slots
 * (`claim_marking`, in the pass's first run over the chunk), so an input that finds a key the
 * pass claimed knows it is a repeat: it is flagged `ref::absent`, as the claimers are, and
 * raises `any_repeat`. Then, and when the pass had to run again (some input found no room), the
 * first values are elected as in the module head, among the absent inputs, after `zero_fn`
 * (`absent_only`) cleared what the claimers stored. A pass by owners (`in_order`)
 * runs each key's inputs in input order: the claimer is the key's first input of the pass, and
 * needs no marks; an election follows only a failed input.
 */
template <class ValueIt, class Slot>
struct first_writes {
  ValueIt values;
  claim_marking<Slot> marking;
  unsigned long long* any_repeat;
  /// Every occurrence of a key has the same value (`insert_with`: `make_value(key)`): whichever
  /// claims may store it, and nothing is marked, elected or read twice.
  bool values_by_key = false;
  /// Each key's inputs run on one thread, in input order (omp, `owner_pass`, chosen per chunk
  /// where the marks would be made): the input that claims a key's slot is the key's first in
  /// the pass, and nothing is marked.
  bool in_order = false;
};

template <class Also>
inline constexpr bool is_first_writes_v = false;
template <class ValueIt, class Slot>
inline constexpr bool is_first_writes_v<first_writes<ValueIt, Slot>> = true;

/// Step 1: atomic max of the input's tag into its slot.
template <class View>
struct tag_fn {
  View table;
  std::uint64_t const* refs;
  bool all_participate;
  bool first_wins;

  BULKMAP_HOST_DEVICE void operator()(std::uint64_t i) const {
    if (!all_participate && !(refs[i] & ref::absent)) return;
    auto& word = tag_word(table.slots[refs[i] & ref::index_mask].value);
    atomic_ref_t<std::uint32_t>(word).fetch_max(input_tag(i, first_wins),
                                                cuda::std::memory_order_relaxed);
  }
};

/// Step 2: the input whose tag is in its slot becomes the writer.
template <class View>
struct elect_fn {
  View table;
  std::uint64_t* refs;
  bool all_participate;
  bool first_wins;

  BULKMAP_HOST_DEVICE void operator()(std::uint64_t i) const {
    if (!all_participate && !(refs[i] & ref::absent)) return;
    auto& word = tag_word(table.slots[refs[i] & ref::index_mask].value);
    if (atomic_ref_t<std::uint32_t>(word).load(cuda::std::memory_order_relaxed) ==
        input_tag(i, first_wins)) {
      refs[i] |= ref::winner;
    }
  }
};

/// Step 3: writers store their value.
template <class View, class ValueIt>
struct write_fn {
  View table;
  ValueIt values;
  std::uint64_t const* refs;

  BULKMAP_HOST_DEVICE void operator()(std::uint64_t i) const {
    using T = typename View::value_type;
    if (!(refs[i] & ref::winner)) return;
    value_ops<typename View::slot_type>::store(table.slots[refs[i] & ref::index_mask],
                                               static_cast<T>(values[i]));
  }
};

/**
 * The optional per-input "was new" output: whether input i is the first occurrence of a key that
 * was absent at its chunk's start, that is, the first-wins writer (`ref::winner` after a
 * first-wins election among the absent inputs). With `reset`, for callers that elected only for
 * this output, it also undoes the election: clears the winner bit and zeroes the new slot's tag
 * word, so the slot's value is zero again.
 */
template <class View, class FlagIt>
struct flag_new_fn {
  View table;
  std::uint64_t* refs;
  FlagIt flags;
  bool reset;

  BULKMAP_HOST_DEVICE void operator()(std::uint64_t i) const {
    flags[i] = (refs[i] & ref::winner) != 0;
    if (!reset || !(refs[i] & ref::absent)) return;
    refs[i] &= ~ref::winner;
    atomic_ref_t<std::uint32_t>(tag_word(table.slots[refs[i] & ref::index_mask].value))
        .store(0, cuda::std::memory_order_relaxed);
  }
};

/**
 * Under a custom `KeyEqual` (table.hpp), a main slot holds whichever of a class's equal keys
 * claimed it first. The sequential loop keeps the first occurrence's key: its first-wins writer
 * (elected among the inputs absent at the chunk's start) stores its own key over the claimed one.
 * No thread probes meanwhile, and both keys are equal, so the slot stays findable throughout.
 */
template <class View, class KeyIt>
struct keep_key_fn {
  View table;
  KeyIt keys;
  std::uint64_t const* refs;

  BULKMAP_HOST_DEVICE void operator()(std::uint64_t i) const {
    std::uint64_t const s = refs[i] & ref::index_mask;
    if (!(refs[i] & ref::winner) || s >= table.capacity) return;  // side slots: table.hpp
    auto& slot = table.slots[s];
    auto expected = View::load_key(slot);
    View::key_ops::compare_exchange(slot, expected, View::traits::encode(keys[i]));
  }
};

/**
 * Records which inputs of a chunk wrote a first value, one bit per input in a bitmap over the
 * whole batch (`bits` points at the chunk's first word; chunks start at multiples of 32). A batch
 * of several chunks folds only after every chunk has claimed its keys, and the fold must skip
 * the writers.
 */
struct save_writers_fn {
  std::uint64_t const* refs;
  std::uint32_t* bits;

  BULKMAP_HOST_DEVICE void operator()(std::uint64_t i) const {
    if (!(refs[i] & ref::winner)) return;
    atomic_ref_t<std::uint32_t>(bits[i / 32])
        .fetch_or(std::uint32_t{1} << (i % 32), cuda::std::memory_order_relaxed);
  }
};

/// Marks the writers that `save_writers_fn` recorded (`ref::winner`) in freshly located refs.
struct restore_writers_fn {
  std::uint64_t* refs;
  std::uint32_t const* bits;

  BULKMAP_HOST_DEVICE void operator()(std::uint64_t i) const {
    if ((bits[i / 32] >> (i % 32)) & 1) refs[i] |= ref::winner;
  }
};

}  // namespace detail
BULKMAP_NAMESPACE_END
