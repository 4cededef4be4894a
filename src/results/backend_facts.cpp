#include "results/backend_facts.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

namespace trainrate {

std::string_view to_string(BackendRole role) { return role == BackendRole::vendor ? "vendor" : "custom"; }

std::optional<BackendRole> parse_role(std::string_view text) {
  if (text == "vendor") return BackendRole::vendor;
  if (text == "custom") return BackendRole::custom;
  return std::nullopt;
}

std::string_view to_string(RateView view) {
  switch (view) {
    case RateView::sole: return "sole";
    case RateView::vendor_best: return "vendor-best";
    case RateView::framework: return "framework";
  }
  return "?";
}

std::optional<RateView> parse_view(std::string_view text) {
  for (auto view : {RateView::sole, RateView::vendor_best, RateView::framework}) {
    if (to_string(view) == text) return view;
  }
  return std::nullopt;
}

std::optional<std::string> outside_facts(const BackendFacts& facts, const Problem& problem) {
  const std::string family(family_of(problem));
  if (std::find(facts.families.begin(), facts.families.end(), family) == facts.families.end()) {
    const std::string what = family == "conv" ? "convolution" : family == "memory" ? "memory-bound layers" : family;
    return fmt::format("{} has no {}", facts.name, what);
  }
  const Dtype dtype = dtype_of(problem);
  if (std::find(facts.dtypes.begin(), facts.dtypes.end(), dtype) == facts.dtypes.end()) {
    std::vector<std::string_view> names;
    for (const Dtype d : facts.dtypes) names.push_back(to_string(d));
    return fmt::format("{} does not run {} (it runs {})", facts.name, to_string(dtype), fmt::join(names, ", "));
  }
  return std::nullopt;
}

}  // namespace trainrate
