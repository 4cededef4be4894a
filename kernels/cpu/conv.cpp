// Convolutions as GEMMs over the packed SGEMM.
//
// Matrix views (column-major, as sgemm sees them), with CRS = C·R·S and PQ = P·Q:
//   NCHW, per image:  x_n is HW×C, y_n is PQ×K, w is CRS×K (KCRS rows are contiguous), and the
//                     column matrix is PQ×CRS (caffe's im2col): y_n = col · w.
//   NHWC, all images: x is C×NHW, y is K×NPQ, w is RSC×K, and the column matrix is RSC×NPQ
//                     (one contiguous RSC patch per output pixel): y = wᵀ · col.
// backward_data multiplies by the other operand's transpose into the column matrix and scatters
// it back with col2im; backward_filter forms col as in forward and reduces over pixels, with
// beta = 1 after the first chunk. The column matrix is built for a bounded chunk of output rows
// (NCHW) or pixels (NHWC) at a time, so scratch stays a few MiB whatever the batch.
#include "kernels/cpu/conv.hpp"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace trainrate::kernels::cpu {

namespace {

// Scratch budget for the column matrix: big enough that each chunk's GEMM is large (thousands
// of columns), small enough to stay in L3 next to the packed panels on common CPUs.
constexpr int64_t default_column_budget_floats = int64_t(4) << 20;  // 16 MiB
int64_t column_budget_floats = default_column_budget_floats;

struct Shape {
  int64_t n, c, h, w, k, r, s, p, q;
  int64_t crs() const { return c * r * s; }
  int64_t hw() const { return h * w; }
  int64_t pq() const { return p * q; }
};

Shape shape_of(const ConvProblem& cp) { return {cp.n, cp.c, cp.h, cp.w, cp.k, cp.r, cp.s, cp.p(), cp.q()}; }

bool is_pointwise(const ConvProblem& cp) {
  return cp.r == 1 && cp.s == 1 && cp.stride_h == 1 && cp.stride_w == 1 && cp.pad_h == 0 && cp.pad_w == 0;
}

int team_size(const GemmOptions& options) { return options.threads > 0 ? options.threads : omp_get_max_threads(); }

// Output indices o in [0, extent) whose input index o·stride + offset lies in [0, limit).
struct Span {
  int64_t begin, end;
};
Span valid_outputs(int64_t offset, int64_t stride, int64_t limit, int64_t extent) {
  // o ≥ ⌈−offset / stride⌉ and o < ⌈(limit − offset) / stride⌉, clamped to [0, extent).
  const auto ceil_div = [](int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); };
  const int64_t begin = std::clamp<int64_t>(ceil_div(-offset, stride), 0, extent);
  const int64_t end = std::clamp<int64_t>(ceil_div(limit - offset, stride), begin, extent);
  return {begin, end};
}

// Output rows [p0, p0 + rows) per NCHW chunk, and pixels per NHWC chunk.
int64_t nchw_chunk_rows(const Shape& sh) {
  return std::clamp<int64_t>(column_budget_floats / std::max<int64_t>(1, sh.q * sh.crs()), 1, sh.p);
}
int64_t nhwc_chunk_pixels(const Shape& sh) {
  return std::clamp<int64_t>(column_budget_floats / std::max<int64_t>(1, sh.crs()), 1, sh.n * sh.pq());
}

// Column scratch of the calling thread; grows only, so a benchmark loop allocates once.
float* column_buffer(int64_t floats) {
  thread_local std::vector<float> buffer;
  if (int64_t(buffer.size()) < floats) buffer.resize(size_t(floats));
  return buffer.data();
}

// NCHW im2col for output rows [p0, p0 + rows) of one image: col is (rows·Q)×CRS with ld = rows·Q.
void im2col_nchw(const ConvProblem& cp, const Shape& sh, const float* x_n, int64_t p0, int64_t rows, float* col,
                 int threads) {
  const int64_t ld = rows * sh.q;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && ld * sh.crs() > (1 << 16))
  for (int64_t row = 0; row < sh.crs(); ++row) {
    const int64_t ch = row / (sh.r * sh.s), r = row / sh.s % sh.r, s = row % sh.s;
    const float* plane = x_n + ch * sh.hw();
    const int64_t x_offset = s * cp.dilation_w - cp.pad_w;
    const Span qs = valid_outputs(x_offset, cp.stride_w, sh.w, sh.q);
    float* dst = col + row * ld;
    for (int64_t p = p0; p < p0 + rows; ++p, dst += sh.q) {
      const int64_t iy = p * cp.stride_h - cp.pad_h + r * cp.dilation_h;
      if (iy < 0 || iy >= sh.h) {
        std::fill(dst, dst + sh.q, 0.0f);
        continue;
      }
      // Input index of output column q is base + q·stride_w, inside the row for q in qs.
      const int64_t base = iy * sh.w + x_offset;
      std::fill(dst, dst + qs.begin, 0.0f);
      if (cp.stride_w == 1) {
        std::copy(plane + base + qs.begin, plane + base + qs.end, dst + qs.begin);
      } else {
        for (int64_t q = qs.begin; q < qs.end; ++q) dst[q] = plane[base + q * cp.stride_w];
      }
      std::fill(dst + qs.end, dst + sh.q, 0.0f);
    }
  }
}

