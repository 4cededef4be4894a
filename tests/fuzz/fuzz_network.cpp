// libFuzzer target: the network file parser must accept or reject with InputError, nothing else.
#include <cstddef>
#include <cstdint>
#include <string>

#include "models/network.hpp"
#include "problems/problem_json.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const trainrate::Network network = trainrate::network_from_json_text(text, "fuzz.json", 2);
    trainrate::lower_training_step(network);
  } catch (const trainrate::InputError&) {
  }
  return 0;
}
