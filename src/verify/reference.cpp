#include "verify/reference.hpp"

#include <variant>

namespace trainrate::reference {

namespace {

struct ConvIndex {
  int64_t n, k_or_c, y, x;
};

// Decompose a linear offset of a 4-D activation tensor [n, ch, y, x] in `layout` order.
ConvIndex activation_index(Layout layout, int64_t offset, int64_t channels, int64_t height, int64_t width) {
  ConvIndex idx{};
  if (layout == Layout::NCHW) {
    idx.x = offset % width;
    offset /= width;
    idx.y = offset % height;
    offset /= height;
    idx.k_or_c = offset % channels;
    idx.n = offset / channels;
  } else {
    idx.k_or_c = offset % channels;
    offset /= channels;
    idx.x = offset % width;
    offset /= width;
    idx.y = offset % height;
    idx.n = offset / height;
  }
  return idx;
}

double forward_element(const ConvProblem& c, const float* x, const float* w, int64_t n, int64_t k, int64_t p,
                       int64_t q) {
  double sum = 0.0;
  for (int64_t ch = 0; ch < c.c; ++ch) {
    for (int64_t r = 0; r < c.r; ++r) {
      const int64_t iy = p * c.stride_h - c.pad_h + r * c.dilation_h;
      if (iy < 0 || iy >= c.h) continue;
      for (int64_t s = 0; s < c.s; ++s) {
        const int64_t ix = q * c.stride_w - c.pad_w + s * c.dilation_w;
        if (ix < 0 || ix >= c.w) continue;
        sum += double(x[x_offset(c, n, ch, iy, ix)]) * double(w[w_offset(c, k, ch, r, s)]);
      }
    }
  }
  return sum;
}

// dx(n, ch, iy, ix) = sum over k, r, s where iy = p·stride − pad + r·dilation has an integer p in range.
double backward_data_element(const ConvProblem& c, const float* dy, const float* w, int64_t n, int64_t ch,
                             int64_t iy, int64_t ix) {
  double sum = 0.0;
  for (int64_t r = 0; r < c.r; ++r) {
    const int64_t py = iy + c.pad_h - r * c.dilation_h;
    if (py < 0 || py % c.stride_h != 0 || py / c.stride_h >= c.p()) continue;
    for (int64_t s = 0; s < c.s; ++s) {
      const int64_t qx = ix + c.pad_w - s * c.dilation_w;
      if (qx < 0 || qx % c.stride_w != 0 || qx / c.stride_w >= c.q()) continue;
      for (int64_t k = 0; k < c.k; ++k) {
        sum += double(dy[y_offset(c, n, k, py / c.stride_h, qx / c.stride_w)]) * double(w[w_offset(c, k, ch, r, s)]);
      }
    }
  }
  return sum;
}

double backward_filter_element(const ConvProblem& c, const float* x, const float* dy, int64_t k, int64_t ch,
                               int64_t r, int64_t s) {
  double sum = 0.0;
  for (int64_t n = 0; n < c.n; ++n) {
    for (int64_t p = 0; p < c.p(); ++p) {
      const int64_t iy = p * c.stride_h - c.pad_h + r * c.dilation_h;
      if (iy < 0 || iy >= c.h) continue;
      for (int64_t q = 0; q < c.q(); ++q) {
        const int64_t ix = q * c.stride_w - c.pad_w + s * c.dilation_w;
        if (ix < 0 || ix >= c.w) continue;
        sum += double(x[x_offset(c, n, ch, iy, ix)]) * double(dy[y_offset(c, n, k, p, q)]);
      }
    }
  }
  return sum;
}

}  // namespace

double gemm_element(const GemmProblem& g, const float* a, const float* b, int64_t batch, int64_t i, int64_t j) {
  const float* a_batch = a + batch * g.a_elements();
  const float* b_batch = b + batch * g.b_elements();
  double sum = 0.0;
  for (int64_t l = 0; l < g.k; ++l) {
    const float a_il = g.op_a == Op::N ? a_batch[i + l * g.lda()] : a_batch[l + i * g.lda()];
    const float b_lj = g.op_b == Op::N ? b_batch[l + j * g.ldb()] : b_batch[j + l * g.ldb()];
    sum += double(a_il) * double(b_lj);
  }
  return sum;
}

int64_t x_offset(const ConvProblem& c, int64_t n, int64_t ch, int64_t y, int64_t x) {
  return c.layout == Layout::NCHW ? ((n * c.c + ch) * c.h + y) * c.w + x : ((n * c.h + y) * c.w + x) * c.c + ch;
}

int64_t w_offset(const ConvProblem& c, int64_t k, int64_t ch, int64_t r, int64_t s) {
  return c.layout == Layout::NCHW ? ((k * c.c + ch) * c.r + r) * c.s + s : ((k * c.r + r) * c.s + s) * c.c + ch;
}

int64_t y_offset(const ConvProblem& c, int64_t n, int64_t k, int64_t p, int64_t q) {
  return c.layout == Layout::NCHW ? ((n * c.k + k) * c.p() + p) * c.q() + q
                                  : ((n * c.p() + p) * c.q() + q) * c.k + k;
}

double conv_element(const ConvProblem& c, const float* in0, const float* in1, int64_t output_offset) {
  switch (c.pass) {
    case ConvPass::forward: {
      const ConvIndex i = activation_index(c.layout, output_offset, c.k, c.p(), c.q());
      return forward_element(c, in0, in1, i.n, i.k_or_c, i.y, i.x);
    }
    case ConvPass::backward_data: {
      const ConvIndex i = activation_index(c.layout, output_offset, c.c, c.h, c.w);
      return backward_data_element(c, in0, in1, i.n, i.k_or_c, i.y, i.x);
    }
    case ConvPass::backward_filter: {
      // The filter has the activation shape [k, c, r, s] in both layouts (KCRS or KRSC).
      const ConvIndex i = activation_index(c.layout, output_offset, c.c, c.r, c.s);
      return backward_filter_element(c, in0, in1, i.n, i.k_or_c, i.y, i.x);
    }
  }
  return 0.0;
}

double element(const Problem& problem, const float* in0, const float* in1, int64_t output_offset) {
  if (const auto* g = std::get_if<GemmProblem>(&problem)) {
    const int64_t batch = output_offset / g->c_elements();
    const int64_t within = output_offset % g->c_elements();
    return gemm_element(*g, in0, in1, batch, within % g->m, within / g->m);
  }
  return conv_element(std::get<ConvProblem>(problem), in0, in1, output_offset);
}

void compute(const Problem& problem, const float* in0, const float* in1, float* out) {
  const int64_t count = operand_elements(problem).output;
  for (int64_t offset = 0; offset < count; ++offset) {
    out[offset] = float(element(problem, in0, in1, offset));
  }
}

}  // namespace trainrate::reference