// NCHW col2im, the adjoint of im2col_nchw: dx_n += scatter(col). Channels are split across
// threads, since only rows of one channel touch the same dx plane.
void col2im_nchw(const ConvProblem& cp, const Shape& sh, const float* col, int64_t p0, int64_t rows, float* dx_n,
                 int threads) {
  const int64_t ld = rows * sh.q;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && ld * sh.crs() > (1 << 16))
  for (int64_t ch = 0; ch < sh.c; ++ch) {
    float* plane = dx_n + ch * sh.hw();
    for (int64_t r = 0; r < sh.r; ++r) {
      for (int64_t s = 0; s < sh.s; ++s) {
        const int64_t x_offset = s * cp.dilation_w - cp.pad_w;
        const Span qs = valid_outputs(x_offset, cp.stride_w, sh.w, sh.q);
        const float* src = col + ((ch * sh.r + r) * sh.s + s) * ld;
        for (int64_t p = p0; p < p0 + rows; ++p, src += sh.q) {
          const int64_t iy = p * cp.stride_h - cp.pad_h + r * cp.dilation_h;
          if (iy < 0 || iy >= sh.h) continue;
          const int64_t base = iy * sh.w + x_offset;
          for (int64_t q = qs.begin; q < qs.end; ++q) plane[base + q * cp.stride_w] += src[q];
        }
      }
    }
  }
}

// NHWC im2col for output pixels [pix0, pix0 + count) of the whole batch: col is RSC×count with
// ld = RSC, each pixel's patch a run of C-contiguous copies.
void im2col_nhwc(const ConvProblem& cp, const Shape& sh, const float* x, int64_t pix0, int64_t count, float* col,
                 int threads) {
  const int64_t rsc = sh.crs();
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && count * rsc > (1 << 16))
  for (int64_t i = 0; i < count; ++i) {
    const int64_t pix = pix0 + i;
    const int64_t n = pix / sh.pq(), p = pix / sh.q % sh.p, q = pix % sh.q;
    float* dst = col + i * rsc;
    for (int64_t r = 0; r < sh.r; ++r) {
      const int64_t iy = p * cp.stride_h - cp.pad_h + r * cp.dilation_h;
      for (int64_t s = 0; s < sh.s; ++s, dst += sh.c) {
        const int64_t ix = q * cp.stride_w - cp.pad_w + s * cp.dilation_w;
        if (iy < 0 || iy >= sh.h || ix < 0 || ix >= sh.w) {
          std::fill(dst, dst + sh.c, 0.0f);
        } else {
          std::memcpy(dst, x + ((n * sh.h + iy) * sh.w + ix) * sh.c, size_t(sh.c) * sizeof(float));
        }
      }
    }
  }
}

// NHWC col2im: dx += scatter(col). Patches of neighbouring pixels overlap in dx, so threads split
// the channels instead of the pixels: every thread walks all pixels but owns a channel slice.
void col2im_nhwc(const ConvProblem& cp, const Shape& sh, const float* col, int64_t pix0, int64_t count, float* dx,
                 int threads) {
  const int64_t rsc = sh.crs();
  const int team = sh.c >= 16 * threads && count * rsc > (1 << 16) ? threads : 1;
#pragma omp parallel num_threads(team) if (team > 1)
  {
    const int id = omp_get_thread_num(), size = omp_get_num_threads();
    const int64_t c_begin = sh.c * id / size, c_end = sh.c * (id + 1) / size;
    for (int64_t i = 0; i < count; ++i) {
      const int64_t pix = pix0 + i;
      const int64_t n = pix / sh.pq(), p = pix / sh.q % sh.p, q = pix % sh.q;
      const float* src = col + i * rsc;
      for (int64_t r = 0; r < sh.r; ++r) {
        const int64_t iy = p * cp.stride_h - cp.pad_h + r * cp.dilation_h;
        for (int64_t s = 0; s < sh.s; ++s, src += sh.c) {
          const int64_t ix = q * cp.stride_w - cp.pad_w + s * cp.dilation_w;
          if (iy < 0 || iy >= sh.h || ix < 0 || ix >= sh.w) continue;
          float* dst = dx + ((n * sh.h + iy) * sh.w + ix) * sh.c;
          for (int64_t ch = c_begin; ch < c_end; ++ch) dst[ch] += src[ch];
        }
      }
    }
  }
}

