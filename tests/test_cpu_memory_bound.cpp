// Our memory-bound CPU kernels (kernels/cpu/memory_bound.hpp): each against a small case worked
// out by hand, and against a double-precision loop written here on awkward shapes (prime sizes,
// single elements, padding and strides, causal masks, repeated indices) and on tensors large
// enough to split over one and three threads. The vector loops are also run for every family
// this CPU supports, not only the one the kernels pick.
#include <gtest/gtest.h>

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/gemm_internal.hpp"
#include "kernels/cpu/memory_bound.hpp"
#include "kernels/cpu/memory_bound_internal.hpp"

namespace trainrate::kernels::cpu {
namespace {

std::vector<float> random_values(int64_t count, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> values(size_t(std::max<int64_t>(count, 1)));
  for (float& v : values) v = dist(rng);
  return values;
}

std::vector<int32_t> random_indices(int64_t count, int32_t bound, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> dist(0, bound - 1);
  std::vector<int32_t> indices(static_cast<size_t>(count));
  for (int32_t& i : indices) i = dist(rng);
  return indices;
}

std::vector<double> zeros(int64_t count) { return std::vector<double>(static_cast<size_t>(count), 0.0); }

std::vector<float> nan_filled(int64_t count) {
  return std::vector<float>(size_t(std::max<int64_t>(count, 1)), std::numeric_limits<float>::quiet_NaN());
}

// |actual − expected| ≤ rtol·|expected| + atol everywhere; reports the first few misses.
void expect_close(const std::vector<float>& actual, const std::vector<double>& expected, double rtol, double atol,
                  const std::string& what) {
  ASSERT_GE(actual.size(), expected.size()) << what;
  int misses = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    const double error = std::fabs(double(actual[i]) - expected[i]);
    if (!(error <= rtol * std::fabs(expected[i]) + atol)) {
      if (++misses <= 3) ADD_FAILURE() << what << " [" << i << "]: " << actual[i] << " vs " << expected[i];
    }
  }
  EXPECT_EQ(misses, 0) << what;
}

// Runs body under each team size, restoring the default afterwards.
template <class Body>
void with_threads(std::initializer_list<int> teams, Body&& body) {
  const int saved = omp_get_max_threads();
  for (int team : teams) {
    omp_set_num_threads(team);
    body(team);
  }
  omp_set_num_threads(saved);
}

double normal_cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }
double normal_pdf(double x) { return std::exp(-0.5 * x * x) / std::sqrt(2.0 * M_PI); }

std::vector<MicroKernel> vector_families() { return available_micro_kernels(Dtype::fp32); }

// --- Activations and adds -------------------------------------------------------------------

TEST(CpuMemoryBound, ReluByHand) {
  const std::vector<float> x = {-2.0f, -0.0f, 0.0f, 0.5f, 3.0f}, dy = {1, 2, 3, 4, 5};
  std::vector<float> y(5), dx(5);
  relu_forward(x.data(), y.data(), 5);
  relu_backward(x.data(), dy.data(), dx.data(), 5);
  EXPECT_EQ(y, (std::vector<float>{0, 0, 0, 0.5f, 3}));
  EXPECT_EQ(dx, (std::vector<float>{0, 0, 0, 4, 5}));  // 0 is not > 0: no gradient there
}

TEST(CpuMemoryBound, ReluMatchesReference) {
  with_threads({1, 3}, [](int team) {
    for (int64_t n : {1, 7, 1031, 100003}) {
      const auto x = random_values(n, 1), dy = random_values(n, 2);
      std::vector<float> y = nan_filled(n), dx = nan_filled(n);
      relu_forward(x.data(), y.data(), n);
      relu_backward(x.data(), dy.data(), dx.data(), n);
      std::vector<double> y_ref = zeros(n), dx_ref = zeros(n);
      for (int64_t i = 0; i < n; ++i) {
        y_ref[size_t(i)] = std::max(double(x[size_t(i)]), 0.0);
        dx_ref[size_t(i)] = x[size_t(i)] > 0 ? dy[size_t(i)] : 0.0;
      }
      const std::string what = "n " + std::to_string(n) + " threads " + std::to_string(team);
      expect_close(y, y_ref, 0, 0, "relu " + what);
      expect_close(dx, dx_ref, 0, 0, "relu backward " + what);
    }
  });
}

TEST(CpuMemoryBound, GeluByHand) {
  // Φ(1) = 0.8413447461, Φ(−1) = 0.1586552539, Φ(3) = 0.9986501020, φ(1) = 0.2419707245.
  const std::vector<float> x = {0.0f, 1.0f, -1.0f, 3.0f}, dy = {1, 1, 1, 2};
  std::vector<float> y(4), dx(4);
  gelu_forward(x.data(), y.data(), 4);
  gelu_backward(x.data(), dy.data(), dx.data(), 4);
  expect_close(y, {0.0, 0.8413447461, -0.1586552539, 3 * 0.9986501020}, 2e-6, 0, "gelu");
  // dx = dy·(Φ(x) + x·φ(x)): 0.5 at 0; Φ(1) + φ(1) at 1; Φ(−1) − φ(1) at −1.
  expect_close(dx, {0.5, 0.8413447461 + 0.2419707245, 0.1586552539 - 0.2419707245, 2 * (0.9986501020 + 3 * 0.0044318484)},
               2e-6, 0, "gelu backward");
}

// GELU over a dense grid reaching far into the lower tail, where y and dx are tiny but must keep
// their relative accuracy (no 1 + erf cancellation); dx's own zero near x = −0.75 needs an
// absolute allowance.
void check_gelu(void (*forward)(const float*, float*, int64_t),
                void (*backward)(const float*, const float*, float*, int64_t), const std::string& what) {
  const int64_t n = 24001;  // −12 to 12 in steps of 0.001
  std::vector<float> x = nan_filled(n), dy(static_cast<size_t>(n), 1.0f), y = nan_filled(n), dx = nan_filled(n);
  for (int64_t i = 0; i < n; ++i) x[size_t(i)] = -12.0f + 0.001f * float(i);
  forward(x.data(), y.data(), n);
  backward(x.data(), dy.data(), dx.data(), n);
  std::vector<double> y_ref = zeros(n), dx_ref = zeros(n);
  for (int64_t i = 0; i < n; ++i) {
    const double xi = x[size_t(i)];
    y_ref[size_t(i)] = xi * normal_cdf(xi);
    dx_ref[size_t(i)] = normal_cdf(xi) + xi * normal_pdf(xi);
  }
  expect_close(y, y_ref, 2e-6, 1e-37, "gelu " + what);
  expect_close(dx, dx_ref, 2e-6, 1e-7, "gelu backward " + what);
}

TEST(CpuMemoryBound, GeluMatchesReferenceInEveryVectorFamily) {
  for (MicroKernel family : vector_families()) {
    const auto& loops = detail::memory_bound_loops(family);
    check_gelu(loops.gelu_forward, loops.gelu_backward, std::string(to_string(family)));
  }
  check_gelu(&gelu_forward, &gelu_backward, "kernel");
}

