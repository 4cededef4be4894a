// The memory-bound CUDA kernels (kernels/cuda/memory_bound.hpp) against plain double references.
//
// Only in CUDA builds (binary trainrate_cuda_tests). The GPU tests skip without a usable device,
// with the runtime's reason. On a GPU each launcher runs on odd shapes, on the vector path and (via a pointer one
// element past an aligned one, or a row length not a multiple of 4) the scalar path, for every
// storage type it takes; results must match to 1e-5 (fp32) or 1e-2 (fp16/bf16) of
// |want| + rms(want), so values near zero are judged on the tensor's scale.
// The shape checks and workspace sizes are host code and run without a GPU.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <random>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "kernels/cuda/check.hpp"
#include "kernels/cuda/memory_bound.hpp"

namespace trainrate::cuda_kernels {
namespace {

const std::string& gpu_missing_reason() {
  static const std::string reason = [] {
    int count = 0;
    const cudaError_t status = cudaGetDeviceCount(&count);
    if (status != cudaSuccess) return std::string("no usable CUDA device: ") + cudaGetErrorString(status);
    return count == 0 ? std::string("no CUDA device found") : std::string();
  }();
  return reason;
}

#define REQUIRE_GPU()                                                        \
  do {                                                                       \
    if (!gpu_missing_reason().empty()) GTEST_SKIP() << gpu_missing_reason(); \
  } while (0)

// ---- Storage types on the host ----
template <typename T>
T to_storage(float v) {
  if constexpr (std::is_same_v<T, __half>)
    return __float2half_rn(v);
  else if constexpr (std::is_same_v<T, __nv_bfloat16>)
    return __float2bfloat16_rn(v);
  else
    return v;
}
inline double to_double(float v) { return v; }
inline double to_double(__half v) { return __half2float(v); }
inline double to_double(__nv_bfloat16 v) { return __bfloat162float(v); }

// Host data in storage type T, and the exact values the GPU sees (the references start from these).
template <typename T>
struct Stored {
  std::vector<T> bits;
  std::vector<double> values;
};
template <typename T>
Stored<T> stored(const std::vector<float>& v) {
  Stored<T> s;
  for (float f : v) {
    s.bits.push_back(to_storage<T>(f));
    s.values.push_back(to_double(s.bits.back()));
  }
  return s;
}

std::vector<float> uniform(size_t n, float lo, float hi, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}

std::vector<double> as_double(const std::vector<float>& v) { return {v.begin(), v.end()}; }

// Calls f(T{}, dtype, tolerance) for each storage type a launcher takes.
template <typename F>
void for_each_storage(F f) {
  f(float{}, Dtype::fp32, 1e-5);
  f(__half{}, Dtype::fp16, 1e-2);
  f(__nv_bfloat16{}, Dtype::bf16, 1e-2);
}

// ---- Device memory ----
// A device copy of `host` starting `offset` elements into its allocation (offset 1 misaligns
// 4-element vectors and sends the kernels down their scalar path).
template <typename T>
class DeviceArray {
 public:
  explicit DeviceArray(size_t count, size_t offset = 0) : count_(count), offset_(offset) {
    void* base = nullptr;
    TRAINRATE_CUDA_CHECK(cudaMalloc(&base, (count + offset + 1) * sizeof(T)));
    base_ = static_cast<T*>(base);
  }
  explicit DeviceArray(const std::vector<T>& host, size_t offset = 0) : DeviceArray(host.size(), offset) {
    TRAINRATE_CUDA_CHECK(cudaMemcpy(get(), host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice));
  }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  ~DeviceArray() { cudaFree(base_); }

  T* get() const { return base_ + offset_; }
  // Waits for the launches before it, so asynchronous kernel errors surface here.
  std::vector<T> download() const {
    TRAINRATE_CUDA_CHECK(cudaDeviceSynchronize());
    std::vector<T> host(count_);
    TRAINRATE_CUDA_CHECK(cudaMemcpy(host.data(), get(), count_ * sizeof(T), cudaMemcpyDeviceToHost));
    return host;
  }

 private:
  size_t count_, offset_;
  T* base_ = nullptr;
};

// ---- Comparison ----
template <typename T>
void expect_close(const std::vector<T>& got, const std::vector<double>& want, double tolerance,
                  const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  double sum_sq = 0;
  for (double w : want) sum_sq += w * w;
  const double rms = want.empty() ? 0.0 : std::sqrt(sum_sq / double(want.size()));
  size_t wrong = 0, first = 0;
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double error = std::abs(to_double(got[i]) - want[i]);
    if (!(error <= tolerance * (std::abs(want[i]) + rms))) {
      if (wrong++ == 0) first = i;
      worst = std::max(worst, error);
    }
  }
  EXPECT_EQ(wrong, 0u) << what << ": " << wrong << " of " << got.size() << " wrong, worst error " << worst
                       << "; first at " << first << ": got " << (wrong ? to_double(got[first]) : 0.0) << ", want "
                       << (wrong ? want[first] : 0.0);
}

std::string label(const char* kernel, Dtype dtype, size_t offset) {
  return std::string(kernel) + " " + std::string(to_string(dtype)) + (offset ? " (misaligned)" : "");
}

// ---- Elementwise ----
double gelu_ref(double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); }
double gelu_grad_ref(double x) {
  const double cdf = 0.5 * (1.0 + std::erf(x / std::sqrt(2.0)));
  const double pdf = std::exp(-0.5 * x * x) / std::sqrt(2.0 * std::numbers::pi);
  return cdf + x * pdf;
}

