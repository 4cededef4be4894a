#include "backends/collective_buffers.hpp"

#include <cstdint>
#include <cstring>

#include "kernels/cpu/gemm.hpp"

namespace trainrate {

std::vector<char> stored_values(const std::vector<float>& values, Dtype dtype) {
  const size_t element_bytes = size_t(storage_bytes(dtype));
  std::vector<char> buffer(values.size() * element_bytes);
  for (size_t i = 0; i < values.size(); ++i) {
    if (dtype == Dtype::bf16) {
      const uint16_t bits = kernels::cpu::to_bf16(values[i]);
      std::memcpy(&buffer[i * element_bytes], &bits, 2);
    } else {
      std::memcpy(&buffer[i * element_bytes], &values[i], 4);
    }
  }
  return buffer;
}

std::vector<float> widened_values(const std::vector<char>& buffer, Dtype dtype) {
  const size_t element_bytes = size_t(storage_bytes(dtype));
  std::vector<float> values(buffer.size() / element_bytes);
  for (size_t i = 0; i < values.size(); ++i) {
    if (dtype == Dtype::bf16) {
      uint16_t bits;
      std::memcpy(&bits, &buffer[i * element_bytes], 2);
      const uint32_t wide = uint32_t(bits) << 16;  // bf16 is the upper half of an fp32
      std::memcpy(&values[i], &wide, 4);
    } else {
      std::memcpy(&values[i], &buffer[i * element_bytes], 4);
    }
  }
  return values;
}

}  // namespace trainrate
