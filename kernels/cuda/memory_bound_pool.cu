// Max and average pooling, NCHW fp32, one thread per output (forward, maxpool backward) or per
// input (avgpool backward).
//
// Maxpool backward recomputes each window's first maximum from x (no index tensor is stored) and
// scatters dy there: with atomics when windows overlap (stride < window), a plain store otherwise.
// Avgpool backward gathers instead, each input summing the outputs whose windows cover it, so it
// needs neither atomics nor a zeroing pass.
#include "kernels/cuda/memory_bound_device.cuh"

namespace trainrate::cuda_kernels {
namespace {

// The pooling shape in the kernels' int form (each extent fits in int; flat offsets are int64).
struct Pool {
  int h, w, r, s, sh, sw, ph, pw, p, q;
};

// Output i = ((nc·P + p)·Q + q): its plane nc and window origin.
struct Window {
  int64_t plane;
  int h0, w0;
};
__device__ __forceinline__ Window window_of(const Pool& g, int64_t i) {
  const int q = int(i % g.q);
  const int64_t t = i / g.q;
  const int p = int(t % g.p);
  return {t / g.p, p * g.sh - g.ph, q * g.sw - g.pw};
}

// Plane-relative offset of the window's first maximum in row-major order, or −1 when every
// position is padding (or −inf); *best gets the maximum (−inf then).
__device__ __forceinline__ int window_argmax(const Pool& g, const float* plane, int h0, int w0, float* best) {
  float m = mb::neg_inf();
  int at = -1;
  for (int rr = 0; rr < g.r; ++rr) {
    const int h = h0 + rr;
    if (h < 0 || h >= g.h) continue;
    for (int ss = 0; ss < g.s; ++ss) {
      const int w = w0 + ss;
      if (w < 0 || w >= g.w) continue;
      const float v = plane[h * g.w + w];
      if (v > m) m = v, at = h * g.w + w;
    }
  }
  *best = m;
  return at;
}

__global__ void maxpool_forward_kernel(Pool g, const float* __restrict__ x, float* __restrict__ y, int64_t outputs) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < outputs; i += int64_t(gridDim.x) * blockDim.x) {
    const Window win = window_of(g, i);
    float best;
    window_argmax(g, x + win.plane * g.h * g.w, win.h0, win.w0, &best);
    y[i] = best;
  }
}

// dx was zeroed.
template <bool kOverlap>
__global__ void maxpool_backward_kernel(Pool g, const float* __restrict__ x, const float* __restrict__ dy,
                                        float* __restrict__ dx, int64_t outputs) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < outputs; i += int64_t(gridDim.x) * blockDim.x) {
    const Window win = window_of(g, i);
    const int64_t base = win.plane * g.h * g.w;
    float best;
    const int at = window_argmax(g, x + base, win.h0, win.w0, &best);
    if (at < 0) continue;
    if constexpr (kOverlap)
      atomicAdd(dx + base + at, dy[i]);
    else
      dx[base + at] = dy[i];
  }
}

__global__ void avgpool_forward_kernel(Pool g, const float* __restrict__ x, float* __restrict__ y, int64_t outputs) {
  const float inv_area = 1.f / float(g.r * g.s);
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < outputs; i += int64_t(gridDim.x) * blockDim.x) {
    const Window win = window_of(g, i);
    const float* plane = x + win.plane * g.h * g.w;
    float sum = 0.f;
    for (int rr = 0; rr < g.r; ++rr) {
      const int h = win.h0 + rr;
      if (h < 0 || h >= g.h) continue;
      for (int ss = 0; ss < g.s; ++ss) {
        const int w = win.w0 + ss;
        if (w >= 0 && w < g.w) sum += plane[h * g.w + w];
      }
    }
    y[i] = sum * inv_area;
  }
}

// Outputs o in [0, extent) whose window o·stride − pad + [0, window) covers input position pos.
__device__ __forceinline__ void covering(int pos, int window, int stride, int pad, int extent, int& lo, int& hi) {
  const int last_start = pos + pad;                // o·stride ≤ pos + pad
  const int first_start = pos + pad - window + 1;  // o·stride ≥ pos + pad − window + 1
  lo = first_start <= 0 ? 0 : (first_start + stride - 1) / stride;
  hi = last_start / stride;
  if (hi > extent - 1) hi = extent - 1;
}

