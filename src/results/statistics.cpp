#include "results/statistics.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <utility>

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

std::vector<double> evenly_spaced(const std::vector<double>& samples, size_t cap) {
  if (samples.size() <= cap) return samples;
  if (cap == 0) return {};
  if (cap == 1) return {samples.front()};
  std::vector<double> kept;
  kept.reserve(cap);
  const size_t last = samples.size() - 1;
  for (size_t i = 0; i < cap; ++i) kept.push_back(samples[i * last / (cap - 1)]);
  return kept;
}

namespace {

// Twice the midranks of `a` followed by `b` in the pooled sample, so tied ranks stay integers.
std::vector<int64_t> doubled_midranks(const std::vector<double>& a, const std::vector<double>& b,
                                      std::vector<int64_t>* tie_sizes) {
  std::vector<std::pair<double, size_t>> pooled;
  for (size_t i = 0; i < a.size(); ++i) pooled.emplace_back(a[i], i);
  for (size_t j = 0; j < b.size(); ++j) pooled.emplace_back(b[j], a.size() + j);
  std::sort(pooled.begin(), pooled.end());
  std::vector<int64_t> ranks(pooled.size());
  for (size_t first = 0; first < pooled.size();) {
    size_t last = first;
    while (last + 1 < pooled.size() && pooled[last + 1].first == pooled[first].first) ++last;
    // Positions first..last (0-based) share the mean of ranks first+1..last+1.
    for (size_t i = first; i <= last; ++i) ranks[pooled[i].second] = int64_t(first + last + 2);
    if (tie_sizes) tie_sizes->push_back(int64_t(last - first + 1));
    first = last + 1;
  }
  return ranks;
}

// ways[k][s]: how many k-element subsets of `values` sum to s (values are small positive
// integers), the exact permutation distribution of a rank sum. Counts fit a double exactly
// while they stay below 2^53: C(40, 20) ≈ 1.4e11.
std::vector<double> subset_sum_counts(const std::vector<int64_t>& values, size_t k) {
  int64_t total = 0;
  for (int64_t v : values) total += v;
  const size_t width = size_t(total) + 1;
  std::vector<std::vector<double>> ways(k + 1, std::vector<double>(width, 0));
  ways[0][0] = 1;
  for (int64_t v : values) {
    for (size_t taken = k; taken >= 1; --taken) {
      for (size_t sum = width - 1; sum >= size_t(v); --sum) ways[taken][sum] += ways[taken - 1][sum - size_t(v)];
    }
  }
  return ways[k];
}

double exact_two_sided_p(const std::vector<int64_t>& doubled_ranks, size_t n_a, int64_t observed_sum) {
  const std::vector<double> counts = subset_sum_counts(doubled_ranks, n_a);
  const int64_t expected = int64_t(n_a) * int64_t(doubled_ranks.size() + 1);  // doubled mean rank × n_a
  const int64_t observed_distance = std::abs(observed_sum - expected);
  double extreme = 0, all = 0;
  for (size_t sum = 0; sum < counts.size(); ++sum) {
    all += counts[sum];
    if (std::abs(int64_t(sum) - expected) >= observed_distance) extreme += counts[sum];
  }
  return std::min(1.0, extreme / all);
}

constexpr double kZ975 = 1.959963984540054;  // the standard normal's 97.5% quantile

// The largest u with P(U <= u) <= 2.5% for samples of n and m without ties, or -1 when even
// U = 0 is more likely than that. The interval's order statistics are the (u + 1)-th from each end.
int64_t critical_u(size_t n, size_t m) {
  const double pairs = double(n) * double(m);
  if (n + m > kExactRankTestMaxValues) {
    const double sigma = std::sqrt(pairs * double(n + m + 1) / 12.0);
    return int64_t(std::floor(pairs / 2 - 0.5 - kZ975 * sigma));
  }
  std::vector<int64_t> doubled_ranks;
  for (size_t r = 1; r <= n + m; ++r) doubled_ranks.push_back(2 * int64_t(r));
  const std::vector<double> counts = subset_sum_counts(doubled_ranks, n);
  double all = 0;
  for (double c : counts) all += c;
  // U = rank sum − n(n+1)/2, so doubled sum 2u + n(n+1) is the point where U = u.
  const int64_t offset = int64_t(n * (n + 1));
  double below = 0;
  int64_t u = -1;
  for (int64_t next = 0; 2 * next + offset < int64_t(counts.size()); ++next) {
    below += counts[size_t(2 * next + offset)];
    if (below / all > 0.025) break;
    u = next;
  }
  return u;
}

// The k-th smallest (0-based) of `values`, which it reorders.
double kth_smallest(std::vector<double>& values, size_t k) {
  std::nth_element(values.begin(), values.begin() + ptrdiff_t(k), values.end());
  return values[k];
}

}  // namespace

RankTest mann_whitney(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.empty() || b.empty()) throw std::invalid_argument("mann_whitney: both samples need at least one value");
  std::vector<int64_t> tie_sizes;
  const std::vector<int64_t> ranks = doubled_midranks(a, b, &tie_sizes);
  int64_t doubled_sum_a = 0;
  for (size_t i = 0; i < a.size(); ++i) doubled_sum_a += ranks[i];
  const double n = double(a.size()), m = double(b.size()), total = n + m;
  RankTest test;
  test.u = double(doubled_sum_a) / 2 - n * (n + 1) / 2;
  if (a.size() + b.size() <= kExactRankTestMaxValues) {
    test.exact = true;
    test.p_two_sided = exact_two_sided_p(ranks, a.size(), doubled_sum_a);
    return test;
  }
  double tie_term = 0;
  for (int64_t t : tie_sizes) tie_term += double(t) * double(t) * double(t) - double(t);
  const double variance = n * m / 12.0 * ((total + 1) - tie_term / (total * (total - 1)));
  if (variance <= 0) return test;  // every value equal: no evidence either way
  // Continuity correction: U moves in steps of 1/2, the normal curve does not.
  const double z = std::max(0.0, std::abs(test.u - n * m / 2) - 0.5) / std::sqrt(variance);
  test.p_two_sided = std::min(1.0, std::erfc(z / std::sqrt(2.0)));
  return test;
}

ShiftEstimate hodges_lehmann_shift(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.empty() || b.empty()) throw std::invalid_argument("hodges_lehmann_shift: both samples need at least one value");
  std::vector<double> differences;
  differences.reserve(a.size() * b.size());
  for (double x : a) {
    for (double y : b) differences.push_back(x - y);
  }
  const size_t count = differences.size();
  ShiftEstimate shift;
  shift.estimate = kth_smallest(differences, count / 2);
  if (count % 2 == 0) shift.estimate = 0.5 * (shift.estimate + kth_smallest(differences, count / 2 - 1));
  const int64_t u = critical_u(a.size(), b.size());
  if (u >= 0) {
    shift.low = kth_smallest(differences, size_t(u));
    shift.high = kth_smallest(differences, count - 1 - size_t(u));
  }
  return shift;
}

double smallest_p_two_sided(size_t n, size_t m) {
  double orderings = 1;  // C(n+m, n), built up one factor at a time so it stays exact while small
  for (size_t i = 1; i <= std::min(n, m); ++i) orderings = orderings * double(n + m - std::min(n, m) + i) / double(i);
  return std::min(1.0, 2 / orderings);
}

}  // namespace trainrate
