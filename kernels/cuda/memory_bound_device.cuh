// Device helpers shared by the memory-bound kernels (memory_bound_*.cu): storage-type conversion,
// 4-element vector accesses, grid- and row-level loops with a scalar fallback, warp-shuffle row
// reductions, and the host side's launch geometry. Math is fp32 whatever the storage type.
#pragma once

#include "kernels/cuda/common.cuh"

#ifndef __CUDACC_RTC__
#include <cmath>

#include "kernels/cuda/memory_bound.hpp"
#endif

namespace trainrate::cuda_kernels::mb {

// ---------------------------------------------------------------------------------------------
// Storage ↔ fp32.
__device__ __forceinline__ float to_float(float v) { return v; }
__device__ __forceinline__ float to_float(__half v) { return __half2float(v); }
__device__ __forceinline__ float to_float(__nv_bfloat16 v) { return __bfloat162float(v); }

template <typename T>
__device__ __forceinline__ T store_as(float v) {
  if constexpr (sizeof(T) == sizeof(float))
    return v;
  else
    return detail::from_float<T>(v);
}

// Up to kVec consecutive elements in fp32. Width kVec is the vector path (one 16-byte access for
// fp32, one 8-byte access for 16-bit types), width 1 the scalar path for tails and unaligned
// data. The width is a plain int, not a template argument, because NVRTC rejects generic lambdas
// in device code; every call site passes a literal or sits in a loop helper that is inlined with
// one, so each path compiles to straight-line code.
constexpr int kVec = 4;
struct Pack {
  float v[kVec];
};

// Width<N>: a row's thread count as a type, for the host's launch dispatch.
template <int N>
struct Width {
  static constexpr int value = N;
};

// 16-bit storage as raw bits, so kVec elements move as one 8-byte word.
__device__ __forceinline__ float bits_to_float(uint16_t bits, __half) { return __half2float(__ushort_as_half(bits)); }
__device__ __forceinline__ float bits_to_float(uint16_t bits, __nv_bfloat16) {
  return __bfloat162float(__ushort_as_bfloat16(bits));
}
__device__ __forceinline__ uint16_t float_to_bits(float v, __half) { return __half_as_ushort(__float2half_rn(v)); }
__device__ __forceinline__ uint16_t float_to_bits(float v, __nv_bfloat16) {
  return __bfloat16_as_ushort(__float2bfloat16_rn(v));
}

// Width kVec needs p aligned to kVec elements (the launchers check the base pointers and that
// row lengths are multiples of kVec).
template <typename T>
__device__ __forceinline__ Pack load_pack(const T* p, int width) {
  Pack r{};  // lanes past width stay 0 (and g++ -O2 of the host emulation sees none unset)
  if (width == kVec) {
    if constexpr (sizeof(T) == 4) {
      const float4 v = *reinterpret_cast<const float4*>(p);
      r.v[0] = v.x, r.v[1] = v.y, r.v[2] = v.z, r.v[3] = v.w;
    } else {
      const uint2 raw = *reinterpret_cast<const uint2*>(p);
      r.v[0] = bits_to_float(uint16_t(raw.x & 0xffffu), T{}), r.v[1] = bits_to_float(uint16_t(raw.x >> 16), T{});
      r.v[2] = bits_to_float(uint16_t(raw.y & 0xffffu), T{}), r.v[3] = bits_to_float(uint16_t(raw.y >> 16), T{});
    }
  } else {
    r.v[0] = to_float(p[0]);
  }
  return r;
}

template <typename T>
__device__ __forceinline__ void store_pack(T* p, const Pack& r, int width) {
  if (width == kVec) {
    if constexpr (sizeof(T) == 4) {
      *reinterpret_cast<float4*>(p) = make_float4(r.v[0], r.v[1], r.v[2], r.v[3]);
    } else {
      const uint32_t b0 = float_to_bits(r.v[0], T{}), b1 = float_to_bits(r.v[1], T{});
      const uint32_t b2 = float_to_bits(r.v[2], T{}), b3 = float_to_bits(r.v[3], T{});
      *reinterpret_cast<uint2*>(p) = make_uint2(b0 | (b1 << 16), b2 | (b3 << 16));
    }
  } else {
    p[0] = store_as<T>(r.v[0]);
  }
}

// Calls f(i, kVec) for every aligned group of kVec in [0, n) when `vec`, then f(i, 1) for the
// rest, spread over the whole grid (grid-stride, so any n fits any grid).
template <typename F>
__device__ __forceinline__ void for_each_chunk(int64_t n, bool vec, F f) {
  const int64_t first = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  const int64_t vec_end = vec ? n / kVec * kVec : 0;
  for (int64_t i = first * kVec; i < vec_end; i += stride * kVec) f(i, kVec);
  for (int64_t i = vec_end + first; i < n; i += stride) f(i, 1);
}

__device__ __forceinline__ float neg_inf() { return -__int_as_float(0x7f800000); }
__device__ __forceinline__ float quiet_nan() { return __int_as_float(0x7fc00000); }

// ---------------------------------------------------------------------------------------------
// Row kernels: a row belongs to TPR threads (threadIdx.x), blocks are kRowBlockThreads wide, so
// one block holds kRowBlockThreads/TPR rows (threadIdx.y). TPR = 32 reduces with shuffles only;
// TPR > 32 means one row per block and a shared-memory step across its warps.
constexpr int kRowBlockThreads = 256;

template <int TPR>
struct RowGeometry {
  static_assert(TPR == 32 || TPR == kRowBlockThreads, "a row is one warp or one whole block");
  static constexpr int kRowsPerBlock = kRowBlockThreads / TPR;
  static constexpr int kWarps = TPR / 32;
};

// Calls f(j, width) for the row's columns this thread owns: groups of kVec when `vec` (cols a
// multiple of kVec and the row kVec-element aligned), else one column at a time.
template <int TPR, typename F>
__device__ __forceinline__ void for_each_column(int cols, bool vec, F f) {
  if (vec) {
    for (int j = int(threadIdx.x) * kVec; j < cols; j += TPR * kVec) f(j, kVec);
  } else {
    for (int j = int(threadIdx.x); j < cols; j += TPR) f(j, 1);
  }
}

__device__ __forceinline__ float shfl_xor(float v, int mask) { return __shfl_xor_sync(0xffffffffu, v, mask); }
__device__ __forceinline__ float2 shfl_xor(float2 v, int mask) {
  return make_float2(__shfl_xor_sync(0xffffffffu, v.x, mask), __shfl_xor_sync(0xffffffffu, v.y, mask));
}

struct Sum {
  __device__ float operator()(float a, float b) const { return a + b; }
  __device__ float2 operator()(float2 a, float2 b) const { return make_float2(a.x + b.x, a.y + b.y); }
};

// Running (max, Σ exp(v − max)) for one-pass softmax: merging two keeps the larger max and
// rescales the other sum; an empty side (max = −inf) contributes nothing.
struct MaxExpSum {
  __device__ float2 operator()(float2 a, float2 b) const {
    const float m = fmaxf(a.x, b.x);
    if (m == neg_inf()) return a;
    return make_float2(m, a.y * expf(a.x - m) + b.y * expf(b.x - m));
  }
};
// Adds one value; −inf values (masked inputs) add nothing, even before any finite value.
__device__ __forceinline__ float2 max_exp_sum_add(float2 acc, float v) {
  if (v > acc.x) return make_float2(v, acc.y * expf(acc.x - v) + 1.f);
  if (acc.x == neg_inf()) return acc;
  return make_float2(acc.x, acc.y + expf(v - acc.x));
}

// Every thread of the row gets the combination of all its threads' values. `scratch` holds
// kWarps values and is only touched when a row spans several warps (then the whole block
// calls this together, as each block holds one row).
template <int TPR, typename V, typename Combine>
__device__ __forceinline__ V row_allreduce(V v, Combine combine, V* scratch) {
#pragma unroll
  for (int mask = 16; mask > 0; mask >>= 1) v = combine(v, shfl_xor(v, mask));
  if constexpr (RowGeometry<TPR>::kWarps > 1) {
    const int warp = int(threadIdx.x) / 32;
    if (threadIdx.x % 32 == 0) scratch[warp] = v;
    __syncthreads();
    v = scratch[0];
#pragma unroll
    for (int w = 1; w < RowGeometry<TPR>::kWarps; ++w) v = combine(v, scratch[w]);
    __syncthreads();  // scratch is reused by the next reduction
  }
  return v;
}

// Sum over a whole block of kRowBlockThreads threads (1-D), valid in thread 0.
template <typename V>
__device__ __forceinline__ V block_sum(V v, V* scratch /* kRowBlockThreads / 32 */) {
  return row_allreduce<kRowBlockThreads>(v, Sum{}, scratch);
}

#ifndef __CUDACC_RTC__
// ---------------------------------------------------------------------------------------------
// Host side: one place for launch geometry and argument checks.
constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = 1 << 20;  // grid-stride loops cover the rest

inline int blocks_for(int64_t items, int threads = kThreads) {
  const int64_t wanted = (items + threads - 1) / threads;
  return int(wanted < 1 ? 1 : wanted < kMaxBlocks ? wanted : kMaxBlocks);
}

// Blocks for a grid-stride loop over n elements handled kVec at a time when `vec`.
inline int elementwise_blocks(int64_t n, bool vec) { return blocks_for(vec ? (n + kVec - 1) / kVec : n); }

inline bool aligned_to(const void* p, size_t bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; }

// All pointers start on a kVec-element boundary, so the vector path may run.
template <typename T, typename... Ptrs>
bool vec_aligned(const Ptrs*... ptrs) {
  return (aligned_to(ptrs, kVec * sizeof(T)) && ...);
}

inline void require(bool ok, const char* what) {
  if (!ok) throw std::invalid_argument(what);
}

inline void require_positive_int(int64_t v, const char* what) { require(v >= 1 && v <= INT_MAX, what); }

// Calls f with a value of the storage type named by dtype (float, __half or __nv_bfloat16).
template <typename F>
void with_storage_type(Dtype dtype, const char* kernel, F f) {
  switch (dtype) {
    case Dtype::fp32:
      return f(float{});
    case Dtype::fp16:
      return f(__half{});
    case Dtype::bf16:
      return f(__nv_bfloat16{});
    default:
      throw std::invalid_argument(std::string(kernel) + " stores fp32, fp16 or bf16 only");
  }
}

// Row kernels: a warp per row up to this many columns, a block per row beyond.
constexpr int64_t kWarpRowMaxCols = 1024;
constexpr int kMaxRowBlocks = 65535;

template <int TPR>
int row_blocks(int64_t rows) {
  const int64_t wanted = (rows + RowGeometry<TPR>::kRowsPerBlock - 1) / RowGeometry<TPR>::kRowsPerBlock;
  return int(wanted < kMaxRowBlocks ? wanted : kMaxRowBlocks);
}
inline dim3 row_block_dim(int tpr) { return dim3(unsigned(tpr), unsigned(kRowBlockThreads / tpr)); }

// Calls launch(Width<TPR>{}): a warp per row for short rows, a block per row for long ones.
template <typename F>
void with_row_threads(int64_t cols, F launch) {
  if (cols <= kWarpRowMaxCols) return launch(Width<32>{});
  return launch(Width<kRowBlockThreads>{});
}
#endif  // __CUDACC_RTC__

}  // namespace trainrate::cuda_kernels::mb
