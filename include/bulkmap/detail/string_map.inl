/**
 * @file detail/string_map.inl
 * @brief Definitions of `bulkmap::string_map`, included at the bottom of string_map.hpp.
 *
 * An insertion runs as `device_map`'s does (see device_map.inl), on keys given as `byte_view`s
 * and with the same locate and value passes (locate.hpp, insert.hpp, accumulate.hpp):
 * - Chunks of at most `string_chunk_inputs` keys, halved until their records take at most
 *   `string_chunk_bytes` (or the chunk is one key). Before a chunk, the arena gets room for a
 *   record of each of its keys (`reserve_arena`), so a claim never waits for room in the arena.
 * - Locate pass with the claim budget; failed inputs retried in place, or after the table grows
 *   (`detail::grown_capacity`); a failed growth undoes the chunk's claims and moves the arena's
 *   top back.
 * - Value passes: the first-wins election for first values, one atomic fold per input otherwise.
 * - A batch of several chunks claims every chunk's keys (and writes first values) first, logging
 *   the claimed keys, which a failure erases; the folds run in a second sweep, which cannot fail.
 */
#pragma once

#include <thrust/copy.h>
#include <thrust/fill.h>
#include <thrust/iterator/constant_iterator.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/iterator/discard_iterator.h>
#include <thrust/iterator/transform_iterator.h>
#include <thrust/logical.h>
#include <thrust/scan.h>
#include <thrust/transform.h>
#include <thrust/transform_reduce.h>

#include <algorithm>
#include <bulkmap/detail/bulk.hpp>
#include <bulkmap/kernels/accumulate.hpp>
#include <bulkmap/kernels/find.hpp>
#include <bulkmap/kernels/insert.hpp>
#include <bulkmap/kernels/iterate.hpp>
#include <bulkmap/kernels/locate.hpp>
#include <bulkmap/kernels/strings.hpp>
#include <limits>
#include <string>

BULKMAP_NAMESPACE_BEGIN
namespace detail {

/// Keys per chunk of a `string_map` insertion.
inline constexpr std::size_t string_chunk_inputs = std::size_t{1} << 22;
/// Key bytes per chunk of a `string_map` insertion (a longer key makes a chunk of its own).
inline constexpr std::size_t string_chunk_bytes = std::size_t{64} << 20;

/// An offset as 64 bits.
struct offset_as_u64 {
  template <class I>
  BULKMAP_HOST_DEVICE std::uint64_t operator()(I const& x) const {
    return static_cast<std::uint64_t>(x);
  }
};

/// The raw pointer to a batch's bytes (`bytes`: a raw pointer or a `thrust::device_ptr`).
template <class BytePtr>
unsigned char const* raw_bytes(BytePtr bytes) {
  return reinterpret_cast<unsigned char const*>(thrust::raw_pointer_cast(bytes));
}

}  // namespace detail

template <class T, class Hash, class Allocator>
string_map<T, Hash, Allocator>::string_map(size_type n, double max_load_factor, Hash const& hash,
                                           Allocator const& alloc)
    : max_load_factor_(max_load_factor), hash_(hash), alloc_(alloc) {
  BULKMAP_EXPECTS(
      max_load_factor > 0.0 && max_load_factor < 1.0,
      "string_map: max_load_factor must be in (0, 1), got " + std::to_string(max_load_factor));
  capacity_ = detail::capacity_for(n, max_load_factor_);
  slots_ = detail::allocate<slot_type>(alloc_, "string_map", capacity_, slot_type{});
  counters_ = detail::allocate<unsigned long long>(alloc_, "string_map",
                                                   detail::counter_rows * detail::counter_stride);
}

template <class T, class Hash, class Allocator>
auto string_map<T, Hash, Allocator>::view() const -> view_type {
  auto* counters = thrust::raw_pointer_cast(counters_.data());
  size_type const limit = detail::load_limit(capacity_, max_load_factor_);
  return view_type{const_cast<slot_type*>(thrust::raw_pointer_cast(slots_.data())),
                   capacity_,
                   hash_,
                   const_cast<std::uint64_t*>(thrust::raw_pointer_cast(arena_.data())),
                   counters + arena_top,
                   counters + claims,
                   occupied_ < limit ? limit - occupied_ : 0};
}

