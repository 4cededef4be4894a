// Max and average pooling over NCHW planes, one plane per task.
//
// Every pass walks the window one (r, s) offset at a time over a whole output row: for a fixed
// offset the in-bounds outputs are one contiguous range of q, so the inner loop has no bounds
// tests. With a stride sw > 1 those q read every sw-th column; the plane is first split by column
// phase (PhasePlane) so that every such run is contiguous, and the strided reads happen once per
// input value rather than once per window that covers it (2.25 times for 3×3, stride 2). The max
// forward first reduces the window's rows, so it splits one row per output row, not the plane.
// maxpool_argmax finds each window's first maximum the same way, a row of outputs at a time; the
// backward pass is then only a scatter of dy to those positions.
#include "kernels/cpu/memory_bound.hpp"

#include <algorithm>
#include <limits>
#include <vector>

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

// A plane with each row split by column phase: row h's phase f holds columns f, f + sw, f + 2·sw,
// ... from index (h·sw + f)·len on, len = ⌈w/sw⌉. Window column ss of output q is then element
// q + shift of one phase. With sw = 1 the plane is its own layout and nothing is copied.
class PhasePlane {
 public:
  // Window column ss, the same in every row: output q's value is element row_start(row) +
  // offset + q, for q in [q_begin, q_end) (those whose column is inside the row).
  struct Column {
    int64_t offset, q_begin, q_end;
  };

  explicit PhasePlane(const PoolGeometry& g) : g_(g), length_(g.sw == 1 ? g.w : (g.w + g.sw - 1) / g.sw) {
    if (g.sw > 1) buffer_.resize(size_t(g.h * g.sw * length_));
    for (int64_t ss = 0; ss < g.s; ++ss) {
      const int64_t column = ss - g.pw;  // of output 0, may be negative
      const int64_t phase = (column % g.sw + g.sw) % g.sw;
      columns_.push_back({phase * length_ + (column - phase) / g.sw, g.q_begin(ss), g.q_end(ss)});
    }
  }

  int64_t row_start(int64_t row) const { return row * g_.sw * length_; }
  // The plane index (row·w + column) of element i of this layout.
  int64_t plane_index(int64_t i) const {
    const int64_t row = i / (g_.sw * length_), phase = i % (g_.sw * length_) / length_, k = i % length_;
    return row * g_.w + phase + k * g_.sw;
  }
  const std::vector<Column>& columns() const { return columns_; }

  // plane in this layout (a copy unless sw = 1).
  const float* split(const float* plane) {
    if (g_.sw == 1) return plane;
    if (g_.sw == 2) {
      // The common stride, as one loop over column pairs that vectorises (as shuffles).
      const int64_t pairs = g_.w / 2;
      for (int64_t row = 0; row < g_.h; ++row) {
        const float* in = plane + row * g_.w;
        float* even = buffer_.data() + row * 2 * length_;
        float* odd = even + length_;
        for (int64_t k = 0; k < pairs; ++k) {
          even[k] = in[2 * k];
          odd[k] = in[2 * k + 1];
        }
        if (g_.w % 2 != 0) even[pairs] = in[g_.w - 1];
      }
      return buffer_.data();
    }
    for (int64_t row = 0; row < g_.h; ++row) {
      for (int64_t phase = 0; phase < g_.sw; ++phase) {
        float* out = buffer_.data() + (row * g_.sw + phase) * length_;
        const float* in = plane + row * g_.w + phase;
        const int64_t count = (g_.w - phase + g_.sw - 1) / g_.sw;
        for (int64_t k = 0; k < count; ++k) out[k] = in[k * g_.sw];
      }
    }
    return buffer_.data();
  }

  // A zeroed gradient in this layout (plane itself when sw = 1); merge_into writes it to plane.
  float* zeroed_accumulator(float* plane) {
    float* accumulator = g_.sw == 1 ? plane : buffer_.data();
    std::fill(accumulator, accumulator + (g_.sw == 1 ? g_.h * g_.w : int64_t(buffer_.size())), 0.0f);
    return accumulator;
  }
  void merge_into(float* plane) const {
    if (g_.sw == 1) return;
    if (g_.sw == 2) {
      const int64_t pairs = g_.w / 2;
      for (int64_t row = 0; row < g_.h; ++row) {
        float* out = plane + row * g_.w;
        const float* even = buffer_.data() + row * 2 * length_;
        const float* odd = even + length_;
        for (int64_t k = 0; k < pairs; ++k) {
          out[2 * k] = even[k];
          out[2 * k + 1] = odd[k];
        }
        if (g_.w % 2 != 0) out[g_.w - 1] = even[pairs];
      }
      return;
    }
    for (int64_t row = 0; row < g_.h; ++row) {
      for (int64_t phase = 0; phase < g_.sw; ++phase) {
        const float* in = buffer_.data() + (row * g_.sw + phase) * length_;
        float* out = plane + row * g_.w + phase;
        const int64_t count = (g_.w - phase + g_.sw - 1) / g_.sw;
        for (int64_t k = 0; k < count; ++k) out[k * g_.sw] = in[k];
      }
    }
  }

