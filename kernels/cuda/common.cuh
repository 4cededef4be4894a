// Helpers shared by the kernels in this folder: launch geometry, problem checks, the fp32 tile
// loader used by sgemm steps 3-5, the 16-byte chunk loader used by the tensor-core kernels,
// and 16-bit conversions. Device code lives here once so each ladder file shows only its step.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#ifdef __CUDACC_RTC__
// NVRTC (scripts/check-sm70 compiles every kernel here with it for sm_70, which CUDA 13's nvcc
// no longer targets) compiles device code only: it has no C++ standard library and rejects host
// functions. So each file in this folder hides its host launchers, and the host helpers below,
// behind `#ifndef __CUDACC_RTC__`, and under NVRTC names the kernel instantiations those
// launchers would make in a `detail::RtcKernels<&kernel<...>, ...>` alias instead, which makes
// NVRTC compile them. The fixed-width integer types come from libcu++, and the two enums the
// kernels take as template arguments mirror problems/problem.hpp (host C++, which NVRTC cannot read).
#include <cuda/std/cstdint>
namespace trainrate {
enum class Op { N, T };
enum class ConvPass { forward, backward_data, backward_filter };
}  // namespace trainrate
namespace trainrate::cuda_kernels::detail {
template <auto... Kernels>
struct RtcKernels {};
}  // namespace trainrate::cuda_kernels::detail
#else
#include <cuda_runtime.h>

#include <climits>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/cuda/check.hpp"
#include "problems/problem.hpp"
#endif

namespace trainrate::cuda_kernels::detail {

#ifndef __CUDACC_RTC__
constexpr int ceil_div(int64_t a, int64_t b) { return int((a + b - 1) / b); }

// Grid for a GEMM-like problem: x tiles rows (M), y tiles columns (N), z walks the batch
// (kernels loop `for (b = blockIdx.z; b < batch; b += gridDim.z)` so any batch fits).
inline dim3 gemm_grid(int64_t m, int64_t n, int64_t batch, int bm, int bn) {
  const int64_t gx = (m + bm - 1) / bm, gy = (n + bn - 1) / bn;
  if (gx > INT_MAX || gy > 65535)
    throw std::invalid_argument("problem too large for the kernel's grid (" + std::to_string(gx) + " x " +
                                std::to_string(gy) + " tiles)");
  return dim3(unsigned(gx), unsigned(gy), unsigned(batch < 65535 ? batch : 65535));
}

// Kernels index rows/columns/reduction with int and offsets with int64.
inline void check_gemm(const GemmProblem& p) {
  if (p.m < 1 || p.n < 1 || p.k < 1 || p.batch < 1) throw std::invalid_argument("GEMM dimensions must be positive");
  if (p.m > INT_MAX || p.n > INT_MAX || p.k > INT_MAX) throw std::invalid_argument("GEMM dimension exceeds INT_MAX");
}

inline bool aligned16(const void* ptr) { return (reinterpret_cast<uintptr_t>(ptr) & 15u) == 0; }

// After every launch: configuration errors surface here, with the launcher's file and line.
#define TRAINRATE_CHECK_LAUNCH() TRAINRATE_CUDA_CHECK(cudaGetLastError())
#endif  // __CUDACC_RTC__

// ---------------------------------------------------------------------------------------------
// fp32 tile loader (sgemm steps 3-5).
//
// Brings one BK × BMN slice of an operand into shared memory laid out [BK][LDS] with the M (or N)
// index contiguous, which is what the compute loops read as float4. The operand element
// (mn, kk) sits at g[mn + kk·ld] when MN_CONTIGUOUS (A with op N, B with op T), else at
// g[kk + mn·ld]. Loads are float4 along whichever index is contiguous in global memory when
// `vec_ok` (ld % 4 == 0 and a 16-byte aligned base) and the four elements are in range;
// otherwise element by element with zero fill, so any shape is correct.
// fetch() and store() are separate so step 5 can overlap the global loads with compute.
template <int BK, int BMN, int LDS, int THREADS, bool MN_CONTIGUOUS>
struct Fp32TileLoader {
  static constexpr int kVectors = BK * BMN / 4;
  static_assert(BK % 4 == 0 && BMN % 4 == 0, "tile sides must be multiples of 4 for float4 loads");
  static_assert(kVectors % THREADS == 0, "the tile must split into a whole number of float4s per thread");
  static_assert(LDS % 4 == 0 && LDS >= BMN, "shared rows must keep float4 alignment");
  static constexpr int kPerThread = kVectors / THREADS;

  float4 regs[kPerThread];

  __device__ __forceinline__ static void coords(int v, int& mn, int& kk) {
    if constexpr (MN_CONTIGUOUS) {
      kk = v / (BMN / 4);
      mn = (v % (BMN / 4)) * 4;
    } else {
      mn = v / (BK / 4);
      kk = (v % (BK / 4)) * 4;
    }
  }

