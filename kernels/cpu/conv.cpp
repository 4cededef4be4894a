// Convolutions as GEMMs over the packed SGEMM.
//
// Matrix views (column-major, as sgemm sees them), with CRS = C·R·S and PQ = P·Q:
//   NCHW, per image:  x_n is HW×C, y_n is PQ×K, w is CRS×K (KCRS rows are contiguous), and the
//                     column matrix is PQ×CRS: y_n = col · w.
//   NHWC, all images: x is C×NHW, y is K×NPQ, w is RSC×K, and the column matrix is RSC×NPQ
//                     (one contiguous RSC patch per output pixel): y = wᵀ · col.
// Which GEMM each pass runs (each choice measured against im2col + matrix packing; numbers in
// docs/results/history-from-code.md):
//   NHWC forward and backward_filter (3×3, 7×7, strided 1×1): no column matrix; the patches are
//     gathered straight into the packed panels (implicit GEMM, conv_pack.cpp). NCHW
//     backward_filter uses the wide phase planes (below) per image for maps of 16 output pixels
//     and more, and on smaller ones reduces over the whole batch in one GEMM with k = N·PQ.
//   NCHW forward on maps under 16 pixels: one batched GEMM with the filters as rows (see
//     uses_batched_forward); otherwise, per image, the "wide" implicit GEMM over zero-padded
//     phase planes (WideLayout in conv_internal.hpp), whose packing is a plain copy.
//   backward_data: NCHW with stride 1 and at least 64 input channels runs as the forward of dy
//     with flipped filters (runs_as_forward). Otherwise wᵀ · dy into a column chunk, scattered
//     back with col2im (a scatter cannot be packed), in bounded chunks of output rows (NCHW) or
//     pixels (NHWC); NCHW small maps build transposed columns (uses_transposed_columns).
// NCHW work that is per image (forward, backward_data) runs one image per thread when the batch
// splits evenly over the team: small per-image GEMMs then need no barriers at all.
#include "kernels/cpu/conv.hpp"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cpu/conv_internal.hpp"

