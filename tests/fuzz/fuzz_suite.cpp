// libFuzzer target: the suite parsers must accept a file or reject it with InputError, nothing else.
#include <cstddef>
#include <cstdint>
#include <string>

#include "problems/problem_json.hpp"
#include "problems/suite.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    trainrate::parse_suite_json(text, "fuzz.json");
  } catch (const trainrate::InputError&) {
  }
  try {
    trainrate::parse_suite_csv(text, "fuzz.csv");
  } catch (const trainrate::InputError&) {
  }
  return 0;
}
