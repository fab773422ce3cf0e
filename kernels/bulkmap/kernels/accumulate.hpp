/**
 * @file accumulate.hpp
 * @brief Writing a slot's value atomically: stores, and folds with a binary operator.
 *
 * Values of 4 and 8 bytes: `thrust::plus`, `bit_or`, `bit_xor`, `minimum` and `maximum` map to
 * one atomic read-modify-write; any other operator runs a compare-and-swap loop. `plus`,
 * `bit_or`, `bit_xor` and unsigned `maximum` have the identity zero, which is the value of every
 * new slot, so insert-or-accumulate with them needs no ordering pass (`has_zero_identity_v`).
 * 16-byte values: see `value_ops`.
 */
#pragma once

#include <thrust/functional.h>

#include <bulkmap/detail/table.hpp>
#include <type_traits>

BULKMAP_NAMESPACE_BEGIN
namespace detail {

template <class Op, template <class> class Functor, class T>
inline constexpr bool is_functor_v =
    std::is_same_v<Op, Functor<T>> || std::is_same_v<Op, Functor<void>>;

/// The operator of the insertions that fold nothing (`insert`, `insert_or_assign`): never called.
struct no_fold {};
/// `no_fold` for `insert_with`, whose values are `make_value(key)`: equal for equal keys.
struct no_fold_values_by_key : no_fold {};
template <class Op>
inline constexpr bool is_no_fold_v = std::is_base_of_v<no_fold, Op>;

/// Whether T is an unsigned integer type (`unsigned __int128` included), whose least value is 0.
template <class T>
constexpr bool is_unsigned_integer() {
  if constexpr (is_integer_v<T>) {
    return T(0) < static_cast<T>(~T(0));
  } else {
    return false;
  }
}

/// True when `Op` has the identity zero, so a new slot (value zero) can be folded into directly:
/// `plus`; for integers `bit_or` and `bit_xor`; for unsigned integers `maximum`.
template <class Op, class T>
inline constexpr bool has_zero_identity_v =
    is_functor_v<Op, thrust::plus, T> ||
    (is_integer_v<T> &&
     (is_functor_v<Op, thrust::bit_or, T> || is_functor_v<Op, thrust::bit_xor, T>)) ||
    (is_unsigned_integer<T>() && is_functor_v<Op, thrust::maximum, T>);

/// True when folds with `Op` can be taken back exactly: integer `plus` of at most 8 bytes, by
/// adding `-v` (wraps).
template <class Op, class T>
inline constexpr bool is_reversible_v = is_functor_v<Op, thrust::plus, T>&& std::is_integral_v<T> &&
                                        sizeof(T) <= 8;

/// `-v` in T's arithmetic (modulo 2^bits for unsigned T), to take back an integer `plus`.
template <class T>
struct negate_fn {
  template <class V>
  BULKMAP_HOST_DEVICE T operator()(V const& v) const {
    using U = std::make_unsigned_t<T>;  // unsigned: no overflow, e.g. for the minimum of T
    return static_cast<T>(static_cast<U>(U{0} - static_cast<U>(static_cast<T>(v))));
  }
};

/**
 * `op(a, b)` outside an atomic (combining inputs before their one atomic). For integer `plus` the
 * sum is taken in unsigned arithmetic: it wraps as the atomic `fetch_add` does, where a signed
 * overflow would be undefined behaviour (UBSan found it).
 */
template <class T, class Op>
BULKMAP_HOST_DEVICE T fold_values(Op const& op, T a, T b) {
  if constexpr (std::is_integral_v<T> && is_functor_v<Op, thrust::plus, T>) {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(static_cast<U>(a) + static_cast<U>(b)));
  } else {
    return static_cast<T>(op(a, b));
  }
}

/// `op` as `fold_values` applies it, for the reductions that take an operator (`reduce_lanes`).
template <class Op>
struct wrapping_fold {
  Op op;
  template <class T>
  BULKMAP_HOST_DEVICE T operator()(T a, T b) const {
    return fold_values(op, a, b);
  }
};

