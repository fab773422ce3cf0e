/**
 * @file error.hpp
 * @brief The exceptions bulkmap throws, and the two macros that throw them.
 *
 * Device code never throws: kernels report counts and status values, and the host side turns
 * them into these exceptions.
 */
#pragma once

#include <bulkmap/config.hpp>
#include <stdexcept>
#include <string>

namespace bulkmap {

/// Base of every bulkmap exception. Rust counterpart: the `Err` side of a fallible call.
class error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/**
 * @brief A CUDA runtime call or kernel failed.
 * Carries the CUDA error code (as an int, so this header needs no CUDA headers) and the call.
 */
class cuda_error : public error {
 public:
  cuda_error(int code, std::string const& call, std::string const& what)
      : error(what), code_(code), call_(call) {}
  /// The `cudaError_t` value, as an int.
  [[nodiscard]] int code() const noexcept { return code_; }
  /// The call that failed, as written in the source, with its file:line.
  [[nodiscard]] std::string const& call() const noexcept { return call_; }

 private:
  int code_;
  std::string call_;
};

/**
 * @brief An allocation failed, usually while the map grew.
 * The map that threw it stays usable and holds exactly the pairs it held before the call.
 * Rust counterpart: `TryReserveError::AllocError`.
 */
class out_of_memory : public error {
 public:
  using error::error;
};

/**
 * @brief Why `device_map::try_reserve` failed.
 * Rust counterpart: `TryReserveErrorKind` (`CapacityOverflow`, `AllocError`).
 */
enum class try_reserve_error {
  capacity_overflow,  ///< no table can hold that many keys
  alloc_error,        ///< the larger table could not be allocated
};

}  // namespace bulkmap

#define BULKMAP_STRINGIFY_DETAIL(x) #x
#define BULKMAP_STRINGIFY(x) BULKMAP_STRINGIFY_DETAIL(x)

/**
 * @brief Throws `std::invalid_argument` naming the failed condition and file:line unless `cond`.
 * For checks on arguments a caller passed in.
 */
#define BULKMAP_EXPECTS(cond, message)                                   \
  do {                                                                   \
    if (!(cond)) {                                                       \
      throw std::invalid_argument(std::string("bulkmap: ") + (message) + \
                                  " (" #cond " failed at " __FILE__      \
                                  ":" BULKMAP_STRINGIFY(__LINE__) ")");  \
    }                                                                    \
  } while (0)

#if defined(BULKMAP_BACKEND_CUDA)
#include <cuda_runtime_api.h>
/**
 * @brief Evaluates a CUDA runtime call; throws `bulkmap::out_of_memory` for
 * `cudaErrorMemoryAllocation` and `bulkmap::cuda_error` for any other failure.
 */
#define BULKMAP_CUDA_TRY(call)                                                                     \
  do {                                                                                             \
    cudaError_t const bulkmap_status_ = (call);                                                    \
    if (bulkmap_status_ != cudaSuccess) {                                                          \
      std::string const bulkmap_where_ = #call " at " __FILE__ ":" BULKMAP_STRINGIFY(__LINE__);    \
      if (bulkmap_status_ == cudaErrorMemoryAllocation) {                                          \
        (void)cudaGetLastError();                                                                  \
        throw ::bulkmap::out_of_memory("bulkmap: out of device memory in " + bulkmap_where_);      \
      }                                                                                            \
      throw ::bulkmap::cuda_error(static_cast<int>(bulkmap_status_), bulkmap_where_,               \
                                  std::string("bulkmap: ") + cudaGetErrorString(bulkmap_status_) + \
                                      " in " + bulkmap_where_);                                    \
    }                                                                                              \
  } while (0)
#else
/// On the omp backend there is no CUDA runtime: the call is evaluated and must succeed.
#define BULKMAP_CUDA_TRY(call) (void)(call)
#endif
