/**
 * @file stream.hpp
 * @brief `bulkmap::stream_ref`: the stream an `_async` call runs on, on both backends.
 *
 * Example: count two batches without waiting between them, then read the size.
 * @code
 * cudaStream_t s;
 * cudaStreamCreate(&s);
 * bulkmap::device_map<std::uint64_t, std::uint32_t> counts(expected_distinct);
 * counts.count_async(batch1.begin(), batch1.end(), s);   // returns at once
 * counts.count_async(batch2.begin(), batch2.end(), s);   // queued behind the first
 * std::size_t n = counts.size();                          // waits for both
 * @endcode
 * On the omp backend the same code compiles with `bulkmap::stream_ref{}` for `s`: every call runs
 * to completion before it returns, and the stream is ignored.
 */
#pragma once

#include <bulkmap/config.hpp>
#include <bulkmap/error.hpp>

BULKMAP_NAMESPACE_BEGIN

/**
 * @brief A non-owning handle to a stream of device work.
 *
 * - **cuda:** wraps a `cudaStream_t`, converting implicitly from one; the default-constructed
 *   handle is the default stream (`0`). The caller owns the stream and keeps it alive while work
 *   queued on it runs.
 * - **omp:** an empty type. Work runs on the calling thread's OpenMP team before the call returns,
 *   so there is nothing to name; `wait()` returns at once.
 *
 * Rust counterpart: none (Rust's `HashMap` has no device). Close to `cuda::stream_ref` (libcu++),
 * which needs the CUDA runtime and so is not available on the omp backend.
 */
class stream_ref {
 public:
  /// The default stream. O(1).
  constexpr stream_ref() noexcept = default;

#if defined(BULKMAP_BACKEND_CUDA)
  /// The stream `s` (not owned). O(1).
  constexpr stream_ref(cudaStream_t s) noexcept : stream_(s) {}  // NOLINT: implicit on purpose
  /// The CUDA stream. O(1).
  [[nodiscard]] constexpr cudaStream_t get() const noexcept { return stream_; }
#endif

  /**
   * @brief Blocks until all work queued on the stream so far has finished.
   * Waits (`cudaStreamSynchronize`); returns at once on omp.
   * @throw bulkmap::cuda_error if that work failed
   */
  void wait() const {
#if defined(BULKMAP_BACKEND_CUDA)
    BULKMAP_CUDA_TRY(cudaStreamSynchronize(stream_));
#endif
  }

  /// Whether both name the same stream (always true on omp). O(1).
  friend constexpr bool operator==(stream_ref a, stream_ref b) noexcept {
#if defined(BULKMAP_BACKEND_CUDA)
    return a.stream_ == b.stream_;
#else
    (void)a;
    (void)b;
    return true;
#endif
  }
  friend constexpr bool operator!=(stream_ref a, stream_ref b) noexcept { return !(a == b); }

 private:
#if defined(BULKMAP_BACKEND_CUDA)
  cudaStream_t stream_ = nullptr;
#endif
};

BULKMAP_NAMESPACE_END
