// Node results for the baseline and screen tests, made from one measured file by scaling its rates
// (and times), so every expected ratio is a hand-computable product of the scale factors.
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "results/results_json.hpp"

namespace trainrate::testing {

// An H100 node with six ok rows: cublas and custom-cuda on fp32 and fp16 GEMM and an fp16 forward conv.
inline const std::filesystem::path kFleetSeed =
    std::filesystem::path(TRAINRATE_TEST_DATA_DIR) / "reports" / "fleet" / "results-gpu-node01-gpu0.json";

inline ResultsFile scaled_node(ResultsFile file, const std::string& host, double scale) {
  file.host = host;
  for (Result& r : file.results) {
    if (r.status != ResultStatus::ok) continue;
    r.rate_flops_per_s *= scale;
    r.rate_bytes_per_s *= scale;
    SampleStats& s = r.measurement->stats;
    for (double* ms : {&s.min_ms, &s.median_ms, &s.mean_ms, &s.max_ms, &s.stddev_ms}) *ms /= scale;
  }
  return file;
}

// Five nodes; node5 is the doctored one, 15% slow. Relative speeds against the per-row median
// (1.0) are the factors themselves; their MAD is 0.01, so node5's robust z is
// 0.6745 · (0.85 − 1) / 0.01 ≈ −10.1 and it is left out of the baseline. The four kept give each
// row a median of 1.0025 × the seed's rate.
inline const std::vector<std::pair<std::string, double>> kFiveNodes{
    {"node1", 1.0}, {"node2", 1.01}, {"node3", 0.99}, {"node4", 1.005}, {"node5", 0.85}};

}  // namespace trainrate::testing
