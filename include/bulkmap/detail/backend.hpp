/**
 * @file detail/backend.hpp
 * @brief Host-side plumbing shared by every bulk call: launching a per-element functor,
 * allocating device memory through the map's allocator, turning Thrust and CUDA failures into
 * bulkmap exceptions, and moving host vectors in and out.
 */
#pragma once

#include <thrust/copy.h>
#include <thrust/device_vector.h>
#include <thrust/execution_policy.h>
#include <thrust/for_each.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/system_error.h>

#include <algorithm>
#include <bulkmap/config.hpp>
#include <bulkmap/detail/table.hpp>
#include <bulkmap/error.hpp>
#include <bulkmap/stream.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

BULKMAP_NAMESPACE_BEGIN
namespace detail {

/**
 * Runs `f()` and rethrows what it throws as bulkmap exceptions: allocation failures as
 * `out_of_memory`, CUDA failures as `cuda_error`; `what` names the bulk call.
 */
template <class F>
decltype(auto) translate_errors(char const* what, F&& f) {
  try {
    return std::forward<F>(f)();
  } catch (bulkmap::error const&) {
    throw;
  } catch (std::bad_alloc const& e) {
#if defined(BULKMAP_BACKEND_CUDA)
    // Thrust reports any failed cudaMalloc as bad_alloc, a missing GPU or driver included.
    int devices = 0;
    if (cudaError_t const status = cudaGetDeviceCount(&devices);
        status != cudaSuccess || devices == 0) {
      (void)cudaGetLastError();
      throw cuda_error(static_cast<int>(status), what,
                       std::string("bulkmap: ") + what + ": no usable CUDA device (" +
                           cudaGetErrorString(status) + ")");
    }
#endif
    throw out_of_memory(std::string("bulkmap: ") + what + ": out of memory (" + e.what() + ")");
  } catch (thrust::system_error const& e) {
#if defined(BULKMAP_BACKEND_CUDA)
    if (e.code().category() == thrust::cuda_category()) {
      if (e.code().value() == cudaErrorMemoryAllocation) {
        throw out_of_memory(std::string("bulkmap: ") + what + ": " + e.what());
      }
      throw cuda_error(e.code().value(), what, std::string("bulkmap: ") + what + ": " + e.what());
    }
#endif
    throw error(std::string("bulkmap: ") + what + ": " + e.what());
  }
}

/**
 * Where a map's launches run: on the default stream, waiting for each (`async` false: the waiting
 * calls), or queued on `stream` without waiting (the `_async` calls). On omp every launch runs
 * before it returns, wherever it was placed.
 */
struct placement {
  stream_ref stream{};
  bool async = false;
};

/// Whether functor F can prefetch what input i will touch: `fn.prefetch(i)`.
template <class F, class = void>
inline constexpr bool has_prefetch_v = false;
template <class F>
inline constexpr bool
    has_prefetch_v<F, std::void_t<decltype(std::declval<F const&>().prefetch(std::uint64_t{}))>> =
        true;

/**
 * Batched probing on CPUs: runs `fn(i)` after asking `fn` to prefetch the slot of input
 * i + prefetch_distance, so a thread's next few slot accesses are on their way from memory while
 * it works on this one. (A GPU hides that latency with thousands of resident warps instead.)
 * OpenMP gives each thread a contiguous range of inputs, so the slots it prefetches are its own.
 */
template <class F>
struct prefetching {
  F fn;
  std::uint64_t n;

  void operator()(std::uint64_t i) const {
    if (i + prefetch_distance < n) fn.prefetch(i + prefetch_distance);
    fn(i);
  }
};

/**
 * A pass in which each input may add one to a counter: `fn.counted(i)` does input i's work and
 * returns whether it adds one (a slot freed, say). On a GPU each input that counts adds, its warp
 * aggregated (`add_to_counter`). On omp, `launch` runs it a block of `block` inputs per call,
 * which adds its inputs' count once, in place of a locked add per input that counts (each
 * with a call for the thread's counter row). Removing half of 10^7 keys with `retain` took 19%
 * (u32) and 27% (u64) less time that way on 2 cores (median of 4 runs in turns).
 */
template <class F>
struct counted_pass {
  static constexpr std::uint64_t block = std::uint64_t{1} << 14;

