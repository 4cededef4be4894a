// Max and average pooling over NCHW planes, one plane per task.
//
// The forward passes and the average backward walk the window one (r, s) offset at a time over a
// whole output row: for a fixed offset the in-bounds outputs are one contiguous range of q, so the
// inner loop has no bounds tests and vectorises (with a stride of sw in x). Max backward scans each
// window in order instead, since only the first maximum may receive the gradient.
#include "kernels/cpu/memory_bound.hpp"

#include <algorithm>
#include <limits>

#include "kernels/cpu/memory_bound_internal.hpp"

namespace trainrate::kernels::cpu {

namespace {

struct PoolGeometry {
  int64_t n, c, h, w, r, s, sh, sw, ph, pw;

  int64_t p() const { return (h + 2 * ph - r) / sh + 1; }
  int64_t q() const { return (w + 2 * pw - s) / sw + 1; }
  // The input row under window row rr of output row p_out (may be outside [0, h)).
  int64_t input_row(int64_t p_out, int64_t rr) const { return p_out * sh + rr - ph; }
  // The outputs q in [q_begin, q_end) whose window column ss is inside the row: 0 ≤ q·sw + ss − pw < w.
  int64_t q_begin(int64_t ss) const { return std::min(q(), (std::max<int64_t>(pw - ss, 0) + sw - 1) / sw); }
  int64_t q_end(int64_t ss) const {
    const int64_t last_column = w - 1 + pw - ss;
    return last_column < 0 ? 0 : std::min(q(), last_column / sw + 1);
  }
};

// Runs body(plane) for each of the n·c planes, over the team when the input is large.
template <class Body>
void for_each_plane(const PoolGeometry& g, Body&& body) {
#pragma omp parallel for schedule(static) if (g.n * g.c * g.h * g.w >= detail::parallel_min_elements)
  for (int64_t plane = 0; plane < g.n * g.c; ++plane) body(plane);
}

// Calls combine(row, offset, q_begin, q_end) for every in-bounds (rr, ss) offset of output row
// p_out's windows, row being that input row of plane: output q meets row[q·sw + offset] for q in
// [q_begin, q_end).
template <class Float, class Combine>
void for_each_window_offset(const PoolGeometry& g, Float* plane, int64_t p_out, Combine&& combine) {
  for (int64_t rr = 0; rr < g.r; ++rr) {
    const int64_t row = g.input_row(p_out, rr);
    if (row < 0 || row >= g.h) continue;
    for (int64_t ss = 0; ss < g.s; ++ss) combine(plane + row * g.w, ss - g.pw, g.q_begin(ss), g.q_end(ss));
  }
}

}  // namespace

void maxpool_forward(const float* x, float* y, int64_t n, int64_t c, int64_t h, int64_t w, int64_t r, int64_t s,
                     int64_t sh, int64_t sw, int64_t ph, int64_t pw) {
  const PoolGeometry g{n, c, h, w, r, s, sh, sw, ph, pw};
  const int64_t p = g.p(), q = g.q();
  for_each_plane(g, [&](int64_t plane) {
    const float* x_plane = x + plane * h * w;
    for (int64_t p_out = 0; p_out < p; ++p_out) {
      float* y_row = y + (plane * p + p_out) * q;
      std::fill(y_row, y_row + q, -std::numeric_limits<float>::infinity());
      for_each_window_offset(g, x_plane, p_out, [&](const float* x_row, int64_t offset, int64_t begin, int64_t end) {
#pragma omp simd
        for (int64_t qq = begin; qq < end; ++qq) {
          const float v = x_row[qq * sw + offset];
          y_row[qq] = v > y_row[qq] ? v : y_row[qq];
        }
      });
    }
  });
}

void maxpool_backward(const float* x, const float* dy, float* dx, int64_t n, int64_t c, int64_t h, int64_t w,
                      int64_t r, int64_t s, int64_t sh, int64_t sw, int64_t ph, int64_t pw) {
  const PoolGeometry g{n, c, h, w, r, s, sh, sw, ph, pw};
  const int64_t p = g.p(), q = g.q();
  for_each_plane(g, [&](int64_t plane) {
    const float* x_plane = x + plane * h * w;
    const float* dy_plane = dy + plane * p * q;
    float* dx_plane = dx + plane * h * w;
    std::fill(dx_plane, dx_plane + h * w, 0.0f);
    for (int64_t p_out = 0; p_out < p; ++p_out) {
      for (int64_t q_out = 0; q_out < q; ++q_out) {
        int64_t best_index = -1;
        float best = 0.0f;
        for (int64_t rr = 0; rr < r; ++rr) {
          const int64_t row = g.input_row(p_out, rr);
          if (row < 0 || row >= h) continue;
          for (int64_t ss = 0; ss < s; ++ss) {
            const int64_t column = q_out * sw + ss - pw;
            if (column < 0 || column >= w) continue;
            const float v = x_plane[row * w + column];
            if (best_index < 0 || v > best) {
              best = v;
              best_index = row * w + column;
            }
          }
        }
        if (best_index >= 0) dx_plane[best_index] += dy_plane[p_out * q + q_out];
      }
    }
  });
}

void avgpool_forward(const float* x, float* y, int64_t n, int64_t c, int64_t h, int64_t w, int64_t r, int64_t s,
                     int64_t sh, int64_t sw, int64_t ph, int64_t pw) {
  const PoolGeometry g{n, c, h, w, r, s, sh, sw, ph, pw};
  const int64_t p = g.p(), q = g.q();
  const float inv_area = 1.0f / float(r * s);
  for_each_plane(g, [&](int64_t plane) {
    const float* x_plane = x + plane * h * w;
    for (int64_t p_out = 0; p_out < p; ++p_out) {
      float* y_row = y + (plane * p + p_out) * q;
      std::fill(y_row, y_row + q, 0.0f);
      for_each_window_offset(g, x_plane, p_out, [&](const float* x_row, int64_t offset, int64_t begin, int64_t end) {
#pragma omp simd
        for (int64_t qq = begin; qq < end; ++qq) y_row[qq] += x_row[qq * sw + offset];
      });
#pragma omp simd
      for (int64_t qq = 0; qq < q; ++qq) y_row[qq] *= inv_area;
    }
  });
}

void avgpool_backward(const float* dy, float* dx, int64_t n, int64_t c, int64_t h, int64_t w, int64_t r, int64_t s,
                      int64_t sh, int64_t sw, int64_t ph, int64_t pw) {
  const PoolGeometry g{n, c, h, w, r, s, sh, sw, ph, pw};
  const int64_t p = g.p(), q = g.q();
  const float inv_area = 1.0f / float(r * s);
  for_each_plane(g, [&](int64_t plane) {
    float* dx_plane = dx + plane * h * w;
    std::fill(dx_plane, dx_plane + h * w, 0.0f);
    for (int64_t p_out = 0; p_out < p; ++p_out) {
      const float* dy_row = dy + (plane * p + p_out) * q;
      // For one window offset the q outputs hit distinct columns, so the scatter has no conflicts.
      for_each_window_offset(g, dx_plane, p_out, [&](float* dx_row, int64_t offset, int64_t begin, int64_t end) {
#pragma omp simd
        for (int64_t qq = begin; qq < end; ++qq) dx_row[qq * sw + offset] += dy_row[qq] * inv_area;
      });
    }
  });
}

}  // namespace trainrate::kernels::cpu
