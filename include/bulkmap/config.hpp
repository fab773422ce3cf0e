/**
 * @file config.hpp
 * @brief Backend selection and portability macros. Every bulkmap header includes this first.
 *
 * The backend is Thrust's device system: `cuda` when THRUST_DEVICE_SYSTEM is CUDA (nvcc),
 * `omp` when it is OpenMP (g++ or nvcc). The CMake target `bulkmap::bulkmap` sets it; a build
 * without CMake passes `-DTHRUST_DEVICE_SYSTEM=THRUST_DEVICE_SYSTEM_OMP` (or nothing, under nvcc).
 */
#pragma once

#include <thrust/detail/config.h>

#if defined(__CUDACC__)
/// Marks functions callable from host and device code. Empty for g++.
#define BULKMAP_HOST_DEVICE __host__ __device__
#else
#define BULKMAP_HOST_DEVICE
#endif

/// Inlines a hot function at every call (`BULKMAP_FORCE_INLINE`), or at none
/// (`BULKMAP_NOINLINE`). The locate of every insertion and its probe loop (`find_or_claim`) are
/// inlined: g++ otherwise compiled one or the other out of line in some passes as other code in
/// the same header grew (callgrind counted up to 14% more instructions per key so). The cached
/// pass's rare misses are not (`claim_and_combine_fn::locate_miss`).
#if defined(__CUDACC__)
#define BULKMAP_FORCE_INLINE __forceinline__
#define BULKMAP_NOINLINE __noinline__
#else
#define BULKMAP_FORCE_INLINE __attribute__((always_inline)) inline
#define BULKMAP_NOINLINE __attribute__((noinline))
#endif

#if THRUST_DEVICE_SYSTEM == THRUST_DEVICE_SYSTEM_CUDA
#define BULKMAP_BACKEND_CUDA 1
#define BULKMAP_BACKEND_NAME "cuda"
#elif THRUST_DEVICE_SYSTEM == THRUST_DEVICE_SYSTEM_OMP
#define BULKMAP_BACKEND_OMP 1
#define BULKMAP_BACKEND_NAME "omp"
#else
#error "bulkmap: THRUST_DEVICE_SYSTEM must be CUDA or OMP (link bulkmap::bulkmap through CMake)"
#endif

/**
 * @brief Open and close bulkmap's backend namespace.
 *
 * Every name whose code differs between backends (`device_map`, `pairs`, the kernels, the
 * constants below) lives in an inline namespace named after the backend, `bulkmap::backend_cuda`
 * or `bulkmap::backend_omp`. User code still writes `bulkmap::device_map`; the linker sees two
 * distinct names, so one program may hold translation units of both backends (the `bulkmap` CLI
 * does). Names that are the same on both backends (`error` and its subclasses, `hash`,
 * `equal_to`, `host_mirror`) live in `bulkmap` itself and are shared.
 */
#if defined(BULKMAP_BACKEND_CUDA)
#define BULKMAP_BACKEND_NAMESPACE backend_cuda
#else
#define BULKMAP_BACKEND_NAMESPACE backend_omp
#endif
#define BULKMAP_NAMESPACE_BEGIN \
  namespace bulkmap {           \
  inline namespace BULKMAP_BACKEND_NAMESPACE {
#define BULKMAP_NAMESPACE_END \
  }                           \
  }

BULKMAP_NAMESPACE_BEGIN

/// Name of the backend this translation unit was built for: "cuda" or "omp".
inline constexpr char const* backend_name = BULKMAP_BACKEND_NAME;

/// Whether this translation unit was built for the cuda backend (for `if constexpr`).
#if defined(BULKMAP_BACKEND_CUDA)
inline constexpr bool backend_is_cuda = true;
#else
inline constexpr bool backend_is_cuda = false;
#endif

BULKMAP_NAMESPACE_END
