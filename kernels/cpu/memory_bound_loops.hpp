// The bodies of MemoryBoundLoops, written once as plain loops that `#pragma omp simd` vectorises
// at the width of whichever file includes this.
//
// Included only by the memory_bound_loops*.cpp files, each compiled with its own -m flags and each
// instantiating VectorLoops with its own tag type from an anonymous namespace, so no instantiation
// is shared between files of different ISAs. For the same reason these bodies call builtins, not
// std:: function templates (whose out-of-line copies the linker would pick from any one file).
//
// exp and erf are computed here rather than by libm, whose scalar calls would stop vectorisation.
#pragma once

#include <cstdint>

#include "kernels/cpu/memory_bound_internal.hpp"
#include "kernels/cpu/memory_bound_sums.hpp"

namespace trainrate::kernels::cpu::detail {

template <class IsaTag>
struct VectorLoops {
  static float select_max(float a, float b) { return a > b ? a : b; }

  // e^{hi + lo} for hi + lo ≤ 0 and |lo| < 1, within 2e-7 relative down to e^-87 (the smallest
  // normal float is e^-87.3); 0 below that, −inf included. Taking the argument in two parts lets
  // a caller pass more bits than one float holds. Range reduction hi + lo = k·ln2 + r with
  // |r| ≤ ln2/2 (ln2 split in two so k·ln2_hi is exact, and hi − k·ln2_hi too), e^r by its Taylor
  // series to r^6 (truncation below 1.2e-7), and 2^k written straight into the exponent bits.
  static float exp_nonpositive(float hi, float lo = 0.0f) {
    constexpr float log2e = 1.44269504f, ln2_hi = 0.693145752f, ln2_lo = 1.42860677e-6f;
    constexpr float lowest = -87.0f;
    // Adding 1.5·2^23 rounds to an integer that then sits in the low mantissa bits.
    constexpr float round_shift = 12582912.0f;
    const float x = hi + lo;
    const bool underflows = x < lowest;
    hi = underflows ? lowest : hi;
    lo = underflows ? 0.0f : lo;
    const float shifted = (hi + lo) * log2e + round_shift;
    const float k = shifted - round_shift;
    const float r = ((hi - k * ln2_hi) - k * ln2_lo) + lo;
    float p = 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    const int32_t k_int = __builtin_bit_cast(int32_t, shifted) - __builtin_bit_cast(int32_t, round_shift);
    const float two_to_k = __builtin_bit_cast(float, (k_int + 127) << 23);
    return underflows ? 0.0f : p * two_to_k;
  }

  // Φ(x) and φ(x). Φ(−|x|) = erfc(z)/2 with z = |x|/√2, and erfc(z) = t·P(u)·e^{−z²} with
  // t = 1/(1 + z/2) and u = 2.4·t − 1.4 (t over [1/6, 1], z ≤ 10, mapped onto [−1, 1]). P is our
  // degree-9 interpolant of erfc(z)·e^{z²}/t at Chebyshev nodes in u: 3e-7 relative in fp32 over
  // the whole range, so the tail Φ(−|x|) keeps its relative accuracy (no 1 + erf cancellation).
  // e^{−z²} = e^{−x²/2} is then φ(x)·√(2π), so both come from one exp. Its argument reaches −87:
  // rounded to one float it would be off by up to 4e-6 relative, so x² goes in two exact-enough
  // parts: x_top keeps x's top 12 significant bits (x_top² is exact) and x² − x_top² =
  // (x − x_top)(x + x_top) is small.
  static void normal_cdf_pdf(float x, float& cdf, float& pdf) {
    constexpr float inv_sqrt2 = 0.707106781f, inv_sqrt_2pi = 0.398942280f;
    const float z = __builtin_fabsf(x) * inv_sqrt2;
    const float t = 1.0f / (1.0f + 0.5f * z);
    const float u = 2.4f * t - 1.4f;
    float p = 7.103647022e-06f;
    p = p * u - 5.297166717e-05f;
    p = p * u + 3.722103429e-06f;
    p = p * u + 5.847695284e-04f;
    p = p * u - 6.189306732e-04f;
    p = p * u - 6.150094792e-03f;
    p = p * u + 5.962613970e-03f;
    p = p * u + 1.020292789e-01f;
    p = p * u + 3.262225091e-01f;
    p = p * u + 5.720120072e-01f;
    const float x_top = __builtin_bit_cast(float, __builtin_bit_cast(int32_t, x) & int32_t(0xFFFFF000));
    const float gauss = exp_nonpositive(-0.5f * x_top * x_top, -0.5f * (x - x_top) * (x + x_top));
    const float lower_tail = 0.5f * t * p * gauss;  // Φ(−|x|)
    cdf = x >= 0.0f ? 1.0f - lower_tail : lower_tail;
    pdf = gauss * inv_sqrt_2pi;
  }