template <class T, class Hash, class Allocator>
auto string_map<T, Hash, Allocator>::read_counters() const
    -> std::array<unsigned long long, counter_count> {
  return detail::read_counter_columns<counter_count>(counters_);
}

template <class T, class Hash, class Allocator>
void string_map<T, Hash, Allocator>::reset_counters(unsigned long long top) {
  std::vector<unsigned long long> h(counters_.size(), 0);
  h[arena_top] = top;
  detail::translate_errors("reset counters",
                           [&] { thrust::copy(h.begin(), h.end(), counters_.begin()); });
}

template <class T, class Hash, class Allocator>
template <class F>
void string_map<T, Hash, Allocator>::run(char const* what, size_type n, F const& fn) const {
  detail::launch(what, n, fn);
}

// ---- capacity --------------------------------------------------------------------------------

template <class T, class Hash, class Allocator>
void string_map<T, Hash, Allocator>::rehash(size_type new_capacity) {
  auto fresh = detail::allocate<slot_type>(alloc_, "rehash", new_capacity, slot_type{});
  view_type const from = view();
  view_type to = from;
  to.slots = thrust::raw_pointer_cast(fresh.data());
  to.capacity = new_capacity;
  run("rehash", capacity_, detail::string_rehash_fn<view_type>{from, to});
  slots_.swap(fresh);
  capacity_ = new_capacity;
  occupied_ = size_;
}

template <class T, class Hash, class Allocator>
void string_map<T, Hash, Allocator>::reserve(size_type additional) {
  BULKMAP_EXPECTS(additional <= std::numeric_limits<size_type>::max() - size_,
                  "reserve: size() + additional overflows");
  if (occupied_ + additional <= detail::load_limit(capacity_, max_load_factor_)) return;
  rehash(std::max(capacity_, detail::capacity_for(size_ + additional, max_load_factor_)));
}

template <class T, class Hash, class Allocator>
void string_map<T, Hash, Allocator>::shrink_to_fit() {
  compact_arena(0);
  size_type const fit = detail::capacity_for(size_, max_load_factor_);
  if (fit < capacity_ || occupied_ > size_) rehash(fit);
}

template <class T, class Hash, class Allocator>
void string_map<T, Hash, Allocator>::clear() {
  detail::translate_errors("clear",
                           [&] { thrust::fill(slots_.begin(), slots_.end(), slot_type{}); });
  size_ = 0;
  occupied_ = 0;
  arena_top_ = 0;
  garbage_words_ = 0;
}

template <class T, class Hash, class Allocator>
void string_map<T, Hash, Allocator>::reserve_arena(size_type words) {
  if (arena_.size() - arena_top_ >= words) return;
  if (2 * garbage_words_ >= arena_top_ && garbage_words_ != 0) {
    compact_arena(words);
    if (arena_.size() - arena_top_ >= words) return;
  }
  size_type const size = std::max(2 * arena_.size(), arena_top_ + words);
  auto fresh = detail::allocate<std::uint64_t>(alloc_, "string_map arena", size);
  detail::translate_errors("string_map arena", [&] {
    thrust::copy(arena_.begin(), arena_.begin() + static_cast<std::ptrdiff_t>(arena_top_),
                 fresh.begin());
  });
  arena_.swap(fresh);
}