 private:
  PoolGeometry g_;
  int64_t length_;
  std::vector<float> buffer_;
  std::vector<Column> columns_;
};

// Runs body(scratch, plane) for each of the n·c planes, over the team when the input is large.
// Each thread makes its Scratch (phase-split buffers, per-row state) once, not once per plane: a
// fresh buffer per plane costs an allocation and a zero-filling pass over it, which for a 3×3/2
// max pool is more memory traffic than the pooling itself.
template <class Scratch, class Body>
void for_each_plane(const PoolGeometry& g, Body&& body) {
  // Its own region rather than split_over_team, which let GCC inline the body and compile
  // maxpool_forward's row loops slower (docs/results); the planes repay the region's setup.
#pragma omp parallel if (g.n * g.c * g.h * g.w >= detail::parallel_min_elements)
  {
    Scratch scratch(g);
#pragma omp for schedule(static)
    for (int64_t plane = 0; plane < g.n * g.c; ++plane) body(scratch, plane);
  }
}

struct NoScratch {
  explicit NoScratch(const PoolGeometry&) {}
};

// Per output of a row: the largest value so far and where it is (−1: none yet; a plane has far
// fewer than 2^31 values).
struct ArgmaxScratch {
  explicit ArgmaxScratch(const PoolGeometry& g)
      : x_layout(g), best(static_cast<size_t>(g.q())), where(static_cast<size_t>(g.q())) {}
  PhasePlane x_layout;
  std::vector<float> best;
  std::vector<int32_t> where;
};

// Calls visit(first, q_begin, q_end) for every in-bounds (rr, ss) offset of output row p_out's
// windows, in row-major window order: output q's value under that offset is element first + q
// of the PhasePlane layout, for q in [q_begin, q_end).
template <class Visit>
void for_each_window_offset(const PoolGeometry& g, const PhasePlane& layout, int64_t p_out, Visit&& visit) {
  for (int64_t rr = 0; rr < g.r; ++rr) {
    const int64_t row = g.input_row(p_out, rr);
    if (row < 0 || row >= g.h) continue;
    const int64_t start = layout.row_start(row);
    for (const PhasePlane::Column& column : layout.columns()) visit(start + column.offset, column.q_begin, column.q_end);
  }
}

}  // namespace

// Per thread: the input rows of one output row's window, and their column maxima.
struct ColumnMaxScratch {
  explicit ColumnMaxScratch(const PoolGeometry& g) : rows(static_cast<size_t>(g.r)), column_max(static_cast<size_t>(g.w)) {}
  std::vector<const float*> rows;
  std::vector<float> column_max;
};

// The maximum is separable: an output row's window rows are first reduced to one row of column
// maxima (contiguous loads, each input row read once per output row it serves), then the window's
// columns of that row, both in the widest vector loops (at baseline width the row loops, not
// memory, set the pace: docs/results).
void maxpool_forward(const float* x, float* y, int64_t n, int64_t c, int64_t h, int64_t w, int64_t r, int64_t s,
                     int64_t sh, int64_t sw, int64_t ph, int64_t pw) {
  const PoolGeometry g{n, c, h, w, r, s, sh, sw, ph, pw};
  const int64_t p = g.p(), q = g.q();
  const auto& loops = detail::memory_bound_loops();
  // The outputs whose window columns all lie inside the row: its first column's and its last's.
  const int64_t inner_begin = g.q_begin(0), inner_end = std::max(inner_begin, g.q_end(s - 1));
  for_each_plane<ColumnMaxScratch>(g, [&](ColumnMaxScratch& scratch, int64_t plane) {
    for (int64_t p_out = 0; p_out < p; ++p_out) {
      int64_t count = 0;
      for (int64_t rr = 0; rr < r; ++rr) {
        const int64_t row = g.input_row(p_out, rr);
        if (row >= 0 && row < h) scratch.rows[size_t(count++)] = x + (plane * h + row) * w;
      }
      loops.maxpool_row(scratch.rows.data(), count, w, scratch.column_max.data(), y + (plane * p + p_out) * q, q, s,
                        sw, pw, inner_begin, inner_end);
    }
  });
}