TEST(CpuMemoryBound, GeluSplitsOverThreads) {
  with_threads({1, 3}, [](int team) {
    const int64_t n = 100003;
    const auto x = random_values(n, 3, -6, 6), dy = random_values(n, 4);
    std::vector<float> y = nan_filled(n), dx = nan_filled(n);
    gelu_forward(x.data(), y.data(), n);
    gelu_backward(x.data(), dy.data(), dx.data(), n);
    std::vector<double> y_ref = zeros(n), dx_ref = zeros(n);
    for (int64_t i = 0; i < n; ++i) {
      const double xi = x[size_t(i)];
      y_ref[size_t(i)] = xi * normal_cdf(xi);
      dx_ref[size_t(i)] = dy[size_t(i)] * (normal_cdf(xi) + xi * normal_pdf(xi));
    }
    expect_close(y, y_ref, 2e-6, 1e-30, "gelu threads " + std::to_string(team));
    expect_close(dx, dx_ref, 2e-6, 1e-7, "gelu backward threads " + std::to_string(team));
  });
}

TEST(CpuMemoryBound, AddsByHand) {
  const std::vector<float> a = {1, 2}, b = {10, 20};
  std::vector<float> y(2);
  add(a.data(), b.data(), y.data(), 2);
  EXPECT_EQ(y, (std::vector<float>{11, 22}));
  // Two rows of three channels, in place.
  std::vector<float> x = {1, 2, 3, 4, 5, 6};
  const std::vector<float> bias = {10, 20, 30};
  bias_add(x.data(), bias.data(), x.data(), 2, 3);
  EXPECT_EQ(x, (std::vector<float>{11, 22, 33, 14, 25, 36}));
}

TEST(CpuMemoryBound, AddAndReluInEveryVectorFamily) {
  const int64_t n = 1031;  // a tail past the last full vector of every width
  const auto a = random_values(n, 10), b = random_values(n, 11);
  std::vector<double> sum, relu;
  for (int64_t i = 0; i < n; ++i) {
    sum.push_back(double(a[size_t(i)] + b[size_t(i)]));
    relu.push_back(std::max(double(a[size_t(i)]), 0.0));
  }
  for (MicroKernel family : vector_families()) {
    const auto& loops = detail::memory_bound_loops(family);
    std::vector<float> y = nan_filled(n), r = nan_filled(n);
    loops.add(a.data(), b.data(), y.data(), n);
    loops.relu_forward(a.data(), r.data(), n);
    expect_close(y, sum, 0, 0, "add " + std::string(to_string(family)));
    expect_close(r, relu, 0, 0, "relu " + std::string(to_string(family)));
  }
}

// An output larger than the last-level cache takes the streamed path (non-temporal stores from the
// first 64-byte line on): an odd length and an output 3 floats past an aligned start give it a head,
// whole chunks and a tail, at every team size.
TEST(CpuMemoryBound, OutputsLargerThanTheLastLevelCacheMatchReference) {
  const int64_t n = detail::cache_size(3, int64_t(8) << 20) / int64_t(sizeof(float)) + 1003;
  const auto x = random_values(n, 8), dy = random_values(n, 9);
  std::vector<float> storage(size_t(n + 3));
  float* out = storage.data() + 3;
  with_threads({1, 3}, [&](int team) {
    const auto count_misses = [&](auto expected) {
      int64_t misses = 0;
      for (int64_t i = 0; i < n; ++i) misses += out[i] != expected(size_t(i));
      return misses;
    };
    const std::string what = " threads " + std::to_string(team);
    relu_forward(x.data(), out, n);
    EXPECT_EQ(count_misses([&](size_t i) { return std::max(x[i], 0.0f); }), 0) << "relu" << what;
    relu_backward(x.data(), dy.data(), out, n);
    EXPECT_EQ(count_misses([&](size_t i) { return x[i] > 0.0f ? dy[i] : 0.0f; }), 0) << "relu backward" << what;
    add(x.data(), dy.data(), out, n);
    EXPECT_EQ(count_misses([&](size_t i) { return x[i] + dy[i]; }), 0) << "add" << what;
  });
}

TEST(CpuMemoryBound, AddsMatchReference) {
  with_threads({1, 3}, [](int team) {
    for (auto [rows, channels] : {std::pair<int64_t, int64_t>{1, 1}, {1, 1031}, {37, 13}, {4099, 67}}) {
      const int64_t n = rows * channels;
      const auto a = random_values(n, 5), b = random_values(n, 6), bias = random_values(channels, 7);
      std::vector<float> sum = nan_filled(n), biased = nan_filled(n);
      add(a.data(), b.data(), sum.data(), n);
      bias_add(a.data(), bias.data(), biased.data(), rows, channels);
      std::vector<double> sum_ref = zeros(n), biased_ref = zeros(n);
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t c = 0; c < channels; ++c) {
          const size_t i = size_t(r * channels + c);
          sum_ref[i] = double(a[i] + b[i]);
          biased_ref[i] = double(a[i] + bias[size_t(c)]);
        }
      }
      const std::string what = std::to_string(rows) + "x" + std::to_string(channels) + " threads " + std::to_string(team);
      expect_close(sum, sum_ref, 0, 0, "add " + what);
      expect_close(biased, biased_ref, 0, 0, "bias_add " + what);
    }
  });
}

// --- Normalisations -------------------------------------------------------------------------

// x = [1, 2, 3, 4]: mean 2.5, variance (2.25 + 0.25 + 0.25 + 2.25)/4 = 1.25, inv_std = 1/√1.25 =
// 0.894427191, xhat = (x − 2.5)·0.894427191. With gamma 2 and beta 1, y = 2·xhat + 1. Backward
// with dy = [1, 0, 0, 0]: dbeta = 1, dgamma = xhat[0] = −1.341640786, and dx = 2·0.894427191·
// (dy − 1/4 − xhat·dgamma/4) where xhat·dgamma/4 = −0.3·(x − 2.5): 1.788854382·[0.3, −0.4, −0.1, 0.2].
const std::vector<double> norm_y_by_hand = {-1.683281573, 0.105572809, 1.894427191, 3.683281573};
const std::vector<double> norm_dx_by_hand = {0.536656315, -0.715541753, -0.178885438, 0.357770876};

TEST(CpuMemoryBound, BatchNormByHand) {
  const std::vector<float> x = {1, 2, 3, 4}, gamma = {2}, beta = {1}, dy = {1, 0, 0, 0};
  std::vector<float> y(4), mean(1), inv_std(1), dx(4), dgamma(1), dbeta(1);
  batchnorm_forward_training(x.data(), gamma.data(), beta.data(), y.data(), mean.data(), inv_std.data(), 1, 1, 4, 0.0f);
  expect_close(mean, {2.5}, 1e-7, 0, "batchnorm mean");
  expect_close(inv_std, {0.894427191}, 1e-6, 0, "batchnorm inv_std");
  expect_close(y, norm_y_by_hand, 1e-6, 1e-7, "batchnorm y");
  batchnorm_backward(x.data(), dy.data(), gamma.data(), mean.data(), inv_std.data(), dx.data(), dgamma.data(),
                     dbeta.data(), 1, 1, 4);
  expect_close(dbeta, {1.0}, 1e-7, 0, "batchnorm dbeta");
  expect_close(dgamma, {-1.341640786}, 1e-6, 0, "batchnorm dgamma");
  expect_close(dx, norm_dx_by_hand, 1e-6, 1e-7, "batchnorm dx");
}

struct BatchNormShape {
  int64_t n, c, hw;
  float offset;  // added to x: a mean far from zero tests the variance's cancellation
};

