#include "results/statistics.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace trainrate {

SampleStats summarize(std::vector<double> samples_ms) {
  SampleStats stats;
  stats.samples = int64_t(samples_ms.size());
  if (samples_ms.empty()) return stats;
  std::sort(samples_ms.begin(), samples_ms.end());
  const size_t n = samples_ms.size();
  stats.min_ms = samples_ms.front();
  stats.max_ms = samples_ms.back();
  stats.median_ms = n % 2 == 1 ? samples_ms[n / 2] : 0.5 * (samples_ms[n / 2 - 1] + samples_ms[n / 2]);
  stats.mean_ms = std::accumulate(samples_ms.begin(), samples_ms.end(), 0.0) / double(n);
  if (n > 1) {
    double squares = 0;
    for (double s : samples_ms) squares += (s - stats.mean_ms) * (s - stats.mean_ms);
    stats.stddev_ms = std::sqrt(squares / double(n - 1));
  }
  stats.relative_noise = stats.mean_ms > 0 ? stats.stddev_ms / stats.mean_ms : 0;
  return stats;
}

}  // namespace trainrate
