// Rank statistics behind `trainrate compare OLD NEW`: the Mann-Whitney U test (exact with and
// without ties, normal approximation with the tie correction), the Hodges-Lehmann shift and its
// interval, and how samples are thinned to the cap a results file keeps. Every expected value is
// worked out by hand in the comment beside it.
#include <gtest/gtest.h>

#include <numeric>
#include <stdexcept>

#include "results/statistics.hpp"

namespace trainrate {
namespace {

// One of the C(n+m, n) orderings at each extreme: 3 against 3 can never reach 0.05, 4 against 4 can.
TEST(MannWhitney, SmallestTwoSidedPValue) {
  EXPECT_DOUBLE_EQ(smallest_p_two_sided(3, 3), 0.1);
  EXPECT_DOUBLE_EQ(smallest_p_two_sided(4, 4), 2.0 / 70);
  EXPECT_DOUBLE_EQ(smallest_p_two_sided(5, 5), 2.0 / 252);
  EXPECT_DOUBLE_EQ(smallest_p_two_sided(2, 7), 2.0 / 36);
  EXPECT_DOUBLE_EQ(smallest_p_two_sided(1, 1), 1.0);
  // What the exact test gives on completely separated samples.
  EXPECT_DOUBLE_EQ(mann_whitney({1, 2, 3, 4}, {5, 6, 7, 8}).p_two_sided, smallest_p_two_sided(4, 4));
}

TEST(MannWhitney, SeparatedSamplesExact) {
  // U = 0 (no a above any b). Of the C(6,3) = 20 equally likely rank sets, {1,2,3} and {4,5,6}
  // are as far from the mean rank sum as the observed one: p = 2/20.
  const RankTest t = mann_whitney({1, 2, 3}, {4, 5, 6});
  EXPECT_TRUE(t.exact);
  EXPECT_DOUBLE_EQ(t.u, 0);
  EXPECT_DOUBLE_EQ(t.p_two_sided, 0.1);
  // Swapping the samples gives U = n·m − U and the same p.
  const RankTest swapped = mann_whitney({4, 5, 6}, {1, 2, 3});
  EXPECT_DOUBLE_EQ(swapped.u, 9);
  EXPECT_DOUBLE_EQ(swapped.p_two_sided, 0.1);
}

TEST(MannWhitney, TiesUseMidranksAndTheExactTiedDistribution) {
  // Pooled 1 2 2 2 3 4: the three 2s share rank 3. a's ranks 1+3+3 = 7, U = 7 − 6 = 1 (two tied
  // pairs, half each). Doubled ranks {2,6,6,6,10,12}, mean doubled sum 21, observed 14 (distance 7).
  // Of the 20 subsets of three, {2,6,6} (3 ways, sum 14) and {6,10,12} (3 ways, sum 28) are at
  // distance >= 7: p = 6/20.
  const RankTest t = mann_whitney({1, 2, 2}, {2, 3, 4});
  EXPECT_DOUBLE_EQ(t.u, 1);
  EXPECT_DOUBLE_EQ(t.p_two_sided, 0.3);
}

TEST(MannWhitney, InterleavedSamplesExact) {
  // a above b: 4 > 3; 7 > 3, 5, 6; 8.5 > 3, 5, 6: U = 7. Rank sets of five out of eleven at least
  // as far from the mean as a's: 82 of C(11,5) = 462.
  const RankTest t = mann_whitney({1.0, 2.5, 4, 7, 8.5}, {3, 5, 6, 9, 10, 11});
  EXPECT_DOUBLE_EQ(t.u, 7);
  EXPECT_NEAR(t.p_two_sided, 82.0 / 462.0, 1e-12);
}

TEST(MannWhitney, OneValueEachAndAllEqual) {
  // n = m = 1: two orderings, each at the same distance from the mean: p = 1.
  EXPECT_DOUBLE_EQ(mann_whitney({1}, {2}).p_two_sided, 1.0);
  EXPECT_DOUBLE_EQ(mann_whitney({1}, {2}).u, 0);
  // All equal: every pair tied, U = n·m/2 = 2, nothing to tell apart.
  const RankTest t = mann_whitney({5, 5}, {5, 5});
  EXPECT_DOUBLE_EQ(t.u, 2);
  EXPECT_DOUBLE_EQ(t.p_two_sided, 1.0);
  EXPECT_THROW(mann_whitney({}, {1}), std::invalid_argument);
}

TEST(MannWhitney, NormalApproximationAboveTheExactLimit) {
  // 25 against 25, separated: U = 0, mean 312.5, variance 25·25·51/12 = 2656.25, z = (312.5 −
  // 0.5)/51.5388 = 6.05369, two-sided p = erfc(z/√2) = 1.41566e-9.
  std::vector<double> a(25), b(25);
  std::iota(a.begin(), a.end(), 1.0);
  std::iota(b.begin(), b.end(), 26.0);
  const RankTest t = mann_whitney(a, b);
  EXPECT_FALSE(t.exact);
  EXPECT_DOUBLE_EQ(t.u, 0);
  EXPECT_NEAR(t.p_two_sided, 1.41566e-9, 1e-13);
}

TEST(MannWhitney, NormalApproximationCorrectsForTies) {
  // a: ten 1s, eleven 2s; b: ten 2s, eleven 3s (42 values). Midranks 5.5, 21, 37; U = 110 tied
  // pairs / 2 = 55. Tie term (10³−10)+(21³−21)+(11³−11) = 11550; variance 21·21/12 · (43 −
  // 11550/(42·41)) = 1333.756; z = (220.5 − 55 − 0.5)/36.5206 = 4.51799; p = 6.2428e-6.
  std::vector<double> a(10, 1.0), b(10, 2.0);
  a.insert(a.end(), 11, 2.0);
  b.insert(b.end(), 11, 3.0);
  const RankTest t = mann_whitney(a, b);
  EXPECT_FALSE(t.exact);
  EXPECT_DOUBLE_EQ(t.u, 55);
  EXPECT_NEAR(t.p_two_sided, 6.2428e-6, 1e-9);
}

TEST(HodgesLehmann, FiveAgainstFiveWithTheExactCriticalValue) {
  // Differences (10+i) − j for i, j in 0..4: 6 once, 7 twice, 8 three times, ..., 10 five times,
  // ..., 14 once. Median (13th of 25) = 10. Without ties P(U <= 2) = 4/252 <= 2.5% < P(U <= 3) =
  // 7/252, so the interval runs from the 3rd smallest (7) to the 3rd largest (13).
  const ShiftEstimate s = hodges_lehmann_shift({10, 11, 12, 13, 14}, {0, 1, 2, 3, 4});
  EXPECT_DOUBLE_EQ(s.estimate, 10);
  ASSERT_TRUE(s.low && s.high);
  EXPECT_DOUBLE_EQ(*s.low, 7);
  EXPECT_DOUBLE_EQ(*s.high, 13);
}

TEST(HodgesLehmann, NormalCriticalValueForLargeSamples) {
  // 25 against 25, a = b + 100: differences 100 + d, d = i − j occurring 25 − |d| times. Critical
  // u = floor(312.5 − 0.5 − 1.96·√(625·51/12)) = 210: the 211th smallest difference. 1+2+…+20 =
  // 210, so it is the first of the 21 copies of d = −4: 96; symmetrically the high end is 104.
  std::vector<double> a(25), b(25);
  std::iota(a.begin(), a.end(), 100.0);
  std::iota(b.begin(), b.end(), 0.0);
  const ShiftEstimate s = hodges_lehmann_shift(a, b);
  EXPECT_DOUBLE_EQ(s.estimate, 100);
  ASSERT_TRUE(s.low && s.high);
  EXPECT_DOUBLE_EQ(*s.low, 96);
  EXPECT_DOUBLE_EQ(*s.high, 104);
}

TEST(HodgesLehmann, EvenCountAveragesTheMiddleAndSmallSamplesHaveNoInterval) {
  // Differences 1 − 0, 1 − 2, 3 − 0, 3 − 2 = {1, −1, 3, 1}: median of {−1, 1, 1, 3} = 1.
  // With two values a side P(U = 0) = 1/6 > 2.5%: no 95% interval exists.
  const ShiftEstimate s = hodges_lehmann_shift({1, 3}, {0, 2});
  EXPECT_DOUBLE_EQ(s.estimate, 1);
  EXPECT_FALSE(s.low.has_value());
  EXPECT_FALSE(s.high.has_value());
  const ShiftEstimate one = hodges_lehmann_shift({3}, {1});
  EXPECT_DOUBLE_EQ(one.estimate, 2);
  EXPECT_FALSE(one.low.has_value());
  EXPECT_THROW(hodges_lehmann_shift({1}, {}), std::invalid_argument);
}

TEST(KeptSamples, EvenlySpacedKeepsFirstLastAndOrder) {
  std::vector<double> samples(10);
  std::iota(samples.begin(), samples.end(), 0.0);
  // Index i·9/3 for i = 0..3: 0, 3, 6, 9.
  EXPECT_EQ(evenly_spaced(samples, 4), (std::vector<double>{0, 3, 6, 9}));
  EXPECT_EQ(evenly_spaced(samples, 10), samples);
  EXPECT_EQ(evenly_spaced(samples, 50), samples);
  EXPECT_EQ(evenly_spaced(samples, 1), (std::vector<double>{0}));
  EXPECT_TRUE(evenly_spaced(samples, 0).empty());
}

}  // namespace
}  // namespace trainrate