void check_batchnorm(const BatchNormShape& s, const std::string& what) {
  const int64_t total = s.n * s.c * s.hw, m = s.n * s.hw;
  const float eps = 1e-5f;
  auto x = random_values(total, 11), dy = random_values(total, 12);
  for (float& v : x) v += s.offset;
  const auto gamma = random_values(s.c, 13, 0.5f, 2.0f), beta = random_values(s.c, 14);
  std::vector<float> y = nan_filled(total), mean = nan_filled(s.c), inv_std = nan_filled(s.c);
  std::vector<float> dx = nan_filled(total), dgamma = nan_filled(s.c), dbeta = nan_filled(s.c);
  batchnorm_forward_training(x.data(), gamma.data(), beta.data(), y.data(), mean.data(), inv_std.data(), s.n, s.c,
                             s.hw, eps);
  batchnorm_backward(x.data(), dy.data(), gamma.data(), mean.data(), inv_std.data(), dx.data(), dgamma.data(),
                     dbeta.data(), s.n, s.c, s.hw);
  std::vector<double> y_ref = zeros(total), dx_ref = zeros(total), mean_ref = zeros(s.c), inv_std_ref = zeros(s.c);
  std::vector<double> dgamma_ref = zeros(s.c), dbeta_ref = zeros(s.c);
  double dy_abs_sum = 0.0;
  for (int64_t c = 0; c < s.c; ++c) {
    const auto at = [&](int64_t n, int64_t i) { return size_t((n * s.c + c) * s.hw + i); };
    double sum = 0.0, sq = 0.0, sum_dy = 0.0, sum_dy_xhat = 0.0;
    for (int64_t n = 0; n < s.n; ++n)
      for (int64_t i = 0; i < s.hw; ++i) sum += x[at(n, i)];
    const double mu = sum / double(m);
    for (int64_t n = 0; n < s.n; ++n)
      for (int64_t i = 0; i < s.hw; ++i) sq += (x[at(n, i)] - mu) * (x[at(n, i)] - mu);
    const double inv = 1.0 / std::sqrt(sq / double(m) + eps);
    for (int64_t n = 0; n < s.n; ++n) {
      for (int64_t i = 0; i < s.hw; ++i) {
        y_ref[at(n, i)] = gamma[size_t(c)] * (x[at(n, i)] - mu) * inv + beta[size_t(c)];
        sum_dy += dy[at(n, i)];
        sum_dy_xhat += dy[at(n, i)] * (x[at(n, i)] - mu) * inv;
        dy_abs_sum += std::fabs(dy[at(n, i)]);
      }
    }
    for (int64_t n = 0; n < s.n; ++n) {
      for (int64_t i = 0; i < s.hw; ++i) {
        const double xhat = (x[at(n, i)] - mu) * inv;
        dx_ref[at(n, i)] = gamma[size_t(c)] * inv * (dy[at(n, i)] - sum_dy / double(m) - xhat * sum_dy_xhat / double(m));
      }
    }
    mean_ref[size_t(c)] = mu;
    inv_std_ref[size_t(c)] = inv;
    dgamma_ref[size_t(c)] = sum_dy_xhat;
    dbeta_ref[size_t(c)] = sum_dy;
  }
  // Sums of ±1 terms: judged against the scale of their terms, not of their (cancelling) totals.
  const double sum_atol = 1e-6 * dy_abs_sum / double(s.c);
  expect_close(mean, mean_ref, 1e-6, 1e-6, "batchnorm mean " + what);
  expect_close(inv_std, inv_std_ref, 1e-4, 0, "batchnorm inv_std " + what);
  expect_close(y, y_ref, 1e-4, 1e-5, "batchnorm y " + what);
  expect_close(dbeta, dbeta_ref, 1e-4, sum_atol, "batchnorm dbeta " + what);
  expect_close(dgamma, dgamma_ref, 1e-4, sum_atol, "batchnorm dgamma " + what);
  expect_close(dx, dx_ref, 1e-4, 1e-5, "batchnorm dx " + what);
}

TEST(CpuMemoryBound, BatchNormMatchesReference) {
  // Single values, many tiny planes, planes over several pieces (HW above 16 Ki floats), and
  // M over a million with a mean 20 standard deviations from zero; channels enough for the team to
  // take them a block at a time from cache (one piece per channel, and two).
  const std::vector<BatchNormShape> shapes = {{1, 1, 1, 0.0f},    {7, 2, 1, 0.0f},       {3, 5, 49, 0.0f},
                                              {2, 3, 20011, 1.0f}, {4, 2, 300007, 10.0f}, {3, 37, 1031, 5.0f},
                                              {7, 13, 3001, 1.0f}};
  with_threads({1, 3}, [&](int team) {
    for (const BatchNormShape& s : shapes) {
      check_batchnorm(s, "N" + std::to_string(s.n) + " C" + std::to_string(s.c) + " HW" + std::to_string(s.hw) +
                             " threads " + std::to_string(team));
    }
  });
}

// 13 channels: blocks of channels from cache on 1 thread, the two-pass form on 4 (under 4 channels
// per thread): the same pieces (two per channel: planes 0-4 and 5-6) merged in the same order, so
// the same bits either way.
TEST(CpuMemoryBound, BatchNormForwardSameBitsChannelBlocksOrNot) {
  const int64_t n = 7, c = 13, hw = 3001, total = n * c * hw;
  const auto x = random_values(total, 21), gamma = random_values(c, 22, 0.5f, 2.0f), beta = random_values(c, 23);
  std::vector<std::vector<float>> outputs;
  with_threads({1, 4}, [&](int) {
    std::vector<float> y = nan_filled(total), mean = nan_filled(c), inv_std = nan_filled(c);
    batchnorm_forward_training(x.data(), gamma.data(), beta.data(), y.data(), mean.data(), inv_std.data(), n, c, hw,
                               1e-5f);
    y.insert(y.end(), mean.begin(), mean.end());
    y.insert(y.end(), inv_std.begin(), inv_std.end());
    outputs.push_back(std::move(y));
  });
  ASSERT_EQ(outputs.size(), 2u);
  EXPECT_TRUE(outputs[0] == outputs[1]);
}

TEST(CpuMemoryBound, LayerNormByHand) {
  // The same numbers as BatchNormByHand, on one row with gamma 2 and beta 1 in every column.
  const std::vector<float> x = {1, 2, 3, 4}, gamma = {2, 2, 2, 2}, beta = {1, 1, 1, 1}, dy = {1, 0, 0, 0};
  std::vector<float> y(4), mean(1), rstd(1), dx(4), dgamma(4), dbeta(4);
  layernorm_forward(x.data(), gamma.data(), beta.data(), y.data(), mean.data(), rstd.data(), 1, 4, 0.0f);
  expect_close(mean, {2.5}, 1e-7, 0, "layernorm mean");
  expect_close(rstd, {0.894427191}, 1e-6, 0, "layernorm rstd");
  expect_close(y, norm_y_by_hand, 1e-6, 1e-7, "layernorm y");
  layernorm_backward(x.data(), dy.data(), gamma.data(), mean.data(), rstd.data(), dx.data(), dgamma.data(),
                     dbeta.data(), 1, 4);
  expect_close(dx, norm_dx_by_hand, 1e-6, 1e-7, "layernorm dx");
  expect_close(dgamma, {-1.341640786, 0, 0, 0}, 1e-6, 0, "layernorm dgamma");
  expect_close(dbeta, {1, 0, 0, 0}, 0, 0, "layernorm dbeta");
}