void maxpool_argmax(const float* x, int32_t* where, int64_t n, int64_t c, int64_t h, int64_t w, int64_t r, int64_t s,
                    int64_t sh, int64_t sw, int64_t ph, int64_t pw) {
  const PoolGeometry g{n, c, h, w, r, s, sh, sw, ph, pw};
  const int64_t p = g.p(), q = g.q();
  for_each_plane<ArgmaxScratch>(g, [&](ArgmaxScratch& scratch, int64_t plane) {
    const float* in = scratch.x_layout.split(x + plane * h * w);
    float* best_row = scratch.best.data();
    int32_t* where_row = scratch.where.data();
    for (int64_t p_out = 0; p_out < p; ++p_out) {
      std::fill(best_row, best_row + q, -std::numeric_limits<float>::infinity());
      std::fill(where_row, where_row + q, -1);
      for_each_window_offset(g, scratch.x_layout, p_out, [&](int64_t first, int64_t begin, int64_t end) {
#pragma omp simd
        for (int64_t qq = begin; qq < end; ++qq) {
          const float v = in[first + qq];
          // Strictly greater: a later equal value does not displace the first maximum.
          const bool take = v > best_row[qq] || where_row[qq] < 0;
          best_row[qq] = take ? v : best_row[qq];
          where_row[qq] = take ? int32_t(first + qq) : where_row[qq];
        }
      });
      int32_t* out = where + (plane * p + p_out) * q;
      for (int64_t qq = 0; qq < q; ++qq) {
        out[qq] = where_row[qq] < 0 ? -1 : int32_t(scratch.x_layout.plane_index(where_row[qq]));
      }
    }
  });
}

void maxpool_backward(const int32_t* where, const float* dy, float* dx, int64_t planes, int64_t plane_size,
                      int64_t outputs_per_plane) {
  detail::split_over_team(planes, planes * plane_size, [&](int64_t first, int64_t last) {
    for (int64_t plane = first; plane < last; ++plane) {
      float* grad = dx + plane * plane_size;
      std::fill(grad, grad + plane_size, 0.0f);
      const int32_t* at = where + plane * outputs_per_plane;
      const float* d = dy + plane * outputs_per_plane;
      for (int64_t o = 0; o < outputs_per_plane; ++o) {
        if (at[o] >= 0) grad[at[o]] += d[o];
      }
    }
  });
}

// A window that is the whole unpadded plane (the global average pool ending a CNN): one output per
// plane, so the phase split and the row loops would cost more than the sum itself.
bool whole_plane_window(const PoolGeometry& g) { return g.r == g.h && g.s == g.w && g.ph == 0 && g.pw == 0; }

void avgpool_forward(const float* x, float* y, int64_t n, int64_t c, int64_t h, int64_t w, int64_t r, int64_t s,
                     int64_t sh, int64_t sw, int64_t ph, int64_t pw) {
  const PoolGeometry g{n, c, h, w, r, s, sh, sw, ph, pw};
  const int64_t p = g.p(), q = g.q();
  const float inv_area = 1.0f / float(r * s);
  if (whole_plane_window(g)) {
    for_each_plane<NoScratch>(g, [&](NoScratch&, int64_t plane) {
      const float* in = x + plane * h * w;
      float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
      for (int64_t i = 0; i < h * w; ++i) sum += in[i];
      y[plane] = sum * inv_area;
    });
    return;
  }
  for_each_plane<PhasePlane>(g, [&](PhasePlane& layout, int64_t plane) {
    const float* in = layout.split(x + plane * h * w);
    for (int64_t p_out = 0; p_out < p; ++p_out) {
      float* y_row = y + (plane * p + p_out) * q;
      std::fill(y_row, y_row + q, 0.0f);
      for_each_window_offset(g, layout, p_out, [&](int64_t first, int64_t begin, int64_t end) {
#pragma omp simd
        for (int64_t qq = begin; qq < end; ++qq) y_row[qq] += in[first + qq];
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
  if (whole_plane_window(g)) {
    for_each_plane<NoScratch>(g, [&](NoScratch&, int64_t plane) {
      std::fill(dx + plane * h * w, dx + (plane + 1) * h * w, dy[plane] * inv_area);
    });
    return;
  }
  for_each_plane<PhasePlane>(g, [&](PhasePlane& layout, int64_t plane) {
    float* grad = layout.zeroed_accumulator(dx + plane * h * w);
    for (int64_t p_out = 0; p_out < p; ++p_out) {
      const float* dy_row = dy + (plane * p + p_out) * q;
      // For one window offset the q outputs hit distinct inputs, so the scatter has no conflicts.
      for_each_window_offset(g, layout, p_out, [&](int64_t first, int64_t begin, int64_t end) {
#pragma omp simd
        for (int64_t qq = begin; qq < end; ++qq) grad[first + qq] += dy_row[qq] * inv_area;
      });
    }
    layout.merge_into(dx + plane * h * w);
  });
}

}  // namespace trainrate::kernels::cpu