template <class T, class Hash, class Allocator>
void string_map<T, Hash, Allocator>::compact_arena(size_type spare) {
  // Each live slot's new place: an exclusive scan of the records' sizes over the slots.
  auto at = detail::allocate<std::uint64_t>(alloc_, "compact", capacity_ + 1);
  thrust::counting_iterator<std::uint64_t> const first(0);
  detail::translate_errors("compact", [&] {
    thrust::transform(detail::policy(alloc_), first, first + static_cast<std::ptrdiff_t>(capacity_),
                      at.begin(), detail::record_words_fn<view_type>{view()});
    thrust::exclusive_scan(detail::policy(alloc_), at.begin(), at.end(), at.begin());
  });
  size_type const live = at.back();
  auto fresh = detail::allocate<std::uint64_t>(alloc_, "compact", live + spare);
  run("compact", capacity_,
      detail::move_record_fn<view_type>{view(), thrust::raw_pointer_cast(at.data()),
                                        thrust::raw_pointer_cast(fresh.data())});
  arena_.swap(fresh);
  arena_top_ = live;
  garbage_words_ = 0;
}

// ---- insertion -------------------------------------------------------------------------------

template <class T, class Hash, class Allocator>
template <class KeyIt, class Also>
auto string_map<T, Hash, Allocator>::locate_chunk(KeyIt keys, size_type n, std::uint64_t* refs,
                                                  bool mark_absent, Also also) -> size_type {
  if (mark_absent) {
    run("mark absent keys", n, detail::mark_absent_fn<view_type, KeyIt>{view(), keys, refs});
  }
  size_type const top = arena_top_;
  size_type new_keys = 0;
  auto which = mark_absent ? detail::locate_inputs::all : detail::locate_inputs::fresh;
  for (;;) {
    reset_counters(arena_top_);
    view_type v = view();
    v.budgeted = v.claim_limit < n;  // room for every input: claims only count themselves
    auto* counters = thrust::raw_pointer_cast(counters_.data());
    run("locate", n,
        detail::claim_fn<view_type, KeyIt, Also>{v, keys, refs, counters + any_failed, which,
                                                 also});
    auto const c = read_counters();
    occupied_ += c[claims];
    size_ += c[claims];
    new_keys += c[claims];
    arena_top_ = c[arena_top];
    if (c[any_failed] == 0) return new_keys;
    if (v.claim_limit > 0) {  // transient failures (see device_map::locate_chunk): retry them
      which = detail::locate_inputs::failed;
      continue;
    }
    // After a growth, the inputs that found their slot run again for their new ref; with a fused
    // fold, whose refs nothing reads but an undo (which finds the keys again), only the failed.
    which =
        detail::is_fused_fold_v<Also> ? detail::locate_inputs::failed : detail::locate_inputs::all;
    try {
      auto const failed = static_cast<size_type>(detail::translate_errors("locate", [&] {
        return thrust::count_if(detail::policy(alloc_), refs, refs + n, detail::is_failed_fn{});
      }));
      bool const mostly_tombstones =
          occupied_ - size_ > detail::load_limit(capacity_, max_load_factor_) / 2;
      rehash(detail::grown_capacity(capacity_, max_load_factor_, size_, failed, n - failed,
                                    new_keys, mostly_tombstones));
    } catch (out_of_memory const&) {
      unclaim_chunk(keys, refs, n, new_keys, top, also);
      throw;
    }
  }
}

template <class T, class Hash, class Allocator>
template <class KeyIt, class Also>
void string_map<T, Hash, Allocator>::unclaim_chunk(KeyIt keys, std::uint64_t const* refs,
                                                   size_type n, size_type claimed, size_type top,
                                                   Also also) {
  if constexpr (detail::is_fused_fold_v<Also>) {
    // Refs may predate a growth: the keys are found again. The folds go first, negated.
    auto const negated = thrust::make_transform_iterator(also.values, detail::negate_fn<T>{});
    run("undo", n,
        detail::string_unfold_fn<view_type, KeyIt, decltype(negated), decltype(also.op)>{
            view(), keys, negated, refs, also.op});
    run("undo claims", n, detail::string_unclaim_found_fn<view_type, KeyIt>{view(), keys, refs});
  } else {
    (void)also;
    run("undo claims", n, detail::string_unclaim_fn<view_type>{view(), refs});
  }
  size_ -= claimed;
  arena_top_ = top;  // the chunk's records, all of them, go
}