void forward_nchw(const ConvProblem& cp, const Shape& sh, const float* x, const float* w, float* y,
                  const GemmOptions& options) {
  if (is_pointwise(cp)) {
    for (int64_t n = 0; n < sh.n; ++n) {
      sgemm(Op::N, Op::N, sh.pq(), sh.k, sh.c, 1.0f, x + n * sh.c * sh.hw(), sh.hw(), w, sh.c, 0.0f,
            y + n * sh.k * sh.pq(), sh.pq(), options);
    }
    return;
  }
  const int64_t chunk = nchw_chunk_rows(sh);
  float* col = column_buffer(chunk * sh.q * sh.crs());
  for (int64_t n = 0; n < sh.n; ++n) {
    for (int64_t p0 = 0; p0 < sh.p; p0 += chunk) {
      const int64_t rows = std::min(chunk, sh.p - p0);
      im2col_nchw(cp, sh, x + n * sh.c * sh.hw(), p0, rows, col, team_size(options));
      sgemm(Op::N, Op::N, rows * sh.q, sh.k, sh.crs(), 1.0f, col, rows * sh.q, w, sh.crs(), 0.0f,
            y + n * sh.k * sh.pq() + p0 * sh.q, sh.pq(), options);
    }
  }
}

void forward_nhwc(const ConvProblem& cp, const Shape& sh, const float* x, const float* w, float* y,
                  const GemmOptions& options) {
  const int64_t pixels = sh.n * sh.pq();
  if (is_pointwise(cp)) {
    sgemm(Op::T, Op::N, sh.k, pixels, sh.c, 1.0f, w, sh.c, x, sh.c, 0.0f, y, sh.k, options);
    return;
  }
  const int64_t chunk = nhwc_chunk_pixels(sh);
  float* col = column_buffer(chunk * sh.crs());
  for (int64_t pix0 = 0; pix0 < pixels; pix0 += chunk) {
    const int64_t count = std::min(chunk, pixels - pix0);
    im2col_nhwc(cp, sh, x, pix0, count, col, team_size(options));
    sgemm(Op::T, Op::N, sh.k, count, sh.crs(), 1.0f, w, sh.crs(), col, sh.crs(), 0.0f, y + pix0 * sh.k, sh.k,
          options);
  }
}

void backward_data_nchw(const ConvProblem& cp, const Shape& sh, const float* dy, const float* w, float* dx,
                        const GemmOptions& options) {
  if (is_pointwise(cp)) {
    for (int64_t n = 0; n < sh.n; ++n) {
      sgemm(Op::N, Op::T, sh.hw(), sh.c, sh.k, 1.0f, dy + n * sh.k * sh.pq(), sh.pq(), w, sh.c, 0.0f,
            dx + n * sh.c * sh.hw(), sh.hw(), options);
    }
    return;
  }
  std::fill(dx, dx + sh.n * sh.c * sh.hw(), 0.0f);
  const int64_t chunk = nchw_chunk_rows(sh);
  float* col = column_buffer(chunk * sh.q * sh.crs());
  for (int64_t n = 0; n < sh.n; ++n) {
    for (int64_t p0 = 0; p0 < sh.p; p0 += chunk) {
      const int64_t rows = std::min(chunk, sh.p - p0);
      sgemm(Op::N, Op::T, rows * sh.q, sh.crs(), sh.k, 1.0f, dy + n * sh.k * sh.pq() + p0 * sh.q, sh.pq(), w,
            sh.crs(), 0.0f, col, rows * sh.q, options);
      col2im_nchw(cp, sh, col, p0, rows, dx + n * sh.c * sh.hw(), team_size(options));
    }
  }
}

void backward_data_nhwc(const ConvProblem& cp, const Shape& sh, const float* dy, const float* w, float* dx,
                        const GemmOptions& options) {
  const int64_t pixels = sh.n * sh.pq();
  if (is_pointwise(cp)) {
    sgemm(Op::N, Op::N, sh.c, pixels, sh.k, 1.0f, w, sh.c, dy, sh.k, 0.0f, dx, sh.c, options);
    return;
  }
  std::fill(dx, dx + sh.n * sh.hw() * sh.c, 0.0f);
  const int64_t chunk = nhwc_chunk_pixels(sh);
  float* col = column_buffer(chunk * sh.crs());
  for (int64_t pix0 = 0; pix0 < pixels; pix0 += chunk) {
    const int64_t count = std::min(chunk, pixels - pix0);
    sgemm(Op::N, Op::N, sh.crs(), count, sh.k, 1.0f, w, sh.crs(), dy + pix0 * sh.k, sh.k, 0.0f, col, sh.crs(),
          options);
    col2im_nhwc(cp, sh, col, pix0, count, dx, team_size(options));
  }
}

