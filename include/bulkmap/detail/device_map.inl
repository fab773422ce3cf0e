/**
 * @file detail/device_map.inl
 * @brief Definitions of `bulkmap::device_map`, included at the bottom of device_map.hpp.
 *
 * How an insertion runs (see kernels/bulkmap/kernels/locate.hpp and insert.hpp):
 * - The batch is cut into chunks of `chunk_size` inputs, so temporary memory (8 bytes per input
 *   of a chunk) never follows the batch length. The map keeps that buffer (`ref_scratch`):
 *   allocating and first touching 32 MiB costs more than a whole count of few distinct keys.
 * - Locate pass: every input finds or claims its key's slot. Claims draw on a budget, the room
 *   left below the load limit; an input that finds no room fails instead of claiming. Failed
 *   inputs are retried in place while the pass began with budget (their failure was a race);
 *   otherwise the table grows to a size estimated from the chunk's rate of new keys, and the pass
 *   runs again (slot indices change in a rehash).
 * - Value passes then work on the recorded slots: one atomic per input (per warp and slot on a
 *   GPU) for `count` and accumulation with an operator whose identity is zero, the elect-a-writer
 *   passes of insert.hpp otherwise. On omp, counting and integer `plus` fold in the locate pass
 *   itself: combining each thread's folds per slot first where keys repeat, else each thread
 *   folding the keys it owns without a locked instruction (locate.hpp: claim_and_combine_fn,
 *   owner_pass); the pass records refs only where a growth may read them (claim_fn::record).
 *   `insert` stores first values there, electing them only for a chunk that repeats a new key
 *   (insert.hpp: first_writes).
 * - A batch of several chunks marks the slots it claims (a bit per slot, carried by rehashes),
 *   and a failed growth frees them (apply_in_chunks); a batch into an empty map clears it
 *   instead, and on omp the one-pass paths with room for every input (no claim can fail) mark
 *   nothing. Counting and integer `plus` apply each chunk at once and, on failure, fold the
 *   applied chunks back out with negated values; every other insertion claims all its keys
 *   before it changes any value a key had before the call. Extra temporary memory: 1 bit per
 *   slot, and 1 bit per input for accumulation with an operator whose identity is not zero.
 */
#pragma once

#include <thrust/copy.h>
#include <thrust/count.h>
#include <thrust/fill.h>
#include <thrust/iterator/constant_iterator.h>
#include <thrust/iterator/discard_iterator.h>
#include <thrust/iterator/transform_iterator.h>
#include <thrust/logical.h>
#include <thrust/transform.h>
#include <thrust/transform_reduce.h>

#include <algorithm>
#include <array>
#include <bulkmap/detail/backend.hpp>
#include <bulkmap/detail/bulk.hpp>
#include <bulkmap/detail/sort.hpp>
#include <bulkmap/kernels/accumulate.hpp>
#include <bulkmap/kernels/compact.hpp>
#include <bulkmap/kernels/erase.hpp>
#include <bulkmap/kernels/find.hpp>
#include <bulkmap/kernels/insert.hpp>
#include <bulkmap/kernels/iterate.hpp>
#include <bulkmap/kernels/locate.hpp>
#include <bulkmap/kernels/rehash.hpp>
#include <bulkmap/kernels/retain.hpp>
#include <cmath>
#include <iterator>
#include <limits>

BULKMAP_NAMESPACE_BEGIN