template <class T, class Hash, class Allocator>
template <class ValueIt, class Op>
void string_map<T, Hash, Allocator>::write_values(ValueIt values, size_type n, std::uint64_t* refs,
                                                  bool first, bool fold, Op op) {
  auto const launch = [&](char const* what, size_type m, auto const& fn) { run(what, m, fn); };
  if (first) detail::write_first_values(launch, view(), values, n, refs);
  if constexpr (!detail::is_no_fold_v<Op>) {
    if (fold) {
      run("accumulate", n,
          detail::fold_fn<view_type, ValueIt, Op, false>{view(), values, refs, op});
    }
  }
}

template <class T, class Hash, class Allocator>
template <class BytePtr, class OffsetIt>
auto string_map<T, Hash, Allocator>::batch_keys(char const* what, BytePtr bytes,
                                                OffsetIt offsets_first,
                                                OffsetIt offsets_last) const {
  auto const entries = detail::checked_length(offsets_first, offsets_last);
  BULKMAP_EXPECTS(entries >= 1, std::string(what) + ": offsets must hold n + 1 entries for n keys");
  size_type const n = entries - 1;
  auto const offsets = thrust::make_transform_iterator(offsets_first, detail::offset_as_u64{});
  thrust::counting_iterator<std::uint64_t> const first(0);
  bool const ordered =
      n == 0 || detail::translate_errors(what, [&] {
        return thrust::all_of(detail::policy(alloc_), first, first + static_cast<std::ptrdiff_t>(n),
                              detail::offsets_ordered_fn<decltype(offsets)>{offsets});
      });
  BULKMAP_EXPECTS(ordered, std::string(what) + ": offsets must not decrease");
  auto const keys = thrust::make_transform_iterator(
      first, detail::batch_key_fn<decltype(offsets)>{detail::raw_bytes(bytes), offsets});
  return std::make_pair(keys, keys + static_cast<std::ptrdiff_t>(n));
}

