// Verification: every backend's output is compared with the reference before it is timed.
//
// Inputs are uniform in [-1, 1), rounded to the problem's dtype. An output element passes when
//   |out − ref| <= tolerance(dtype) · (|ref| + 0.25 · sqrt(L))
// where L is the reduction length (K for GEMM; C·R·S, K·R·S or N·P·Q for the conv passes) and
// 0.25·sqrt(L) is the typical magnitude of a sum of L products of such inputs. Non-finite outputs
// always fail. Small problems are checked exhaustively; large ones on a fixed-seed random sample
// of `sample_elements` outputs, each recomputed by the reference.
//
// Memory-bound problems are checked exhaustively against the whole reference output (their
// reference costs about what the op does): |out − ref| <= tolerance · (|ref| + rms of that output
// tensor), tolerance 1e-5 for element-by-element ops and 1e-4 for reductions (fp32).
#pragma once

#include <cstdint>
#include <vector>

#include "problems/host_inputs.hpp"
#include "problems/problem.hpp"
#include "results/result.hpp"

namespace trainrate {

struct VerifyOptions {
  double exhaustive_max_flops = 5e7;  // reference work allowed for a full check
  int64_t sample_elements = 512;
  uint64_t seed = 7;
  int64_t rank = 0;  // collectives: whose output is checked (the expected values differ by rank)
};

double tolerance(Dtype dtype);
int64_t reduction_length(const Problem& problem);

// Inputs for a problem: deterministic for a given seed, exactly representable in its dtype.
HostInputs make_inputs(const Problem& problem, uint64_t seed);

// Collectives: every element of this rank's output against the closed form (problems/collective.hpp),
// exactly in fp32 and within the rounding of ranks−1 bf16 additions.
Verification verify_collective(const CollectiveProblem& problem, int64_t rank, const std::vector<float>& output);

Verification verify(const Problem& problem, const HostInputs& inputs, const std::vector<float>& output,
                    const VerifyOptions& options = {});

inline bool passed(const Verification& v) { return v.elements_checked > 0 && v.mismatches == 0; }

}  // namespace trainrate
