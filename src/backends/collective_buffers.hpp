// A collective's host-side buffers in its storage type (fp32 or bf16), shared by the mpi and nccl
// backends: the closed-form inputs stored, and a received buffer widened to floats for the check.
#pragma once

#include <cstddef>
#include <vector>

#include "problems/problem.hpp"

namespace trainrate {

// The values' bit patterns in `dtype` (fp32 or bf16; the closed-form values are exact in both).
std::vector<char> stored_values(const std::vector<float>& values, Dtype dtype);
// A buffer of `dtype` elements (fp32 or bf16) as floats.
std::vector<float> widened_values(const std::vector<char>& buffer, Dtype dtype);

}  // namespace trainrate