/// `*target = op(*target, v)`, atomically.
template <class T, class Op>
BULKMAP_HOST_DEVICE void atomic_fold(T& target, T v, Op op) {
  atomic_ref_t<T> a(target);
  constexpr auto relaxed = cuda::std::memory_order_relaxed;
  if constexpr (is_functor_v<Op, thrust::plus, T>) {
    a.fetch_add(v, relaxed);
  } else if constexpr (std::is_integral_v<T> && is_functor_v<Op, thrust::bit_or, T>) {
    a.fetch_or(v, relaxed);
  } else if constexpr (std::is_integral_v<T> && is_functor_v<Op, thrust::bit_xor, T>) {
    a.fetch_xor(v, relaxed);
  } else if constexpr (std::is_integral_v<T> && is_functor_v<Op, thrust::minimum, T>) {
    a.fetch_min(v, relaxed);
  } else if constexpr (std::is_integral_v<T> && is_functor_v<Op, thrust::maximum, T>) {
    a.fetch_max(v, relaxed);
  } else {
    T expected = a.load(relaxed);
    while (!a.compare_exchange_weak(expected, static_cast<T>(op(expected, v)), relaxed)) {
    }
  }
}

/**
 * `*target = op(*target, v)` by the one thread that writes `*target` while others may read it: a
 * relaxed load and store, no locked read-modify-write (omp's owned fold, locate.hpp).
 */
template <class T, class Op>
BULKMAP_HOST_DEVICE void owned_fold(T& target, T v, Op op) {
  atomic_ref_t<T> a(target);
  constexpr auto relaxed = cuda::std::memory_order_relaxed;
  a.store(fold_values(op, a.load(relaxed), v), relaxed);
}

/**
 * @brief `atomic_fold` for every calling thread. On a GPU, the threads of a warp that fold into
 * the same target first combine their values (`__match_any_sync` on the target's address, then
 * `reduce_lanes`), so one atomic per target and warp remains: counting few distinct keys does
 * not queue on their slots. `op` must be associative and commutative, as for any atomic fold.
 */
template <class T, class Op>
BULKMAP_HOST_DEVICE void grouped_fold(T& target, T v, Op op) {
#if defined(__CUDA_ARCH__)
  auto const address = reinterpret_cast<unsigned long long>(&target);
  unsigned const same = __match_any_sync(__activemask(), address);
  if (same & (same - 1)) v = reduce_lanes(same, v, wrapping_fold<Op>{op});  // more than one lane
  if (static_cast<unsigned>(__ffs(same) - 1) == lane_id()) atomic_fold(target, v, op);
#else
  atomic_fold(target, v, op);
#endif
}

/**
 * @brief Atomic stores and folds of a slot's value.
 *
 * Values of 4 and 8 bytes: `cuda::atomic_ref` (`atomic_fold`; `Grouped`: `grouped_fold`).
 * 16-byte values: on a GPU of sm_90 or later, a loop of 128-bit compare-and-swaps; elsewhere,
 * under the slot's guard (`slot_guard`, the lock side of the key's sequence lock).
 */
template <class Slot, bool Wide = sizeof(Slot::value) == 16>
struct value_ops {
  using T = decltype(Slot::value);

  BULKMAP_HOST_DEVICE static void store(Slot& s, T const& v) noexcept {
    atomic_ref_t<T>(s.value).store(v, cuda::std::memory_order_relaxed);
  }
  template <bool Grouped = false, class Op>
  BULKMAP_HOST_DEVICE static void fold(Slot& s, T const& v, Op op) {
    if constexpr (Grouped) {
      grouped_fold(s.value, v, op);
    } else {
      atomic_fold(s.value, v, op);
    }
  }
};

template <class Slot>
struct value_ops<Slot, true> {
  using T = decltype(Slot::value);
  using word = unsigned __int128;