void backward_filter_nchw(const ConvProblem& cp, const Shape& sh, const float* x, const float* dy, float* dw,
                          const GemmOptions& options) {
  if (is_pointwise(cp)) {
    for (int64_t n = 0; n < sh.n; ++n) {
      sgemm(Op::T, Op::N, sh.c, sh.k, sh.hw(), 1.0f, x + n * sh.c * sh.hw(), sh.hw(), dy + n * sh.k * sh.pq(),
            sh.pq(), n == 0 ? 0.0f : 1.0f, dw, sh.c, options);
    }
    return;
  }
  const int64_t chunk = nchw_chunk_rows(sh);
  float* col = column_buffer(chunk * sh.q * sh.crs());
  for (int64_t n = 0; n < sh.n; ++n) {
    for (int64_t p0 = 0; p0 < sh.p; p0 += chunk) {
      const int64_t rows = std::min(chunk, sh.p - p0);
      im2col_nchw(cp, sh, x + n * sh.c * sh.hw(), p0, rows, col, team_size(options));
      const float beta = n == 0 && p0 == 0 ? 0.0f : 1.0f;
      sgemm(Op::T, Op::N, sh.crs(), sh.k, rows * sh.q, 1.0f, col, rows * sh.q, dy + n * sh.k * sh.pq() + p0 * sh.q,
            sh.pq(), beta, dw, sh.crs(), options);
    }
  }
}

void backward_filter_nhwc(const ConvProblem& cp, const Shape& sh, const float* x, const float* dy, float* dw,
                          const GemmOptions& options) {
  const int64_t pixels = sh.n * sh.pq();
  if (is_pointwise(cp)) {
    sgemm(Op::N, Op::T, sh.c, sh.k, pixels, 1.0f, x, sh.c, dy, sh.k, 0.0f, dw, sh.c, options);
    return;
  }
  const int64_t chunk = nhwc_chunk_pixels(sh);
  float* col = column_buffer(chunk * sh.crs());
  for (int64_t pix0 = 0; pix0 < pixels; pix0 += chunk) {
    const int64_t count = std::min(chunk, pixels - pix0);
    im2col_nhwc(cp, sh, x, pix0, count, col, team_size(options));
    sgemm(Op::N, Op::T, sh.crs(), sh.k, count, 1.0f, col, sh.crs(), dy + pix0 * sh.k, sh.k, pix0 == 0 ? 0.0f : 1.0f,
          dw, sh.crs(), options);
  }
}

}  // namespace

namespace detail {
void set_column_budget(int64_t floats) {
  column_budget_floats = floats > 0 ? floats : default_column_budget_floats;
}
}  // namespace detail

int64_t conv_workspace_floats(const ConvProblem& problem) {
  if (is_pointwise(problem)) return 0;
  const Shape sh = shape_of(problem);
  return problem.layout == Layout::NCHW ? nchw_chunk_rows(sh) * sh.q * sh.crs() : nhwc_chunk_pixels(sh) * sh.crs();
}

void conv2d(const ConvProblem& problem, const float* in0, const float* in1, float* out, const GemmOptions& options) {
  if (const auto error = validate(Problem{problem})) throw std::invalid_argument("conv2d: " + *error);
  if (problem.dtype != Dtype::fp32) throw std::invalid_argument("conv2d: only fp32 is implemented");
  const Shape sh = shape_of(problem);
  const bool nchw = problem.layout == Layout::NCHW;
  switch (problem.pass) {
    case ConvPass::forward:
      return nchw ? forward_nchw(problem, sh, in0, in1, out, options)
                  : forward_nhwc(problem, sh, in0, in1, out, options);
    case ConvPass::backward_data:
      return nchw ? backward_data_nchw(problem, sh, in0, in1, out, options)
                  : backward_data_nhwc(problem, sh, in0, in1, out, options);
    case ConvPass::backward_filter:
      return nchw ? backward_filter_nchw(problem, sh, in0, in1, out, options)
                  : backward_filter_nhwc(problem, sh, in0, in1, out, options);
  }
}

}  // namespace trainrate::kernels::cpu
