// Summary statistics of timing samples. Median-based R resists the odd slow sample that
// a shared machine produces; mean and stddev are kept so noise is visible, not hidden.
#pragma once

#include <cstdint>
#include <vector>

#include "results/measurement.hpp"

namespace trainrate {

SampleStats summarize(std::vector<double> samples_ms);

}  // namespace trainrate