  F fn;
  unsigned long long* counter;

  BULKMAP_HOST_DEVICE void operator()(std::uint64_t i) const {
    if (fn.counted(i)) add_to_counter(*counter, 1);
  }
};

template <class F>
inline constexpr bool is_counted_pass_v = false;
template <class F>
inline constexpr bool is_counted_pass_v<counted_pass<F>> = true;

/// `Pass`, a `counted_pass`, on omp: block b of the pass's n inputs.
template <class Pass>
struct counted_blocks {
  Pass pass;
  std::uint64_t n;

  void operator()(std::uint64_t b) const {
    std::uint64_t const first = b * Pass::block;
    std::uint64_t const last = std::min(first + Pass::block, n);
    unsigned long long count = 0;
    for (std::uint64_t i = first; i < last; ++i) count += pass.fn.counted(i) ? 1 : 0;
    if (count != 0) add_to_counter(*pass.counter, static_cast<long long>(count));
  }
};

/// Runs `fn(i)` for i in [0, n) on the backend (a CUDA kernel or an OpenMP loop), placed by `on`.
/// On omp, a functor with a `prefetch(i)` member runs with prefetching, and a `counted_pass` in
/// blocks (`counted_blocks`).
template <class F>
void launch(char const* what, std::uint64_t n, F const& fn, placement on = {}) {
  if (n == 0) return;
  translate_errors(what, [&] {
    thrust::counting_iterator<std::uint64_t> const first(0);
#if defined(BULKMAP_BACKEND_CUDA)
    if (on.async) {
      thrust::for_each_n(thrust::cuda::par_nosync.on(on.stream.get()), first, n, fn);
      return;
    }
#else
    if constexpr (is_counted_pass_v<F>) {
      thrust::for_each_n(thrust::device, first, (n + F::block - 1) / F::block,
                         counted_blocks<F>{fn, n});
      return;
    }
    if constexpr (has_prefetch_v<F>) {
      thrust::for_each_n(thrust::device, first, n, prefetching<F>{fn, n});
      return;
    }
#endif
    (void)on;
    thrust::for_each_n(thrust::device, first, n, fn);
  });
}

/// Inputs per block of `copy_selected` on omp.
inline constexpr std::uint64_t selection_block = std::uint64_t{1} << 16;

/// `copy_selected`, pass 1 (omp): how many inputs of block b `pred` selects.
template <class StencilIt, class Pred>
struct count_selected_fn {
  StencilIt stencil;
  std::uint64_t n;
  Pred pred;
  std::uint64_t* counts;

  void operator()(std::uint64_t b) const {
    std::uint64_t const last = std::min(n, (b + 1) * selection_block);
    std::uint64_t c = 0;
    for (std::uint64_t i = b * selection_block; i < last; ++i) c += pred(stencil[i]) ? 1 : 0;
    counts[b] = c;
  }
};

/// `copy_selected`, pass 2 (omp): copies block b's selected inputs in order, from `offsets[b]`.
template <class InIt, class StencilIt, class OutIt, class Pred>
struct copy_selected_fn {
  InIt in;
  StencilIt stencil;
  std::uint64_t n;
  Pred pred;
  std::uint64_t const* offsets;
  OutIt out;