__global__ void avgpool_backward_kernel(Pool g, const float* __restrict__ dy, float* __restrict__ dx, int64_t inputs) {
  const float inv_area = 1.f / float(g.r * g.s);
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < inputs; i += int64_t(gridDim.x) * blockDim.x) {
    const int w = int(i % g.w);
    const int64_t t = i / g.w;
    const int h = int(t % g.h);
    const float* plane = dy + (t / g.h) * g.p * g.q;
    int p_lo, p_hi, q_lo, q_hi;
    covering(h, g.r, g.sh, g.ph, g.p, p_lo, p_hi);
    covering(w, g.s, g.sw, g.pw, g.q, q_lo, q_hi);
    float sum = 0.f;
    for (int p = p_lo; p <= p_hi; ++p)
      for (int q = q_lo; q <= q_hi; ++q) sum += plane[p * g.q + q];
    dx[i] = sum * inv_area;
  }
}

#ifdef __CUDACC_RTC__
// NVRTC compiles no launchers (see common.cuh): these are the instantiations they launch.
using RtcKernels =
    detail::RtcKernels<&maxpool_forward_kernel, &maxpool_backward_kernel<false>, &maxpool_backward_kernel<true>,
                       &avgpool_forward_kernel, &avgpool_backward_kernel>;
#else
Pool checked_pool(const PoolShape& s) {
  mb::require(s.n >= 1 && s.c >= 1, "pooling: N and C must be positive");
  for (int64_t v : {s.h, s.w, s.r, s.s, s.stride_h, s.stride_w})
    mb::require_positive_int(v, "pooling: H, W, window and stride must be in [1, INT_MAX]");
  mb::require(s.pad_h >= 0 && s.pad_w >= 0, "pooling: padding must not be negative");
  mb::require(s.h + 2 * s.pad_h >= s.r && s.w + 2 * s.pad_w >= s.s, "pooling: window larger than the padded input");
  mb::require(int64_t(s.h + 2 * s.pad_h) <= INT_MAX && int64_t(s.w + 2 * s.pad_w) <= INT_MAX && s.r * s.s <= INT_MAX &&
                  s.h * s.w <= INT_MAX && s.p() * s.q() <= INT_MAX,
              "pooling: padded extents, window and plane areas must fit in int");
  return {int(s.h),        int(s.w),     int(s.r),     int(s.s),   int(s.stride_h),
          int(s.stride_w), int(s.pad_h), int(s.pad_w), int(s.p()), int(s.q())};
}

int64_t outputs(const PoolShape& s) { return s.n * s.c * s.p() * s.q(); }
int64_t inputs(const PoolShape& s) { return s.n * s.c * s.h * s.w; }
#endif  // __CUDACC_RTC__

}  // namespace

#ifndef __CUDACC_RTC__  // host launchers; NVRTC compiles only the kernels (see common.cuh)
void maxpool_forward(const PoolShape& shape, const float* x, float* y, cudaStream_t stream) {
  const Pool g = checked_pool(shape);
  const int64_t count = outputs(shape);
  maxpool_forward_kernel<<<mb::blocks_for(count), mb::kThreads, 0, stream>>>(g, x, y, count);
  TRAINRATE_CHECK_LAUNCH();
}

void maxpool_backward(const PoolShape& shape, const float* x, const float* dy, float* dx, cudaStream_t stream) {
  const Pool g = checked_pool(shape);
  const int64_t count = outputs(shape);
  TRAINRATE_CUDA_CHECK(cudaMemsetAsync(dx, 0, size_t(inputs(shape)) * sizeof(float), stream));
  if (g.sh < g.r || g.sw < g.s)
    maxpool_backward_kernel<true><<<mb::blocks_for(count), mb::kThreads, 0, stream>>>(g, x, dy, dx, count);
  else
    maxpool_backward_kernel<false><<<mb::blocks_for(count), mb::kThreads, 0, stream>>>(g, x, dy, dx, count);
  TRAINRATE_CHECK_LAUNCH();
}

void avgpool_forward(const PoolShape& shape, const float* x, float* y, cudaStream_t stream) {
  const Pool g = checked_pool(shape);
  const int64_t count = outputs(shape);
  avgpool_forward_kernel<<<mb::blocks_for(count), mb::kThreads, 0, stream>>>(g, x, y, count);
  TRAINRATE_CHECK_LAUNCH();
}

void avgpool_backward(const PoolShape& shape, const float* dy, float* dx, cudaStream_t stream) {
  const Pool g = checked_pool(shape);
  const int64_t count = inputs(shape);
  avgpool_backward_kernel<<<mb::blocks_for(count), mb::kThreads, 0, stream>>>(g, dy, dx, count);
  TRAINRATE_CHECK_LAUNCH();
}
#endif  // __CUDACC_RTC__

}  // namespace trainrate::cuda_kernels