void check_layernorm(int64_t rows, int64_t cols, const std::string& what) {
  const int64_t total = rows * cols;
  const float eps = 1e-5f;
  auto x = random_values(total, 21), dy = random_values(total, 22);
  for (float& v : x) v += 3.0f;
  const auto gamma = random_values(cols, 23, 0.5f, 2.0f), beta = random_values(cols, 24);
  std::vector<float> y = nan_filled(total), mean = nan_filled(rows), rstd = nan_filled(rows);
  std::vector<float> dx = nan_filled(total), dgamma = nan_filled(cols), dbeta = nan_filled(cols);
  layernorm_forward(x.data(), gamma.data(), beta.data(), y.data(), mean.data(), rstd.data(), rows, cols, eps);
  layernorm_backward(x.data(), dy.data(), gamma.data(), mean.data(), rstd.data(), dx.data(), dgamma.data(),
                     dbeta.data(), rows, cols);
  std::vector<double> y_ref = zeros(total), dx_ref = zeros(total), mean_ref = zeros(rows), rstd_ref = zeros(rows);
  std::vector<double> dgamma_ref = zeros(cols), dbeta_ref = zeros(cols);
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x.data() + r * cols;
    const float* dyr = dy.data() + r * cols;
    double sum = 0.0, sq = 0.0, g_sum = 0.0, g_xhat_sum = 0.0;
    for (int64_t j = 0; j < cols; ++j) sum += xr[j];
    const double mu = sum / double(cols);
    for (int64_t j = 0; j < cols; ++j) sq += (xr[j] - mu) * (xr[j] - mu);
    const double inv = 1.0 / std::sqrt(sq / double(cols) + eps);
    for (int64_t j = 0; j < cols; ++j) {
      const double xhat = (xr[j] - mu) * inv;
      y_ref[size_t(r * cols + j)] = gamma[size_t(j)] * xhat + beta[size_t(j)];
      g_sum += double(gamma[size_t(j)]) * dyr[j];
      g_xhat_sum += double(gamma[size_t(j)]) * dyr[j] * xhat;
      dgamma_ref[size_t(j)] += dyr[j] * xhat;
      dbeta_ref[size_t(j)] += dyr[j];
    }
    for (int64_t j = 0; j < cols; ++j) {
      const double xhat = (xr[j] - mu) * inv;
      dx_ref[size_t(r * cols + j)] =
          inv * (double(gamma[size_t(j)]) * dyr[j] - g_sum / double(cols) - xhat * g_xhat_sum / double(cols));
    }
    mean_ref[size_t(r)] = mu;
    rstd_ref[size_t(r)] = inv;
  }
  const double sum_atol = 1e-6 * double(rows);  // sums of rows terms of size about 1
  expect_close(mean, mean_ref, 1e-6, 1e-6, "layernorm mean " + what);
  expect_close(rstd, rstd_ref, 1e-4, 0, "layernorm rstd " + what);
  expect_close(y, y_ref, 1e-4, 1e-5, "layernorm y " + what);
  expect_close(dx, dx_ref, 1e-4, 1e-5, "layernorm dx " + what);
  expect_close(dgamma, dgamma_ref, 1e-4, sum_atol, "layernorm dgamma " + what);
  expect_close(dbeta, dbeta_ref, 1e-4, sum_atol, "layernorm dbeta " + what);
}

TEST(CpuMemoryBound, LayerNormMatchesReference) {
  // One value per row, an odd width, more rows than a thread flushes at once, and one long row.
  with_threads({1, 3}, [](int team) {
    for (auto [rows, cols] : {std::pair<int64_t, int64_t>{5, 1}, {13, 769}, {1000, 67}, {1, 100003}}) {
      check_layernorm(rows, cols, std::to_string(rows) + "x" + std::to_string(cols) + " threads " + std::to_string(team));
    }
  });
}

TEST(CpuMemoryBound, LayerNormRowsInEveryVectorFamily) {
  // The kernels use the widest family; the others' rows must give the same (checked above) results.
  const int64_t cols = 1031;
  auto x = random_values(cols, 25), dy = random_values(cols, 26);
  for (float& v : x) v += 3.0f;
  const auto gamma = random_values(cols, 27, 0.5f, 2.0f), beta = random_values(cols, 28);
  std::vector<float> y = nan_filled(cols), dx = nan_filled(cols), mean(1), rstd(1), dgamma = nan_filled(cols),
                     dbeta = nan_filled(cols);
  layernorm_forward(x.data(), gamma.data(), beta.data(), y.data(), mean.data(), rstd.data(), 1, cols, 1e-5f);
  layernorm_backward(x.data(), dy.data(), gamma.data(), mean.data(), rstd.data(), dx.data(), dgamma.data(),
                     dbeta.data(), 1, cols);
  const std::vector<double> y_ref(y.begin(), y.end()), dx_ref(dx.begin(), dx.end());
  const std::vector<double> dgamma_ref(dgamma.begin(), dgamma.end()), dbeta_ref(dbeta.begin(), dbeta.end());
  for (MicroKernel family : vector_families()) {
    const auto& loops = detail::memory_bound_loops(family);
    const std::string what = std::string(to_string(family));
    std::vector<float> row_y = nan_filled(cols), row_dx = nan_filled(cols), row_mean(1), row_rstd(1);
    std::vector<float> dgamma_sums(static_cast<size_t>(cols), 0.0f), dbeta_sums(static_cast<size_t>(cols), 0.0f);
    loops.layernorm_row_forward(x.data(), gamma.data(), beta.data(), row_y.data(), cols, 1e-5f, row_mean.data(),
                                row_rstd.data());
    loops.layernorm_row_backward(x.data(), dy.data(), gamma.data(), mean[0], rstd[0], row_dx.data(),
                                 dgamma_sums.data(), dbeta_sums.data(), cols);
    expect_close(row_mean, {mean[0]}, 1e-6, 0, "layernorm row mean " + what);
    expect_close(row_rstd, {rstd[0]}, 1e-6, 0, "layernorm row rstd " + what);
    expect_close(row_y, y_ref, 1e-5, 1e-6, "layernorm row y " + what);
    expect_close(row_dx, dx_ref, 1e-5, 1e-6, "layernorm row dx " + what);
    expect_close(dgamma_sums, dgamma_ref, 1e-6, 1e-7, "layernorm row dgamma " + what);
    expect_close(dbeta_sums, dbeta_ref, 0, 0, "layernorm row dbeta " + what);
  }
}

// --- Pooling --------------------------------------------------------------------------------

struct PoolShape {
  int64_t n, c, h, w, r, s, sh, sw, ph, pw;
  int64_t p() const { return (h + 2 * ph - r) / sh + 1; }
  int64_t q() const { return (w + 2 * pw - s) / sw + 1; }
  std::string describe() const {
    return "N" + std::to_string(n) + " C" + std::to_string(c) + " " + std::to_string(h) + "x" + std::to_string(w) +
           " window " + std::to_string(r) + "x" + std::to_string(s) + " stride " + std::to_string(sh) + "," +
           std::to_string(sw) + " pad " + std::to_string(ph) + "," + std::to_string(pw);
  }
};