template <class T, class Hash, class Allocator>
template <class KeyIt, class ValueIt, class Op>
auto string_map<T, Hash, Allocator>::apply(char const* what, KeyIt keys, KeyIt keys_last,
                                           ValueIt values_first, order_rule rule, Op op)
    -> size_type {
  size_type const n = detail::checked_length(keys, keys_last);
  if (n == 0) return 0;
  if (garbage_words_ != 0 && 2 * garbage_words_ >= arena_top_) compact_arena(0);
  size_type const before = size_;
  bool const fold = rule == order_rule::fold;
  bool const first_values =
      rule == order_rule::first_wins || (fold && !detail::has_zero_identity_v<Op, T>);
  // The chunk that starts at key b: its end, and the arena words its keys' records take. At most
  // string_chunk_inputs keys, halved until their records fit in string_chunk_bytes (or one key).
  auto const chunk_at = [&](size_type b) {
    size_type m = std::min(n - b, detail::string_chunk_inputs);
    for (;;) {
      auto const first = keys + static_cast<std::ptrdiff_t>(b);
      size_type const words = detail::translate_errors(what, [&] {
        return thrust::transform_reduce(
            detail::policy(alloc_), first, first + static_cast<std::ptrdiff_t>(m),
            detail::key_record_words_fn{}, std::uint64_t{0}, thrust::plus<std::uint64_t>{});
      });
      if (8 * words <= detail::string_chunk_bytes || m == 1) {
        return std::pair<size_type, size_type>{b + m, words};
      }
      m /= 2;
    }
  };
  auto refs_buffer =
      detail::allocate<std::uint64_t>(alloc_, what, std::min(n, detail::string_chunk_inputs));
  std::uint64_t* const refs = thrust::raw_pointer_cast(refs_buffer.data());

  auto const [end0, words0] = chunk_at(0);
  if (end0 == n) {  // one chunk: a failed growth undoes its own claims
    reserve_arena(words0);
    // On omp, counting and integer `plus` fold as they locate (see device_map::apply_in_chunks).
    if constexpr (!backend_is_cuda && detail::is_reversible_v<Op, T>) {
      if (fold) {
        locate_chunk(keys, n, refs, false, detail::fused_fold<ValueIt, Op>{values_first, op});
        return size_ - before;
      }
    }
    locate_chunk(keys, n, refs, first_values);
    write_values(values_first, n, refs, first_values, fold, op);
    return size_ - before;
  }

  // Several chunks: claim every chunk's keys (writing first values) before any fold, logging the
  // keys claimed, which a failure erases.
  detail::vector_of<byte_view, Allocator> claimed{detail::rebind_t<Allocator, byte_view>(alloc_)};
  bool const keep_writers = first_values && fold;
  // Which inputs wrote first values (the fold skips them): a bit each, from word `bits` of the
  // chunk's own.
  detail::vector_of<std::uint32_t, Allocator> writers{
      detail::rebind_t<Allocator, std::uint32_t>(alloc_)};
  struct chunk {
    size_type first, last, bits;
  };
  std::vector<chunk> chunks;
  try {
    for (size_type b = 0; b < n;) {
      auto const [e, words] = chunk_at(b);
      chunk const c{b, e, writers.size()};
      size_type const m = e - b;
      auto const chunk_keys = keys + static_cast<std::ptrdiff_t>(b);
      reserve_arena(words);
      if (keep_writers)
        detail::translate_errors(what, [&] { writers.resize(c.bits + (m + 31) / 32); });
      size_type const logged = claimed.size();
      size_type const top = arena_top_;
      size_type const fresh = locate_chunk(chunk_keys, m, refs, first_values);
      if (fresh != 0) {
        try {
          detail::translate_errors(what, [&] { claimed.resize(logged + fresh); });
          detail::copy_selected(what, detail::policy(alloc_), chunk_keys, m, refs,
                                claimed.begin() + static_cast<std::ptrdiff_t>(logged),
                                detail::is_claimed_fn{});
        } catch (out_of_memory const&) {  // this chunk's keys are not in the log: undo them here
          claimed.resize(logged);         // shrinks: no allocation
          unclaim_chunk(chunk_keys, refs, m, fresh, top);
          throw;
        }
      }
      write_values(values_first + static_cast<std::ptrdiff_t>(b), m, refs, first_values, false, op);
      if (keep_writers) {
        run(what, m,
            detail::save_writers_fn{refs, thrust::raw_pointer_cast(writers.data()) + c.bits});
      }
      chunks.push_back(c);
      b = e;
    }
  } catch (out_of_memory const&) {
    erase(claimed.begin(), claimed.end());
    throw;
  }
  if (!fold) return size_ - before;
  for (chunk const& c : chunks) {  // every key is present now: nothing can fail
    size_type const m = c.last - c.first;
    locate_chunk(keys + static_cast<std::ptrdiff_t>(c.first), m, refs, false);
    if (keep_writers) {
      run(what, m,
          detail::restore_writers_fn{refs, thrust::raw_pointer_cast(writers.data()) + c.bits});
    }
    write_values(values_first + static_cast<std::ptrdiff_t>(c.first), m, refs, false, true, op);
  }
  return size_ - before;
}

template <class T, class Hash, class Allocator>
template <class KeyIt, class ValueIt>
auto string_map<T, Hash, Allocator>::insert(KeyIt keys_first, KeyIt keys_last, ValueIt values_first)
    -> size_type {
  return apply("insert", keys_first, keys_last, values_first, order_rule::first_wins,
               detail::no_fold{});
}

template <class T, class Hash, class Allocator>
template <class KeyIt, class ValueIt, class Op>
auto string_map<T, Hash, Allocator>::insert_or_accumulate(KeyIt keys_first, KeyIt keys_last,
                                                          ValueIt values_first, Op op)
    -> size_type {
  return apply("insert_or_accumulate", keys_first, keys_last, values_first, order_rule::fold, op);
}

template <class T, class Hash, class Allocator>
template <class KeyIt>
auto string_map<T, Hash, Allocator>::count(KeyIt keys_first, KeyIt keys_last) -> size_type {
  return apply("count", keys_first, keys_last, thrust::constant_iterator<T>(T{1}), order_rule::fold,
               thrust::plus<T>{});
}