namespace trainrate::kernels::cpu {

namespace {

using detail::ConvGeometry;
using detail::ConvOperand;
using detail::MatrixOperand;
using detail::Span;
using detail::valid_outputs;
using Shape = ConvGeometry;

// Scratch budget for backward_data's column chunk: big enough that each chunk's GEMM is large
// (thousands of columns), small enough to stay in L3 next to the packed panels on common CPUs.
constexpr int64_t default_column_budget_floats = int64_t(4) << 20;  // 16 MiB
int64_t column_budget_floats = default_column_budget_floats;

bool is_pointwise(const ConvProblem& cp) {
  return cp.r == 1 && cp.s == 1 && cp.stride_h == 1 && cp.stride_w == 1 && cp.pad_h == 0 && cp.pad_w == 0;
}

int team_size(const GemmOptions& options) { return options.threads > 0 ? options.threads : omp_get_max_threads(); }

// Runs per_image(n, options_for_that_image) for every image: one image per thread (each GEMM
// single-threaded) when the batch splits evenly over the team, else one after the other with
// the whole team inside each GEMM.
template <class PerImage>
void for_each_image(const Shape& sh, const GemmOptions& options, PerImage&& per_image) {
  const int threads = team_size(options);
  if (threads == 1 || sh.n < threads || sh.n % threads != 0) {
    for (int64_t n = 0; n < sh.n; ++n) per_image(n, options);
    return;
  }
  GemmOptions single = options;
  single.threads = 1;
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
  for (int64_t n = 0; n < sh.n; ++n) per_image(n, single);
}

// Output rows [p0, p0 + rows) per NCHW chunk, and pixels per NHWC chunk.
int64_t nchw_chunk_rows(const Shape& sh) {
  return std::clamp<int64_t>(column_budget_floats / std::max<int64_t>(1, sh.q * sh.crs()), 1, sh.p);
}
int64_t nhwc_chunk_pixels(const Shape& sh) {
  return std::clamp<int64_t>(column_budget_floats / std::max<int64_t>(1, sh.crs()), 1, sh.n * sh.pq());
}

// Scratch of the calling thread, one buffer per use; grows only, so a benchmark loop allocates once.
enum class Scratch { columns, planes, count };
float* scratch(Scratch use, int64_t floats) {
  thread_local std::vector<float> buffers[size_t(Scratch::count)];
  std::vector<float>& buffer = buffers[size_t(use)];
  if (int64_t(buffer.size()) < floats) buffer.resize(size_t(floats));
  return buffer.data();
}

// NCHW col2im: dx_n += scatter(col), col being (rows·Q)×CRS with ld = rows·Q (the transpose of
// caffe's im2col layout). Channels are split across threads, since only rows of one channel
// touch the same dx plane.
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

// NCHW col2im from transposed columns: dx_n += scatter(col), col being CRS×PQ with ld = CRS
// (one contiguous run of taps per output pixel). Channels are split across threads.
void col2im_nchw_transposed(const ConvProblem& cp, const Shape& sh, const float* col, float* dx_n, int threads) {
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && sh.pq() * sh.crs() > (1 << 16))
  for (int64_t ch = 0; ch < sh.c; ++ch) {
    float* plane = dx_n + ch * sh.hw();
    for (int64_t r = 0; r < sh.r; ++r) {
      for (int64_t s = 0; s < sh.s; ++s) {
        const int64_t tap = (ch * sh.r + r) * sh.s + s;
        const int64_t x_offset = s * cp.dilation_w - cp.pad_w;
        const Span qs = valid_outputs(x_offset, cp.stride_w, sh.w, sh.q);
        for (int64_t p = 0; p < sh.p; ++p) {
          const int64_t iy = p * cp.stride_h - cp.pad_h + r * cp.dilation_h;
          if (iy < 0 || iy >= sh.h) continue;
          const float* src = col + p * sh.q * sh.crs() + tap;
          const int64_t base = iy * sh.w + x_offset;
          for (int64_t q = qs.begin; q < qs.end; ++q) plane[base + q * cp.stride_w] += src[q * sh.crs()];
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

// Small feature maps (4×4 and smaller at 224², 2×2 at small images): a per-image GEMM has only
// PQ rows (4 rows for 2×2 against a 16-row micro-kernel). Instead compute the whole batch as one
// GEMM with the filters as rows, z (K×N·PQ) = wᵀ · im2col(x), then transpose each image's K×PQ
// block into y_n (PQ×K). The transpose costs one copy of y, against CRS FMAs per element. Used
// below 16 output pixels, one AVX2 tile of rows: since partial tiles run narrower micro-kernels
// (gemm_microkernel_avx2.cpp), per image wins from there.
bool uses_batched_forward(const Shape& sh) { return sh.pq() < 16; }

// NCHW backward_data on small maps (late ResNet stages): the per-image GEMM dy_n · wᵀ has only
// PQ rows (49 at 7×7 against a 16-row micro-kernel), so compute the transposed columns
// w · dy_nᵀ instead, with the CRS taps as rows, and scatter from that layout.
bool uses_transposed_columns(const Shape& sh) { return sh.pq() <= 64; }

// NCHW backward_data with stride 1 is a forward convolution of dy: substituting r → R−1−r in
// dx[c][h][w] = Σ dy[k][h + pad − r·dh][w + pad − s·dw] · w[k][c][r][s] gives the forward of the
// K-channel P×Q map dy with the flipped, transposed filters w̃ (FlippedFilters) and padding
// (R−1)·d − pad, whose output is H×W. It then runs on the forward's phase planes, writing dx where
// it lies, instead of building a column matrix and scattering it back with col2im. The forward's
// GEMM has C columns (the filters w̃): with few of them its tiles go empty and the copy of the
// planes dominates, so it needs at least 64.
constexpr int64_t min_channels_as_forward = 64;
bool runs_as_forward(const ConvProblem& cp) {
  return cp.layout == Layout::NCHW && cp.pass == ConvPass::backward_data && cp.stride_h == 1 && cp.stride_w == 1 &&
         !is_pointwise(cp) && cp.c >= min_channels_as_forward;
}
ConvProblem as_forward(const ConvProblem& cp) {
  ConvProblem forward = cp;
  forward.pass = ConvPass::forward;
  forward.c = cp.k, forward.k = cp.c, forward.h = cp.p(), forward.w = cp.q();
  // validate() keeps pad ≤ (R−1)·d, so the new padding is never negative.
  forward.pad_h = (cp.r - 1) * cp.dilation_h - cp.pad_h;
  forward.pad_w = (cp.s - 1) * cp.dilation_w - cp.pad_w;
  return forward;
}

// Which GEMM operand the filters are, per layout and pass, as a matrix over the stored tensor (w
// is CRS×K column-major in both layouts: KCRS or KRSC rows are contiguous), or as the flipped
// filters of a backward_data that runs as a forward. The one place conv2d and PackedFilters agree
// on it. backward_filter computes the filters and reads none.
struct FilterOperand {
  bool is_a;  // op(A), lanes are rows; else op(B), lanes are columns
  MatrixOperand matrix;
  detail::FlippedFilters flipped;  // read instead of `matrix` when flipped.w is set
  int64_t lanes, depth;
};
FilterOperand filter_operand(const ConvProblem& cp, const Shape& sh, const float* w) {
  const bool nchw = cp.layout == Layout::NCHW;
  if (runs_as_forward(cp)) {
    const ConvProblem forward = as_forward(cp);
    FilterOperand f = filter_operand(forward, Shape(forward), nullptr);
    f.flipped = {w, cp.c, cp.r * cp.s};
    return f;
  }
  if (cp.pass == ConvPass::forward) {
    if (nchw && !uses_batched_forward(sh)) return {false, {Op::N, w, sh.crs()}, {}, sh.k, sh.crs()};  // y_n = col · w
    return {true, {Op::T, w, sh.crs()}, {}, sh.k, sh.crs()};  // filters as rows: wᵀ · col
  }
  // col = dy_n · wᵀ
  if (nchw && !uses_transposed_columns(sh)) return {false, {Op::T, w, sh.crs()}, {}, sh.crs(), sh.k};
  return {true, {Op::N, w, sh.crs()}, {}, sh.crs(), sh.k};  // colᵀ = w · dy (NHWC, and NCHW on small maps)
}

// The filters as the GEMM operand each path reads them through, plus their panels when
// PackedFilters packed them ahead.
struct Filters {
  FilterOperand operand;
  const detail::PackedPanels* packed;
  detail::PackSource source() const {
    detail::PackSource s = operand.flipped.w != nullptr ? detail::flipped_filters(operand.flipped)
                           : operand.is_a             ? detail::matrix_a_source(operand.matrix)
                                                      : detail::matrix_b_source(operand.matrix);
    s.packed = packed;
    return s;
  }
};

void forward_nchw_batched(const Shape& sh, const float* x, const Filters& filters, float* y,
                          const GemmOptions& options) {
  const int64_t pixels = sh.n * sh.pq();
  float* z = scratch(Scratch::columns, sh.k * pixels);
  const ConvOperand patches{&sh, x};
  detail::sgemm_sources(sh.k, pixels, sh.crs(), 1.0f, filters.source(), detail::nchw_patches_by_pixel_batched(patches),
                        0.0f, z, sh.k, options);
  for (int64_t n = 0; n < sh.n; ++n) {
    const float* z_n = z + n * sh.pq() * sh.k;
    float* y_n = y + n * sh.k * sh.pq();
    for (int64_t pix = 0; pix < sh.pq(); ++pix) {
      for (int64_t j = 0; j < sh.k; ++j) y_n[j * sh.pq() + pix] = z_n[pix * sh.k + j];
    }
  }
}

// Larger maps: per image, the implicit GEMM over the zero-padded phase planes (see WideLayout),
// written straight into y_n.
void forward_nchw_wide(const Shape& sh, const float* x, const Filters& filters, float* y, const GemmOptions& options) {
  const detail::WideLayout layout(sh);
  for_each_image(sh, options, [&](int64_t n, const GemmOptions& image_options) {
    float* planes = scratch(Scratch::planes, layout.image_floats());
    detail::fill_wide_planes(sh, layout, x + n * sh.c * sh.hw(), planes, team_size(image_options));
    const detail::WideOperand patches{&layout, planes};
    detail::sgemm_sources(sh.pq(), sh.k, sh.crs(), 1.0f, detail::nchw_wide_patches_by_pixel(patches),
                          filters.source(), 0.0f, y + n * sh.k * sh.pq(), sh.pq(), image_options);
  });
}

void forward_nchw(const ConvProblem& cp, const Shape& sh, const float* x, const Filters& filters, float* y,
                  const GemmOptions& options) {
  if (uses_batched_forward(sh)) return forward_nchw_batched(sh, x, filters, y, options);
  if (!is_pointwise(cp)) return forward_nchw_wide(sh, x, filters, y, options);
  // 1×1, stride 1, unpadded: x_n (HW×C) and w (C×K) are already the GEMM's operands.
  for_each_image(sh, options, [&](int64_t n, const GemmOptions& image_options) {
    const MatrixOperand x_n{Op::N, x + n * sh.c * sh.hw(), sh.hw()};
    detail::sgemm_sources(sh.pq(), sh.k, sh.c, 1.0f, detail::matrix_a_source(x_n), filters.source(), 0.0f,
                          y + n * sh.k * sh.pq(), sh.pq(), image_options);
  });
}

void forward_nhwc(const ConvProblem& cp, const Shape& sh, const float* x, const Filters& filters, float* y,
                  const GemmOptions& options) {
  const int64_t pixels = sh.n * sh.pq();
  if (is_pointwise(cp)) {
    const MatrixOperand pixels_matrix{Op::N, x, sh.c};
    detail::sgemm_sources(sh.k, pixels, sh.c, 1.0f, filters.source(), detail::matrix_b_source(pixels_matrix), 0.0f, y,
                          sh.k, options);
    return;
  }
  const ConvOperand patches{&sh, x};
  detail::sgemm_sources(sh.k, pixels, sh.crs(), 1.0f, filters.source(), detail::nhwc_patches_by_pixel(patches), 0.0f,
                        y, sh.k, options);
}

void backward_data_nchw(const ConvProblem& cp, const Shape& sh, const float* dy, const Filters& filters, float* dx,
                        const GemmOptions& options) {
  const int64_t chunk = nchw_chunk_rows(sh);
  for_each_image(sh, options, [&](int64_t n, const GemmOptions& image_options) {
    const float* dy_n = dy + n * sh.k * sh.pq();
    float* dx_n = dx + n * sh.c * sh.hw();
    if (uses_transposed_columns(sh)) {
      float* col = scratch(Scratch::columns, sh.crs() * sh.pq());  // this thread's own
      const MatrixOperand gradients{Op::T, dy_n, sh.pq()};
      detail::sgemm_sources(sh.crs(), sh.pq(), sh.k, 1.0f, filters.source(), detail::matrix_b_source(gradients), 0.0f,
                            col, sh.crs(), image_options);
      std::fill(dx_n, dx_n + sh.c * sh.hw(), 0.0f);
      col2im_nchw_transposed(cp, sh, col, dx_n, team_size(image_options));
      return;
    }
    if (is_pointwise(cp)) {
      const MatrixOperand gradients{Op::N, dy_n, sh.pq()};
      detail::sgemm_sources(sh.hw(), sh.c, sh.k, 1.0f, detail::matrix_a_source(gradients), filters.source(), 0.0f, dx_n,
                            sh.hw(), image_options);
      return;
    }
    std::fill(dx_n, dx_n + sh.c * sh.hw(), 0.0f);
    float* col = scratch(Scratch::columns, chunk * sh.q * sh.crs());  // this thread's own
    for (int64_t p0 = 0; p0 < sh.p; p0 += chunk) {
      const int64_t rows = std::min(chunk, sh.p - p0);
      const MatrixOperand gradients{Op::N, dy_n + p0 * sh.q, sh.pq()};
      detail::sgemm_sources(rows * sh.q, sh.crs(), sh.k, 1.0f, detail::matrix_a_source(gradients), filters.source(),
                            0.0f, col, rows * sh.q, image_options);
      col2im_nchw(cp, sh, col, p0, rows, dx_n, team_size(image_options));
    }
  });
}

void backward_data_nhwc(const ConvProblem& cp, const Shape& sh, const float* dy, const Filters& filters, float* dx,
                        const GemmOptions& options) {
  const int64_t pixels = sh.n * sh.pq();
  if (is_pointwise(cp)) {
    const MatrixOperand gradients{Op::N, dy, sh.k};
    detail::sgemm_sources(sh.c, pixels, sh.k, 1.0f, filters.source(), detail::matrix_b_source(gradients), 0.0f, dx,
                          sh.c, options);
    return;
  }
  std::fill(dx, dx + sh.n * sh.hw() * sh.c, 0.0f);
  const int64_t chunk = nhwc_chunk_pixels(sh);
  float* col = scratch(Scratch::columns, chunk * sh.crs());
  for (int64_t pix0 = 0; pix0 < pixels; pix0 += chunk) {
    const int64_t count = std::min(chunk, pixels - pix0);
    const MatrixOperand gradients{Op::N, dy + pix0 * sh.k, sh.k};
    detail::sgemm_sources(sh.crs(), count, sh.k, 1.0f, filters.source(), detail::matrix_b_source(gradients), 0.0f, col,
                          sh.crs(), options);
    col2im_nhwc(cp, sh, col, pix0, count, dx, team_size(options));
  }
}

// NCHW backward_filter on maps of 16 output pixels and more: the GEMM over phase planes, per
// image, which computes no padding columns. Below, the per-image GEMMs are too shallow (k = PQ)
// to pay for updating dw once per image, and the gather reduces over the whole batch in one GEMM.
bool uses_wide_backward_filter(const Shape& sh) { return sh.pq() >= 16; }

// Per image, dw += patchesᵀ · dy_n, the patches packed from the phase planes (see WideLayout).
void backward_filter_nchw_wide(const Shape& sh, const float* x, const float* dy, float* dw,
                               const GemmOptions& options) {
  const detail::WideLayout layout(sh);
  float* planes = scratch(Scratch::planes, layout.image_floats());
  for (int64_t n = 0; n < sh.n; ++n) {
    detail::fill_wide_planes(sh, layout, x + n * sh.c * sh.hw(), planes, team_size(options));
    const detail::WideOperand patches{&layout, planes};
    const MatrixOperand gradients{Op::N, dy + n * sh.k * sh.pq(), sh.pq()};
    detail::sgemm_sources(sh.crs(), sh.k, sh.pq(), 1.0f, detail::nchw_wide_patches_by_tap(patches),
                          detail::matrix_b_source(gradients), n == 0 ? 0.0f : 1.0f, dw, sh.crs(), options);
  }
}

void backward_filter_nchw(const ConvProblem& cp, const Shape& sh, const float* x, const float* dy, float* dw,
                          const GemmOptions& options) {
  if (is_pointwise(cp)) {
    // x_n and dy_n are already the GEMM's operands; matrix packing reads them contiguously,
    // faster than the patch gather.
    for (int64_t n = 0; n < sh.n; ++n) {
      sgemm(Op::T, Op::N, sh.c, sh.k, sh.hw(), 1.0f, x + n * sh.c * sh.hw(), sh.hw(), dy + n * sh.k * sh.pq(),
            sh.pq(), n == 0 ? 0.0f : 1.0f, dw, sh.c, options);
    }
    return;
  }
  if (uses_wide_backward_filter(sh)) return backward_filter_nchw_wide(sh, x, dy, dw, options);
  // dw (CRS×K) = Σ_n im2col(x_n)ᵀ · dy_n as one GEMM with k = N·PQ: the batch reduction happens in
  // the micro-kernel's registers instead of N passes of beta = 1 over dw.
  const ConvOperand patches{&sh, x}, gradients{&sh, dy};
  detail::sgemm_sources(sh.crs(), sh.k, sh.n * sh.pq(), 1.0f, detail::nchw_patches_by_tap(patches),
                        detail::nchw_gradients_by_filter(gradients), 0.0f, dw, sh.crs(), options);
}

void backward_filter_nhwc(const ConvProblem& cp, const Shape& sh, const float* x, const float* dy, float* dw,
                          const GemmOptions& options) {
  const int64_t pixels = sh.n * sh.pq();
  if (is_pointwise(cp)) {
    sgemm(Op::N, Op::T, sh.c, sh.k, pixels, 1.0f, x, sh.c, dy, sh.k, 0.0f, dw, sh.c, options);
    return;
  }
  const ConvOperand patches{&sh, x};
  const MatrixOperand gradients{Op::T, dy, sh.k};
  detail::sgemm_sources(sh.crs(), sh.k, pixels, 1.0f, detail::nhwc_patches_by_tap(patches),
                        detail::matrix_b_source(gradients), 0.0f, dw, sh.crs(), options);
}

}  // namespace

namespace detail {
void set_column_budget(int64_t floats) {
  column_budget_floats = floats > 0 ? floats : default_column_budget_floats;
}
}  // namespace detail

int64_t conv_workspace_floats(const ConvProblem& problem) {
  // NCHW forward keeps a transposed output (small maps) or phase planes, NCHW backward_filter
  // phase planes from 16 output pixels; backward_data builds columns unless it runs as a forward;
  // the rest pack patches straight into the GEMM.
  if (runs_as_forward(problem)) return conv_workspace_floats(as_forward(problem));
  const Shape sh(problem);
  const bool nchw = problem.layout == Layout::NCHW;
  if (nchw && problem.pass == ConvPass::forward && uses_batched_forward(sh)) return sh.n * sh.pq() * sh.k;
  if (nchw && problem.pass == ConvPass::backward_data && uses_transposed_columns(sh)) return sh.crs() * sh.pq();
  if (is_pointwise(problem)) return 0;
  const bool wide = problem.pass == ConvPass::forward ||
                    (problem.pass == ConvPass::backward_filter && uses_wide_backward_filter(sh));
  if (nchw && wide) return detail::WideLayout(sh).image_floats();
  if (problem.pass != ConvPass::backward_data) return 0;
  return nchw ? nchw_chunk_rows(sh) * sh.q * sh.crs() : nhwc_chunk_pixels(sh) * sh.crs();
}

namespace {
void check_problem(const ConvProblem& problem, const GemmOptions& options) {
  if (const auto error = validate(Problem{problem})) throw std::invalid_argument("conv2d: " + *error);
  if (problem.dtype != Dtype::fp32) throw std::invalid_argument("conv2d: only fp32 is implemented");
  // Check a forced micro-kernel here: sgemm's exception must not escape a parallel region.
  if (options.micro_kernel) {
    const std::vector<MicroKernel> kernels = available_micro_kernels();
    if (std::find(kernels.begin(), kernels.end(), *options.micro_kernel) == kernels.end()) {
      throw std::runtime_error("conv2d: micro-kernel '" + std::string(to_string(*options.micro_kernel)) +
                               "' cannot run on this CPU");
    }
  }
}
}  // namespace

PackedFilters::PackedFilters(const ConvProblem& problem, const float* w, const GemmOptions& options)
    : problem_(problem) {
  check_problem(problem, options);
  if (problem.pass == ConvPass::backward_filter) return;
  const Filters filters{filter_operand(problem, Shape(problem), w), nullptr};
  const FilterOperand& f = filters.operand;
  panels_ = std::make_shared<const detail::PackedPanels>(detail::pack_panels(
      filters.source(), f.lanes, f.depth, f.is_a, options.micro_kernel.value_or(best_micro_kernel())));
}

void conv2d(const ConvProblem& problem, const float* in0, const float* in1, float* out, const GemmOptions& options,
            const PackedFilters* packed) {
  check_problem(problem, options);
  if (packed != nullptr && !(packed->problem() == problem)) {
    throw std::invalid_argument("conv2d: the packed filters belong to another problem");
  }
  const Shape sh(problem);
  const bool nchw = problem.layout == Layout::NCHW;
  const detail::PackedPanels* panels = packed != nullptr ? packed->panels() : nullptr;
  switch (problem.pass) {
    case ConvPass::forward: {
      const Filters filters{filter_operand(problem, sh, in1), panels};
      return nchw ? forward_nchw(problem, sh, in0, filters, out, options)
                  : forward_nhwc(problem, sh, in0, filters, out, options);
    }
    case ConvPass::backward_data: {
      const Filters filters{filter_operand(problem, sh, in1), panels};
      if (runs_as_forward(problem)) {
        const ConvProblem forward = as_forward(problem);
        return forward_nchw(forward, Shape(forward), in0, filters, out, options);
      }
      return nchw ? backward_data_nchw(problem, sh, in0, filters, out, options)
                  : backward_data_nhwc(problem, sh, in0, filters, out, options);
    }
    case ConvPass::backward_filter:
      return nchw ? backward_filter_nchw(problem, sh, in0, in1, out, options)
                  : backward_filter_nhwc(problem, sh, in0, in1, out, options);
  }
}

}  // namespace trainrate::kernels::cpu
