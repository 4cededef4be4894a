// Implicit GEMM: a 2-D convolution pass seen as a GEMM whose operands are gathered on the fly.
//
// Every pass becomes out(mi, ni) = Σ_kg A(mi, kg) · B(kg, ni), where A and B are read straight
// from the activation/filter tensors (no im2col buffer) and out is scattered into the output
// tensor. With f = a filter-tap index ordered like the filter in memory (NCHW: (c, r, s), so
// w[k][f]; NHWC: (r, s, c), so w[k][f] again) the three passes are:
//
//   pass             M (mi)      N (ni)   K (kg)      A(mi, kg)               B(kg, ni)
//   forward          n·p·q       k        f           x at (n, c, p·sh−ph+r·dh, q·sw−pw+s·dw)   w[k][f]
//   backward-data    n·h·w       c        (k, r, s)   dy at (n, k, (h+ph−r·dh)/sh, (w+pw−s·dw)/sw) when exact  w(k, c, r, s)
//   backward-filter  k           f        n·p·q       dy(n, k, p, q)          x at (n, c, p·sh−ph+r·dh, ...)
//
// Out-of-range taps (padding, non-divisible strides in backward-data) read as zero. Offsets are
// int64; shape fields are int (the launcher checks they fit). The layout is a runtime flag: a
// uniform branch is cheaper than doubling every kernel's instantiations.
#pragma once

#ifndef __CUDACC_RTC__  // NVRTC gets the integer types and ConvPass from common.cuh
#include <climits>
#include <cstdint>
#include <stdexcept>

#include "problems/problem.hpp"
#endif

namespace trainrate::cuda_kernels::detail {

struct ConvGeometry {
  int n, c, h, w, k, r, s, p, q;
  int pad_h, pad_w, stride_h, stride_w, dil_h, dil_w;
  bool nhwc;

  __device__ __forceinline__ int64_t x_off(int in, int ic, int ih, int iw) const {
    return nhwc ? ((int64_t(in) * h + ih) * w + iw) * c + ic : ((int64_t(in) * c + ic) * h + ih) * w + iw;
  }
  __device__ __forceinline__ int64_t y_off(int in, int ik, int ip, int iq) const {
    return nhwc ? ((int64_t(in) * p + ip) * q + iq) * k + ik : ((int64_t(in) * k + ik) * p + ip) * q + iq;
  }
  __device__ __forceinline__ int64_t w_off(int ik, int ic, int ir, int is) const {
    return nhwc ? ((int64_t(ik) * r + ir) * s + is) * c + ic : ((int64_t(ik) * c + ic) * r + ir) * s + is;
  }
  __device__ __forceinline__ int crs() const { return c * r * s; }
  // Filter-tap index f in memory order → (c, r, s).
  __device__ __forceinline__ void decode_tap(int f, int& ic, int& ir, int& is) const {
    if (nhwc) {
      ic = f % c;
      is = (f / c) % s;
      ir = f / (c * s);
    } else {
      is = f % s;
      ir = (f / s) % r;
      ic = f / (r * s);
    }
  }
};

// Pre-decoded row (mi) or column (ni) of the GEMM: up to three coordinates and a range flag.
struct Coord3 {
  int a = 0, b = 0, c = 0;
  bool valid = false;
};

template <ConvPass PASS>
struct ConvGemm {
  ConvGeometry g;

  __device__ __forceinline__ int gemm_m() const {
    if constexpr (PASS == ConvPass::forward) return g.n * g.p * g.q;
    else if constexpr (PASS == ConvPass::backward_data) return g.n * g.h * g.w;
    else return g.k;
  }
  __device__ __forceinline__ int gemm_n() const {
    if constexpr (PASS == ConvPass::forward) return g.k;
    else if constexpr (PASS == ConvPass::backward_data) return g.c;
    else return g.crs();
  }
  __device__ __forceinline__ int gemm_k() const {
    if constexpr (PASS == ConvPass::forward) return g.crs();
    else if constexpr (PASS == ConvPass::backward_data) return g.k * g.r * g.s;
    else return g.n * g.p * g.q;
  }

  // Row mi → (image, y, x) of the output pixel (forward) or input pixel (backward-data), or the filter k.
  __device__ __forceinline__ Coord3 row(int mi) const {
    Coord3 o;
    o.valid = mi < gemm_m();
    if constexpr (PASS == ConvPass::forward) {
      o.c = mi % g.q;
      o.b = (mi / g.q) % g.p;
      o.a = mi / (g.p * g.q);
    } else if constexpr (PASS == ConvPass::backward_data) {
      o.c = mi % g.w;
      o.b = (mi / g.w) % g.h;
      o.a = mi / (g.h * g.w);
    } else {
      o.a = mi;
    }
    return o;
  }
  // Column ni → the filter k (forward), channel c (backward-data), or tap (c, r, s) (backward-filter).
  __device__ __forceinline__ Coord3 col(int ni) const {
    Coord3 o;
    o.valid = ni < gemm_n();
    if constexpr (PASS == ConvPass::backward_filter) {
      if (o.valid) g.decode_tap(ni, o.a, o.b, o.c);
    } else {
      o.a = ni;
    }
    return o;
  }