TEST(CudaMemoryBound, ActivationsAndAddEveryStorageType) {
  REQUIRE_GPU();
  for_each_storage([](auto tag, Dtype dtype, double tol) {
    using T = decltype(tag);
    for (size_t n : {size_t(1), size_t(3), size_t(1027)})
      for (size_t offset : {size_t(0), size_t(1)}) {
        const Stored<T> x = stored<T>(uniform(n, -3.f, 3.f, uint32_t(n))), dy = stored<T>(uniform(n, -2.f, 2.f, 7));
        const DeviceArray<T> dx_in(x.bits, offset), ddy(dy.bits, offset);
        DeviceArray<T> out(n, offset);
        std::vector<double> want(n);

        relu_forward(dtype, dx_in.get(), out.get(), int64_t(n), nullptr);
        for (size_t i = 0; i < n; ++i) want[i] = std::max(x.values[i], 0.0);
        expect_close(out.download(), want, tol, label("relu_forward", dtype, offset));

        relu_backward(dtype, dx_in.get(), ddy.get(), out.get(), int64_t(n), nullptr);
        for (size_t i = 0; i < n; ++i) want[i] = x.values[i] > 0 ? dy.values[i] : 0.0;
        expect_close(out.download(), want, tol, label("relu_backward", dtype, offset));

        gelu_forward(dtype, dx_in.get(), out.get(), int64_t(n), nullptr);
        for (size_t i = 0; i < n; ++i) want[i] = gelu_ref(x.values[i]);
        expect_close(out.download(), want, tol, label("gelu_forward", dtype, offset));

        gelu_backward(dtype, dx_in.get(), ddy.get(), out.get(), int64_t(n), nullptr);
        for (size_t i = 0; i < n; ++i) want[i] = dy.values[i] * gelu_grad_ref(x.values[i]);
        expect_close(out.download(), want, tol, label("gelu_backward", dtype, offset));

        add(dtype, dx_in.get(), ddy.get(), out.get(), int64_t(n), nullptr);
        for (size_t i = 0; i < n; ++i) want[i] = x.values[i] + dy.values[i];
        expect_close(out.download(), want, tol, label("add", dtype, offset));
      }
  });
}

TEST(CudaMemoryBound, BiasAddChannelsLast) {
  REQUIRE_GPU();
  for_each_storage([](auto tag, Dtype dtype, double tol) {
    using T = decltype(tag);
    // 7 channels: scalar path; 12: vector path (and scalar again when misaligned).
    for (auto [rows, channels] : {std::pair<size_t, size_t>{5, 7}, {33, 12}, {1, 1}})
      for (size_t offset : {size_t(0), size_t(1)}) {
        const Stored<T> x = stored<T>(uniform(rows * channels, -2.f, 2.f, 3));
        const Stored<T> bias = stored<T>(uniform(channels, -1.f, 1.f, 4));
        const DeviceArray<T> dx(x.bits, offset), db(bias.bits, offset);
        DeviceArray<T> y(rows * channels, offset);
        bias_add(dtype, dx.get(), db.get(), y.get(), int64_t(rows), int64_t(channels), nullptr);
        std::vector<double> want(rows * channels);
        for (size_t i = 0; i < want.size(); ++i) want[i] = x.values[i] + bias.values[i % channels];
        expect_close(y.download(), want, tol, label("bias_add", dtype, offset));
      }
  });
}

// ---- Batch norm ----
struct BnRef {
  std::vector<double> y, mean, inv_std;
};
BnRef batchnorm_forward_ref(const std::vector<double>& x, const std::vector<double>& gamma,
                            const std::vector<double>& beta, size_t n, size_t c, size_t hw, double eps) {
  BnRef r{std::vector<double>(x.size()), std::vector<double>(c), std::vector<double>(c)};
  const double count = double(n * hw);
  for (size_t ch = 0; ch < c; ++ch) {
    double sum = 0, sq = 0;
    for (size_t b = 0; b < n; ++b)
      for (size_t i = 0; i < hw; ++i) sum += x[(b * c + ch) * hw + i];
    const double mean = sum / count;
    for (size_t b = 0; b < n; ++b)
      for (size_t i = 0; i < hw; ++i) sq += std::pow(x[(b * c + ch) * hw + i] - mean, 2);
    r.mean[ch] = mean;
    r.inv_std[ch] = 1.0 / std::sqrt(sq / count + eps);
    for (size_t b = 0; b < n; ++b)
      for (size_t i = 0; i < hw; ++i) {
        const size_t at = (b * c + ch) * hw + i;
        r.y[at] = gamma[ch] * (x[at] - mean) * r.inv_std[ch] + beta[ch];
      }
  }
  return r;
}

