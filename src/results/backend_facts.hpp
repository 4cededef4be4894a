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

// Which way of calling its library a backend's rates are. Most have one (sole). oneDNN has two:
// the primitive alone on operands already in the layouts it chose (vendor_best: what our kernels
// are compared against), and plain tensors in and out with the layout conversions inside the
// timing (framework: what a framework holding NCHW/NHWC tensors pays on every call).
enum class RateView { sole, vendor_best, framework };
std::string_view to_string(RateView view);
std::optional<RateView> parse_view(std::string_view text);

struct BackendFacts {
  std::string name;                        // as on the command line: "onednn", "custom-cpu/avx2"
  BackendRole role = BackendRole::vendor;
  std::string device_kind;                 // DeviceInfo::kind of where it runs: "cpu", "cuda"
  std::vector<std::string> compared_with;  // custom only: the vendor backends its ratios are taken against
  std::vector<std::string> families;       // problem families it takes (family_of): "gemm", "conv"
  std::vector<Dtype> dtypes;               // dtypes it may take (unsupported_reason decides per problem)
  RateView view = RateView::sole;
  std::string framework_view_of;           // framework view only: the vendor-best backend whose primitives it times

  bool operator==(const BackendFacts&) const = default;
};

// Empty when the facts allow the problem's family and dtype; otherwise why not.
std::optional<std::string> outside_facts(const BackendFacts& facts, const Problem& problem);

}  // namespace trainrate