// The four pooling kernels called with a PoolShape.
void max_forward(const PoolShape& g, const float* x, float* y) {
  maxpool_forward(x, y, g.n, g.c, g.h, g.w, g.r, g.s, g.sh, g.sw, g.ph, g.pw);
}
// The backward as the backend runs it: the forward's indices, then the scatter.
void max_backward(const PoolShape& g, const float* x, const float* dy, float* dx) {
  std::vector<int32_t> where(size_t(g.n * g.c * g.p() * g.q()));
  maxpool_argmax(x, where.data(), g.n, g.c, g.h, g.w, g.r, g.s, g.sh, g.sw, g.ph, g.pw);
  maxpool_backward(where.data(), dy, dx, g.n * g.c, g.h * g.w, g.p() * g.q());
}
void avg_forward(const PoolShape& g, const float* x, float* y) {
  avgpool_forward(x, y, g.n, g.c, g.h, g.w, g.r, g.s, g.sh, g.sw, g.ph, g.pw);
}
void avg_backward(const PoolShape& g, const float* dy, float* dx) {
  avgpool_backward(dy, dx, g.n, g.c, g.h, g.w, g.r, g.s, g.sh, g.sw, g.ph, g.pw);
}

TEST(CpuMemoryBound, MaxPoolByHand) {
  // 3×3 input, 2×2 windows, stride 1: maxima 5 (at 0,1), 9 (1,2), 8 (2,1), 9 (1,2); the two
  // outputs whose maximum is the 9 both send their gradient there: 2 + 4.
  const PoolShape s{1, 1, 3, 3, 2, 2, 1, 1, 0, 0};
  const std::vector<float> x = {1, 5, 2, 3, 4, 9, 0, 8, 7}, dy = {1, 2, 3, 4};
  std::vector<float> y(4), dx = nan_filled(9);
  max_forward(s, x.data(), y.data());
  max_backward(s, x.data(), dy.data(), dx.data());
  EXPECT_EQ(y, (std::vector<float>{5, 9, 8, 9}));
  EXPECT_EQ(dx, (std::vector<float>{0, 1, 0, 0, 0, 6, 0, 3, 0}));
  // Ties: the whole 2×2 input is one window of equal values; the first (row-major) takes the gradient.
  const PoolShape tie{1, 1, 2, 2, 2, 2, 1, 1, 0, 0};
  const std::vector<float> flat = {2, 2, 2, 2}, one = {1};
  std::vector<float> tie_dx = nan_filled(4);
  max_backward(tie, flat.data(), one.data(), tie_dx.data());
  EXPECT_EQ(tie_dx, (std::vector<float>{1, 0, 0, 0}));
  // Padding is −inf, not 0: 3×3 windows with padding 1 over an all-negative 2×2 input.
  const PoolShape padded{1, 1, 2, 2, 3, 3, 1, 1, 1, 1};
  const std::vector<float> negative = {-1, -2, -3, -4};
  std::vector<float> padded_y(4);
  max_forward(padded, negative.data(), padded_y.data());
  EXPECT_EQ(padded_y, (std::vector<float>{-1, -1, -1, -1}));
}

TEST(CpuMemoryBound, AvgPoolByHand) {
  // 2×2 input [[1, 2], [3, 4]], 2×2 windows, stride 2, padding 1: each window holds one input
  // value and three padding cells, all four counted: y = x/4. Backward gives each input dy/4.
  const PoolShape s{1, 1, 2, 2, 2, 2, 2, 2, 1, 1};
  const std::vector<float> x = {1, 2, 3, 4}, dy = {4, 8, 12, 16};
  std::vector<float> y(4), dx = nan_filled(4);
  avg_forward(s, x.data(), y.data());
  avg_backward(s, dy.data(), dx.data());
  EXPECT_EQ(y, (std::vector<float>{0.25f, 0.5f, 0.75f, 1.0f}));
  EXPECT_EQ(dx, (std::vector<float>{1, 2, 3, 4}));
  // 3×3 ones, 2×2 windows, stride 1: each output 1; backward with dy = 1 gives each input
  // (windows covering it)/4: corners 1/4, edges 2/4, the centre 4/4.
  const PoolShape overlap{1, 1, 3, 3, 2, 2, 1, 1, 0, 0};
  const std::vector<float> ones(9, 1.0f), dy_ones(4, 1.0f);
  std::vector<float> y_ones(4), dx_ones = nan_filled(9);
  avg_forward(overlap, ones.data(), y_ones.data());
  avg_backward(overlap, dy_ones.data(), dx_ones.data());
  EXPECT_EQ(y_ones, (std::vector<float>(4, 1.0f)));
  EXPECT_EQ(dx_ones, (std::vector<float>{0.25f, 0.5f, 0.25f, 0.5f, 1.0f, 0.5f, 0.25f, 0.5f, 0.25f}));
}

// All four pooling passes against direct loops over every window.
void check_pooling(const PoolShape& s, const std::vector<float>& x, const std::string& what) {
  const int64_t in = s.n * s.c * s.h * s.w, out = s.n * s.c * s.p() * s.q();
  const auto dy = random_values(out, 31);
  std::vector<float> max_y = nan_filled(out), avg_y = nan_filled(out), max_dx = nan_filled(in), avg_dx = nan_filled(in);
  max_forward(s, x.data(), max_y.data());
  max_backward(s, x.data(), dy.data(), max_dx.data());
  avg_forward(s, x.data(), avg_y.data());
  avg_backward(s, dy.data(), avg_dx.data());
  std::vector<double> max_y_ref = zeros(out), avg_y_ref = zeros(out), max_dx_ref = zeros(in),
      avg_dx_ref = zeros(in);
  const double area = double(s.r * s.s);
  for (int64_t plane = 0; plane < s.n * s.c; ++plane) {
    for (int64_t p = 0; p < s.p(); ++p) {
      for (int64_t q = 0; q < s.q(); ++q) {
        const size_t o = size_t((plane * s.p() + p) * s.q() + q);
        double best = -std::numeric_limits<double>::infinity(), sum = 0.0;
        int64_t best_at = -1;
        for (int64_t r = 0; r < s.r; ++r) {
          for (int64_t t = 0; t < s.s; ++t) {
            const int64_t h = p * s.sh + r - s.ph, w = q * s.sw + t - s.pw;
            if (h < 0 || h >= s.h || w < 0 || w >= s.w) continue;
            const int64_t i = (plane * s.h + h) * s.w + w;
            sum += x[size_t(i)];
            avg_dx_ref[size_t(i)] += dy[o] / area;
            if (x[size_t(i)] > best) {
              best = x[size_t(i)];
              best_at = i;
            }
          }
        }
        max_y_ref[o] = best;
        avg_y_ref[o] = sum / area;
        max_dx_ref[size_t(best_at)] += dy[o];
      }
    }
  }
  expect_close(max_y, max_y_ref, 0, 0, "maxpool " + what);
  expect_close(max_dx, max_dx_ref, 1e-6, 1e-6, "maxpool backward " + what);
  expect_close(avg_y, avg_y_ref, 1e-6, 1e-6, "avgpool " + what);
  expect_close(avg_dx, avg_dx_ref, 1e-6, 1e-6, "avgpool backward " + what);
}