  static void add(const float* a, const float* b, float* y, int64_t n) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
  }

  static void relu_forward(const float* x, float* y, int64_t n) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
  }

  static void gelu_forward(const float* x, float* y, int64_t n) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) {
      float cdf, pdf;
      normal_cdf_pdf(x[i], cdf, pdf);
      y[i] = x[i] * cdf;
    }
  }

  static void gelu_backward(const float* x, const float* dy, float* dx, int64_t n) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) {
      float cdf, pdf;
      normal_cdf_pdf(x[i], cdf, pdf);
      dx[i] = dy[i] * (cdf + x[i] * pdf);
    }
  }

  // max_j scale·x[j], over Lanes of running maxima (a max reduction clang does not vectorise
  // without fast-math) reduced by halving.
  static float row_max(const float* x, int64_t count, float scale) {
    Lanes lanes = Lanes{} - __builtin_inff();
    int64_t j = 0;
    for (; j + lanes_width <= count; j += lanes_width) {
      const Lanes v = LanesAt{j}(x) * scale;
      lanes = v > lanes ? v : lanes;
    }
    float best = lanes_max(lanes);
    for (; j < count; ++j) best = select_max(best, scale * x[j]);
    return best;
  }

  // Σ_j e^{scale·x[j] − shift}, storing each term in y when y is not null; blocked as in blocked_sum.
  static double exp_sum(const float* x, float* y, int64_t count, float scale, float shift) {
    double total = 0.0;
    for (int64_t begin = 0; begin < count; begin += sum_block) {
      const int64_t end = begin + sum_block < count ? begin + sum_block : count;
      float partial = 0.0f;
      if (y != nullptr) {
#pragma omp simd reduction(+ : partial)
        for (int64_t j = begin; j < end; ++j) {
          const float e = exp_nonpositive(scale * x[j] - shift);
          y[j] = e;
          partial += e;
        }
      } else {
#pragma omp simd reduction(+ : partial)
        for (int64_t j = begin; j < end; ++j) partial += exp_nonpositive(scale * x[j] - shift);
      }
      total += partial;
    }
    return total;
  }

  static void softmax_row(const float* x, float* y, int64_t cols, int64_t valid, float scale, float out_scale) {
    const float shift = row_max(x, valid, scale);
    const float factor = float(out_scale / exp_sum(x, y, valid, scale, shift));
#pragma omp simd
    for (int64_t j = 0; j < valid; ++j) y[j] *= factor;
    for (int64_t j = valid; j < cols; ++j) y[j] = 0.0f;
  }

  static void softmax_row_backward(const float* y, const float* dy, float* dx, int64_t cols, float scale) {
    const float dot = float(blocked_sum(cols, [&](auto at) { return at(dy) * at(y); }));
#pragma omp simd
    for (int64_t j = 0; j < cols; ++j) dx[j] = scale * y[j] * (dy[j] - dot);
  }

  static double logsumexp_row(const float* x, int64_t cols) {
    const float shift = row_max(x, cols, 1.0f);
    return double(shift) + __builtin_log(exp_sum(x, nullptr, cols, 1.0f, shift));
  }

  static void layernorm_row_forward(const float* x, const float* gamma, const float* beta, float* y, int64_t cols,
                                    float eps, float* mean, float* rstd) {
    // Both moments in one pass over the row, of d = x − x[0]: shifted by a value of the row, the
    // sum of squares does not cancel the way Σx² − n·mean² does when the mean is far from zero.
    // The sums are accurate in double; dividing and taking the root in float is as accurate as the
    // float results need and shortens the latency between a row's passes.
    const float shift = x[0];
    const SumPair sums = blocked_sums(
        cols, [&](auto at) { return at(x) - shift; },
        [&](auto at) {
          const auto d = at(x) - shift;
          return d * d;
        });
    const double mean_d = sums.first / double(cols);
    const float mu = float(double(shift) + mean_d);
    const float variance = float(sums.second / double(cols) - mean_d * mean_d);
    const float inv = 1.0f / __builtin_sqrtf((variance > 0.0f ? variance : 0.0f) + eps);
#pragma omp simd
    for (int64_t j = 0; j < cols; ++j) y[j] = (x[j] - mu) * inv * gamma[j] + beta[j];
    *mean = mu;
    *rstd = inv;
  }

  static void layernorm_row_backward(const float* x, const float* dy, const float* gamma, float mean, float rstd,
                                     float* dx, float* dgamma_sums, float* dbeta_sums, int64_t cols) {
    const SumPair g_sums = blocked_sums(
        cols, [&](auto at) { return at(gamma) * at(dy); },
        [&](auto at) { return at(gamma) * at(dy) * ((at(x) - mean) * rstd); });
    const float g_mean = float(g_sums.first / double(cols)), g_xhat_mean = float(g_sums.second / double(cols));
#pragma omp simd
    for (int64_t j = 0; j < cols; ++j) {
      const float xhat = (x[j] - mean) * rstd;
      dx[j] = rstd * (gamma[j] * dy[j] - g_mean - xhat * g_xhat_mean);
      dgamma_sums[j] += dy[j] * xhat;
      dbeta_sums[j] += dy[j];
    }
  }

  // y[q] for q in [begin, end), whose window columns are all inside the row. The stride as a
  // constant where it is one (3×3/2 pools, 2×2/2 pools) lets the loads vectorise as shuffles of
  // contiguous vectors rather than gathers.
  template <int64_t ConstStride>
  static void max_over_columns(const float* m, float* y, int64_t begin, int64_t end, int64_t s, int64_t sw,
                               int64_t pw) {
    const int64_t stride = ConstStride > 0 ? ConstStride : sw;
    // One pass per window column, each a plain strided loop (an inner loop over the columns would
    // keep the compiler from vectorising over q).
#pragma omp simd
    for (int64_t q = begin; q < end; ++q) y[q] = m[q * stride - pw];
    for (int64_t ss = 1; ss < s; ++ss) {
      const int64_t shift = ss - pw;
#pragma omp simd
      for (int64_t q = begin; q < end; ++q) y[q] = select_max(m[q * stride + shift], y[q]);
    }
  }

  static void maxpool_row(const float* const* rows, int64_t count, int64_t w, float* m, float* y, int64_t q_count,
                          int64_t s, int64_t sw, int64_t pw, int64_t begin, int64_t end) {
    // From −∞, as every max here is NaN-blind (a NaN never wins a comparison).
    const float* first = rows[0];
#pragma omp simd
    for (int64_t j = 0; j < w; ++j) m[j] = select_max(first[j], -__builtin_inff());
    for (int64_t k = 1; k < count; ++k) {
      const float* row = rows[k];
#pragma omp simd
      for (int64_t j = 0; j < w; ++j) m[j] = select_max(row[j], m[j]);
    }
    // Outputs whose window lies inside the row, and the few at either edge that reach past it.
    if (sw == 2) {
      max_over_columns<2>(m, y, begin, end, s, sw, pw);
    } else if (sw == 1) {
      max_over_columns<1>(m, y, begin, end, s, sw, pw);
    } else {
      max_over_columns<0>(m, y, begin, end, s, sw, pw);
    }
    const auto edge = [&](int64_t q) {
      float v = -__builtin_inff();
      for (int64_t ss = 0; ss < s; ++ss) {
        const int64_t j = q * sw - pw + ss;
        if (j >= 0 && j < w) v = select_max(m[j], v);
      }
      y[q] = v;
    };
    for (int64_t q = 0; q < begin; ++q) edge(q);
    for (int64_t q = end; q < q_count; ++q) edge(q);
  }

  static double sum(const float* x, int64_t n) { return blocked_sum(n, [&](auto at) { return at(x); }); }

  static double squared_deviations(const float* x, int64_t n, float mean) {
    return blocked_sum(n, [&](auto at) {
      const auto d = at(x) - mean;
      return d * d;
    });
  }

  static void scale_shift(const float* x, float* y, int64_t n, float mean, float scale, float shift) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) y[i] = (x[i] - mean) * scale + shift;
  }

  static void adamw(float* w, const float* g, float* m, float* v, int64_t n, float lr, float beta1, float beta2,
                    float eps, float weight_decay, float bias1, float bias2) {
    const float inv_bias1 = 1.0f / bias1, inv_bias2 = 1.0f / bias2;
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) {
      const float mi = beta1 * m[i] + (1.0f - beta1) * g[i];
      const float vi = beta2 * v[i] + (1.0f - beta2) * g[i] * g[i];
      m[i] = mi;
      v[i] = vi;
      w[i] -= lr * ((mi * inv_bias1) / (__builtin_sqrtf(vi * inv_bias2) + eps) + weight_decay * w[i]);
    }
  }

  static const MemoryBoundLoops& table() {
    static const MemoryBoundLoops loops{&add,           &relu_forward,          &gelu_forward,
                                        &gelu_backward, &softmax_row,           &softmax_row_backward,
                                        &logsumexp_row, &layernorm_row_forward, &layernorm_row_backward,
                                        &maxpool_row,   &sum,                   &squared_deviations,
                                        &scale_shift,
                                        &adamw};
    return loops;
  }
};

}  // namespace trainrate::kernels::cpu::detail