template <class T, class Hash, class Allocator>
template <class BytePtr, class OffsetIt, class ValueIt>
auto string_map<T, Hash, Allocator>::insert(BytePtr bytes, OffsetIt offsets_first,
                                            OffsetIt offsets_last, ValueIt values_first)
    -> size_type {
  auto const [first, last] = batch_keys("insert", bytes, offsets_first, offsets_last);
  return insert(first, last, values_first);
}

template <class T, class Hash, class Allocator>
auto string_map<T, Hash, Allocator>::insert(string_batch const& keys, std::vector<T> const& values)
    -> size_type {
  BULKMAP_EXPECTS(keys.size() == values.size(), "insert: keys and values differ in length");
  detail::host_input<unsigned char, Allocator> const b(
      "insert", reinterpret_cast<unsigned char const*>(keys.bytes.data()), keys.bytes.size(),
      alloc_);
  detail::host_input<std::uint64_t, Allocator> const o("insert", keys.offsets, alloc_);
  detail::host_input<T, Allocator> const v("insert", values, alloc_);
  return insert(b.data(), o.begin(), o.begin() + static_cast<std::ptrdiff_t>(keys.offsets.size()),
                v.begin());
}

template <class T, class Hash, class Allocator>
template <class BytePtr, class OffsetIt, class ValueIt, class Op>
auto string_map<T, Hash, Allocator>::insert_or_accumulate(BytePtr bytes, OffsetIt offsets_first,
                                                          OffsetIt offsets_last,
                                                          ValueIt values_first, Op op)
    -> size_type {
  auto const [first, last] = batch_keys("insert_or_accumulate", bytes, offsets_first, offsets_last);
  return insert_or_accumulate(first, last, values_first, op);
}

template <class T, class Hash, class Allocator>
template <class Op>
auto string_map<T, Hash, Allocator>::insert_or_accumulate(string_batch const& keys,
                                                          std::vector<T> const& values, Op op)
    -> size_type {
  BULKMAP_EXPECTS(keys.size() == values.size(),
                  "insert_or_accumulate: keys and values differ in length");
  detail::host_input<unsigned char, Allocator> const b(
      "insert_or_accumulate", reinterpret_cast<unsigned char const*>(keys.bytes.data()),
      keys.bytes.size(), alloc_);
  detail::host_input<std::uint64_t, Allocator> const o("insert_or_accumulate", keys.offsets,
                                                       alloc_);
  detail::host_input<T, Allocator> const v("insert_or_accumulate", values, alloc_);
  return insert_or_accumulate(b.data(), o.begin(),
                              o.begin() + static_cast<std::ptrdiff_t>(keys.offsets.size()),
                              v.begin(), op);
}

template <class T, class Hash, class Allocator>
template <class BytePtr, class OffsetIt>
auto string_map<T, Hash, Allocator>::count(BytePtr bytes, OffsetIt offsets_first,
                                           OffsetIt offsets_last) -> size_type {
  auto const [first, last] = batch_keys("count", bytes, offsets_first, offsets_last);
  return count(first, last);
}

template <class T, class Hash, class Allocator>
auto string_map<T, Hash, Allocator>::count(string_batch const& keys) -> size_type {
  detail::host_input<unsigned char, Allocator> const b(
      "count", reinterpret_cast<unsigned char const*>(keys.bytes.data()), keys.bytes.size(),
      alloc_);
  detail::host_input<std::uint64_t, Allocator> const o("count", keys.offsets, alloc_);
  return count(b.data(), o.begin(), o.begin() + static_cast<std::ptrdiff_t>(keys.offsets.size()));
}

// ---- queries and removal ---------------------------------------------------------------------

template <class T, class Hash, class Allocator>
template <class KeyIt, class OutIt>
void string_map<T, Hash, Allocator>::find(KeyIt keys_first, KeyIt keys_last, OutIt values_out,
                                          T missing_value) const {
  using discard = thrust::discard_iterator<>;
  run("find", detail::checked_length(keys_first, keys_last),
      detail::find_fn<view_type, KeyIt, OutIt, discard>{view(), keys_first, values_out, discard{},
                                                        missing_value});
}

