// Device allocations and the host ↔ device copies every GPU backend makes. Free of CudaDevice
// (only the CUDA runtime), so the host emulation of the CUDA kernels runs it too (tests/cuda_host).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "problems/problem.hpp"

namespace trainrate {

// Device allocation, freed on destruction. Move-only.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t bytes);
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& other) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  void* get() const { return ptr_; }
  size_t bytes() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

// Host floats → a new device buffer of `count` elements in `dtype`'s storage type (exact by the
// HostInputs contract), copied on `stream`; throws std::invalid_argument naming `what` when
// `host` has another size.
DeviceBuffer upload(cudaStream_t stream, const std::vector<float>& host, int64_t count, Dtype dtype, const char* what);
// The first `count` elements of `buffer` (stored as `dtype`) copied back on `stream`, which is
// synchronized, and widened to float.
std::vector<float> download(cudaStream_t stream, const DeviceBuffer& buffer, int64_t count, Dtype dtype);

}  // namespace trainrate
