// append_cuda_backends: finds a usable GPU and creates the GPU backends on it, or says why not.
#include "backends/cuda/cuda_backends.hpp"

#include <cuda_runtime_api.h>

#include "backends/cuda/cuda_internal.hpp"

namespace trainrate {

namespace {

std::string version_text(int v) { return std::to_string(v / 1000) + "." + std::to_string((v / 10) % 100); }

}  // namespace

std::string append_cuda_backends(std::vector<std::unique_ptr<Backend>>& backends) {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status == cudaErrorInsufficientDriver) {
    int driver = 0;
    cudaDriverGetVersion(&driver);  // 0 when no driver is installed at all
    return driver == 0 ? "no CUDA driver found"
                       : "CUDA driver " + version_text(driver) + " older than runtime " + version_text(CUDART_VERSION);
  }
  if (status == cudaErrorNoDevice || (status == cudaSuccess && count == 0)) return "no CUDA device found";
  if (status != cudaSuccess)
    return std::string("CUDA unavailable: ") + cudaGetErrorName(status) + " (" + cudaGetErrorString(status) + ")";

  // One GPU: device 0 of those visible (select another with CUDA_VISIBLE_DEVICES). Backend names
  // carry no device, so a second GPU would need its own names; see docs/gpu.md.
  std::shared_ptr<CudaDevice> device;
  try {
    device = std::make_shared<CudaDevice>(0);
  } catch (const std::exception& e) {
    return std::string("CUDA device 0 unusable: ") + e.what();
  }
  backends.push_back(make_cublas_backend(device));
  backends.push_back(make_cudnn_backend(device));
  for (auto& b : make_custom_cuda_backends(device)) backends.push_back(std::move(b));
  return {};
}

}  // namespace trainrate
