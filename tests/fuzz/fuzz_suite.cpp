// libFuzzer target: the suite parser must accept its input or reject it with InputError.
#include <cstddef>
#include <cstdint>

#include "fuzz_inputs.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  trainrate::fuzz::suite_input(std::string(reinterpret_cast<const char*>(data), size));
  return 0;
}
