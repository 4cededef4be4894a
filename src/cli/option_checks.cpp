// The numeric range checks of commands.hpp: one validator, three ways to state its bounds.
#include <fmt/format.h>

#include <limits>
#include <string>

#include "cli/commands.hpp"

namespace trainrate::cli {

namespace {

constexpr double kNoUpperBound = std::numeric_limits<double>::infinity();

// `lower_is_allowed`: whether the value may equal `lower` (at least) or must exceed it (greater than).
CLI::Validator number_check(double lower, bool lower_is_allowed, double upper) {
  std::string rule;
  if (upper != kNoUpperBound) {
    rule = fmt::format("between {} and {}", lower, upper);
  } else {
    rule = fmt::format("{} {}", lower_is_allowed ? "at least" : "greater than", lower);
  }
  auto check = [=](std::string& input) -> std::string {
    double value = 0;
    const bool is_number = CLI::detail::lexical_cast(input, value);
    const bool fits = is_number && (lower_is_allowed ? value >= lower : value > lower) && value <= upper;
    return fits ? std::string() : fmt::format("must be {}, got {}", rule, input);
  };
  return CLI::Validator(check, rule);
}

}  // namespace

CLI::Validator at_least(double min) { return number_check(min, true, kNoUpperBound); }
CLI::Validator greater_than(double bound) { return number_check(bound, false, kNoUpperBound); }
CLI::Validator between(double min, double max) { return number_check(min, true, max); }

}  // namespace trainrate::cli