  BULKMAP_HOST_DEVICE static word bits(T const& v) noexcept {
    word w;
    memcpy(&w, &v, sizeof(T));
    return w;
  }
  BULKMAP_HOST_DEVICE static T from_bits(word w) noexcept {
    T v;
    memcpy(&v, &w, sizeof(T));
    return v;
  }

  BULKMAP_HOST_DEVICE static void store(Slot& s, T const& v) noexcept {
    update(s, [&](T const&) { return v; });
  }
  /// Grouping applies to values of at most 8 bytes only (warp shuffles); ignored here.
  template <bool Grouped = false, class Op>
  BULKMAP_HOST_DEVICE static void fold(Slot& s, T const& v, Op op) {
    update(s, [&](T const& current) { return static_cast<T>(op(current, v)); });
  }

 private:
  /// `s.value = f(s.value)`, atomically.
  template <class F>
  BULKMAP_HOST_DEVICE static void update(Slot& s, F f) {
#if defined(BULKMAP_NATIVE_ATOMIC128)
    auto* const p = reinterpret_cast<word*>(&s.value);
    word old = load128(p);
    for (;;) {
      word const seen = atomicCAS(p, old, bits(f(from_bits(old))));
      if (seen == old) return;
      old = seen;
    }
#else
    slot_guard const guard(s.guard);
    std::uint32_t const g = guard.lock();
    store_halves(&s.value, bits(f(from_bits(load_halves(&s.value)))));
    guard.unlock(g);
#endif
  }
};

/**
 * Folds value i into the slot its ref names, unless input i wrote that slot's first value
 * (`ref::winner`, see insert.hpp). With an `Op` whose identity is zero no input is a writer,
 * and this one pass is the whole accumulation. `Grouped`: through `grouped_fold`, worth its
 * match instruction only when inputs of a warp often share a slot (see `repeats_fn`).
 */
template <class View, class ValueIt, class Op, bool Grouped>
struct fold_fn {
  View table;
  ValueIt values;
  std::uint64_t const* refs;
  Op op;
  std::uint64_t skip = ref::winner;  ///< inputs whose ref has one of these flags fold nothing

  BULKMAP_HOST_DEVICE void operator()(std::uint64_t i) const {
    using T = typename View::value_type;
    if (refs[i] & skip) return;
    value_ops<typename View::slot_type>::template fold<Grouped>(
        table.slots[refs[i] & ref::index_mask], static_cast<T>(values[i]), op);
  }
  BULKMAP_HOST_DEVICE void prefetch(std::uint64_t i) const {
    table.prefetch_slot(refs[i] & ref::index_mask);
  }
};

/**
 * Whether input i (i ≥ 1) refers to the same slot as input i - 1. Their count over a chunk,
 * divided by its length, estimates how often two inputs share a slot (Σ p², the repeat rate of
 * the keys), which decides whether folds are grouped per warp first.
 */
struct repeats_fn {
  std::uint64_t const* refs;

  BULKMAP_HOST_DEVICE bool operator()(std::uint64_t i) const {
    return ((refs[i] ^ refs[i - 1]) & ref::index_mask) == 0;
  }
};

/// The locate pass only locates (see `claim_fn`: what else it may do once an input has a slot).
struct locate_only {};

/**
 * A fold the locate pass does itself (counting and integer `plus` on omp): each input folds its
 * value into its slot as soon as it has found or claimed it, and is marked `ref::applied`, so a
 * pass repeated after a growth folds only the inputs that had no slot yet. This saves the fold's
 * own pass over the slots. Reversible: a failed growth folds the values back out, negated, for
 * every input that did not fail (an input that has a slot never loses it: a key claimed before a
 * growth is found after it).
 */
template <class ValueIt, class Op>
struct fused_fold {
  ValueIt values;
  Op op;
};

template <class Also>
inline constexpr bool is_fused_fold_v = false;
template <class ValueIt, class Op>
inline constexpr bool is_fused_fold_v<fused_fold<ValueIt, Op>> = true;

}  // namespace detail
BULKMAP_NAMESPACE_END