// The kernels take pad = window (problems refuse it): a window wholly in the padding has no
// maximum, so its index is −1 and its dy goes nowhere.
TEST(CpuMemoryBound, MaxPoolWindowsWhollyInThePaddingScatterNothing) {
  // 2×4 plane, 2×2 window, stride 2, pad 2: a 3×4 output whose only real windows are the middle
  // row's two inner ones (columns 0-1: max 5 at index 4; columns 2-3: max 7 at index 7).
  const std::vector<float> x = {1, 4, 3, 2, 5, 0, 6, 7};
  const std::vector<float> dy = {10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120};
  std::vector<int32_t> where(12);
  maxpool_argmax(x.data(), where.data(), 1, 1, 2, 4, 2, 2, 2, 2, 2, 2);
  EXPECT_EQ(where, (std::vector<int32_t>{-1, -1, -1, -1, -1, 4, 7, -1, -1, -1, -1, -1}));
  std::vector<float> dx(8, -1.0f);
  maxpool_backward(where.data(), dy.data(), dx.data(), 1, 8, 12);
  EXPECT_EQ(dx, (std::vector<float>{0, 0, 0, 0, 60, 0, 0, 70}));
}

TEST(CpuMemoryBound, PoolingMatchesReference) {
  const std::vector<PoolShape> shapes = {
      {1, 1, 1, 1, 1, 1, 1, 1, 0, 0},      // one element
      {2, 3, 7, 9, 3, 3, 2, 2, 1, 1},      // ResNet's stem pool, odd sizes
      {2, 5, 11, 13, 2, 3, 1, 2, 0, 1},    // rectangular window, mixed strides
      {1, 2, 5, 5, 3, 3, 1, 1, 1, 1},      // overlapping windows, stride 1
      {3, 2, 6, 7, 3, 2, 3, 2, 1, 1},      // stride = window height
      {1, 1, 4, 4, 4, 4, 1, 1, 0, 0},      // a global pool
      {3, 5, 7, 5, 7, 5, 1, 1, 0, 0},      // a rectangular global pool: the whole-plane path
      {8, 512, 7, 7, 7, 7, 1, 1, 0, 0},    // ResNet-50's global pool, enough planes for the team
      {2, 3, 10, 11, 3, 3, 3, 3, 1, 1},    // stride 3
      {1, 2, 9, 10, 2, 2, 3, 3, 0, 0},     // stride above the window: columns no window covers
      {4, 16, 57, 57, 3, 3, 2, 2, 1, 1}};  // large enough for the team
  with_threads({1, 3}, [&](int team) {
    for (const PoolShape& s : shapes) {
      const int64_t in = s.n * s.c * s.h * s.w;
      check_pooling(s, random_values(in, 32), s.describe() + " threads " + std::to_string(team));
      // Few distinct values: ties everywhere, so the first-maximum rule decides max backward.
      auto ties = random_values(in, 33, 0.0f, 3.0f);
      for (float& v : ties) v = std::floor(v);
      check_pooling(s, ties, s.describe() + " with ties, threads " + std::to_string(team));
    }
  });
}

// --- Softmax and loss -----------------------------------------------------------------------

TEST(CpuMemoryBound, SoftmaxByHand) {
  // softmax([0, ln 3]) = [1, 3]/4; with scale 2 the same from [0, ln 3 / 2].
  const float ln3 = std::log(3.0f);
  const std::vector<float> x = {0.0f, ln3}, half = {0.0f, ln3 / 2};
  std::vector<float> y(2), y_scaled(2);
  softmax_forward(x.data(), y.data(), 1, 2, 1.0f, 0);
  softmax_forward(half.data(), y_scaled.data(), 1, 2, 2.0f, 0);
  expect_close(y, {0.25, 0.75}, 1e-6, 0, "softmax");
  expect_close(y_scaled, {0.25, 0.75}, 1e-6, 0, "softmax scale 2");
  // Causal over 2 positions: row 0 sees only column 0 (y = [1, 0], whatever x[0][1] is).
  const std::vector<float> rows = {5.0f, 7.0f, 0.0f, ln3};
  std::vector<float> causal(4);
  softmax_forward(rows.data(), causal.data(), 2, 2, 1.0f, 2);
  expect_close(causal, {1, 0, 0.25, 0.75}, 1e-6, 0, "causal softmax");
  // Backward at y = [1/4, 3/4], dy = [1, 0]: Σ dy·y = 1/4, dx = scale·y·(dy − 1/4) = ±scale·3/16.
  const std::vector<float> y_hand = {0.25f, 0.75f}, dy = {1.0f, 0.0f};
  std::vector<float> dx(2);
  softmax_backward(y_hand.data(), dy.data(), dx.data(), 1, 2, 2.0f);
  expect_close(dx, {0.375, -0.375}, 1e-6, 0, "softmax backward");
}

// softmax of scale·x over the first `valid` columns of a row, in double.
std::vector<double> softmax_reference(const float* x, int64_t cols, int64_t valid, double scale) {
  std::vector<double> y = zeros(cols);
  double best = -std::numeric_limits<double>::infinity(), sum = 0.0;
  for (int64_t j = 0; j < valid; ++j) best = std::max(best, scale * x[j]);
  for (int64_t j = 0; j < valid; ++j) sum += std::exp(scale * x[j] - best);
  for (int64_t j = 0; j < valid; ++j) y[size_t(j)] = std::exp(scale * x[j] - best) / sum;
  return y;
}

TEST(CpuMemoryBound, SoftmaxMatchesReference) {
  struct Shape {
    int64_t rows, cols, causal_seq;
    float scale;
  };
  const std::vector<Shape> shapes = {{1, 1, 0, 1.0f},      {7, 1031, 0, 0.125f}, {51, 17, 17, 0.5f},
                                     {1, 100003, 0, 1.0f}, {512, 1000, 0, 1.0f}, {256, 256, 128, 0.0625f}};
  with_threads({1, 3}, [&](int team) {
    for (const Shape& s : shapes) {
      const int64_t total = s.rows * s.cols;
      const auto x = random_values(total, 41, -30.0f, 30.0f), dy = random_values(total, 42);
      std::vector<float> y = nan_filled(total), dx = nan_filled(total);
      softmax_forward(x.data(), y.data(), s.rows, s.cols, s.scale, s.causal_seq);
      softmax_backward(y.data(), dy.data(), dx.data(), s.rows, s.cols, s.scale);
      std::vector<double> y_ref, dx_ref;
      for (int64_t r = 0; r < s.rows; ++r) {
        const int64_t valid = s.causal_seq > 0 ? r % s.causal_seq + 1 : s.cols;
        const auto row = softmax_reference(x.data() + r * s.cols, s.cols, valid, s.scale);
        y_ref.insert(y_ref.end(), row.begin(), row.end());
        // Backward from the kernel's own y, so only the backward's error is judged.
        double dot = 0.0;
        for (int64_t j = 0; j < s.cols; ++j) dot += double(dy[size_t(r * s.cols + j)]) * y[size_t(r * s.cols + j)];
        for (int64_t j = 0; j < s.cols; ++j) {
          const size_t i = size_t(r * s.cols + j);
          dx_ref.push_back(s.scale * y[i] * (dy[i] - dot));
        }
      }
      const std::string what = std::to_string(s.rows) + "x" + std::to_string(s.cols) + " causal " +
                               std::to_string(s.causal_seq) + " threads " + std::to_string(team);
      expect_close(y, y_ref, 2e-5, 1e-30, "softmax " + what);
      // dy − Σ dy·y cancels when one y is near 1: an fp32 rounding of dy, scaled.
      expect_close(dx, dx_ref, 1e-5, 1e-7 * s.scale, "softmax backward " + what);
    }
  });
}