  // Offset of A(row, kg) in its tensor (in0, or in1 for backward-filter), or -1 for a zero.
  __device__ __forceinline__ int64_t a_offset(const Coord3& rw, int kg) const {
    if (!rw.valid || kg >= gemm_k()) return -1;
    if constexpr (PASS == ConvPass::forward) {
      int ic, ir, is;
      g.decode_tap(kg, ic, ir, is);
      const int ih = rw.b * g.stride_h - g.pad_h + ir * g.dil_h;
      const int iw = rw.c * g.stride_w - g.pad_w + is * g.dil_w;
      if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) return -1;
      return g.x_off(rw.a, ic, ih, iw);
    } else if constexpr (PASS == ConvPass::backward_data) {
      const int is = kg % g.s, ir = (kg / g.s) % g.r, ik = kg / (g.r * g.s);
      const int th = rw.b + g.pad_h - ir * g.dil_h, tw = rw.c + g.pad_w - is * g.dil_w;
      if (th < 0 || tw < 0 || th % g.stride_h != 0 || tw % g.stride_w != 0) return -1;
      const int ip = th / g.stride_h, iq = tw / g.stride_w;
      if (ip >= g.p || iq >= g.q) return -1;
      return g.y_off(rw.a, ik, ip, iq);
    } else {
      const int iq = kg % g.q, ip = (kg / g.q) % g.p, in = kg / (g.p * g.q);
      return g.y_off(in, rw.a, ip, iq);
    }
  }
  // Offset of B(kg, col) in its tensor (in1, or in0 for backward-filter), or -1 for a zero.
  __device__ __forceinline__ int64_t b_offset(const Coord3& cl, int kg) const {
    if (!cl.valid || kg >= gemm_k()) return -1;
    if constexpr (PASS == ConvPass::forward) {
      return int64_t(cl.a) * g.crs() + kg;
    } else if constexpr (PASS == ConvPass::backward_data) {
      const int is = kg % g.s, ir = (kg / g.s) % g.r, ik = kg / (g.r * g.s);
      return g.w_off(ik, cl.a, ir, is);
    } else {
      const int iq = kg % g.q, ip = (kg / g.q) % g.p, in = kg / (g.p * g.q);
      const int ih = ip * g.stride_h - g.pad_h + cl.b * g.dil_h;
      const int iw = iq * g.stride_w - g.pad_w + cl.c * g.dil_w;
      if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) return -1;
      return g.x_off(in, cl.a, ih, iw);
    }
  }
  // Offset of out(mi, ni) in the output tensor (caller checks mi < M, ni < N).
  __device__ __forceinline__ int64_t out_offset(const Coord3& rw, int ni) const {
    if constexpr (PASS == ConvPass::forward) return g.y_off(rw.a, ni, rw.b, rw.c);
    else if constexpr (PASS == ConvPass::backward_data) return g.x_off(rw.a, ni, rw.b, rw.c);
    else return int64_t(rw.a) * g.crs() + ni;
  }
};

#ifndef __CUDACC_RTC__  // host only (see common.cuh)
// Host side: the geometry of a problem, with the range checks the int fields need.
inline ConvGeometry conv_geometry(const ConvProblem& pb) {
  const int64_t fields[] = {pb.n, pb.c, pb.h, pb.w, pb.k, pb.r, pb.s, pb.p(), pb.q()};
  for (int64_t f : fields)
    if (f < 1) throw std::invalid_argument("convolution dimensions must be positive");
  // GEMM extents (n·p·q, n·h·w, c·r·s, k·r·s) must fit int; tensor offsets are int64.
  const int64_t extents[] = {pb.n * pb.p() * pb.q(), pb.n * pb.h * pb.w, pb.c * pb.r * pb.s, pb.k * pb.r * pb.s};
  for (int64_t e : extents)
    if (e > INT_MAX) throw std::invalid_argument("convolution too large for 32-bit GEMM indices");
  return ConvGeometry{int(pb.n),       int(pb.c),        int(pb.h),          int(pb.w),          int(pb.k),
                      int(pb.r),       int(pb.s),        int(pb.p()),        int(pb.q()),        int(pb.pad_h),
                      int(pb.pad_w),   int(pb.stride_h), int(pb.stride_w),   int(pb.dilation_h), int(pb.dilation_w),
                      pb.layout == Layout::NHWC};
}

#endif  // __CUDACC_RTC__

}  // namespace trainrate::cuda_kernels::detail
