// libFuzzer target: the results reader must accept a file or reject it with InputError, nothing else.
#include <cstddef>
#include <cstdint>
#include <string>

#include "problems/problem_json.hpp"
#include "results/results_json.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const auto parsed = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!parsed.is_discarded()) trainrate::results_from_json(parsed, "fuzz.json");
  } catch (const trainrate::InputError&) {
  }
  return 0;
}