  void operator()(std::uint64_t b) const {
    std::uint64_t const last = std::min(n, (b + 1) * selection_block);
    auto to = out + static_cast<std::ptrdiff_t>(offsets[b]);
    for (std::uint64_t i = b * selection_block; i < last; ++i) {
      if (pred(stencil[i])) *to++ = in[i];
    }
  }
};

/**
 * Copies `in[i]` for each i < n where `pred(stencil[i])`, in order, to `out`; returns how many.
 * `thrust::copy_if`, except on omp, where Thrust's copy_if allocates 8 bytes per input for its
 * scan: first touching those pages cost more than the copy (a count of few distinct keys spent
 * half its time there). There, blocks of inputs count their selection, and each block's thread
 * copies at its offset: two passes over the stencil, one count per block of scratch.
 * @throw out_of_memory
 */
template <class Policy, class InIt, class StencilIt, class OutIt, class Pred>
std::uint64_t copy_selected(char const* what, Policy const& policy, InIt in, std::uint64_t n,
                            StencilIt stencil, OutIt out, Pred pred) {
  return translate_errors(what, [&]() -> std::uint64_t {
#if defined(BULKMAP_BACKEND_CUDA)
    auto const end =
        thrust::copy_if(policy, in, in + static_cast<std::ptrdiff_t>(n), stencil, out, pred);
    return static_cast<std::uint64_t>(end - out);
#else
    std::uint64_t const blocks = (n + selection_block - 1) / selection_block;
    std::vector<std::uint64_t> offsets(blocks);
    thrust::counting_iterator<std::uint64_t> const first(0);
    thrust::for_each_n(policy, first, blocks,
                       count_selected_fn<StencilIt, Pred>{stencil, n, pred, offsets.data()});
    std::uint64_t total = 0;
    for (auto& o : offsets) total += std::exchange(o, total);
    thrust::for_each_n(policy, first, blocks,
                       copy_selected_fn<InIt, StencilIt, OutIt, Pred>{in, stencil, n, pred,
                                                                      offsets.data(), out});
    return total;
#endif
  });
}

/// The allocator `Allocator` rebound to elements of type U.
template <class Allocator, class U>
using rebind_t = typename std::allocator_traits<Allocator>::template rebind_alloc<U>;

/// A device vector of U whose memory comes from (a rebound copy of) `Allocator`.
template <class U, class Allocator>
using vector_of = thrust::device_vector<U, rebind_t<Allocator, U>>;

/**
 * The execution policy for Thrust algorithms that need scratch memory (reductions, scans,
 * sorts): the backend's device policy, taking its scratch from a copy of `alloc` (rebound to
 * maximally aligned units, as Thrust does for memory resources).
 */
template <class Allocator>
auto policy(Allocator const& alloc) {
  return thrust::device(rebind_t<Allocator, std::max_align_t>(alloc));
}

/// Allocations of at least this many bytes from the default allocator are prepared as fresh
/// blocks (omp; `prepare_fresh_block`).
inline constexpr std::size_t fresh_block_bytes = std::size_t{2} << 20;

/**
 * Readies the untouched block of `bytes` bytes at `p` for its first writes (Linux; advice only:
 * where the kernel declines, nothing changes):
 * - the whole 2 MiB pages within it are asked to be transparent huge pages (`madvise`
 *   `MADV_HUGEPAGE`; the usual "madvise" setting of /sys/kernel/mm/transparent_hugepage/enabled
 *   gives them only where asked): a table's random probes then miss the TLB far less, and the
 *   first touch faults once per 2 MiB instead of once per 4 KiB;
 * - the pages around them, at most 2 MiB at each end, which no huge page can cover (the whole
 *   block when none fits), are mapped at once (`MADV_POPULATE_WRITE`, Linux 5.14 on; contents
 *   are kept) instead of by a fault on each. Faults were dear on the 2-core VM measured: 13.9 us
 *   each.
 * Measured in one process on 2 cores (AMD EPYC), with and without, in turns, 8 to 12 rounds:
 * - the huge pages: counting 10^7 all-distinct u64 keys ran at 0.98 to 1.30 times the speed,
 *   10^7 u32 keys of 10^6 distinct values at 0.92 to 1.23, the words of 200 MB of the Linux
 *   source at 0.98 to 1.34 (1.85 on a first call, as its arena grew); large gains in one session,
 *   a few percent in the other. `find` moved within its noise;
 * - the mapped ends: `aggregate_by` (sum) of 10^7 u32 rows over 10^6 keys, every buffer fresh,
 *   took 0 to 7% less time in 8 of 10 pairs of rounds, 1 to 4% more in the other two
 * (bench/results/amd-epyc-2t/2026-12-07-huge-pages.md).
 */
inline void prepare_fresh_block(void* p, std::size_t bytes) noexcept {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  auto const down = [](std::uintptr_t x, std::uintptr_t unit) { return x & ~(unit - 1); };
  auto const up = [&](std::uintptr_t x, std::uintptr_t unit) { return down(x + unit - 1, unit); };
  auto const populate = [](std::uintptr_t from, std::uintptr_t to) {
#if defined(MADV_POPULATE_WRITE)
    if (from < to) (void)madvise(reinterpret_cast<void*>(from), to - from, MADV_POPULATE_WRITE);
#else
    (void)from;
    (void)to;
#endif
  };
  auto const page = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
  std::uintptr_t const huge = std::uintptr_t{2} << 20;
  auto const begin = reinterpret_cast<std::uintptr_t>(p);
  std::uintptr_t const end = begin + bytes;
  std::uintptr_t const first = up(begin, huge);  // the whole huge pages: [first, last)
  std::uintptr_t const last = down(end, huge);
  if (first < last) {
    (void)madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);
    populate(down(begin, page), first);
    populate(last, up(end, page));
  } else {
    populate(down(begin, page), up(end, page));  // no huge page fits
  }
#else
  (void)p;
  (void)bytes;
#endif
}