struct BnGradRef {
  std::vector<double> dx, dgamma, dbeta;
};
BnGradRef batchnorm_backward_ref(const std::vector<double>& x, const std::vector<double>& dy,
                                 const std::vector<double>& gamma, const std::vector<double>& mean,
                                 const std::vector<double>& inv_std, size_t n, size_t c, size_t hw) {
  BnGradRef r{std::vector<double>(x.size()), std::vector<double>(c), std::vector<double>(c)};
  const double count = double(n * hw);
  for (size_t ch = 0; ch < c; ++ch) {
    for (size_t b = 0; b < n; ++b)
      for (size_t i = 0; i < hw; ++i) {
        const size_t at = (b * c + ch) * hw + i;
        r.dbeta[ch] += dy[at];
        r.dgamma[ch] += dy[at] * (x[at] - mean[ch]) * inv_std[ch];
      }
    for (size_t b = 0; b < n; ++b)
      for (size_t i = 0; i < hw; ++i) {
        const size_t at = (b * c + ch) * hw + i;
        const double xhat = (x[at] - mean[ch]) * inv_std[ch];
        r.dx[at] = gamma[ch] * inv_std[ch] * (dy[at] - r.dbeta[ch] / count - xhat * r.dgamma[ch] / count);
      }
  }
  return r;
}

std::vector<float> as_float(const std::vector<double>& v) { return {v.begin(), v.end()}; }

TEST(CudaMemoryBound, BatchNormForwardAndBackward) {
  REQUIRE_GPU();
  struct Shape {
    size_t n, c, hw;
  };
  // 7×9 maps: scalar path, one slice per channel; 2×3×12288: vector path, several slices each.
  for (Shape s : {Shape{3, 5, 63}, Shape{2, 3, 12288}, Shape{1, 1, 1}})
    for (size_t offset : {size_t(0), size_t(1)}) {
      const size_t total = s.n * s.c * s.hw;
      const std::string what = "batchnorm " + std::to_string(s.n) + "x" + std::to_string(s.c) + "x" +
                               std::to_string(s.hw) + (offset ? " (misaligned)" : "");
      // Mean 10 and std ~1.7: a one-pass Σx² in fp32 would lose the variance to cancellation.
      const std::vector<float> x = uniform(total, 7.f, 13.f, 21), dy = uniform(total, -1.f, 1.f, 22);
      const std::vector<float> gamma = uniform(s.c, 0.5f, 1.5f, 23), beta = uniform(s.c, -1.f, 1.f, 24);
      const float eps = 1e-5f;
      const DeviceArray<float> dx_in(x, offset), ddy(dy, offset), dgamma_in(gamma), dbeta_in(beta);
      DeviceArray<float> y(total, offset), mean(s.c), inv_std(s.c), dx(total, offset), dgamma(s.c), dbeta(s.c);
      DeviceArray<char> workspace(batchnorm_workspace_bytes(int64_t(s.n), int64_t(s.c), int64_t(s.hw)));

      batchnorm_forward_training(dx_in.get(), dgamma_in.get(), dbeta_in.get(), y.get(), mean.get(), inv_std.get(),
                                 int64_t(s.n), int64_t(s.c), int64_t(s.hw), eps, workspace.get(), nullptr);
      const BnRef f = batchnorm_forward_ref(as_double(x), as_double(gamma), as_double(beta), s.n, s.c, s.hw, eps);
      expect_close(y.download(), f.y, 1e-5, what + " y");
      expect_close(mean.download(), f.mean, 1e-5, what + " mean");
      expect_close(inv_std.download(), f.inv_std, 1e-5, what + " inv_std");

      // Backward from the reference statistics as stored in fp32, so it is judged on its own.
      const std::vector<float> mean_f = as_float(f.mean), inv_std_f = as_float(f.inv_std);
      const DeviceArray<float> saved_mean(mean_f), saved_inv_std(inv_std_f);
      batchnorm_backward(dx_in.get(), ddy.get(), dgamma_in.get(), saved_mean.get(), saved_inv_std.get(), dx.get(),
                         dgamma.get(), dbeta.get(), int64_t(s.n), int64_t(s.c), int64_t(s.hw), workspace.get(),
                         nullptr);
      const BnGradRef b = batchnorm_backward_ref(as_double(x), as_double(dy), as_double(gamma), as_double(mean_f),
                                                 as_double(inv_std_f), s.n, s.c, s.hw);
      expect_close(dx.download(), b.dx, 1e-5, what + " dx");
      expect_close(dgamma.download(), b.dgamma, 1e-5, what + " dgamma");
      expect_close(dbeta.download(), b.dbeta, 1e-5, what + " dbeta");
    }
}

