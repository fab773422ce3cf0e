/**
 * @file detail/warp.hpp
 * @brief Warp-aggregated counters. On a GPU, the threads of a warp that reach the same counter
 * update together share one atomic read-modify-write, issued by the lowest active lane: tens of
 * millions of threads bumping one counter would otherwise queue at one memory location. On the
 * host (omp backend) these are plain relaxed atomics.
 */
#pragma once

#include <bulkmap/config.hpp>
#include <cuda/atomic>

#if defined(__CUDA_ARCH__)
#include <cooperative_groups.h>
#include <cooperative_groups/reduce.h>
#endif

namespace bulkmap::detail {

template <class U>
using atomic_ref_t = cuda::atomic_ref<U, cuda::thread_scope_device>;

/**
 * @brief Adds 1 to `counter` for the calling thread and returns the value before its unit, as
 * if the threads that call together had added one after another in lane order.
 */
BULKMAP_HOST_DEVICE inline unsigned long long fetch_add_one(unsigned long long& counter) {
#if defined(__CUDA_ARCH__)
  namespace cg = cooperative_groups;
  cg::coalesced_group const active = cg::coalesced_threads();
  unsigned long long first = 0;
  if (active.thread_rank() == 0) {
    first = atomic_ref_t<unsigned long long>(counter).fetch_add(active.size(),
                                                                cuda::std::memory_order_relaxed);
  }
  return active.shfl(first, 0) + active.thread_rank();
#else
  return atomic_ref_t<unsigned long long>(counter).fetch_add(1, cuda::std::memory_order_relaxed);
#endif
}

/// Adds `delta` (+1 or -1 in practice) to `counter` for the calling thread.
BULKMAP_HOST_DEVICE inline void add_to_counter(unsigned long long& counter, long long delta) {
#if defined(__CUDA_ARCH__)
  namespace cg = cooperative_groups;
  cg::coalesced_group const active = cg::coalesced_threads();
  // Threads calling together pass the same delta in every use here; sum them all the same.
  long long const sum = cg::reduce(active, delta, cg::plus<long long>());
  if (active.thread_rank() == 0) {
    atomic_ref_t<unsigned long long>(counter).fetch_add(static_cast<unsigned long long>(sum),
                                                        cuda::std::memory_order_relaxed);
  }
#else
  atomic_ref_t<unsigned long long>(counter).fetch_add(static_cast<unsigned long long>(delta),
                                                      cuda::std::memory_order_relaxed);
#endif
}

}  // namespace bulkmap::detail