template <class T, class Hash, class Allocator>
template <class BytePtr, class OffsetIt, class OutIt>
void string_map<T, Hash, Allocator>::find(BytePtr bytes, OffsetIt offsets_first,
                                          OffsetIt offsets_last, OutIt values_out,
                                          T missing_value) const {
  auto const [first, last] = batch_keys("find", bytes, offsets_first, offsets_last);
  find(first, last, values_out, missing_value);
}

template <class T, class Hash, class Allocator>
std::vector<T> string_map<T, Hash, Allocator>::find(string_batch const& keys,
                                                    T missing_value) const {
  detail::host_input<unsigned char, Allocator> const b(
      "find", reinterpret_cast<unsigned char const*>(keys.bytes.data()), keys.bytes.size(), alloc_);
  detail::host_input<std::uint64_t, Allocator> const o("find", keys.offsets, alloc_);
  detail::host_output<T, Allocator> out("find", keys.size(), alloc_);
  find(b.data(), o.begin(), o.begin() + static_cast<std::ptrdiff_t>(keys.offsets.size()),
       out.begin(), missing_value);
  return out.take();
}

template <class T, class Hash, class Allocator>
template <class KeyIt, class OutIt>
void string_map<T, Hash, Allocator>::contains(KeyIt keys_first, KeyIt keys_last,
                                              OutIt flags_out) const {
  run("contains", detail::checked_length(keys_first, keys_last),
      detail::contains_fn<view_type, KeyIt, OutIt>{view(), keys_first, flags_out});
}

template <class T, class Hash, class Allocator>
template <class BytePtr, class OffsetIt, class OutIt>
void string_map<T, Hash, Allocator>::contains(BytePtr bytes, OffsetIt offsets_first,
                                              OffsetIt offsets_last, OutIt flags_out) const {
  auto const [first, last] = batch_keys("contains", bytes, offsets_first, offsets_last);
  contains(first, last, flags_out);
}

template <class T, class Hash, class Allocator>
std::vector<bool> string_map<T, Hash, Allocator>::contains(string_batch const& keys) const {
  detail::host_input<unsigned char, Allocator> const b(
      "contains", reinterpret_cast<unsigned char const*>(keys.bytes.data()), keys.bytes.size(),
      alloc_);
  detail::host_input<std::uint64_t, Allocator> const o("contains", keys.offsets, alloc_);
  detail::host_output<std::uint8_t, Allocator> out("contains", keys.size(), alloc_);
  contains(b.data(), o.begin(), o.begin() + static_cast<std::ptrdiff_t>(keys.offsets.size()),
           out.begin());
  return out.take_flags();
}

template <class T, class Hash, class Allocator>
template <class KeyIt>
auto string_map<T, Hash, Allocator>::erase(KeyIt keys_first, KeyIt keys_last) -> size_type {
  size_type const n = detail::checked_length(keys_first, keys_last);
  reset_counters(arena_top_);
  auto* counters = thrust::raw_pointer_cast(counters_.data());
  run("erase", n,
      detail::string_erase_fn<view_type, KeyIt>{view(), keys_first, counters + removed,
                                                counters + removed_words});
  auto const c = read_counters();
  size_ -= c[removed];
  garbage_words_ += c[removed_words];
  return c[removed];
}

template <class T, class Hash, class Allocator>
template <class BytePtr, class OffsetIt>
auto string_map<T, Hash, Allocator>::erase(BytePtr bytes, OffsetIt offsets_first,
                                           OffsetIt offsets_last) -> size_type {
  auto const [first, last] = batch_keys("erase", bytes, offsets_first, offsets_last);
  return erase(first, last);
}