// ---- Layer norm ----
TEST(CudaMemoryBound, LayerNormForwardAndBackwardEveryStorageType) {
  REQUIRE_GPU();
  for_each_storage([](auto tag, Dtype dtype, double tol) {
    using T = decltype(tag);
    // 37 columns: a warp per row, scalar; 1500: a block per row, vector; 130 rows: several row
    // slices for dgamma/dbeta.
    for (auto [rows, cols] : {std::pair<size_t, size_t>{7, 37}, {5, 1500}, {130, 64}})
      for (size_t offset : {size_t(0), size_t(1)}) {
        const std::string what =
            label("layernorm", dtype, offset) + " " + std::to_string(rows) + "x" + std::to_string(cols);
        const Stored<T> x = stored<T>(uniform(rows * cols, 2.f, 6.f, 31)),
                        dy = stored<T>(uniform(rows * cols, -1.f, 1.f, 32));
        const std::vector<float> gamma = uniform(cols, 0.5f, 1.5f, 33), beta = uniform(cols, -1.f, 1.f, 34);
        const float eps = 1e-5f;
        const DeviceArray<T> dx_in(x.bits, offset), ddy(dy.bits, offset);
        const DeviceArray<float> dgamma_in(gamma), dbeta_in(beta);
        DeviceArray<T> y(rows * cols, offset), dx(rows * cols, offset);
        DeviceArray<float> mean(rows), rstd(rows), dgamma(cols), dbeta(cols);
        DeviceArray<char> workspace(layernorm_backward_workspace_bytes(int64_t(rows), int64_t(cols)));

        layernorm_forward(dtype, dx_in.get(), dgamma_in.get(), dbeta_in.get(), y.get(), mean.get(), rstd.get(),
                          int64_t(rows), int64_t(cols), eps, nullptr);
        std::vector<double> want_y(rows * cols), want_mean(rows), want_rstd(rows);
        for (size_t r = 0; r < rows; ++r) {
          double sum = 0, sq = 0;
          for (size_t j = 0; j < cols; ++j) sum += x.values[r * cols + j];
          want_mean[r] = sum / double(cols);
          for (size_t j = 0; j < cols; ++j) sq += std::pow(x.values[r * cols + j] - want_mean[r], 2);
          want_rstd[r] = 1.0 / std::sqrt(sq / double(cols) + eps);
          for (size_t j = 0; j < cols; ++j)
            want_y[r * cols + j] = (x.values[r * cols + j] - want_mean[r]) * want_rstd[r] * gamma[j] + beta[j];
        }
        expect_close(y.download(), want_y, tol, what + " y");
        // The statistics are fp32 math on the same stored inputs whatever the storage type.
        expect_close(mean.download(), want_mean, 1e-5, what + " mean");
        expect_close(rstd.download(), want_rstd, 1e-5, what + " rstd");

        const std::vector<float> mean_f = as_float(want_mean), rstd_f = as_float(want_rstd);
        const DeviceArray<float> saved_mean(mean_f), saved_rstd(rstd_f);
        layernorm_backward(dtype, dx_in.get(), ddy.get(), dgamma_in.get(), saved_mean.get(), saved_rstd.get(), dx.get(),
                           dgamma.get(), dbeta.get(), int64_t(rows), int64_t(cols), workspace.get(), nullptr);
        std::vector<double> want_dx(rows * cols), want_dgamma(cols), want_dbeta(cols);
        for (size_t r = 0; r < rows; ++r) {
          double g_sum = 0, gx_sum = 0;
          for (size_t j = 0; j < cols; ++j) {
            const double xhat = (x.values[r * cols + j] - mean_f[r]) * rstd_f[r];
            const double g = dy.values[r * cols + j] * gamma[j];
            g_sum += g, gx_sum += g * xhat;
            want_dgamma[j] += dy.values[r * cols + j] * xhat;
            want_dbeta[j] += dy.values[r * cols + j];
          }
          for (size_t j = 0; j < cols; ++j) {
            const double xhat = (x.values[r * cols + j] - mean_f[r]) * rstd_f[r];
            want_dx[r * cols + j] =
                rstd_f[r] * (dy.values[r * cols + j] * gamma[j] - g_sum / double(cols) - xhat * gx_sum / double(cols));
          }
        }
        expect_close(dx.download(), want_dx, tol, what + " dx");
        expect_close(dgamma.download(), want_dgamma, 1e-5, what + " dgamma");
        expect_close(dbeta.download(), want_dbeta, 1e-5, what + " dbeta");
      }
  });
}

