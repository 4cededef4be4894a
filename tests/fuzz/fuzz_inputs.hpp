// What each fuzz target feeds its parser, shared by the libFuzzer targets and by the regression test
// that replays the seed corpus (crashes found earlier live there) in every ctest run.
// The contract: a parser accepts its input or rejects it with InputError; anything else escapes.
#pragma once

#include <string>

#include "problems/network.hpp"
#include "problems/problem_json.hpp"
#include "problems/suite.hpp"
#include "results/results_json.hpp"

namespace trainrate::fuzz {

inline void suite_input(const std::string& text) {
  try {
    parse_suite_json(text, "fuzz.json");
  } catch (const InputError&) {
  }
  try {
    parse_suite_csv(text, "fuzz.csv");
  } catch (const InputError&) {
  }
}

inline void network_input(const std::string& text) {
  try {
    lower_training_step(network_from_json_text(text, "fuzz.json", 2));
  } catch (const InputError&) {
  }
}

inline void results_input(const std::string& text) {
  try {
    const auto parsed = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!parsed.is_discarded()) results_from_json(parsed, "fuzz.json");
  } catch (const InputError&) {
  }
}

}  // namespace trainrate::fuzz
