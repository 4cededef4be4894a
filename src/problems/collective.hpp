// What a collective computes, in closed form: the values each rank starts with, what each rank
// must end with, and nccl-tests' bus-bandwidth factor. Backends fill their buffers from here and the
// verifier checks against it, so every rank can check its own result without another reference.
#pragma once

#include <cstdint>
#include <vector>

#include "problems/problem.hpp"

namespace trainrate {

// Element i of rank r's input: (r + 1) + (i mod 13). Small integers, exact in bf16 and in their sum
// over up to 14 ranks; the rank term shows every rank contributed, and the period 13 (prime, so
// never a divisor of a power-of-two block) shows each block landed where it belongs.
double collective_input_value(int64_t rank, int64_t index);
// Rank `rank`'s input buffer (operand_elements' input0 elements).
std::vector<float> collective_input(const CollectiveProblem& problem, int64_t rank);
// Element `index` of rank `rank`'s output (operand_elements' output elements).
double collective_expected_value(const CollectiveProblem& problem, int64_t rank, int64_t index);

// busbw = algbw · factor makes bandwidths comparable across rank counts (nccl-tests,
// doc/PERFORMANCE.md): all-reduce 2(n−1)/n, reduce-scatter and all-gather (n−1)/n, broadcast 1.
double bus_bandwidth_factor(CollectiveOp op, int64_t ranks);

}  // namespace trainrate