// ---- Pooling ----
// Double references; ties are common in the test data (few distinct values), so the first
// maximum rule is exercised.
std::vector<double> pool_forward_ref(const PoolShape& s, const std::vector<double>& x, bool max) {
  const int64_t P = s.p(), Q = s.q();
  std::vector<double> y(size_t(s.n * s.c * P * Q));
  for (int64_t plane = 0; plane < s.n * s.c; ++plane)
    for (int64_t p = 0; p < P; ++p)
      for (int64_t q = 0; q < Q; ++q) {
        double acc = max ? -INFINITY : 0.0;
        for (int64_t r = 0; r < s.r; ++r)
          for (int64_t t = 0; t < s.s; ++t) {
            const int64_t h = p * s.stride_h - s.pad_h + r, w = q * s.stride_w - s.pad_w + t;
            if (h < 0 || h >= s.h || w < 0 || w >= s.w) continue;
            const double v = x[size_t((plane * s.h + h) * s.w + w)];
            acc = max ? std::max(acc, v) : acc + v;
          }
        y[size_t((plane * P + p) * Q + q)] = max ? acc : acc / double(s.r * s.s);
      }
  return y;
}

std::vector<double> pool_backward_ref(const PoolShape& s, const std::vector<double>& x, const std::vector<double>& dy,
                                      bool max) {
  const int64_t P = s.p(), Q = s.q();
  std::vector<double> dx(size_t(s.n * s.c * s.h * s.w), 0.0);
  for (int64_t plane = 0; plane < s.n * s.c; ++plane)
    for (int64_t p = 0; p < P; ++p)
      for (int64_t q = 0; q < Q; ++q) {
        const double g = dy[size_t((plane * P + p) * Q + q)];
        double best = -INFINITY;
        int64_t best_at = -1;
        for (int64_t r = 0; r < s.r; ++r)
          for (int64_t t = 0; t < s.s; ++t) {
            const int64_t h = p * s.stride_h - s.pad_h + r, w = q * s.stride_w - s.pad_w + t;
            if (h < 0 || h >= s.h || w < 0 || w >= s.w) continue;
            const int64_t at = (plane * s.h + h) * s.w + w;
            if (!max) dx[size_t(at)] += g / double(s.r * s.s);
            if (x[size_t(at)] > best) best = x[size_t(at)], best_at = at;
          }
        if (max && best_at >= 0) dx[size_t(best_at)] += g;
      }
  return dx;
}

TEST(CudaMemoryBound, PoolingForwardAndBackward) {
  REQUIRE_GPU();
  // n, c, h, w, r, s, stride h/w, pad h/w.
  const PoolShape shapes[] = {
      {2, 3, 9, 11, 3, 3, 2, 2, 1, 1},  // overlapping windows (atomics), padding
      {2, 3, 9, 11, 2, 2, 2, 2, 0, 0},  // disjoint windows, last row and column dropped
      {1, 2, 7, 8, 3, 2, 1, 3, 1, 0},   // asymmetric window, stride and padding
      {1, 1, 1, 1, 1, 1, 1, 1, 0, 0},
  };
  for (const PoolShape& s : shapes) {
    const std::string what = "pool " + std::to_string(s.h) + "x" + std::to_string(s.w) + " window " +
                             std::to_string(s.r) + "x" + std::to_string(s.s);
    const size_t in = size_t(s.n * s.c * s.h * s.w), out = size_t(s.n * s.c * s.p() * s.q());
    std::vector<float> x = uniform(in, 0.f, 4.f, 41);
    for (float& v : x) v = std::floor(v);  // four distinct values: ties in most windows
    const std::vector<float> dy = uniform(out, -1.f, 1.f, 42);
    const DeviceArray<float> dx_in(x), ddy(dy);
    DeviceArray<float> y(out), dx(in);

    maxpool_forward(s, dx_in.get(), y.get(), nullptr);
    expect_close(y.download(), pool_forward_ref(s, as_double(x), true), 1e-5, what + " maxpool_forward");
    maxpool_backward(s, dx_in.get(), ddy.get(), dx.get(), nullptr);
    expect_close(dx.download(), pool_backward_ref(s, as_double(x), as_double(dy), true), 1e-5,
                 what + " maxpool_backward");
    avgpool_forward(s, dx_in.get(), y.get(), nullptr);
    expect_close(y.download(), pool_forward_ref(s, as_double(x), false), 1e-5, what + " avgpool_forward");
    avgpool_backward(s, ddy.get(), dx.get(), nullptr);
    expect_close(dx.download(), pool_backward_ref(s, as_double(x), as_double(dy), false), 1e-5,
                 what + " avgpool_backward");
  }
}

// ---- Softmax and cross-entropy ----
std::vector<double> softmax_ref(const std::vector<double>& x, size_t rows, size_t cols, double scale,
                                size_t causal_seq) {
  std::vector<double> y(rows * cols, 0.0);
  for (size_t r = 0; r < rows; ++r) {
    const size_t valid = causal_seq ? std::min(cols, r % causal_seq + 1) : cols;
    double m = -INFINITY, sum = 0;
    for (size_t j = 0; j < valid; ++j) m = std::max(m, scale * x[r * cols + j]);
    for (size_t j = 0; j < valid; ++j) sum += std::exp(scale * x[r * cols + j] - m);
    for (size_t j = 0; j < valid; ++j) y[r * cols + j] = std::exp(scale * x[r * cols + j] - m) / sum;
  }
  return y;
}

