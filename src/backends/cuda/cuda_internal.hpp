// Factories of the GPU backends, used by append_cuda_backends (cuda_backends.cpp).
#pragma once

#include <memory>
#include <vector>

#include "backends/backend.hpp"
#include "backends/cuda/cuda_device.hpp"

namespace trainrate {

std::unique_ptr<Backend> make_cublas_backend(std::shared_ptr<CudaDevice> device);
std::unique_ptr<Backend> make_cudnn_backend(std::shared_ptr<CudaDevice> device);
// "custom-cuda" (best variant per problem) followed by every "custom-cuda/<variant>".
std::vector<std::unique_ptr<Backend>> make_custom_cuda_backends(std::shared_ptr<CudaDevice> device);

}  // namespace trainrate