/**
 * Reserves room for n elements in `v`, which must be empty, without touching it. On omp, a block
 * of at least `fresh_block_bytes` from the default allocator (`thrust::device_allocator`,
 * plain host memory) is prepared for its first writes (`prepare_fresh_block`: huge pages, and its
 * ends mapped); other allocators' memory is left as their owners set it up. Fill it next
 * (`resize`, `assign`). The first touch of a fresh buffer then faults once per 2 MiB instead of
 * once per 4 KiB: `number_groups` of 10^7 int keys in 10^5 groups took 2,500 page faults instead
 * of 21,400, and 158 to 259 ms instead of 275 to 350 (3 runs each, in turns, 2 cores of a VM
 * whose faults are dear; glibc returning freed blocks to the system, as it does by default, so
 * that each call's buffers are fresh).
 * @throw std::bad_alloc (callers translate it)
 */
template <class T, class A>
void reserve_fresh(thrust::device_vector<T, A>& v, std::size_t n) {
  if constexpr (!backend_is_cuda &&
                std::is_same_v<rebind_t<A, char>, thrust::device_allocator<char>>) {
    if (n * sizeof(T) >= fresh_block_bytes) {
      v.reserve(n);
      prepare_fresh_block(thrust::raw_pointer_cast(v.data()), n * sizeof(T));
    }
  }
}

/**
 * Makes `v` n copies of `value`. Where its block is too small, the old one is freed first (not
 * copied) and the new one reserved as `reserve_fresh` does, so that a large buffer's first touch
 * faults once per 2 MiB on omp. `aggregate_by` (sum) of 10^7 u32 rows over 10^6 keys, whose
 * by-slot columns, gathers and sorted keys take fresh blocks this way, took 227 to 256 ms a call
 * instead of 284 to 320 (2 cores; 4 processes each, in turns, after each one's first call; glibc
 * returning freed blocks to the system, as it does by default).
 * @throw std::bad_alloc (callers translate it)
 */
