/**
 * @file device_timer.hpp
 * @brief The clock of the backend's benchmarks: a pair of CUDA events around the operation on
 * cuda, the host's steady clock on omp. Portable source: included by files that nvcc builds on
 * cuda (bulkmap_backend_sources).
 */
#pragma once

#include <bulkmap/bulkmap.hpp>
#include <stdexcept>
#include <string>

#include "suite.hpp"

namespace bulkmap_bench {

#if defined(BULKMAP_BACKEND_CUDA)
inline void cuda_check(cudaError_t status, char const* what) {
  if (status != cudaSuccess) {
    throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(status));
  }
}

/// Device time between two CUDA events on the default stream, in seconds.
class device_timer {
 public:
  device_timer() {
    cuda_check(cudaEventCreate(&start_), "cudaEventCreate");
    cuda_check(cudaEventCreate(&stop_), "cudaEventCreate");
  }
  ~device_timer() {
    cudaEventDestroy(start_);
    cudaEventDestroy(stop_);
  }
  device_timer(device_timer const&) = delete;
  device_timer& operator=(device_timer const&) = delete;
  void start() { cuda_check(cudaEventRecord(start_), "cudaEventRecord"); }
  double stop() {
    cuda_check(cudaEventRecord(stop_), "cudaEventRecord");
    cuda_check(cudaEventSynchronize(stop_), "cudaEventSynchronize");
    float ms = 0;
    cuda_check(cudaEventElapsedTime(&ms, start_, stop_), "cudaEventElapsedTime");
    return ms * 1e-3;
  }

 private:
  cudaEvent_t start_{}, stop_{};
};
#else
using device_timer = host_timer;
#endif

}  // namespace bulkmap_bench
