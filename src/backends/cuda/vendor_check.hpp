// Status checks for cuBLAS and cuDNN, one macro per library (CUDA's is kernels/cuda/check.hpp).
// Each throws std::runtime_error naming the file, line, expression and the library's error text.
#pragma once

#include <cublas_v2.h>
#include <cudnn.h>

#include <stdexcept>
#include <string>

namespace trainrate::cuda_detail {

[[noreturn]] inline void throw_cublas_error(cublasStatus_t status, const char* expr, const char* file, int line) {
  throw std::runtime_error(std::string("cuBLAS error ") + cublasGetStatusName(status) + " (" +
                           cublasGetStatusString(status) + ") at " + file + ":" + std::to_string(line) + ": " + expr);
}

[[noreturn]] inline void throw_cudnn_error(cudnnStatus_t status, const char* expr, const char* file, int line) {
  char detail[1024] = {};
  cudnnGetLastErrorString(detail, sizeof(detail));  // cuDNN 9: the message behind the status, if any
  std::string message = std::string("cuDNN error ") + cudnnGetErrorString(status) + " at " + file + ":" +
                        std::to_string(line) + ": " + expr;
  if (detail[0] != '\0') message += std::string(" (") + detail + ")";
  throw std::runtime_error(message);
}

}  // namespace trainrate::cuda_detail

#define TRAINRATE_CUBLAS_CHECK(expr)                                                          \
  do {                                                                                        \
    const cublasStatus_t trainrate_cublas_status_ = (expr);                                   \
    if (trainrate_cublas_status_ != CUBLAS_STATUS_SUCCESS)                                    \
      ::trainrate::cuda_detail::throw_cublas_error(trainrate_cublas_status_, #expr, __FILE__, __LINE__); \
  } while (0)

#define TRAINRATE_CUDNN_CHECK(expr)                                                           \
  do {                                                                                        \
    const cudnnStatus_t trainrate_cudnn_status_ = (expr);                                     \
    if (trainrate_cudnn_status_ != CUDNN_STATUS_SUCCESS)                                      \
      ::trainrate::cuda_detail::throw_cudnn_error(trainrate_cudnn_status_, #expr, __FILE__, __LINE__); \
  } while (0)
