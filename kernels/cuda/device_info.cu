// Small host helpers shared by the launchers.
// Host only: empty under NVRTC, which compiles just the kernels (see common.cuh).
#ifndef __CUDACC_RTC__
#include <mutex>
#include <vector>

#include "kernels/cuda/check.hpp"
#include "kernels/cuda/launch.hpp"

namespace trainrate::cuda_kernels {

int current_compute_capability() {
  static std::mutex mutex;
  static std::vector<int> cached;  // by device ordinal, 0 = not yet queried
  int device = 0;
  TRAINRATE_CUDA_CHECK(cudaGetDevice(&device));
  std::lock_guard lock(mutex);
  if (int(cached.size()) <= device) cached.resize(device + 1, 0);
  if (cached[device] == 0) {
    int major = 0, minor = 0;
    TRAINRATE_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
    TRAINRATE_CUDA_CHECK(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device));
    cached[device] = major * 10 + minor;
  }
  return cached[device];
}

}  // namespace trainrate::cuda_kernels

#endif  // __CUDACC_RTC__