TEST(CpuMemoryBound, SoftmaxRowInEveryVectorFamily) {
  const int64_t cols = 1031, valid = 1000;
  const auto x = random_values(cols, 43, -80.0f, 80.0f);
  const auto expected = softmax_reference(x.data(), cols, valid, 0.5);
  std::vector<double> scaled;
  for (double v : expected) scaled.push_back(3.0 * v);
  double best = -1e30, sum = 0.0;
  for (float v : x) best = std::max(best, double(v));
  for (float v : x) sum += std::exp(v - best);
  // The backward from a softmax row of 1031 columns (a tail past the last full vector).
  const std::vector<float> y_row(expected.begin(), expected.end());
  const auto dy = random_values(cols, 44);
  double dot = 0.0;
  for (int64_t j = 0; j < cols; ++j) dot += double(dy[size_t(j)]) * y_row[size_t(j)];
  std::vector<double> dx_ref;
  for (int64_t j = 0; j < cols; ++j) dx_ref.push_back(0.5 * y_row[size_t(j)] * (dy[size_t(j)] - dot));
  for (MicroKernel family : vector_families()) {
    const auto& loops = detail::memory_bound_loops(family);
    std::vector<float> y = nan_filled(cols), dx = nan_filled(cols);
    loops.softmax_row(x.data(), y.data(), cols, valid, 0.5f, 3.0f);
    expect_close(y, scaled, 2e-5, 1e-30, "softmax_row " + std::string(to_string(family)));
    EXPECT_NEAR(loops.logsumexp_row(x.data(), cols), best + std::log(sum), 1e-5) << to_string(family);
    loops.softmax_row_backward(y_row.data(), dy.data(), dx.data(), cols, 0.5f);
    expect_close(dx, dx_ref, 1e-5, 1e-7 * 0.5, "softmax_row_backward " + std::string(to_string(family)));
  }
}

TEST(CpuMemoryBound, CrossEntropyByHand) {
  // Row 0: logits [0, ln 3], label 1: logsumexp ln 4, loss ln 4 − ln 3 = ln(4/3) = 0.287682072.
  // Row 1: logits [0, 0], label 0: loss ln 2 = 0.693147181. Mean 0.490414627.
  // Gradients (softmax − onehot)/2: row 0 ([1/4, 3/4] − [0, 1])/2, row 1 ([1/2, 1/2] − [1, 0])/2.
  const std::vector<float> logits = {0.0f, std::log(3.0f), 0.0f, 0.0f};
  const std::vector<int32_t> labels = {1, 0};
  std::vector<float> loss(1), grad(4);
  cross_entropy_forward(logits.data(), labels.data(), loss.data(), 2, 2);
  cross_entropy_backward(logits.data(), labels.data(), grad.data(), 2, 2);
  expect_close(loss, {0.490414627}, 1e-6, 0, "cross-entropy");
  expect_close(grad, {0.125, -0.125, -0.25, 0.25}, 1e-6, 0, "cross-entropy backward");
}

TEST(CpuMemoryBound, CrossEntropyMatchesReference) {
  with_threads({1, 3}, [](int team) {
    for (auto [rows, classes] : {std::pair<int64_t, int64_t>{1, 1}, {37, 1009}, {256, 32003}}) {
      auto logits = random_values(rows * classes, 51, -20.0f, 20.0f);
      logits[0] = 80.0f;  // e^80 overflows fp32: the kernel must shift by the row maximum
      const auto labels = random_indices(rows, int32_t(classes), 52);
      std::vector<float> loss = nan_filled(1), grad = nan_filled(rows * classes);
      cross_entropy_forward(logits.data(), labels.data(), loss.data(), rows, classes);
      cross_entropy_backward(logits.data(), labels.data(), grad.data(), rows, classes);
      double total = 0.0;
      std::vector<double> grad_ref;
      for (int64_t r = 0; r < rows; ++r) {
        const float* row = logits.data() + r * classes;
        double best = -1e30, sum = 0.0;
        for (int64_t j = 0; j < classes; ++j) best = std::max(best, double(row[j]));
        for (int64_t j = 0; j < classes; ++j) sum += std::exp(row[j] - best);
        total += best + std::log(sum) - row[labels[size_t(r)]];
        for (int64_t j = 0; j < classes; ++j) {
          grad_ref.push_back((std::exp(row[j] - best) / sum - (j == labels[size_t(r)] ? 1.0 : 0.0)) / double(rows));
        }
      }
      const std::string what = std::to_string(rows) + "x" + std::to_string(classes) + " threads " + std::to_string(team);
      expect_close(loss, {total / double(rows)}, 1e-5, 1e-6, "cross-entropy " + what);
      expect_close(grad, grad_ref, 2e-5, 1e-12, "cross-entropy backward " + what);
    }
  });
}

// --- Embedding ------------------------------------------------------------------------------

TEST(CpuMemoryBound, EmbeddingByHand) {
  // Table rows [1, 2], [3, 4], [5, 6]; tokens 2, 0, 2. Backward: row 0 gets the second token's
  // gradient, row 1 none, row 2 the first and third summed.
  const std::vector<float> table = {1, 2, 3, 4, 5, 6}, dy = {1, 1, 10, 10, 100, 100};
  const std::vector<int32_t> indices = {2, 0, 2};
  std::vector<float> y(6), dtable = nan_filled(6);
  embedding_forward(table.data(), indices.data(), y.data(), 3, 2);
  embedding_backward(dy.data(), indices.data(), dtable.data(), 3, 3, 2);
  EXPECT_EQ(y, (std::vector<float>{5, 6, 1, 2, 5, 6}));
  EXPECT_EQ(dtable, (std::vector<float>{10, 10, 0, 0, 101, 101}));
}

TEST(CpuMemoryBound, EmbeddingMatchesReference) {
  struct Shape {
    int64_t tokens, vocab, dim;
  };
  // Far more tokens than rows (every row repeated), a width of one, and one large enough for the team.
  with_threads({1, 3}, [](int team) {
    for (const Shape& s : {Shape{1000, 37, 67}, Shape{500, 7, 1}, Shape{4096, 50, 771}, Shape{1, 1, 1}}) {
      const auto table = random_values(s.vocab * s.dim, 61), dy = random_values(s.tokens * s.dim, 62);
      const auto indices = random_indices(s.tokens, int32_t(s.vocab), 63);
      std::vector<float> y = nan_filled(s.tokens * s.dim), dtable = nan_filled(s.vocab * s.dim);
      embedding_forward(table.data(), indices.data(), y.data(), s.tokens, s.dim);
      embedding_backward(dy.data(), indices.data(), dtable.data(), s.tokens, s.vocab, s.dim);
      std::vector<double> y_ref, dtable_ref(size_t(s.vocab * s.dim), 0.0);
      for (int64_t t = 0; t < s.tokens; ++t) {
        for (int64_t j = 0; j < s.dim; ++j) {
          y_ref.push_back(table[size_t(indices[size_t(t)] * s.dim + j)]);
          dtable_ref[size_t(indices[size_t(t)] * s.dim + j)] += dy[size_t(t * s.dim + j)];
        }
      }
      const std::string what = std::to_string(s.tokens) + " tokens, vocab " + std::to_string(s.vocab) + " dim " +
                               std::to_string(s.dim) + " threads " + std::to_string(team);
      expect_close(y, y_ref, 0, 0, "embedding " + what);
      expect_close(dtable, dtable_ref, 1e-5, 1e-5, "embedding backward " + what);
    }
  });
}