TEST(CudaMemoryBound, SoftmaxForwardAndBackwardEveryStorageType) {
  REQUIRE_GPU();
  struct Case {
    size_t rows, cols, causal_seq;
  };
  // A warp per row (37, 5, 6 columns) and a block per row (2052); causal rows with fewer and
  // more positions than columns.
  const Case cases[] = {{6, 37, 0}, {8, 5, 4}, {10, 6, 10}, {3, 2052, 0}, {4, 2052, 4}};
  for_each_storage([&](auto tag, Dtype dtype, double tol) {
    using T = decltype(tag);
    for (const Case& c : cases)
      for (size_t offset : {size_t(0), size_t(1)}) {
        const std::string what = label("softmax", dtype, offset) + " " + std::to_string(c.rows) + "x" +
                                 std::to_string(c.cols) + " causal " + std::to_string(c.causal_seq);
        const double scale = 0.7;
        const size_t n = c.rows * c.cols;
        const Stored<T> x = stored<T>(uniform(n, -4.f, 4.f, 51));
        const DeviceArray<T> dx_in(x.bits, offset);
        DeviceArray<T> y(n, offset);
        softmax_forward(dtype, dx_in.get(), y.get(), int64_t(c.rows), int64_t(c.cols), float(scale),
                        int64_t(c.causal_seq), nullptr);
        expect_close(y.download(), softmax_ref(x.values, c.rows, c.cols, scale, c.causal_seq), tol, what + " forward");

        // Backward from a stored y (the reference softmax rounded to T) and a random dy.
        std::vector<float> y_ref_f;
        for (double v : softmax_ref(x.values, c.rows, c.cols, scale, c.causal_seq)) y_ref_f.push_back(float(v));
        const Stored<T> ys = stored<T>(y_ref_f), dy = stored<T>(uniform(n, -1.f, 1.f, 52));
        const DeviceArray<T> dys(ys.bits, offset), ddy(dy.bits, offset);
        DeviceArray<T> dx(n, offset);
        softmax_backward(dtype, dys.get(), ddy.get(), dx.get(), int64_t(c.rows), int64_t(c.cols), float(scale),
                         nullptr);
        std::vector<double> want(n);
        for (size_t r = 0; r < c.rows; ++r) {
          double dot = 0;
          for (size_t j = 0; j < c.cols; ++j) dot += dy.values[r * c.cols + j] * ys.values[r * c.cols + j];
          for (size_t j = 0; j < c.cols; ++j) {
            const size_t at = r * c.cols + j;
            want[at] = scale * ys.values[at] * (dy.values[at] - dot);
          }
        }
        expect_close(dx.download(), want, tol, what + " backward");
      }
  });
}

TEST(CudaMemoryBound, CrossEntropyForwardAndBackward) {
  REQUIRE_GPU();
  for (auto [rows, classes] : {std::pair<size_t, size_t>{9, 13}, {4, 3000}, {1, 1}})
    for (size_t offset : {size_t(0), size_t(1)}) {
      const std::string what =
          "cross_entropy " + std::to_string(rows) + "x" + std::to_string(classes) + (offset ? " (misaligned)" : "");
      const std::vector<float> logits = uniform(rows * classes, -5.f, 5.f, 61);
      std::vector<int32_t> labels(rows);
      for (size_t r = 0; r < rows; ++r) labels[r] = int32_t((r * 7 + 3) % classes);
      const DeviceArray<float> dlogits_in(logits, offset);
      const DeviceArray<int32_t> dlabels(labels);
      DeviceArray<float> loss(1), dlogits(rows * classes, offset);

      cross_entropy_forward(dlogits_in.get(), dlabels.get(), loss.get(), int64_t(rows), int64_t(classes), nullptr);
      cross_entropy_backward(dlogits_in.get(), dlabels.get(), dlogits.get(), int64_t(rows), int64_t(classes), nullptr);
      double want_loss = 0;
      std::vector<double> want_grad(rows * classes);
      for (size_t r = 0; r < rows; ++r) {
        double m = -INFINITY, sum = 0;
        for (size_t j = 0; j < classes; ++j) m = std::max(m, double(logits[r * classes + j]));
        for (size_t j = 0; j < classes; ++j) sum += std::exp(logits[r * classes + j] - m);
        want_loss += (m + std::log(sum) - logits[r * classes + size_t(labels[r])]) / double(rows);
        for (size_t j = 0; j < classes; ++j)
          want_grad[r * classes + j] =
              (std::exp(logits[r * classes + j] - m) / sum - (int32_t(j) == labels[r] ? 1.0 : 0.0)) / double(rows);
      }
      expect_close(loss.download(), {want_loss}, 1e-5, what + " loss");
      expect_close(dlogits.download(), want_grad, 1e-5, what + " dlogits");
    }
}