template <class T, class Hash, class Allocator>
auto string_map<T, Hash, Allocator>::erase(string_batch const& keys) -> size_type {
  detail::host_input<unsigned char, Allocator> const b(
      "erase", reinterpret_cast<unsigned char const*>(keys.bytes.data()), keys.bytes.size(),
      alloc_);
  detail::host_input<std::uint64_t, Allocator> const o("erase", keys.offsets, alloc_);
  return erase(b.data(), o.begin(), o.begin() + static_cast<std::ptrdiff_t>(keys.offsets.size()));
}

template <class T, class Hash, class Allocator>
template <class Pred>
auto string_map<T, Hash, Allocator>::retain(Pred pred) -> size_type {
  reset_counters(arena_top_);
  auto* counters = thrust::raw_pointer_cast(counters_.data());
  run("retain", capacity_,
      detail::string_retain_fn<view_type, Pred>{view(), pred, counters + removed,
                                                counters + removed_words});
  auto const c = read_counters();
  size_ -= c[removed];
  garbage_words_ += c[removed_words];
  return c[removed];
}

// ---- whole-map operations --------------------------------------------------------------------

template <class T, class Hash, class Allocator>
string_pairs<T> string_map<T, Hash, Allocator>::collect() const {
  thrust::counting_iterator<std::uint64_t> const first(0);
  auto live = detail::allocate<std::uint64_t>(alloc_, "collect", size_);
  string_pairs<T> out{{},
                      detail::allocate<std::uint64_t>(thrust::device_allocator<std::uint64_t>{},
                                                      "collect", size_ + 1),
                      detail::allocate<T>(thrust::device_allocator<T>{}, "collect", size_)};
  // The table and size() disagree only through a bug of bulkmap's: say so, rather than write
  // past the output.
  auto const found = static_cast<size_type>(detail::translate_errors("collect", [&] {
    return thrust::count_if(detail::policy(alloc_), first,
                            first + static_cast<std::ptrdiff_t>(capacity_),
                            detail::slot_live_fn<view_type>{view()});
  }));
  if (found != size_) {
    throw error("bulkmap::string_map: the table holds " + std::to_string(found) +
                " keys, but size() is " + std::to_string(size_) + "; please report this");
  }
  if (size_ == 0) return out;  // (an empty output has no storage to point into)
  detail::copy_selected("collect", detail::policy(alloc_), first, capacity_, first, live.begin(),
                        detail::slot_live_fn<view_type>{view()});
  auto const* slots = thrust::raw_pointer_cast(live.data());
  auto const count = static_cast<std::ptrdiff_t>(size_);
  detail::translate_errors("collect", [&] {
    thrust::transform(detail::policy(alloc_), first, first + count, out.offsets.begin(),
                      detail::key_length_fn<view_type>{view(), slots});
    thrust::exclusive_scan(detail::policy(alloc_), out.offsets.begin(), out.offsets.end(),
                           out.offsets.begin());
    thrust::transform(detail::policy(alloc_), first, first + count, out.values.begin(),
                      detail::slot_value_fn<view_type>{view(), slots});
  });
  out.bytes = detail::allocate<unsigned char>(thrust::device_allocator<unsigned char>{}, "collect",
                                              out.offsets.back());
  run("collect", size_,
      detail::copy_key_fn<view_type>{view(), slots, thrust::raw_pointer_cast(out.offsets.data()),
                                     thrust::raw_pointer_cast(out.bytes.data())});
  return out;
}

template <class T, class Hash, class Allocator>
string_pairs<T> string_map<T, Hash, Allocator>::drain() {
  string_pairs<T> out = collect();
  clear();
  return out;
}

template <class T, class Hash, class Allocator>
string_mirror<T> string_map<T, Hash, Allocator>::to_host() const {
  string_pairs<T> const p = collect();
  std::string bytes(p.bytes.size(), '\0');
  if (!bytes.empty()) thrust::copy(p.bytes.begin(), p.bytes.end(), bytes.begin());
  return string_mirror<T>(std::move(bytes), detail::to_std_vector(p.offsets),
                          detail::to_std_vector(p.values));
}

BULKMAP_NAMESPACE_END