// --- Optimizers -----------------------------------------------------------------------------

TEST(CpuMemoryBound, OptimizersByHand) {
  // SGD: g' = 0.5 + 0.1·1 = 0.6, v = 0.9·2 + 0.6 = 2.4, w = 1 − 0.1·2.4 = 0.76.
  std::vector<float> w = {1.0f}, v = {2.0f};
  const std::vector<float> g = {0.5f};
  sgd_momentum_update(w.data(), g.data(), v.data(), 1, 0.1f, 0.9f, 0.1f);
  expect_close(v, {2.4}, 1e-6, 0, "sgd v");
  expect_close(w, {0.76}, 1e-6, 0, "sgd w");
  // AdamW, step 1, β1 = 0.5, β2 = 0.75 (exact in binary), g = 2: m = 1, v = 0.25·4 = 1,
  // mhat = 1/0.5 = 2, vhat = 1/0.25 = 4, w = 1 − 0.1·(2/√4 + 0.01·1) = 0.899.
  std::vector<float> aw = {1.0f}, am = {0.0f}, av = {0.0f};
  const std::vector<float> ag = {2.0f};
  adamw_update(aw.data(), ag.data(), am.data(), av.data(), 1, 0.1f, 0.5f, 0.75f, 0.0f, 0.01f, 1);
  expect_close(am, {1.0}, 0, 0, "adamw m");
  expect_close(av, {1.0}, 0, 0, "adamw v");
  expect_close(aw, {0.899}, 1e-6, 0, "adamw w");
}

void check_adamw(void (*update)(float*, const float*, float*, float*, int64_t, float, float, float, float, float,
                                float, float),
                 int64_t n, const std::string& what) {
  const float lr = 1e-3f, beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f, wd = 0.01f;
  const int64_t step = 3;
  const auto g = random_values(n, 71);
  auto w = random_values(n, 72), m = random_values(n, 73, -0.1f, 0.1f), v = random_values(n, 74, 0.0f, 0.01f);
  std::vector<double> w_ref = zeros(n), m_ref = zeros(n), v_ref = zeros(n);
  const double bias1 = 1.0 - std::pow(double(beta1), double(step)), bias2 = 1.0 - std::pow(double(beta2), double(step));
  for (size_t i = 0; i < size_t(n); ++i) {
    m_ref[i] = beta1 * double(m[i]) + (1.0 - beta1) * g[i];
    v_ref[i] = beta2 * double(v[i]) + (1.0 - beta2) * double(g[i]) * g[i];
    w_ref[i] = w[i] - lr * ((m_ref[i] / bias1) / (std::sqrt(v_ref[i] / bias2) + eps) + wd * double(w[i]));
  }
  if (update != nullptr) {
    update(w.data(), g.data(), m.data(), v.data(), n, lr, beta1, beta2, eps, wd, float(bias1), float(bias2));
  } else {
    adamw_update(w.data(), g.data(), m.data(), v.data(), n, lr, beta1, beta2, eps, wd, step);
  }
  // m and w cancel terms of size 0.1 and 1: their rounding is absolute.
  expect_close(m, m_ref, 1e-6, 1e-8, "adamw m " + what);
  expect_close(v, v_ref, 1e-6, 0, "adamw v " + what);
  expect_close(w, w_ref, 1e-6, 1e-7, "adamw w " + what);
}

TEST(CpuMemoryBound, OptimizersMatchReference) {
  with_threads({1, 3}, [](int team) {
    for (int64_t n : {1, 1031, 200003}) {
      const std::string what = "n " + std::to_string(n) + " threads " + std::to_string(team);
      const float lr = 0.01f, momentum = 0.9f, wd = 1e-4f;
      const auto g = random_values(n, 75);
      auto w = random_values(n, 76), v = random_values(n, 77);
      std::vector<double> w_ref = zeros(n), v_ref = zeros(n);
      for (size_t i = 0; i < size_t(n); ++i) {
        v_ref[i] = momentum * double(v[i]) + (g[i] + wd * double(w[i]));
        w_ref[i] = w[i] - lr * v_ref[i];
      }
      sgd_momentum_update(w.data(), g.data(), v.data(), n, lr, momentum, wd);
      expect_close(v, v_ref, 1e-6, 1e-7, "sgd v " + what);
      expect_close(w, w_ref, 1e-6, 1e-7, "sgd w " + what);
      check_adamw(nullptr, n, what);
    }
  });
  for (MicroKernel family : vector_families()) {
    check_adamw(detail::memory_bound_loops(family).adamw, 1031, std::string(to_string(family)));
  }
}

// Each pass of an optimizer chain by hand, in place where the frameworks' ops are, on 1 and 3
// threads and past one block of the pass's split.
TEST(CpuMemoryBound, UpdateChainPassesByHand) {
  struct Case {
    ChainOp op;
    float want;  // for a = 4, b = 2, c = 0.5, k = 0.25
  };
  const Case cases[] = {{ChainOp::scale, 1.0f},  {ChainOp::add_scalar, 4.25f}, {ChainOp::square, 16.0f},
                        {ChainOp::sqrt, 2.0f},   {ChainOp::add, 6.0f},         {ChainOp::sub, 2.0f},
                        {ChainOp::div, 2.0f},    {ChainOp::axpy, 4.5f},        {ChainOp::addcmul, 5.0f},
                        {ChainOp::addcdiv, 5.0f}};
  with_threads({1, 3}, [&](int team) {
    for (int64_t n : {1, 37, 100003}) {
      for (const Case& c : cases) {
        std::vector<float> a(size_t(n), 4.0f), b(size_t(n), 2.0f), cs(size_t(n), 0.5f), out(size_t(n), -1.0f);
        update_chain_pass(c.op, 0.25f, out.data(), a.data(), b.data(), cs.data(), n);
        expect_close(out, std::vector<double>(size_t(n), c.want), 0, 0,
                     "op " + std::to_string(int(c.op)) + " n " + std::to_string(n) + " threads " + std::to_string(team));
        update_chain_pass(c.op, 0.25f, a.data(), a.data(), b.data(), cs.data(), n);  // out = a: in place
        expect_close(a, std::vector<double>(size_t(n), c.want), 0, 0, "in place op " + std::to_string(int(c.op)));
      }
    }
  });
}

TEST(CpuMemoryBound, VectorLoopsOnlyForFp32FamiliesThisCpuRuns) {
  EXPECT_THROW(detail::memory_bound_loops(MicroKernel::avx512_bf16), std::invalid_argument);
  EXPECT_NO_THROW(detail::memory_bound_loops(MicroKernel::portable));
  for (MicroKernel family : {MicroKernel::avx2, MicroKernel::avx512}) {
    if (!detail::cpu_supports(family)) {
      EXPECT_THROW(detail::memory_bound_loops(family), std::runtime_error);
    }
  }
}

}  // namespace
}  // namespace trainrate::kernels::cpu
