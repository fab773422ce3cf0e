/**
 * @file strings.hpp
 * @brief The per-element work of `string_map` that its table needs of its own (the locate pass
 * and the value passes are those of `device_map`: locate.hpp, insert.hpp, accumulate.hpp, run on
 * a `string_table_view` over keys given as `byte_view`s).
 *
 * - `batch_key_fn`: the `byte_view` of key i of a batch (bytes plus offsets).
 * - `string_erase_fn`, `string_retain_fn`, `string_unclaim_fn`, `string_unclaim_found_fn`,
 *   `string_unfold_fn`: removal (a tombstone each) and undoing folds.
 * - `string_rehash_fn`: moving live slots into a new table by their tags.
 * - `record_words_fn`, `move_record_fn`: compacting the arena.
 * - `key_length_fn`, `copy_key_fn`, `slot_value_fn`: collecting the pairs (`drain`, `to_host`).
 */
#pragma once

#include <bulkmap/detail/string_table.hpp>
#include <bulkmap/detail/warp.hpp>
#include <bulkmap/kernels/accumulate.hpp>
#include <cstdint>
#include <cstring>

BULKMAP_NAMESPACE_BEGIN
namespace detail {

/// Key i of a batch in the columnar layout: `bytes[offsets[i], offsets[i + 1])`.
template <class OffsetIt>
struct batch_key_fn {
  unsigned char const* bytes;
  OffsetIt offsets;

  BULKMAP_HOST_DEVICE byte_view operator()(std::uint64_t i) const {
    auto const first = static_cast<std::uint64_t>(offsets[i]);
    auto const last = static_cast<std::uint64_t>(offsets[i + 1]);
    return {bytes + first, last - first};
  }
};

/// The arena words of a key's record.
struct key_record_words_fn {
  BULKMAP_HOST_DEVICE std::uint64_t operator()(byte_view key) const {
    return record_words(key.size);
  }
};

/// Whether offsets i and i + 1 are in order (a key cannot end before it starts).
template <class OffsetIt>
struct offsets_ordered_fn {
  OffsetIt offsets;

  BULKMAP_HOST_DEVICE bool operator()(std::uint64_t i) const {
    return !(offsets[i + 1] < offsets[i]);
  }
};

/// Counts one removed key and its record's words (garbage in the arena until a compaction).
template <class View>
BULKMAP_HOST_DEVICE void count_removed(View const& table, std::uint64_t s,
                                       unsigned long long* removed,
                                       unsigned long long* removed_words) {
  add_to_counter(*removed, 1);
  atomic_ref_t<unsigned long long>(*removed_words)
      .fetch_add(record_words(table.key_at(s).size), cuda::std::memory_order_relaxed);
}

/// `erase`: the key's slot becomes a tombstone; a repeated key is removed once.
template <class View, class KeyIt>
struct string_erase_fn {
  View table;
  KeyIt keys;
  unsigned long long* removed;
  unsigned long long* removed_words;

  BULKMAP_HOST_DEVICE void operator()(std::uint64_t i) const {
    std::uint64_t const s = table.find(keys[i]);
    if (s == ref::npos) return;
    std::uint64_t tag = View::load_tag(table.slots[s]);
    if (tag > string_tombstone &&
        atomic_ref_t<std::uint64_t>(table.slots[s].tag)
            .compare_exchange_strong(tag, string_tombstone, cuda::std::memory_order_relaxed)) {
      count_removed(table, s, removed, removed_words);
    }
  }
};

/// `retain`: one thread a slot; a live pair failing `pred` becomes a tombstone (a plain store:
/// nobody else touches the slot meanwhile).
template <class View, class Pred>
struct string_retain_fn {
  View table;
  Pred pred;
  unsigned long long* removed;
  unsigned long long* removed_words;

  BULKMAP_HOST_DEVICE void operator()(std::uint64_t s) const {
    if (!table.is_live(s)) return;
    typename View::value_type const value = table.slots[s].value;
    if (pred(table.key_at(s), value)) return;
    count_removed(table, s, removed, removed_words);
    table.slots[s].tag = string_tombstone;
  }
};

/// Undoes the claims of a chunk whose growth failed: each claimed slot becomes a tombstone (its
/// record is dropped with the arena's top, which the caller moves back).
template <class View>
struct string_unclaim_fn {
  View table;
  std::uint64_t const* refs;

  BULKMAP_HOST_DEVICE void operator()(std::uint64_t i) const {
    if (!(refs[i] & ref::claimed)) return;
    table.slots[refs[i] & ref::index_mask].tag = string_tombstone;
  }
};

/// `string_unclaim_fn` where refs may predate a growth: the claimed key's slot is found again.
template <class View, class KeyIt>
struct string_unclaim_found_fn {
  View table;
  KeyIt keys;
  std::uint64_t const* refs;