// ---- Embedding ----
TEST(CudaMemoryBound, EmbeddingForwardAndBackward) {
  REQUIRE_GPU();
  const size_t tokens = 11, vocab = 7;
  const std::vector<int32_t> indices = {3, 0, 6, 3, 3, 1, 6, 0, 2, 3, 5};  // 4 has no token; 3 has four
  for (size_t dim : {size_t(5), size_t(8)})
    for (size_t offset : {size_t(0), size_t(1)}) {
      const std::string what = "embedding dim " + std::to_string(dim) + (offset ? " (misaligned)" : "");
      const std::vector<float> table = uniform(vocab * dim, -1.f, 1.f, 71), dy = uniform(tokens * dim, -1.f, 1.f, 72);
      const DeviceArray<float> dtable_in(table, offset), ddy(dy, offset);
      const DeviceArray<int32_t> dindices(indices);
      DeviceArray<float> y(tokens * dim, offset), dtable(vocab * dim, offset);

      embedding_forward(dtable_in.get(), dindices.get(), y.get(), int64_t(tokens), int64_t(dim), nullptr);
      std::vector<double> want_y(tokens * dim), want_dtable(vocab * dim, 0.0);
      for (size_t t = 0; t < tokens; ++t)
        for (size_t d = 0; d < dim; ++d) {
          want_y[t * dim + d] = table[size_t(indices[t]) * dim + d];
          want_dtable[size_t(indices[t]) * dim + d] += dy[t * dim + d];
        }
      expect_close(y.download(), want_y, 1e-5, what + " forward");
      embedding_backward(ddy.get(), dindices.get(), dtable.get(), int64_t(tokens), int64_t(vocab), int64_t(dim),
                         nullptr);
      expect_close(dtable.download(), want_dtable, 1e-5, what + " backward");
    }
}

// ---- Optimizers ----
TEST(CudaMemoryBound, SgdMomentumAndAdamWUpdates) {
  REQUIRE_GPU();
  for (size_t n : {size_t(1), size_t(1027)})
    for (size_t offset : {size_t(0), size_t(1)}) {
      const std::string what = "n " + std::to_string(n) + (offset ? " (misaligned)" : "");
      const std::vector<float> w = uniform(n, -1.f, 1.f, 81), g = uniform(n, -1.f, 1.f, 82);
      const std::vector<float> m = uniform(n, -0.1f, 0.1f, 83), v = uniform(n, 0.f, 0.01f, 84);
      const float lr = 0.05f, momentum = 0.9f, wd = 0.01f, beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;
      const int64_t step = 3;

      DeviceArray<float> sw(w, offset), sv(v, offset);
      const DeviceArray<float> dg(g, offset);
      sgd_momentum_update(sw.get(), dg.get(), sv.get(), int64_t(n), lr, momentum, wd, nullptr);
      std::vector<double> want_w(n), want_v(n), want_m(n);
      for (size_t i = 0; i < n; ++i) {
        want_v[i] = double(momentum) * v[i] + (g[i] + double(wd) * w[i]);
        want_w[i] = w[i] - double(lr) * want_v[i];
      }
      expect_close(sw.download(), want_w, 1e-5, what + " sgd w");
      expect_close(sv.download(), want_v, 1e-5, what + " sgd v");

      DeviceArray<float> aw(w, offset), am(m, offset), av(v, offset);
      adamw_update(aw.get(), dg.get(), am.get(), av.get(), int64_t(n), lr, beta1, beta2, eps, wd, step, nullptr);
      for (size_t i = 0; i < n; ++i) {
        want_m[i] = double(beta1) * m[i] + (1.0 - double(beta1)) * g[i];
        want_v[i] = double(beta2) * v[i] + (1.0 - double(beta2)) * double(g[i]) * g[i];
        const double m_hat = want_m[i] / (1.0 - std::pow(double(beta1), double(step)));
        const double v_hat = want_v[i] / (1.0 - std::pow(double(beta2), double(step)));
        want_w[i] = w[i] - double(lr) * (m_hat / (std::sqrt(v_hat) + double(eps)) + double(wd) * w[i]);
      }
      expect_close(aw.download(), want_w, 1e-5, what + " adamw w");
      expect_close(am.download(), want_m, 1e-5, what + " adamw m");
      expect_close(av.download(), want_v, 1e-5, what + " adamw v");
    }
}

