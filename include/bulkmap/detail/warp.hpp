/**
 * @file detail/warp.hpp
 * @brief Warp-level helpers. Aggregated counters: on a GPU, the threads of a warp that reach the
 * same counter update together share one atomic read-modify-write, issued by the lowest active
 * lane, since tens of millions of threads bumping one counter would otherwise queue at one memory
 * location; on the host (omp backend) each thread counts in a row of counters of its own
 * (`counter_rows`), so cores do not pass one cache line back and forth for every claim or
 * removal. And, GPU only, the lane id and a reduction over a mask of lanes (`reduce_lanes`, for
 * `grouped_fold`).
 */
#pragma once

#include <bulkmap/config.hpp>
#include <cstring>
#include <cuda/atomic>

#if defined(__CUDA_ARCH__)
#include <cooperative_groups.h>
#endif
#if defined(BULKMAP_BACKEND_OMP)
#include <omp.h>
#endif

BULKMAP_NAMESPACE_BEGIN
namespace detail {

template <class U>
using atomic_ref_t = cuda::atomic_ref<U, cuda::thread_scope_device>;

/**
 * @brief The layout of a map's kernel-side counters: `counter_rows` rows of `counter_stride`
 * words, each row a full copy of the counters; a count is the sum of its column (see
 * `device_map::read_counters`). On the omp backend, `add_to_counter` adds to the calling
 * thread's row (thread number modulo the rows: still atomic, so threads that share a row stay
 * exact), 128 bytes apart, so no two rows share a cache line. Row 0 is also the shared row:
 * `fetch_add_one`, whose caller compares the count with a budget, and `give_back_one` use it
 * alone. On a GPU there is one row; warps aggregate instead.
 */
#if defined(BULKMAP_BACKEND_OMP)
inline constexpr std::size_t counter_rows = 64;
#else
inline constexpr std::size_t counter_rows = 1;
#endif
inline constexpr std::size_t counter_stride = 16;

/**
 * @brief Adds 1 to `counter` for the calling thread and returns the value before its unit, as
 * if the threads that call together had added one after another in lane order. Threads that call
 * together must pass the same counter, unless `aggregate` is false: then each adds on its own
 * (for users' code, which may reach one call site with the counters of several maps).
 */
BULKMAP_HOST_DEVICE inline unsigned long long fetch_add_one(unsigned long long& counter,
                                                            bool aggregate = true) {
#if defined(__CUDA_ARCH__)
  if (aggregate) {
    namespace cg = cooperative_groups;
    cg::coalesced_group const active = cg::coalesced_threads();
    unsigned long long first = 0;
    if (active.thread_rank() == 0) {
      first = atomic_ref_t<unsigned long long>(counter).fetch_add(active.size(),
                                                                  cuda::std::memory_order_relaxed);
    }
    return active.shfl(first, 0) + active.thread_rank();
  }
#else
  (void)aggregate;  // host threads add one at a time
#endif
  return atomic_ref_t<unsigned long long>(counter).fetch_add(1, cuda::std::memory_order_relaxed);
}

/**
 * @brief Adds `delta` to `counter` for the calling thread. Threads that call together must pass
 * the same counter and delta (every call site passes a constant delta); on a GPU the first of
 * them adds `delta` times their number. With `aggregate` false, each thread adds on its own.
 *
 * Not through `cooperative_groups::reduce`: on an H100 (CUDA 13.0), summing the deltas with it
 * after a divergent compare-and-swap lost an increment about once per ten runs of the erase tests.
 */
BULKMAP_HOST_DEVICE inline void add_to_counter(unsigned long long& counter, long long delta,
                                               bool aggregate = true) {
#if defined(__CUDA_ARCH__)
  if (aggregate) {
    namespace cg = cooperative_groups;
    cg::coalesced_group const active = cg::coalesced_threads();
    if (active.thread_rank() == 0) {
      atomic_ref_t<unsigned long long>(counter).fetch_add(
          static_cast<unsigned long long>(delta * static_cast<long long>(active.size())),
          cuda::std::memory_order_relaxed);
    }
    return;
  }
  atomic_ref_t<unsigned long long>(counter).fetch_add(static_cast<unsigned long long>(delta),
                                                      cuda::std::memory_order_relaxed);
#else
  (void)aggregate;  // host threads add one at a time, each in its own row
#if defined(BULKMAP_BACKEND_OMP)
  auto const row = static_cast<std::size_t>(omp_get_thread_num()) % counter_rows;
#else
  std::size_t const row = 0;
#endif
  atomic_ref_t<unsigned long long>((&counter)[row * counter_stride])
      .fetch_add(static_cast<unsigned long long>(delta), cuda::std::memory_order_relaxed);
#endif
}

/// Takes back a unit that `fetch_add_one` added: in the shared row, where the budget is read.
BULKMAP_HOST_DEVICE inline void give_back_one(unsigned long long& counter, bool aggregate = true) {
#if defined(__CUDA_ARCH__)
  add_to_counter(counter, -1, aggregate);
#else
  (void)aggregate;
  atomic_ref_t<unsigned long long>(counter).fetch_sub(1, cuda::std::memory_order_relaxed);
#endif
}

#if defined(__CUDA_ARCH__)
/// The calling thread's lane in its warp.
__device__ inline unsigned lane_id() {
  unsigned lane;
  asm volatile("mov.u32 %0, %%laneid;" : "=r"(lane));
  return lane;
}

/**
 * @brief `op` over the values `v` of the lanes in `lanes` (a warp mask that every one of them
 * passes, as `__match_any_sync` returns it), in lane order; every lane gets the result. One
 * shuffle per lane of the mask. T: any trivially copyable type of at most 8 bytes.
 */
template <class T, class Op>
__device__ T reduce_lanes(unsigned lanes, T v, Op op) {
  static_assert(sizeof(T) <= sizeof(unsigned long long), "reduce_lanes: T of at most 8 bytes");
  unsigned long long bits = 0;
  memcpy(&bits, &v, sizeof(T));
  T total{};
  bool first = true;
  for (unsigned rest = lanes; rest != 0; rest &= rest - 1) {
    unsigned long long const other = __shfl_sync(lanes, bits, __ffs(rest) - 1);
    T x;
    memcpy(&x, &other, sizeof(T));
    total = first ? x : static_cast<T>(op(total, x));
    first = false;
  }
  return total;
}
#endif

}  // namespace detail
BULKMAP_NAMESPACE_END