template <class T, class A>
void assign_fresh(thrust::device_vector<T, A>& v, std::size_t n, T const& value = T{}) {
  if (v.capacity() >= n) {  // its own block, touched before (`assign` would lose the allocator)
    v.clear();
  } else {
    thrust::device_vector<T, A>(v.get_allocator()).swap(v);  // freed, not copied
    reserve_fresh(v, n);
  }
  v.resize(n, value);
}

/// A device vector of n copies of `value`, allocated by `alloc` (`assign_fresh`).
/// @throw out_of_memory
template <class T, class Allocator>
vector_of<T, Allocator> allocate(Allocator const& alloc, char const* what, std::size_t n,
                                 T const& value = T{}) {
  return translate_errors(what, [&] {
    vector_of<T, Allocator> v{rebind_t<Allocator, T>(alloc)};
    assign_fresh(v, n, value);
    return v;
  });
}

/**
 * A host vector made readable by backend functors. On `omp`, device memory is host memory, so the
 * vector is read in place; on `cuda` it is copied once into memory from `alloc`.
 */
template <class T, class Allocator>
class host_input {
 public:
  host_input(char const* what, std::vector<T> const& v, Allocator const& alloc)
      : host_input(what, v.data(), v.size(), alloc) {}
  /// The n elements at `p`.
  host_input(char const* what, T const* p, std::size_t n, Allocator const& alloc)
#if defined(BULKMAP_BACKEND_OMP)
      : data_(p) {
    (void)what;
    (void)n;
    (void)alloc;
  }
  [[nodiscard]] T const* begin() const noexcept { return data_; }
  /// A raw pointer to the elements (null when there are none, on cuda).
  [[nodiscard]] T const* data() const noexcept { return data_; }

 private:
  T const* data_;
#else
      : data_(translate_errors(what, [&] {
          return vector_of<T, Allocator>(p, p + n, rebind_t<Allocator, T>(alloc));
        })) {
  }
  [[nodiscard]] auto begin() const noexcept { return data_.begin(); }
  [[nodiscard]] T const* data() const noexcept { return thrust::raw_pointer_cast(data_.data()); }

 private:
  vector_of<T, Allocator> data_;
#endif
};

/// A host vector of n elements that backend functors can write; `take()` hands it over. On
/// `cuda` the functors write into memory from `alloc`, copied back by `take()`.
template <class T, class Allocator>
class host_output {
 public:
  host_output(char const* what, std::size_t n, Allocator const& alloc)
      : host_(n)
#if defined(BULKMAP_BACKEND_CUDA)
        ,
        device_(allocate<T>(alloc, what, n))
#endif
  {
    (void)what;
    (void)alloc;
  }
#if defined(BULKMAP_BACKEND_OMP)
  [[nodiscard]] T* begin() noexcept { return host_.data(); }
  std::vector<T> take() { return std::move(host_); }
#else
  [[nodiscard]] auto begin() noexcept { return device_.begin(); }
  std::vector<T> take() {
    thrust::copy(device_.begin(), device_.end(), host_.begin());
    return std::move(host_);
  }
#endif

  /// The output read as flags (for the `std::vector<bool>` results of the host overloads).
  std::vector<bool> take_flags() {
    std::vector<T> const bytes = take();
    return std::vector<bool>(bytes.begin(), bytes.end());
  }

 private:
  std::vector<T> host_;
#if defined(BULKMAP_BACKEND_CUDA)
  vector_of<T, Allocator> device_;
#endif
};

/// Copies a device vector into a new host vector.
template <class T, class Allocator>
std::vector<T> to_std_vector(thrust::device_vector<T, Allocator> const& d) {
  std::vector<T> h(d.size());
  // Nothing to copy into an empty vector: Thrust would still bind a reference to its null data,
  // which UBSan reports.
  if (!h.empty()) thrust::copy(d.begin(), d.end(), h.begin());
  return h;
}

}  // namespace detail
BULKMAP_NAMESPACE_END
