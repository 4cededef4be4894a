// Summary statistics of timing samples. Median-based R resists the odd slow sample that
// a shared machine produces; mean and stddev are kept so noise is visible, not hidden.
#pragma once

#include <cstdint>
#include <vector>

namespace trainrate {

struct SampleStats {
  int64_t samples = 0;
  double min_ms = 0, median_ms = 0, mean_ms = 0, max_ms = 0;
  double stddev_ms = 0;       // sample standard deviation (n − 1)
  double relative_noise = 0;  // stddev / mean
};

SampleStats summarize(std::vector<double> samples_ms);

}  // namespace trainrate
