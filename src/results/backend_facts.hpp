// What a backend is, declared once by the backend itself and carried in every Result, so
// pairing, models and reports read facts instead of guessing them from a backend's name.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "problems/problem.hpp"

namespace trainrate {

enum class BackendRole { vendor, custom };
std::string_view to_string(BackendRole role);
std::optional<BackendRole> parse_role(std::string_view text);

struct BackendFacts {
  std::string name;                        // as on the command line: "onednn", "custom-cpu/avx2"
  BackendRole role = BackendRole::vendor;
  std::string device_kind;                 // DeviceInfo::kind of where it runs: "cpu", "cuda"
  std::vector<std::string> compared_with;  // custom only: the vendor backends its ratios are taken against
  std::vector<std::string> families;       // problem families it takes (family_of): "gemm", "conv"
  std::vector<Dtype> dtypes;               // dtypes it may take (unsupported_reason decides per problem)

  bool operator==(const BackendFacts&) const = default;
};

// Empty when the facts allow the problem's family and dtype; otherwise why not.
std::optional<std::string> outside_facts(const BackendFacts& facts, const Problem& problem);

}  // namespace trainrate