// ---- construction, size and capacity
// -------------------------------------------------------------

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
device_map<Key, T, Hash, KeyEqual, Allocator>::device_map(size_type n, double max_load_factor,
                                                          Hash const& hash, KeyEqual const& equal,
                                                          Allocator const& alloc)
    : max_load_factor_(max_load_factor), hash_(hash), equal_(equal), alloc_(alloc) {
  BULKMAP_EXPECTS(
      max_load_factor > 0.0 && max_load_factor < 1.0,
      "device_map: max_load_factor must be in (0, 1), got " + std::to_string(max_load_factor));
  capacity_ = detail::capacity_for(n, max_load_factor_);
  slots_ = detail::allocate<slot_type>(alloc_, "device_map", capacity_ + detail::side_slot_count,
                                       detail::empty_slot<Key, T>());
  counters_ = detail::allocate<unsigned long long>(alloc_, "device_map",
                                                   detail::counter_rows * detail::counter_stride);
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
auto device_map<Key, T, Hash, KeyEqual, Allocator>::view() const -> view_type {
  auto* counters = thrust::raw_pointer_cast(counters_.data());
  size_type const limit = detail::load_limit(capacity_, max_load_factor_);
  return view_type{const_cast<slot_type*>(thrust::raw_pointer_cast(slots_.data())),
                   capacity_,
                   hash_,
                   equal_,
                   counters + detail::claims,
                   occupied_ < limit ? limit - occupied_ : 0,
                   counters + detail::side_claims};
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
auto device_map<Key, T, Hash, KeyEqual, Allocator>::read_counters() const
    -> std::array<unsigned long long, detail::counter_count> {
  return detail::read_counter_columns<detail::counter_count>(counters_);
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
void device_map<Key, T, Hash, KeyEqual, Allocator>::reset_counters() {
  detail::translate_errors("reset counters",
                           [&] { thrust::fill(counters_.begin(), counters_.end(), 0ULL); });
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
device_map<Key, T, Hash, KeyEqual, Allocator>::~device_map() {
  // The queued work may still read the slots and the scratch: let it finish before they go.
  try {
    join();
  } catch (...) {  // a fault in that work has nobody left to report to
  }
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
void device_map<Key, T, Hash, KeyEqual, Allocator>::join() const {
  if (!async_stream_) return;
  async_stream_->wait();
  async_stream_.reset();
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
void device_map<Key, T, Hash, KeyEqual, Allocator>::settle() const {
  join();
  if (!unsettled_) return;
  auto const c = read_counters();
  // Net counts since the last fold (unsigned arithmetic: a count may have fallen back).
  auto const since = [&](detail::counter i) { return static_cast<size_type>(c[i] - ref_seen_[i]); };
  occupied_ += since(detail::claims);
  size_ += since(detail::claims) + since(detail::side_claims) - since(detail::removed);
  ref_seen_ = c;
  async_claims_ = 0;
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
void device_map<Key, T, Hash, KeyEqual, Allocator>::end_refs() {
  settle();
  if (unsettled_) {
    reset_counters();
    ref_seen_ = {};
    unsettled_ = false;
  }
  refs_out_ = false;
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
auto device_map<Key, T, Hash, KeyEqual, Allocator>::ref() -> ref_type {
  if (!refs_out_) {  // the first ref since the last non-const call: its room starts now
    end_refs();      // (folds queued `_async` work, which the room depends on)
    reset_counters();
    ref_seen_ = {};
    size_type const limit = detail::load_limit(capacity_, max_load_factor_);
    ref_claim_limit_ = occupied_ < limit ? limit - occupied_ : 0;
    refs_out_ = true;
    unsettled_ = true;
  }
  view_type table = view();
  table.claim_limit = ref_claim_limit_;
  table.aggregate_counters = false;
  return ref_type(table, thrust::raw_pointer_cast(counters_.data()) + detail::removed);
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
auto device_map<Key, T, Hash, KeyEqual, Allocator>::live_side_slots() const -> size_type {
  if constexpr (!traits_type::needs_side_slots) {
    return 0;
  } else {
    // Counted on the device: a copy of whole slots to the host would read the padding between
    // key and value, which nothing writes (compute-sanitizer's initcheck reports it).
    return static_cast<size_type>(detail::translate_errors("read side slots", [&] {
      return thrust::count_if(
          detail::policy(alloc_), thrust::counting_iterator<std::uint64_t>(capacity_),
          thrust::counting_iterator<std::uint64_t>(capacity_ + detail::side_slot_count),
          detail::live_at_fn<view_type>{view()});
    }));
  }
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
void device_map<Key, T, Hash, KeyEqual, Allocator>::rehash(size_type new_capacity) {
  // Everything that may fail comes before the swap: a failed rehash leaves the map as it was.
  size_type const side = live_side_slots();
  auto fresh = detail::allocate<slot_type>(alloc_, "rehash", new_capacity + detail::side_slot_count,
                                           detail::empty_slot<Key, T>());
  detail::vector_of<std::uint64_t, Allocator> fresh_marks{
      detail::rebind_t<Allocator, std::uint64_t>(alloc_)};
  if (!claim_marks_.empty()) {  // an insertion of several chunks is running: carry its marks
    fresh_marks = detail::allocate<std::uint64_t>(
        alloc_, "rehash", detail::bitmap_words(new_capacity + detail::side_slot_count));
  }
  view_type const from = view();
  view_type to = from;
  to.slots = thrust::raw_pointer_cast(fresh.data());
  to.capacity = new_capacity;
  run("rehash", capacity_ + detail::side_slot_count,
      detail::rehash_fn<view_type>{from, to, thrust::raw_pointer_cast(claim_marks_.data()),
                                   thrust::raw_pointer_cast(fresh_marks.data())});
  slots_.swap(fresh);
  claim_marks_.swap(fresh_marks);
  capacity_ = new_capacity;
  occupied_ = size_ - side;
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
void device_map<Key, T, Hash, KeyEqual, Allocator>::reserve(size_type additional) {
  end_refs();
  BULKMAP_EXPECTS(additional <= std::numeric_limits<size_type>::max() - size_,
                  "reserve: size() + additional overflows");
  if (occupied_ + additional <= detail::load_limit(capacity_, max_load_factor_)) return;
  rehash(std::max(capacity_, detail::capacity_for(size_ + additional, max_load_factor_)));
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
auto device_map<Key, T, Hash, KeyEqual, Allocator>::try_reserve(size_type additional)
    -> std::optional<try_reserve_error> {
  end_refs();
  if (additional > std::numeric_limits<size_type>::max() - size_) {
    return try_reserve_error::capacity_overflow;
  }
  if (occupied_ + additional <= detail::load_limit(capacity_, max_load_factor_)) return {};
  size_type wanted = 0;
  try {
    wanted = detail::capacity_for(size_ + additional, max_load_factor_);
  } catch (out_of_memory const&) {
    return try_reserve_error::capacity_overflow;
  }
  try {
    rehash(std::max(capacity_, wanted));
  } catch (out_of_memory const&) {
    return try_reserve_error::alloc_error;
  }
  return {};
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
void device_map<Key, T, Hash, KeyEqual, Allocator>::shrink_to_fit() {
  end_refs();
  release_scratch();
  size_type const fit = detail::capacity_for(size_, max_load_factor_);
  if (fit < capacity_ || occupied_ + live_side_slots() > size_) rehash(fit);
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
void device_map<Key, T, Hash, KeyEqual, Allocator>::shrink_to(size_type min_keys) {
  end_refs();
  if (min_keys >= detail::load_limit(capacity_, max_load_factor_)) return;  // no smaller table
  size_type const fit = detail::capacity_for(std::max(size_, min_keys), max_load_factor_);
  if (fit < capacity_) rehash(fit);
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
void device_map<Key, T, Hash, KeyEqual, Allocator>::clear() {
  end_refs();
  detail::translate_errors(
      "clear", [&] { thrust::fill(slots_.begin(), slots_.end(), detail::empty_slot<Key, T>()); });
  size_ = 0;
  occupied_ = 0;
}

// ---- insertion -------------------------------------------------------------------------------

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
template <class KeyIt, class Also>
auto device_map<Key, T, Hash, KeyEqual, Allocator>::locate_chunk(KeyIt keys, size_type n,
                                                                 std::uint64_t* refs,
                                                                 bool mark_absent, Also also)
    -> size_type {
  if (mark_absent) {
    run("mark absent keys", n, detail::mark_absent_fn<view_type, KeyIt>{view(), keys, refs});
  }
  size_type new_keys = 0;  // claimed by this chunk, for the rollback
  auto which = mark_absent ? detail::locate_inputs::all : detail::locate_inputs::fresh;
  bool elect = false;  // first_writes: whether the first values still need an election
  // A fused fold in a batch of several chunks, which undoes the claims itself, records only which
  // inputs fail, a bit each in the refs' buffer (claim_fn::record).
  std::uint64_t* failed_bits = nullptr;
  if constexpr (detail::is_fused_fold_v<Also>) {
    if (in_batch_) {
      failed_bits = refs;
      detail::translate_errors("locate", [&] {
        thrust::fill_n(detail::policy(alloc_), refs, detail::bitmap_words(n), std::uint64_t{0});
      });
    }
  }
  // omp: whether each key's inputs run on one thread, in input order (locate.hpp: owner_pass).
  using owners = detail::owner_pass<detail::claim_fn<view_type, KeyIt, Also>>;
  bool const by_owners = [&] {
    if constexpr (detail::is_fused_fold_v<Also>) return owners::chosen(view(), keys, n);
    if constexpr (detail::is_first_writes_v<Also>) return also.in_order;  // (chosen with the marks)
    return false;
  }();
  for (;;) {
    reset_counters();
    view_type v = view();
    // Room for every input: claims need not hold the budget, and none can fail.
    v.budgeted = v.claim_limit < n;
    auto* counters = thrust::raw_pointer_cast(counters_.data());
    detail::claim_fn<view_type, KeyIt, Also> const claim{
        v,
        keys,
        refs,
        counters + detail::any_failed,
        which,
        also,
        thrust::raw_pointer_cast(claim_marks_.data()),
        failed_bits};
    if (by_owners) {
      owners::run(claim, n);
    } else if constexpr (!backend_is_cuda && decltype(claim)::fused) {
      using combine = detail::claim_and_combine_fn<detail::claim_fn<view_type, KeyIt, Also>>;
      run("locate", (n + combine::block - 1) / combine::block, combine{claim, n});
    } else {
      run("locate", n, claim);
    }
    auto const c = read_counters();
    occupied_ += c[detail::claims];
    size_ += c[detail::claims] + c[detail::side_claims];
    new_keys += c[detail::claims] + c[detail::side_claims];
    if constexpr (detail::is_first_writes_v<Also>) {
      elect = elect || (!also.values_by_key && (c[detail::any_repeat] || c[detail::any_failed]));
    }
    if (c[detail::any_failed] == 0) {
      if constexpr (detail::is_first_writes_v<Also>) {
        if (elect) {  // a repeated new key, or a pass run again: elect as without first_writes
          run("clear first values", n, detail::zero_fn<view_type>{view(), refs, true});
          write_first_values(also.values, n, refs);
        }
      }
      return new_keys;
    }
    // With budget at the pass's start, the failures were transient: threads racing to claim the
    // same new key each hold a unit of the budget until one wins, and may spend it all for a
    // moment (on a GPU, tens of thousands race). Such a pass claims at least one key, and its
    // failed inputs may find their keys now: retry them in place. Growing instead would size the
    // table by the race, not by the keys.
    if (v.claim_limit > 0) {
      which = detail::locate_inputs::failed;
      continue;
    }
    // After the growth, every input runs again for its new ref; without refs, the failed only.
    which = failed_bits ? detail::locate_inputs::failed : detail::locate_inputs::all;
    try {  // (the counts below take Thrust scratch, which may fail too)
      auto const failed = static_cast<size_type>(detail::translate_errors("locate", [&] {
        if (failed_bits) {
          return thrust::transform_reduce(
              detail::policy(alloc_), failed_bits, failed_bits + detail::bitmap_words(n),
              detail::popcount_fn{}, std::uint64_t{0}, thrust::plus<std::uint64_t>{});
        }
        return static_cast<std::uint64_t>(
            thrust::count_if(detail::policy(alloc_), refs, refs + n, detail::is_failed_fn{}));
      }));
      bool const mostly_tombstones = occupied_ - (size_ - live_side_slots()) >
                                     detail::load_limit(capacity_, max_load_factor_) / 2;
      rehash(detail::grown_capacity(capacity_, max_load_factor_, size_, failed, n - failed,
                                    new_keys, mostly_tombstones));
    } catch (out_of_memory const&) {
      if constexpr (detail::is_fused_fold_v<Also>) {
        if (failed_bits) {  // the values go; the caller frees the claimed slots (apply_in_chunks)
          auto const negated = thrust::make_transform_iterator(also.values, detail::negate_fn<T>{});
          run("undo", n,
              detail::unfold_found_fn<view_type, KeyIt, decltype(negated), decltype(also.op)>{
                  view(), keys, negated, also.op, failed_bits});
          throw;
        }
      }
      unclaim_chunk(refs, n, new_keys, also);
      throw;
    }
  }
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
template <class Also>
void device_map<Key, T, Hash, KeyEqual, Allocator>::unclaim_chunk(std::uint64_t const* refs,
                                                                  size_type n, size_type claimed,
                                                                  Also also) {
  if constexpr (detail::is_fused_fold_v<Also>) {
    auto const negated = thrust::make_transform_iterator(also.values, detail::negate_fn<T>{});
    run("undo", n,
        detail::fold_fn<view_type, decltype(negated), decltype(also.op), false>{
            view(), negated, refs, also.op, detail::ref::failed});
  } else {
    (void)also;
  }
  run("undo claims", n, detail::unclaim_fn<view_type>{view(), refs});
  size_ -= claimed;
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
template <class ValueIt>
void device_map<Key, T, Hash, KeyEqual, Allocator>::write_first_values(ValueIt values, size_type n,
                                                                       std::uint64_t* refs) {
  detail::write_first_values(
      [&](char const* what, size_type m, auto const& fn) { run(what, m, fn); }, view(), values, n,
      refs);
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
template <class ValueIt, class Op>
void device_map<Key, T, Hash, KeyEqual, Allocator>::write_other_values(ValueIt values, size_type n,
                                                                       std::uint64_t* refs,
                                                                       order_rule rule, Op op) {
  view_type const v = view();
  if (rule == order_rule::last_wins) {
    run("clear values", n, detail::zero_fn<view_type>{v, refs});
    run("tag", n, detail::tag_fn<view_type>{v, refs, true, false});
    run("elect", n, detail::elect_fn<view_type>{v, refs, true, false});
    run("write", n, detail::write_fn<view_type, ValueIt>{v, values, refs});
  } else if constexpr (!detail::is_no_fold_v<Op>) {
    if (rule != order_rule::fold) return;
    // (An `_async` call cannot wait for the sample: it always combines.)
    if (backend_is_cuda && (on_.async || detail::concentrated(detail::policy(alloc_), refs, n))) {
      run("accumulate", n, detail::fold_fn<view_type, ValueIt, Op, true>{v, values, refs, op});
    } else {
      run("accumulate", n, detail::fold_fn<view_type, ValueIt, Op, false>{v, values, refs, op});
    }
  }
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
template <class FlagIt>
bool device_map<Key, T, Hash, KeyEqual, Allocator>::marks_absent(bool first_values) {
  return first_values || !detail::is_discard_v<FlagIt> || !view_type::bitwise;
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
template <class KeyIt, class ValueIt, class FlagIt>
void device_map<Key, T, Hash, KeyEqual, Allocator>::write_first_values_and_flags(
    KeyIt keys, ValueIt values, size_type n, std::uint64_t* refs, bool first_values,
    FlagIt new_out) {
  if (first_values) write_first_values(values, n, refs);
  constexpr bool flags = !detail::is_discard_v<FlagIt>;
  if constexpr (flags || !view_type::bitwise) {
    view_type const v = view();
    if (!first_values) {  // elect the first occurrences only for the keys and flags, then undo it
      run("tag", n, detail::tag_fn<view_type>{v, refs, false, true});
      run("elect", n, detail::elect_fn<view_type>{v, refs, false, true});
    }
    if constexpr (!view_type::bitwise) {
      run("keep first keys", n, detail::keep_key_fn<view_type, KeyIt>{v, keys, refs});
    }
    if (flags || !first_values) {
      run("flag new keys", n,
          detail::flag_new_fn<view_type, FlagIt>{v, refs, new_out, !first_values});
    }
  }
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
template <class KeyIt, class ValueIt, class Op, class FlagIt>
auto device_map<Key, T, Hash, KeyEqual, Allocator>::apply_in_chunks(
    KeyIt keys_first, KeyIt keys_last, ValueIt values_first, order_rule rule, Op op, FlagIt new_out)
    -> size_type {
  end_refs();
  auto const n = detail::checked_length(keys_first, keys_last);
  if (n == 0) return 0;
  size_type const before = size_;
  // Inputs whose key is absent at their chunk's start write its first value: `insert`, and
  // accumulation with an operator whose identity is not zero (the other inputs fold into it).
  bool const first_values = rule == order_rule::first_wins ||
                            (rule == order_rule::fold && !detail::has_zero_identity_v<Op, T>);
  bool const mark_absent = marks_absent<FlagIt>(first_values);
  std::uint64_t* const refs = ref_scratch(std::min(n, detail::chunk_size));

  // On omp, counting and integer `plus` fold while they locate (detail::fused_fold): one pass
  // over the slots instead of two. (On a GPU the fold stays a pass of its own, in which a warp's
  // equal keys combine first.) Not with per-input flags or a custom KeyEqual, whose elections use
  // the new slots' values while they are still zero.
  constexpr bool fuse = !backend_is_cuda && detail::is_reversible_v<Op, T> &&
                        detail::is_discard_v<FlagIt> && view_type::bitwise;
  auto const fused = [&](size_type offset) {
    if constexpr (fuse) {
      return detail::fused_fold<ValueIt, Op>{values_first + static_cast<std::ptrdiff_t>(offset),
                                             op};
    } else {
      (void)offset;
      return detail::locate_only{};
    }
  };

  // On omp, `insert` and `insert_with` store first values while they locate
  // (detail::first_writes), where the marks of claimed slots (a bit per slot, which
  // `insert_with` does without) take at most a quarter of the memory of the refs.
  constexpr bool write_first = !backend_is_cuda && detail::is_no_fold_v<Op> &&
                               detail::is_discard_v<FlagIt> && view_type::bitwise;
  constexpr bool by_key = std::is_same_v<Op, detail::no_fold_values_by_key>;
  detail::vector_of<std::uint64_t, Allocator> marks{
      detail::rebind_t<Allocator, std::uint64_t>(alloc_)};
  auto const mark_words = [&] { return detail::bitmap_words(capacity_ + detail::side_slot_count); };
  auto const writes_first = [&] {
    return write_first && rule == order_rule::first_wins &&
           (by_key || 4 * mark_words() <= std::min(n, detail::chunk_size));
  };
  auto const first_writes_at = [&](size_type offset) {
    using writes = detail::first_writes<ValueIt, slot_type>;
    // By owners, a key's claimer is its first input, and claims need no marks (see in_order).
    bool const in_order =
        !by_key && detail::owner_pass<detail::claim_fn<view_type, KeyIt, writes>>::chosen(
                       view(), keys_first + static_cast<std::ptrdiff_t>(offset),
                       std::min(detail::chunk_size, n - offset));
    detail::claim_marking<slot_type> marking{thrust::raw_pointer_cast(slots_.data()), nullptr};
    if (!by_key && !in_order) {
      if (marks.size() == mark_words()) {
        detail::translate_errors("insert", [&] {
          thrust::fill(detail::policy(alloc_), marks.begin(), marks.end(), std::uint64_t{0});
        });
      } else {
        detail::vector_of<std::uint64_t, Allocator>(marks.get_allocator()).swap(marks);
        marks = detail::allocate<std::uint64_t>(alloc_, "insert", mark_words());
      }
      marking.attempted = thrust::raw_pointer_cast(marks.data());
    }
    auto* counters = thrust::raw_pointer_cast(counters_.data());
    return writes{values_first + static_cast<std::ptrdiff_t>(offset), marking,
                  counters + detail::any_repeat, by_key, in_order};
  };

  auto const chunk_length = [&](size_type offset) {
    return std::min(detail::chunk_size, n - offset);
  };
  // Locates the chunk at `offset` (see locate_chunk; `fold`, a fused fold, first writes or none).
  auto const claim_chunk = [&](size_type offset, bool mark_absent, auto fold) {
    locate_chunk(keys_first + static_cast<std::ptrdiff_t>(offset), chunk_length(offset), refs,
                 mark_absent, fold);
  };
  // One chunk: a failed growth undoes its own claims. The one-pass paths (a fused fold, first
  // writes) also run several chunks so, one by one, when the map has room below its load limit
  // for every input: no claim can fail, so no chunk grows the map, and nothing between the
  // chunks allocates (the first writes' attempt marks are allocated before the first chunk). The
  // marks of claimed slots that a batch of several chunks keeps otherwise cost a locked
  // read-modify-write per claim: inserting 2^23 unique u32 keys into a reserved map of 2^24
  // slots spent 40% of its time there (perf, 2 cores).
  bool const one_by_one = n <= detail::chunk_size || n <= view().claim_limit;
  if (fuse && rule == order_rule::fold && one_by_one) {
    for (size_type offset = 0; offset < n; offset += detail::chunk_size) {
      claim_chunk(offset, false, fused(offset));
    }
    return size_ - before;
  }
  if constexpr (write_first) {
    if (writes_first() && one_by_one) {
      if (!by_key && n > detail::chunk_size) {
        marks = detail::allocate<std::uint64_t>(alloc_, "insert", mark_words());
      }
      for (size_type offset = 0; offset < n; offset += detail::chunk_size) {
        claim_chunk(offset, false, first_writes_at(offset));
      }
      return size_ - before;
    }
  }
  if (n <= detail::chunk_size) {
    locate_chunk(keys_first, n, refs, mark_absent);
    write_first_values_and_flags(keys_first, values_first, n, refs, first_values, new_out);
    write_other_values(values_first, n, refs, rule, op);
    return size_ - before;
  }

  // Several chunks. Any chunk's growth may fail, and the map must then be left as it was. The
  // locate passes mark the slots they claim (claim_marks_, carried by the rehashes), and a
  // failure frees the marked slots. A map empty at the start needs no marks: a failure clears it.
  // (The marks cost a locked read-modify-write per claim: counting 10^7 keys of 10^6 distinct
  // values into an empty map on omp took 0.8 of the time without them, 2 cores.)
  bool const from_empty = size_ == 0;
  if (!from_empty) claim_marks_ = detail::allocate<std::uint64_t>(alloc_, "insert", mark_words());
  in_batch_ = true;
  struct end_batch {
    device_map& map;
    ~end_batch() {
      map.in_batch_ = false;
      detail::vector_of<std::uint64_t, Allocator>(map.claim_marks_.get_allocator())
          .swap(map.claim_marks_);
    }
  } const batch_end{*this};
  auto const free_claimed = [&] {
    if (from_empty) {
      clear();
      return;
    }
    reset_counters();
    auto* counters = thrust::raw_pointer_cast(counters_.data());
    run("undo insert", capacity_ + detail::side_slot_count,
        detail::free_marked_fn<view_type>{view(), thrust::raw_pointer_cast(claim_marks_.data()),
                                          counters + detail::removed});
    size_ -= static_cast<size_type>(read_counters()[detail::removed]);
  };

  if constexpr (detail::is_reversible_v<Op, T>) {
    if (rule == order_rule::fold) {
      // Integer `plus` (and `count`): each chunk folds at once, in one sweep. If a later chunk
      // cannot grow, the earlier chunks' values are folded back out, negated (exact: integer
      // addition wraps), which returns their new keys to zero before they are erased.
      size_type offset = 0;
      try {
        for (; offset < n; offset += detail::chunk_size) {
          auto const d = static_cast<std::ptrdiff_t>(offset);
          claim_chunk(offset, mark_absent, fused(offset));
          if constexpr (!fuse) {
            write_first_values_and_flags(keys_first + d, values_first + d, chunk_length(offset),
                                         refs, false, new_out + d);
            write_other_values(values_first + d, chunk_length(offset), refs, rule, op);
          }
        }
      } catch (out_of_memory const&) {
        for (size_type back = 0; !from_empty && back < offset; back += detail::chunk_size) {
          auto const d = static_cast<std::ptrdiff_t>(back);
          auto const negated =
              thrust::make_transform_iterator(values_first + d, detail::negate_fn<T>{});
          run("undo", chunk_length(back),
              detail::unfold_found_fn<view_type, KeyIt, decltype(negated), Op>{
                  view(), keys_first + d, negated, op, nullptr});
        }
        free_claimed();
        throw;
      }
      return size_ - before;
    }
  }

  // Any other rule: every chunk first claims its keys (and writes first values, into slots it
  // claimed). Values of keys present before the call change only in a second sweep, which cannot
  // fail for want of memory: every key is present by then.
  // Accumulation with first values: which inputs wrote them (one bit each); the fold skips them.
  bool const keep_writers = first_values && rule == order_rule::fold;
  detail::vector_of<std::uint32_t, Allocator> writers{
      detail::rebind_t<Allocator, std::uint32_t>(alloc_)};
  try {
    if (keep_writers) writers = detail::allocate<std::uint32_t>(alloc_, "insert", (n + 31) / 32);
    for (size_type offset = 0; offset < n; offset += detail::chunk_size) {
      size_type const m = chunk_length(offset);
      if constexpr (write_first) {
        if (writes_first()) {
          claim_chunk(offset, false, first_writes_at(offset));
          continue;
        }
      }
      claim_chunk(offset, mark_absent, detail::locate_only{});
      auto const d = static_cast<std::ptrdiff_t>(offset);
      write_first_values_and_flags(keys_first + d, values_first + d, m, refs, first_values,
                                   new_out + d);
      if (keep_writers) {
        run("insert", m,
            detail::save_writers_fn{refs, thrust::raw_pointer_cast(writers.data()) + offset / 32});
      }
    }
  } catch (out_of_memory const&) {
    free_claimed();
    throw;
  }
  if (rule == order_rule::first_wins) return size_ - before;
  for (size_type offset = 0; offset < n; offset += detail::chunk_size) {
    size_type const m = chunk_length(offset);
    auto const d = static_cast<std::ptrdiff_t>(offset);
    locate_chunk(keys_first + d, m, refs, false);  // finds only: every key is present
    if (keep_writers) {
      run("insert", m,
          detail::restore_writers_fn{refs, thrust::raw_pointer_cast(writers.data()) + offset / 32});
    }
    write_other_values(values_first + d, m, refs, rule, op);
  }
  return size_ - before;
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
template <class KeyIt, class ValueIt>
auto device_map<Key, T, Hash, KeyEqual, Allocator>::insert(KeyIt keys_first, KeyIt keys_last,
                                                           ValueIt values_first) -> size_type {
  return apply_in_chunks(keys_first, keys_last, values_first, order_rule::first_wins,
                         detail::no_fold{}, thrust::make_discard_iterator());
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
auto device_map<Key, T, Hash, KeyEqual, Allocator>::insert(std::vector<Key> const& keys,
                                                           std::vector<T> const& values)
    -> size_type {
  BULKMAP_EXPECTS(keys.size() == values.size(), "insert: keys and values differ in length");
  detail::host_input<Key, Allocator> const k("insert", keys, alloc_);
  detail::host_input<T, Allocator> const v("insert", values, alloc_);
  return insert(k.begin(), k.begin() + static_cast<std::ptrdiff_t>(keys.size()), v.begin());
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
template <class KeyIt, class ValueIt, class FlagIt>
auto device_map<Key, T, Hash, KeyEqual, Allocator>::insert(KeyIt keys_first, KeyIt keys_last,
                                                           ValueIt values_first, FlagIt new_out)
    -> size_type {
  return apply_in_chunks(keys_first, keys_last, values_first, order_rule::first_wins,
                         detail::no_fold{}, new_out);
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
auto device_map<Key, T, Hash, KeyEqual, Allocator>::insert(std::vector<Key> const& keys,
                                                           std::vector<T> const& values,
                                                           std::vector<bool>& is_new) -> size_type {
  BULKMAP_EXPECTS(keys.size() == values.size(), "insert: keys and values differ in length");
  detail::host_input<Key, Allocator> const k("insert", keys, alloc_);
  detail::host_input<T, Allocator> const v("insert", values, alloc_);
  detail::host_output<std::uint8_t, Allocator> flags("insert", keys.size(), alloc_);
  size_type const fresh = insert(k.begin(), k.begin() + static_cast<std::ptrdiff_t>(keys.size()),
                                 v.begin(), flags.begin());
  is_new = flags.take_flags();
  return fresh;
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
template <class KeyIt, class MakeValue>
auto device_map<Key, T, Hash, KeyEqual, Allocator>::insert_with(KeyIt keys_first, KeyIt keys_last,
                                                                MakeValue make_value) -> size_type {
  // Values are read only by the input that stores a new key's first value, so make_value runs
  // once per new key (see detail::no_fold_values_by_key).
  return apply_in_chunks(
      keys_first, keys_last, thrust::make_transform_iterator(keys_first, make_value),
      order_rule::first_wins, detail::no_fold_values_by_key{}, thrust::make_discard_iterator());
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
template <class MakeValue>
auto device_map<Key, T, Hash, KeyEqual, Allocator>::insert_with(std::vector<Key> const& keys,
                                                                MakeValue make_value) -> size_type {
  detail::host_input<Key, Allocator> const k("insert_with", keys, alloc_);
  return insert_with(k.begin(), k.begin() + static_cast<std::ptrdiff_t>(keys.size()), make_value);
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
template <class KeyIt, class ValueIt>
auto device_map<Key, T, Hash, KeyEqual, Allocator>::insert_or_assign(KeyIt keys_first,
                                                                     KeyIt keys_last,
                                                                     ValueIt values_first)
    -> size_type {
  return apply_in_chunks(keys_first, keys_last, values_first, order_rule::last_wins,
                         detail::no_fold{}, thrust::make_discard_iterator());
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
auto device_map<Key, T, Hash, KeyEqual, Allocator>::insert_or_assign(std::vector<Key> const& keys,
                                                                     std::vector<T> const& values)
    -> size_type {
  BULKMAP_EXPECTS(keys.size() == values.size(),
                  "insert_or_assign: keys and values differ in length");
  detail::host_input<Key, Allocator> const k("insert_or_assign", keys, alloc_);
  detail::host_input<T, Allocator> const v("insert_or_assign", values, alloc_);
  return insert_or_assign(k.begin(), k.begin() + static_cast<std::ptrdiff_t>(keys.size()),
                          v.begin());
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
template <class KeyIt, class ValueIt, class Op>
auto device_map<Key, T, Hash, KeyEqual, Allocator>::insert_or_accumulate(KeyIt keys_first,
                                                                         KeyIt keys_last,
                                                                         ValueIt values_first,
                                                                         Op op) -> size_type {
  return apply_in_chunks(keys_first, keys_last, values_first, order_rule::fold, op,
                         thrust::make_discard_iterator());
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
template <class Op>
auto device_map<Key, T, Hash, KeyEqual, Allocator>::insert_or_accumulate(
    std::vector<Key> const& keys, std::vector<T> const& values, Op op) -> size_type {
  BULKMAP_EXPECTS(keys.size() == values.size(),
                  "insert_or_accumulate: keys and values differ in length");
  detail::host_input<Key, Allocator> const k("insert_or_accumulate", keys, alloc_);
  detail::host_input<T, Allocator> const v("insert_or_accumulate", values, alloc_);
  return insert_or_accumulate(k.begin(), k.begin() + static_cast<std::ptrdiff_t>(keys.size()),
                              v.begin(), op);
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
template <class KeyIt, class ValueIt, class Op, class FlagIt>
auto device_map<Key, T, Hash, KeyEqual, Allocator>::insert_or_accumulate(
    KeyIt keys_first, KeyIt keys_last, ValueIt values_first, Op op, FlagIt new_out) -> size_type {
  return apply_in_chunks(keys_first, keys_last, values_first, order_rule::fold, op, new_out);
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
template <class Op>
auto device_map<Key, T, Hash, KeyEqual, Allocator>::insert_or_accumulate(
    std::vector<Key> const& keys, std::vector<T> const& values, Op op, std::vector<bool>& is_new)
    -> size_type {
  BULKMAP_EXPECTS(keys.size() == values.size(),
                  "insert_or_accumulate: keys and values differ in length");
  detail::host_input<Key, Allocator> const k("insert_or_accumulate", keys, alloc_);
  detail::host_input<T, Allocator> const v("insert_or_accumulate", values, alloc_);
  detail::host_output<std::uint8_t, Allocator> flags("insert_or_accumulate", keys.size(), alloc_);
  size_type const fresh =
      insert_or_accumulate(k.begin(), k.begin() + static_cast<std::ptrdiff_t>(keys.size()),
                           v.begin(), op, flags.begin());
  is_new = flags.take_flags();
  return fresh;
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
template <class KeyIt>
auto device_map<Key, T, Hash, KeyEqual, Allocator>::count(KeyIt keys_first, KeyIt keys_last)
    -> size_type {
  return apply_in_chunks(keys_first, keys_last, thrust::constant_iterator<T>(T{1}),
                         order_rule::fold, thrust::plus<T>{}, thrust::make_discard_iterator());
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
auto device_map<Key, T, Hash, KeyEqual, Allocator>::count(std::vector<Key> const& keys)
    -> size_type {
  detail::host_input<Key, Allocator> const k("count", keys, alloc_);
  return count(k.begin(), k.begin() + static_cast<std::ptrdiff_t>(keys.size()));
}

// ---- queries and removal ---------------------------------------------------------------------

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
template <class KeyIt, class OutIt>
void device_map<Key, T, Hash, KeyEqual, Allocator>::find(KeyIt keys_first, KeyIt keys_last,
                                                         OutIt values_out, T missing_value) const {
  find(keys_first, keys_last, values_out, missing_value, thrust::make_discard_iterator());
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
template <class KeyIt, class OutIt, class FlagIt>
void device_map<Key, T, Hash, KeyEqual, Allocator>::find(KeyIt keys_first, KeyIt keys_last,
                                                         OutIt values_out, T missing_value,
                                                         FlagIt found_out) const {
  join();
  auto const n = detail::checked_length(keys_first, keys_last);
  run("find", n,
      detail::find_fn<view_type, KeyIt, OutIt, FlagIt>{view(), keys_first, values_out, found_out,
                                                       missing_value});
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
std::vector<T> device_map<Key, T, Hash, KeyEqual, Allocator>::find(std::vector<Key> const& keys,
                                                                   T missing_value) const {
  detail::host_input<Key, Allocator> const k("find", keys, alloc_);
  detail::host_output<T, Allocator> out("find", keys.size(), alloc_);
  find(k.begin(), k.begin() + static_cast<std::ptrdiff_t>(keys.size()), out.begin(), missing_value);
  return out.take();
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
std::vector<T> device_map<Key, T, Hash, KeyEqual, Allocator>::find(std::vector<Key> const& keys,
                                                                   T missing_value,
                                                                   std::vector<bool>& found) const {
  detail::host_input<Key, Allocator> const k("find", keys, alloc_);
  detail::host_output<T, Allocator> out("find", keys.size(), alloc_);
  detail::host_output<std::uint8_t, Allocator> flags("find", keys.size(), alloc_);
  find(k.begin(), k.begin() + static_cast<std::ptrdiff_t>(keys.size()), out.begin(), missing_value,
       flags.begin());
  found = flags.take_flags();
  return out.take();
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
template <class KeyIt, class OutIt>
void device_map<Key, T, Hash, KeyEqual, Allocator>::contains(KeyIt keys_first, KeyIt keys_last,
                                                             OutIt flags_out) const {
  join();
  auto const n = detail::checked_length(keys_first, keys_last);
  run("contains", n, detail::contains_fn<view_type, KeyIt, OutIt>{view(), keys_first, flags_out});
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
std::vector<bool> device_map<Key, T, Hash, KeyEqual, Allocator>::contains(
    std::vector<Key> const& keys) const {
  detail::host_input<Key, Allocator> const k("contains", keys, alloc_);
  detail::host_output<std::uint8_t, Allocator> out("contains", keys.size(), alloc_);
  contains(k.begin(), k.begin() + static_cast<std::ptrdiff_t>(keys.size()), out.begin());
  return out.take_flags();
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
template <class KeyIt>
auto device_map<Key, T, Hash, KeyEqual, Allocator>::erase(KeyIt keys_first, KeyIt keys_last)
    -> size_type {
  end_refs();
  auto const n = detail::checked_length(keys_first, keys_last);
  reset_counters();
  auto* counters = thrust::raw_pointer_cast(counters_.data());
  run("erase", n,
      detail::erase_fn<view_type, KeyIt>{view(), keys_first, counters + detail::removed});
  auto const removed = static_cast<size_type>(read_counters()[detail::removed]);
  size_ -= removed;
  return removed;
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
auto device_map<Key, T, Hash, KeyEqual, Allocator>::erase(std::vector<Key> const& keys)
    -> size_type {
  detail::host_input<Key, Allocator> const k("erase", keys, alloc_);
  return erase(k.begin(), k.begin() + static_cast<std::ptrdiff_t>(keys.size()));
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
template <class KeyIt, class OutIt>
auto device_map<Key, T, Hash, KeyEqual, Allocator>::erase(KeyIt keys_first, KeyIt keys_last,
                                                          OutIt values_out, T missing_value)
    -> size_type {
  end_refs();
  auto const n = detail::checked_length(keys_first, keys_last);
  auto ref_buffer = detail::allocate<std::uint64_t>(alloc_, "erase", n);
  reset_counters();
  take_chunk(keys_first, n, values_out, missing_value, thrust::raw_pointer_cast(ref_buffer.data()));
  auto const removed = static_cast<size_type>(read_counters()[detail::removed]);
  size_ -= removed;
  return removed;
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
template <class KeyIt, class OutIt>
void device_map<Key, T, Hash, KeyEqual, Allocator>::take_chunk(KeyIt keys, size_type m,
                                                               OutIt values_out, T missing_value,
                                                               std::uint64_t* refs) {
  view_type const v = view();
  auto* counters = thrust::raw_pointer_cast(counters_.data());
  run("erase", m,
      detail::take_values_fn<view_type, KeyIt, OutIt>{v, keys, values_out, missing_value, refs});
  run("erase", m, detail::clear_tag_fn<view_type>{v, refs});
  run("erase", m, detail::take_tag_fn<view_type>{v, refs});
  run("erase", m,
      detail::take_elect_fn<view_type, OutIt>{v, refs, values_out, missing_value,
                                              counters + detail::removed});
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
auto device_map<Key, T, Hash, KeyEqual, Allocator>::erase(std::vector<Key> const& keys,
                                                          std::vector<T>& values, T missing_value)
    -> size_type {
  detail::host_input<Key, Allocator> const k("erase", keys, alloc_);
  detail::host_output<T, Allocator> out("erase", keys.size(), alloc_);
  size_type const removed = erase(k.begin(), k.begin() + static_cast<std::ptrdiff_t>(keys.size()),
                                  out.begin(), missing_value);
  values = out.take();
  return removed;
}

// ---- whole-map operations --------------------------------------------------------------------

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
template <class Pred>
auto device_map<Key, T, Hash, KeyEqual, Allocator>::retain(Pred pred) -> size_type {
  end_refs();
  reset_counters();
  auto* counters = thrust::raw_pointer_cast(counters_.data());
  run("retain", capacity_ + detail::side_slot_count,
      detail::counted_pass<detail::retain_fn<view_type, Pred>>{{view(), pred},
                                                               counters + detail::removed});
  auto const removed = static_cast<size_type>(read_counters()[detail::removed]);
  size_ -= removed;
  return removed;
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
template <class Pred>
pairs<Key, T> device_map<Key, T, Hash, KeyEqual, Allocator>::extract_if(Pred pred) {
  end_refs();
  size_type const slots = capacity_ + detail::side_slot_count;
  thrust::counting_iterator<std::uint64_t> const slot_first(0);
  auto const slot_last = slot_first + static_cast<std::ptrdiff_t>(slots);
  auto flags = detail::allocate<std::uint8_t>(alloc_, "extract_if", slots);
  detail::translate_errors("extract_if", [&] {
    thrust::transform(detail::policy(alloc_), slot_first, slot_last, flags.begin(),
                      detail::select_fn<view_type, Pred>{view(), pred});
  });
  auto const selected = static_cast<size_type>(detail::translate_errors("extract_if", [&] {
    return thrust::count(detail::policy(alloc_), flags.begin(), flags.end(), std::uint8_t{1});
  }));
  pairs<Key, T> out{detail::allocate<Key>(thrust::device_allocator<Key>{}, "extract_if", selected),
                    detail::allocate<T>(thrust::device_allocator<T>{}, "extract_if", selected)};
  if (selected > 0) {  // (an empty output has no storage to point into)
    auto const column = [&](auto at, auto& into) {
      detail::copy_selected("extract_if", detail::policy(alloc_),
                            thrust::make_transform_iterator(slot_first, at), slots, flags.begin(),
                            into.begin(), detail::is_set_fn{});
    };
    column(detail::key_at_fn<view_type>{view()}, out.keys);
    column(detail::value_at_fn<view_type>{view()}, out.values);
  }
  reset_counters();
  auto* counters = thrust::raw_pointer_cast(counters_.data());
  run("extract_if", slots,
      detail::counted_pass<detail::free_flagged_fn<view_type>>{
          {view(), thrust::raw_pointer_cast(flags.data())}, counters + detail::removed});
  size_ -= static_cast<size_type>(read_counters()[detail::removed]);
  return out;
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
template <class F>
void device_map<Key, T, Hash, KeyEqual, Allocator>::for_each(F f) const {
  join();
  run("for_each", capacity_ + detail::side_slot_count,
      detail::for_each_fn<view_type, F>{view(), f});
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
template <class F>
void device_map<Key, T, Hash, KeyEqual, Allocator>::transform_values(F f) {
  join();
  run("transform_values", capacity_ + detail::side_slot_count,
      detail::transform_values_fn<view_type, F>{view(), f});
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
template <class U, class OutAllocator, class Column>
auto device_map<Key, T, Hash, KeyEqual, Allocator>::collect(char const* what, Column column,
                                                            OutAllocator const& out_alloc) const
    -> detail::vector_of<U, OutAllocator> {
  settle();
  thrust::counting_iterator<std::uint64_t> const slot_first(0);
  auto const slot_last =
      slot_first + static_cast<std::ptrdiff_t>(capacity_ + detail::side_slot_count);
  // The table and size() disagree only through a bug of bulkmap's: say so, rather than return
  // wrong pairs or write past the output. (One read of the keys; the copy below reads them too.)
  auto const live = static_cast<size_type>(detail::translate_errors(what, [&] {
    return thrust::count_if(detail::policy(alloc_), slot_first, slot_last,
                            detail::live_at_fn<view_type>{view()});
  }));
  if (live != size_) {
    throw error(std::string("bulkmap: ") + what + ": internal error: size() is " +
                std::to_string(size_) + " but the table holds " + std::to_string(live) +
                " keys; please report this");
  }
  auto out = detail::allocate<U>(out_alloc, what, size_);
  // Nothing to copy into an empty output: Thrust's copy_if would still form references into its
  // null storage, which UBSan reports.
  if (size_ == 0) return out;
  detail::copy_selected(what, detail::policy(alloc_),
                        thrust::make_transform_iterator(slot_first, column),
                        capacity_ + detail::side_slot_count, slot_first, out.begin(),
                        detail::live_at_fn<view_type>{view()});
  return out;
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
thrust::device_vector<Key> device_map<Key, T, Hash, KeyEqual, Allocator>::keys() const {
  return collect<Key>("keys", detail::key_at_fn<view_type>{view()},
                      thrust::device_allocator<Key>{});
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
thrust::device_vector<T> device_map<Key, T, Hash, KeyEqual, Allocator>::values() const {
  return collect<T>("values", detail::value_at_fn<view_type>{view()},
                    thrust::device_allocator<T>{});
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
pairs<Key, T> device_map<Key, T, Hash, KeyEqual, Allocator>::drain() {
  pairs<Key, T> out{keys(), values()};
  clear();
  return out;
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
host_mirror<Key, T> device_map<Key, T, Hash, KeyEqual, Allocator>::to_host() const {
  auto k = collect<Key>("to_host", detail::key_at_fn<view_type>{view()}, alloc_);
  auto v = collect<T>("to_host", detail::value_at_fn<view_type>{view()}, alloc_);
  detail::translate_errors("to_host", [&] {
    detail::stable_sort_by_key(detail::policy(alloc_), thrust::raw_pointer_cast(k.data()),
                               thrust::raw_pointer_cast(v.data()), k.size(),
                               detail::key_order<Key>{});
  });
  return host_mirror<Key, T>(sorted_unique, detail::to_std_vector(k), detail::to_std_vector(v));
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
void device_map<Key, T, Hash, KeyEqual, Allocator>::assign(host_mirror<Key, T> const& mirror) {
  end_refs();
  size_type const keep = detail::load_limit(capacity_, max_load_factor_);  // keeps the capacity
  device_map fresh(std::max(mirror.size(), keep), max_load_factor_, hash_, equal_, alloc_);
  fresh.insert(mirror.keys(), mirror.values());
  *this = std::move(fresh);
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
bool device_map<Key, T, Hash, KeyEqual, Allocator>::operator==(device_map const& other) const {
  settle();
  if (size_ != other.size()) return false;  // no shortcut for `a == a`: a NaN value differs
  // Same size, and every pair of `other` is here: then the pair sets are equal.
  auto const k =
      other.template collect<Key>("operator==", detail::key_at_fn<view_type>{other.view()}, alloc_);
  auto const v =
      other.template collect<T>("operator==", detail::value_at_fn<view_type>{other.view()}, alloc_);
  using check = detail::holds_pair_fn<view_type, Key const*, T const*>;
  return detail::translate_errors("operator==", [&] {
    // count_if rather than all_of: all_of's reduction reads the padding of its (bool, index)
    // pairs, which initcheck reports.
    return static_cast<std::size_t>(
               thrust::count_if(detail::policy(alloc_), thrust::counting_iterator<std::uint64_t>(0),
                                thrust::counting_iterator<std::uint64_t>(k.size()),
                                check{view(), thrust::raw_pointer_cast(k.data()),
                                      thrust::raw_pointer_cast(v.data())})) == k.size();
  });
}

// ---- asynchronous calls ----------------------------------------------------------------------

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
void device_map<Key, T, Hash, KeyEqual, Allocator>::begin_async(stream_ref stream) const {
  if (async_stream_ && *async_stream_ != stream) join();
  async_stream_ = stream;
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
void device_map<Key, T, Hash, KeyEqual, Allocator>::begin_async_change(stream_ref stream) {
  if (refs_out_) end_refs();
  begin_async(stream);
  if (!unsettled_) {  // a counter epoch: the counts of this and later `_async` work
    reset_counters();
    ref_seen_ = {};
    unsettled_ = true;
  }
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
std::uint64_t* device_map<Key, T, Hash, KeyEqual, Allocator>::ref_scratch(size_type m) {
  if (scratch_.size() < m) {
    // Queued work may still use the smaller buffer (only while the map has any).
    if (!scratch_.empty() && async_stream_) async_stream_->wait();
    release_scratch();  // first: the old and the new buffer are never held at once
    scratch_ = detail::allocate<std::uint64_t>(alloc_, "insert", m);
  }
  return thrust::raw_pointer_cast(scratch_.data());
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
void device_map<Key, T, Hash, KeyEqual, Allocator>::release_scratch() const {
  detail::vector_of<std::uint64_t, Allocator>(scratch_.get_allocator()).swap(scratch_);
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
template <class KeyIt, class ValueIt, class Op, class FlagIt>
void device_map<Key, T, Hash, KeyEqual, Allocator>::apply_async(KeyIt keys_first, KeyIt keys_last,
                                                                ValueIt values_first,
                                                                order_rule rule, Op op,
                                                                FlagIt new_out, stream_ref stream) {
  auto const n = detail::checked_length(keys_first, keys_last);
  if (n == 0) return;
  if (refs_out_) end_refs();  // (their claims count toward the room)
  size_type const limit = detail::load_limit(capacity_, max_load_factor_);
  size_type const bound = occupied_ + async_claims_;  // slots that may be taken already
  if (bound > limit || n > limit - bound) {
    stream.wait();  // the caller may still be writing the inputs there
    apply_in_chunks(keys_first, keys_last, values_first, rule, op, new_out);
    return;
  }
  begin_async_change(stream);
  std::uint64_t* const refs = ref_scratch(std::min(n, detail::chunk_size));
  async_claims_ += n;
  placed_on const here(*this, stream);
  // As one chunk of the waiting form, chunk after chunk: every claim fits, so none fails.
  bool const first_values = rule == order_rule::first_wins ||
                            (rule == order_rule::fold && !detail::has_zero_identity_v<Op, T>);
  bool const mark_absent = marks_absent<FlagIt>(first_values);
  auto* counters = thrust::raw_pointer_cast(counters_.data());
  for (size_type offset = 0; offset < n; offset += detail::chunk_size) {
    size_type const m = std::min(detail::chunk_size, n - offset);
    auto const d = static_cast<std::ptrdiff_t>(offset);
    view_type v = view();
    v.budgeted = false;
    if (mark_absent) {
      run("mark absent keys", m, detail::mark_absent_fn<view_type, KeyIt>{v, keys_first + d, refs});
    }
    run("locate", m,
        detail::claim_fn<view_type, KeyIt>{
            v, keys_first + d, refs, counters + detail::any_failed,
            mark_absent ? detail::locate_inputs::all : detail::locate_inputs::fresh});
    write_first_values_and_flags(keys_first + d, values_first + d, m, refs, first_values,
                                 new_out + d);
    write_other_values(values_first + d, m, refs, rule, op);
  }
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
template <class KeyIt, class ValueIt>
void device_map<Key, T, Hash, KeyEqual, Allocator>::insert_async(KeyIt keys_first, KeyIt keys_last,
                                                                 ValueIt values_first,
                                                                 stream_ref stream) {
  apply_async(keys_first, keys_last, values_first, order_rule::first_wins, detail::no_fold{},
              thrust::make_discard_iterator(), stream);
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
template <class KeyIt, class ValueIt, class FlagIt,
          std::enable_if_t<!std::is_convertible_v<FlagIt, stream_ref>, int>>
void device_map<Key, T, Hash, KeyEqual, Allocator>::insert_async(KeyIt keys_first, KeyIt keys_last,
                                                                 ValueIt values_first,
                                                                 FlagIt new_out,
                                                                 stream_ref stream) {
  apply_async(keys_first, keys_last, values_first, order_rule::first_wins, detail::no_fold{},
              new_out, stream);
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
template <class KeyIt, class MakeValue>
void device_map<Key, T, Hash, KeyEqual, Allocator>::insert_with_async(KeyIt keys_first,
                                                                      KeyIt keys_last,
                                                                      MakeValue make_value,
                                                                      stream_ref stream) {
  insert_async(keys_first, keys_last, thrust::make_transform_iterator(keys_first, make_value),
               stream);
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
template <class KeyIt, class ValueIt>
void device_map<Key, T, Hash, KeyEqual, Allocator>::insert_or_assign_async(KeyIt keys_first,
                                                                           KeyIt keys_last,
                                                                           ValueIt values_first,
                                                                           stream_ref stream) {
  apply_async(keys_first, keys_last, values_first, order_rule::last_wins, detail::no_fold{},
              thrust::make_discard_iterator(), stream);
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
template <class KeyIt, class ValueIt, class Op>
void device_map<Key, T, Hash, KeyEqual, Allocator>::insert_or_accumulate_async(
    KeyIt keys_first, KeyIt keys_last, ValueIt values_first, Op op, stream_ref stream) {
  apply_async(keys_first, keys_last, values_first, order_rule::fold, op,
              thrust::make_discard_iterator(), stream);
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
template <class KeyIt, class ValueIt, class Op, class FlagIt,
          std::enable_if_t<!std::is_convertible_v<FlagIt, stream_ref>, int>>
void device_map<Key, T, Hash, KeyEqual, Allocator>::insert_or_accumulate_async(
    KeyIt keys_first, KeyIt keys_last, ValueIt values_first, Op op, FlagIt new_out,
    stream_ref stream) {
  apply_async(keys_first, keys_last, values_first, order_rule::fold, op, new_out, stream);
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
template <class KeyIt>
void device_map<Key, T, Hash, KeyEqual, Allocator>::count_async(KeyIt keys_first, KeyIt keys_last,
                                                                stream_ref stream) {
  apply_async(keys_first, keys_last, thrust::constant_iterator<T>(T{1}), order_rule::fold,
              thrust::plus<T>{}, thrust::make_discard_iterator(), stream);
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
template <class KeyIt, class OutIt>
void device_map<Key, T, Hash, KeyEqual, Allocator>::find_async(KeyIt keys_first, KeyIt keys_last,
                                                               OutIt values_out, T missing_value,
                                                               stream_ref stream) const {
  find_async(keys_first, keys_last, values_out, missing_value, thrust::make_discard_iterator(),
             stream);
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
template <class KeyIt, class OutIt, class FlagIt,
          std::enable_if_t<!std::is_convertible_v<FlagIt, stream_ref>, int>>
void device_map<Key, T, Hash, KeyEqual, Allocator>::find_async(KeyIt keys_first, KeyIt keys_last,
                                                               OutIt values_out, T missing_value,
                                                               FlagIt found_out,
                                                               stream_ref stream) const {
  auto const n = detail::checked_length(keys_first, keys_last);
  begin_async(stream);
  placed_on const here(*this, stream);
  run("find", n,
      detail::find_fn<view_type, KeyIt, OutIt, FlagIt>{view(), keys_first, values_out, found_out,
                                                       missing_value});
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
template <class KeyIt, class OutIt>
void device_map<Key, T, Hash, KeyEqual, Allocator>::contains_async(KeyIt keys_first,
                                                                   KeyIt keys_last, OutIt flags_out,
                                                                   stream_ref stream) const {
  auto const n = detail::checked_length(keys_first, keys_last);
  begin_async(stream);
  placed_on const here(*this, stream);
  run("contains", n, detail::contains_fn<view_type, KeyIt, OutIt>{view(), keys_first, flags_out});
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
template <class KeyIt>
void device_map<Key, T, Hash, KeyEqual, Allocator>::erase_async(KeyIt keys_first, KeyIt keys_last,
                                                                stream_ref stream) {
  auto const n = detail::checked_length(keys_first, keys_last);
  begin_async_change(stream);
  placed_on const here(*this, stream);
  auto* counters = thrust::raw_pointer_cast(counters_.data());
  run("erase", n,
      detail::erase_fn<view_type, KeyIt>{view(), keys_first, counters + detail::removed});
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
template <class KeyIt, class OutIt>
void device_map<Key, T, Hash, KeyEqual, Allocator>::erase_async(KeyIt keys_first, KeyIt keys_last,
                                                                OutIt values_out, T missing_value,
                                                                stream_ref stream) {
  auto const n = detail::checked_length(keys_first, keys_last);
  if (n == 0) return;
  begin_async_change(stream);
  std::uint64_t* const refs = ref_scratch(std::min(n, detail::chunk_size));
  placed_on const here(*this, stream);
  for (size_type offset = 0; offset < n; offset += detail::chunk_size) {
    auto const d = static_cast<std::ptrdiff_t>(offset);
    take_chunk(keys_first + d, std::min(detail::chunk_size, n - offset), values_out + d,
               missing_value, refs);
  }
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
template <class Pred>
void device_map<Key, T, Hash, KeyEqual, Allocator>::retain_async(Pred pred, stream_ref stream) {
  begin_async_change(stream);
  placed_on const here(*this, stream);
  auto* counters = thrust::raw_pointer_cast(counters_.data());
  run("retain", capacity_ + detail::side_slot_count,
      detail::counted_pass<detail::retain_fn<view_type, Pred>>{{view(), pred},
                                                               counters + detail::removed});
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
template <class F>
void device_map<Key, T, Hash, KeyEqual, Allocator>::for_each_async(F f, stream_ref stream) const {
  begin_async(stream);
  placed_on const here(*this, stream);
  run("for_each", capacity_ + detail::side_slot_count,
      detail::for_each_fn<view_type, F>{view(), f});
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
template <class F>
void device_map<Key, T, Hash, KeyEqual, Allocator>::transform_values_async(F f, stream_ref stream) {
  begin_async(stream);
  placed_on const here(*this, stream);
  run("transform_values", capacity_ + detail::side_slot_count,
      detail::transform_values_fn<view_type, F>{view(), f});
}

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
void device_map<Key, T, Hash, KeyEqual, Allocator>::swap(device_map& other) noexcept {
  using std::swap;
  swap(max_load_factor_, other.max_load_factor_);
  swap(hash_, other.hash_);
  swap(equal_, other.equal_);
  swap(alloc_, other.alloc_);
  swap(capacity_, other.capacity_);
  swap(size_, other.size_);
  swap(occupied_, other.occupied_);
  swap(refs_out_, other.refs_out_);  // refs and queued work follow the table they point into
  swap(ref_claim_limit_, other.ref_claim_limit_);
  swap(unsettled_, other.unsettled_);
  swap(ref_seen_, other.ref_seen_);
  swap(async_stream_, other.async_stream_);
  swap(async_claims_, other.async_claims_);
  slots_.swap(other.slots_);
  counters_.swap(other.counters_);
  scratch_.swap(other.scratch_);
}

BULKMAP_NAMESPACE_END