// ---- Host-side checks (no GPU needed) ----
// The references the GPU tests trust, on cases small enough to work out by hand.
TEST(CudaMemoryBound, ReferencesMatchHandComputedValues) {
  // x = [1 3 3; 2 0 3], 2×2 windows, stride 1: both windows peak at 3, first at (0,1).
  const std::vector<double> x = {1, 3, 3, 2, 0, 3};
  const PoolShape overlap{1, 1, 2, 3, 2, 2, 1, 1, 0, 0};
  EXPECT_EQ(pool_forward_ref(overlap, x, true), (std::vector<double>{3, 3}));
  EXPECT_EQ(pool_backward_ref(overlap, x, {10, 20}, true), (std::vector<double>{0, 30, 0, 0, 0, 0}));
  // Padding 1, stride 2: 2×2 outputs, every window divided by 4 however much of it is padding.
  const PoolShape padded{1, 1, 2, 3, 2, 2, 2, 2, 1, 1};
  EXPECT_EQ(pool_forward_ref(padded, x, false), (std::vector<double>{0.25, 1.5, 0.5, 0.75}));
  EXPECT_EQ(pool_backward_ref(padded, x, {4, 8, 12, 16}, false), (std::vector<double>{1, 2, 2, 3, 4, 4}));
  // Causal rows of a 2-position sequence: position 0 sees column 0, position 1 columns 0-1.
  EXPECT_EQ(softmax_ref(std::vector<double>(6, 0.0), 2, 3, 1.0, 2), (std::vector<double>{1, 0, 0, 0.5, 0.5, 0}));
  // x = [1, 3]: mean 2, variance 1; gamma 2, beta 1 → y = [−1, 3]. dy = [1, 0] → dbeta 1, dgamma −1,
  // dx = 2·(dy − 1/2 − x̂·(−1)/2) = 2·([1, 0] − 0.5 + [−0.5, 0.5]) = [0, 0].
  const BnRef f = batchnorm_forward_ref({1, 3}, {2}, {1}, 1, 1, 2, 0.0);
  EXPECT_EQ(f.y, (std::vector<double>{-1, 3}));
  EXPECT_EQ(f.mean, (std::vector<double>{2}));
  EXPECT_EQ(f.inv_std, (std::vector<double>{1}));
  const BnGradRef b = batchnorm_backward_ref({1, 3}, {1, 0}, {2}, f.mean, f.inv_std, 1, 1, 2);
  EXPECT_EQ(b.dbeta, (std::vector<double>{1}));
  EXPECT_EQ(b.dgamma, (std::vector<double>{-1}));
  EXPECT_EQ(b.dx, (std::vector<double>{0, 0}));
}

TEST(CudaMemoryBound, WorkspaceSizesFollowTheSplits) {
  // Batch norm: one (Σ, Σ²) float pair per channel and slice of up to 4096 values, at most 256 slices.
  EXPECT_EQ(batchnorm_workspace_bytes(3, 5, 63), 5u * 1 * 8);
  EXPECT_EQ(batchnorm_workspace_bytes(2, 3, 12288), 3u * 6 * 8);  // 24576 values: 6 slices
  EXPECT_EQ(batchnorm_workspace_bytes(256, 64, 3136), 64u * 196 * 8);
  EXPECT_EQ(batchnorm_workspace_bytes(1024, 2, 4096), 2u * 256 * 8);
  // Layer norm backward: one pair per column and slice of 64 rows, at most 128 slices.
  EXPECT_EQ(layernorm_backward_workspace_bytes(130, 64), 3u * 64 * 8);
  EXPECT_EQ(layernorm_backward_workspace_bytes(1, 768), 1u * 768 * 8);
  EXPECT_EQ(layernorm_backward_workspace_bytes(100000, 768), 128u * 768 * 8);
}

TEST(CudaMemoryBound, ShapesTheKernelsCannotIndexAreRejectedBeforeLaunch) {
  EXPECT_THROW(relu_forward(Dtype::tf32, nullptr, nullptr, 4, nullptr), std::invalid_argument);
  EXPECT_THROW(add(Dtype::fp32, nullptr, nullptr, nullptr, -1, nullptr), std::invalid_argument);
  EXPECT_THROW(bias_add(Dtype::fp16, nullptr, nullptr, nullptr, 4, 0, nullptr), std::invalid_argument);
  EXPECT_THROW(batchnorm_workspace_bytes(2, 70000, 4), std::invalid_argument);  // C beyond grid y
  EXPECT_THROW(batchnorm_workspace_bytes(0, 3, 4), std::invalid_argument);
  EXPECT_THROW(layernorm_backward_workspace_bytes(4, int64_t(1) << 31), std::invalid_argument);
  EXPECT_THROW(softmax_forward(Dtype::bf16, nullptr, nullptr, 2, 8, 1.f, -1, nullptr), std::invalid_argument);
  EXPECT_THROW(cross_entropy_backward(nullptr, nullptr, nullptr, 0, 10, nullptr), std::invalid_argument);
  EXPECT_THROW(adamw_update(nullptr, nullptr, nullptr, nullptr, 4, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.f, 0, nullptr),
               std::invalid_argument);
  const PoolShape window_too_big{1, 1, 3, 3, 6, 2, 1, 1, 1, 0};  // 3 + 2·1 < 6
  EXPECT_THROW(maxpool_forward(window_too_big, nullptr, nullptr, nullptr), std::invalid_argument);
  EXPECT_EQ((PoolShape{1, 1, 9, 11, 3, 3, 2, 2, 1, 1}.p()), 5);  // (9 + 2 − 3)/2 + 1
  EXPECT_EQ((PoolShape{1, 1, 9, 11, 3, 3, 2, 2, 1, 1}.q()), 6);  // (11 + 2 − 3)/2 + 1
}

}  // namespace
}  // namespace trainrate::cuda_kernels
