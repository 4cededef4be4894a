// The one CUDA runtime error check, shared by the kernel launchers and the backends.
//
// TRAINRATE_CUDA_CHECK(expr) evaluates a cudaError_t expression and throws std::runtime_error
// naming the file, line, expression and CUDA's own error name and text. cuBLAS and cuDNN have
// their own macros in src/backends/cuda/vendor_check.hpp. Host code only.
#pragma once

#include <cuda_runtime_api.h>

#include <stdexcept>
#include <string>

namespace trainrate::cuda_detail {

[[noreturn]] inline void throw_cuda_error(cudaError_t status, const char* expr, const char* file, int line) {
  throw std::runtime_error(std::string("CUDA error ") + cudaGetErrorName(status) + " (" +
                           cudaGetErrorString(status) + ") at " + file + ":" + std::to_string(line) + ": " + expr);
}

}  // namespace trainrate::cuda_detail

#define TRAINRATE_CUDA_CHECK(expr)                                                         \
  do {                                                                                     \
    const cudaError_t trainrate_cuda_status_ = (expr);                                     \
    if (trainrate_cuda_status_ != cudaSuccess)                                             \
      ::trainrate::cuda_detail::throw_cuda_error(trainrate_cuda_status_, #expr, __FILE__, __LINE__); \
  } while (0)