  // Four consecutive elements g[(c + j) + o·ld], j = 0..3, zero outside [0, c_ext) × [0, o_ext).
  __device__ __forceinline__ static float4 load4(const float* g, int64_t ld, int c, int o, int c_ext, int o_ext,
                                                 bool vec_ok) {
    float4 r = make_float4(0.f, 0.f, 0.f, 0.f);
    if (o >= o_ext) return r;
    const float* p = g + int64_t(o) * ld + c;
    if (vec_ok && c + 3 < c_ext) return __ldg(reinterpret_cast<const float4*>(p));
    if (c + 0 < c_ext) r.x = __ldg(p + 0);
    if (c + 1 < c_ext) r.y = __ldg(p + 1);
    if (c + 2 < c_ext) r.z = __ldg(p + 2);
    if (c + 3 < c_ext) r.w = __ldg(p + 3);
    return r;
  }

  __device__ __forceinline__ void fetch(const float* g, int64_t ld, int mn0, int k0, int mn_ext, int k_ext,
                                        bool vec_ok) {
#pragma unroll
    for (int i = 0; i < kPerThread; ++i) {
      int mn, kk;
      coords(int(threadIdx.x) + i * THREADS, mn, kk);
      if constexpr (MN_CONTIGUOUS)
        regs[i] = load4(g, ld, mn0 + mn, k0 + kk, mn_ext, k_ext, vec_ok);
      else
        regs[i] = load4(g, ld, k0 + kk, mn0 + mn, k_ext, mn_ext, vec_ok);
    }
  }

  __device__ __forceinline__ void store(float* s) const {
#pragma unroll
    for (int i = 0; i < kPerThread; ++i) {
      int mn, kk;
      coords(int(threadIdx.x) + i * THREADS, mn, kk);
      if constexpr (MN_CONTIGUOUS) {
        *reinterpret_cast<float4*>(&s[kk * LDS + mn]) = regs[i];
      } else {  // transpose on the way in: four k values of one row/column
        s[(kk + 0) * LDS + mn] = regs[i].x;
        s[(kk + 1) * LDS + mn] = regs[i].y;
        s[(kk + 2) * LDS + mn] = regs[i].z;
        s[(kk + 3) * LDS + mn] = regs[i].w;
      }
    }
  }
};

// Writes `count` (a multiple of 4) consecutive rows i0.. of column j of a column-major C,
// float4 when aligned and in range, else element by element.
template <int COUNT>
__device__ __forceinline__ void store_column_run(float* c, int64_t ldc, int m, int n, int i0, int j,
                                                 const float* vals, bool vec_ok) {
  static_assert(COUNT % 4 == 0, "runs are stored as float4s");
  if (j >= n) return;
  float* col = c + int64_t(j) * ldc;
#pragma unroll
  for (int q = 0; q < COUNT; q += 4) {
    const int i = i0 + q;
    if (vec_ok && i + 3 < m) {
      *reinterpret_cast<float4*>(col + i) = make_float4(vals[q], vals[q + 1], vals[q + 2], vals[q + 3]);
    } else {
#pragma unroll
      for (int e = 0; e < 4; ++e)
        if (i + e < m) col[i + e] = vals[q + e];
    }
  }
}

// ---------------------------------------------------------------------------------------------
// 16-bit data (fp16 / bf16), handled as raw 16-bit words while moving and converted at the ends.
template <typename T>
__device__ __forceinline__ T from_float(float x);
template <>
__device__ __forceinline__ __half from_float<__half>(float x) { return __float2half_rn(x); }
template <>
__device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float x) { return __float2bfloat16_rn(x); }

// Eight consecutive 16-bit elements g[(c + j) + o·ld], j = 0..7, zero outside the ranges,
// gathered with scalar loads (the path for edge tiles and unaligned leading dimensions).
__device__ __forceinline__ uint4 load8_scalar(const uint16_t* g, int64_t ld, int c, int o, int c_ext, int o_ext) {
  uint16_t v[8];
#pragma unroll
  for (int j = 0; j < 8; ++j) v[j] = 0;
  if (o < o_ext) {
    const uint16_t* p = g + int64_t(o) * ld + c;
#pragma unroll
    for (int j = 0; j < 8; ++j)
      if (c + j < c_ext) v[j] = p[j];
  }
  uint4 r;
  r.x = uint32_t(v[0]) | (uint32_t(v[1]) << 16);
  r.y = uint32_t(v[2]) | (uint32_t(v[3]) << 16);
  r.z = uint32_t(v[4]) | (uint32_t(v[5]) << 16);
  r.w = uint32_t(v[6]) | (uint32_t(v[7]) << 16);
  return r;
}

// The same eight elements, one 16-byte load when aligned and fully in range.
__device__ __forceinline__ uint4 load8(const uint16_t* g, int64_t ld, int c, int o, int c_ext, int o_ext,
                                       bool vec_ok) {
  if (vec_ok && o < o_ext && c + 7 < c_ext)
    return __ldg(reinterpret_cast<const uint4*>(g + int64_t(o) * ld + c));
  return load8_scalar(g, ld, c, o, c_ext, o_ext);
}

}  // namespace trainrate::cuda_kernels::detail
