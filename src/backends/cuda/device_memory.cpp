#include "backends/cuda/device_memory.hpp"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>

#include "kernels/cuda/check.hpp"

namespace trainrate {

DeviceBuffer::DeviceBuffer(size_t bytes) : bytes_(bytes) {
  if (bytes > 0) TRAINRATE_CUDA_CHECK(cudaMalloc(&ptr_, bytes));
}
DeviceBuffer::~DeviceBuffer() {
  if (ptr_) cudaFree(ptr_);
}
DeviceBuffer::DeviceBuffer(DeviceBuffer&& other) noexcept
    : ptr_(std::exchange(other.ptr_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}
DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
  if (this != &other) {
    if (ptr_) cudaFree(ptr_);
    ptr_ = std::exchange(other.ptr_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

// ---- Host ↔ device copies ----

// Values are exactly representable (HostInputs contract), so the round-to-nearest conversions are exact.
DeviceBuffer upload(cudaStream_t stream, const std::vector<float>& host, int64_t count, Dtype dtype, const char* what) {
  if (int64_t(host.size()) != count)
    throw std::invalid_argument(std::string(what) + " has " + std::to_string(host.size()) + " elements, expected " +
                                std::to_string(count));
  const size_t bytes = size_t(count) * size_t(storage_bytes(dtype));
  DeviceBuffer buffer(bytes);
  std::vector<unsigned char> staged(bytes);
  if (dtype == Dtype::fp16) {
    auto* out = reinterpret_cast<__half*>(staged.data());
    for (int64_t i = 0; i < count; ++i) out[i] = __float2half_rn(host[size_t(i)]);
  } else if (dtype == Dtype::bf16) {
    auto* out = reinterpret_cast<__nv_bfloat16*>(staged.data());
    for (int64_t i = 0; i < count; ++i) out[i] = __float2bfloat16_rn(host[size_t(i)]);
  } else if (bytes > 0) {
    std::memcpy(staged.data(), host.data(), bytes);
  }
  if (bytes > 0) {
    TRAINRATE_CUDA_CHECK(cudaMemcpyAsync(buffer.get(), staged.data(), bytes, cudaMemcpyHostToDevice, stream));
    TRAINRATE_CUDA_CHECK(cudaStreamSynchronize(stream));  // `staged` dies at return
  }
  return buffer;
}

std::vector<float> download(cudaStream_t stream, const DeviceBuffer& buffer, int64_t count, Dtype dtype) {
  std::vector<unsigned char> staged(size_t(count) * size_t(storage_bytes(dtype)));
  if (!staged.empty())
    TRAINRATE_CUDA_CHECK(cudaMemcpyAsync(staged.data(), buffer.get(), staged.size(), cudaMemcpyDeviceToHost,
                                         stream));
  TRAINRATE_CUDA_CHECK(cudaStreamSynchronize(stream));
  std::vector<float> result(static_cast<size_t>(count));
  if (dtype == Dtype::fp16) {
    const auto* in = reinterpret_cast<const __half*>(staged.data());
    for (int64_t i = 0; i < count; ++i) result[size_t(i)] = __half2float(in[i]);
  } else if (dtype == Dtype::bf16) {
    const auto* in = reinterpret_cast<const __nv_bfloat16*>(staged.data());
    for (int64_t i = 0; i < count; ++i) result[size_t(i)] = __bfloat162float(in[i]);
  } else if (!staged.empty()) {
    std::memcpy(result.data(), staged.data(), staged.size());
  }
  return result;
}

}  // namespace trainrate