  BULKMAP_HOST_DEVICE void operator()(std::uint64_t i) const {
    if (!(refs[i] & ref::claimed)) return;
    // Other threads' finds read the tags they probe past meanwhile: an atomic store, as theirs
    // are atomic loads (a plain one is a data race, which ThreadSanitizer reported).
    atomic_ref_t<std::uint64_t>(table.slots[table.find(keys[i])].tag)
        .store(string_tombstone, cuda::std::memory_order_relaxed);
  }
};

/// Folds value i into its key's slot, found again by the key, unless input i failed (the undo
/// of a fused fold, with negated values; see `string_map::unclaim_chunk`).
template <class View, class KeyIt, class ValueIt, class Op>
struct string_unfold_fn {
  View table;
  KeyIt keys;
  ValueIt values;
  std::uint64_t const* refs;
  Op op;

  BULKMAP_HOST_DEVICE void operator()(std::uint64_t i) const {
    if (refs[i] & ref::failed) return;
    value_ops<typename View::slot_type>::fold(
        table.slots[table.find(keys[i])], static_cast<typename View::value_type>(values[i]), op);
  }
};

/// Moves live slot `s` of `from` into `to` by its tag: no key bytes are read.
template <class View>
struct string_rehash_fn {
  View from;
  View to;

  BULKMAP_HOST_DEVICE void operator()(std::uint64_t s) const {
    std::uint64_t const tag = View::load_tag(from.slots[s]);
    if (tag <= string_tombstone) return;
    std::uint64_t const mask = to.capacity - 1;
    for (std::uint64_t i = tag & mask;; i = (i + 1) & mask) {
      std::uint64_t expected = string_empty;
      if (atomic_ref_t<std::uint64_t>(to.slots[i].tag)
              .compare_exchange_strong(expected, tag, cuda::std::memory_order_relaxed)) {
        to.slots[i].head = from.slots[s].head;
        to.slots[i].record = from.slots[s].record;
        to.slots[i].value = from.slots[s].value;
        return;
      }
    }
  }
};

/// The arena words slot `s`'s record takes, or 0 for a slot that is not live.
template <class View>
struct record_words_fn {
  View table;

  BULKMAP_HOST_DEVICE std::uint64_t operator()(std::uint64_t s) const {
    return table.is_live(s) ? record_words(table.key_at(s).size) : 0;
  }
};

/// Copies live slot `s`'s record to word `at[s]` of the new arena `to`, and points the slot there.
template <class View>
struct move_record_fn {
  View table;
  std::uint64_t const* at;
  std::uint64_t* to;

  BULKMAP_HOST_DEVICE void operator()(std::uint64_t s) const {
    if (!table.is_live(s)) return;
    std::uint64_t const record = table.record_word(s);
    if (record & inline_flag) return;  // no record in the arena
    std::uint64_t const* r = table.arena + (record - 1);
    std::uint64_t const words = record_words(r[0]);
    for (std::uint64_t w = 0; w < words; ++w) to[at[s] + w] = r[w];
    table.slots[s].record = at[s] + 1;
  }
};

/// Whether slot `s` is live.
template <class View>
struct slot_live_fn {
  View table;

  BULKMAP_HOST_DEVICE bool operator()(std::uint64_t s) const { return table.is_live(s); }
};

/// The length in bytes of the key in live slot `slots[j]`.
template <class View>
struct key_length_fn {
  View table;
  std::uint64_t const* slots;

  BULKMAP_HOST_DEVICE std::uint64_t operator()(std::uint64_t j) const {
    return table.key_at(slots[j]).size;
  }
};

/// The value in live slot `slots[j]`.
template <class View>
struct slot_value_fn {
  View table;
  std::uint64_t const* slots;

  BULKMAP_HOST_DEVICE typename View::value_type operator()(std::uint64_t j) const {
    return table.slots[slots[j]].value;
  }
};

/// Copies the key of live slot `slots[j]` to `out + offsets[j]`.
template <class View>
struct copy_key_fn {
  View table;
  std::uint64_t const* slots;
  std::uint64_t const* offsets;
  unsigned char* out;

  BULKMAP_HOST_DEVICE void operator()(std::uint64_t j) const {
    byte_view const key = table.key_at(slots[j]);
    if (key.size != 0) memcpy(out + offsets[j], key.data, key.size);
  }
};

}  // namespace detail
BULKMAP_NAMESPACE_END
