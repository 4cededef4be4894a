// Summary statistics of timing samples. Median-based R resists the odd slow sample that
// a shared machine produces; mean and stddev are kept so noise is visible, not hidden.
// Rank statistics for telling two runs apart: the Mann-Whitney U test and the Hodges-Lehmann
// shift with its distribution-free interval. Both assume nothing about the shape of the timing
// distribution (long right tails, several modes), which a t-test on a shared machine would.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "results/measurement.hpp"

namespace trainrate {

SampleStats summarize(std::vector<double> samples_ms);

// `cap` samples spread evenly over the whole sequence (first and last included), in order; the
// sequence itself when it is no longer. Keeps early and late samples alike, so a drift stays visible.
std::vector<double> evenly_spaced(const std::vector<double>& samples, size_t cap);

// Up to this many values in both samples together, p-values and intervals come from the exact
// permutation distribution; above it from the normal approximation, which is close by then.
constexpr size_t kExactRankTestMaxValues = 40;

struct RankTest {
  double u = 0;  // U of the first sample: pairs with a[i] > b[j], plus half the tied pairs
  double p_two_sided = 1;
  bool exact = false;  // from the exact distribution (ties included), else normal with tie correction
};
// Mann-Whitney U test of two independent samples; both must be non-empty.
RankTest mann_whitney(const std::vector<double>& a, const std::vector<double>& b);

// The smallest two-sided p-value Mann-Whitney can give n values against m (no ties): one of the
// C(n+m, n) orderings at each extreme, 2 / C(n+m, n). 3 against 3: 0.1, so never below 0.05; 4
// against 4: 0.029.
double smallest_p_two_sided(size_t n, size_t m);

// The Hodges-Lehmann estimate of how far a lies above b (the median of all n·m differences
// a[i] − b[j]) and its 95% distribution-free interval: the order statistics of the differences
// that the Mann-Whitney critical value picks (coverage at least 95% without ties). No interval
// when even the most extreme ordering is more likely than 2.5% (3 against 3, 2 against 7).
struct ShiftEstimate {
  double estimate = 0;
  std::optional<double> low, high;
};
ShiftEstimate hodges_lehmann_shift(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace trainrate
