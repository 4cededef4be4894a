// The inputs of one problem as plain host data, shared by backends (which copy them in) and the
// reference (which checks against them).
#pragma once

#include <vector>

namespace trainrate {

// Host copies of the inputs, as floats whose values are exactly representable in the problem's
// dtype, so every backend and the reference see the same numbers. GEMM and conv read two;
// memory-bound ops read up to five (memory_inputs order), the third on in `more`. Integer
// tensors (indices, labels) hold whole numbers, exact in a float.
struct HostInputs {
  std::vector<float> in0, in1;
  std::vector<std::vector<float>> more;
};

}  // namespace trainrate
