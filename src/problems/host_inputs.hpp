// The inputs of one problem as plain host data, shared by backends (which copy them in) and the
// reference (which checks against them).
#pragma once

#include <vector>

namespace trainrate {

// Host copies of the two inputs, as floats whose values are exactly representable in the
// problem's dtype, so every backend and the reference see the same numbers.
struct HostInputs {
  std::vector<float> in0, in1;
};

}  // namespace trainrate
