// The memory-bound reference: each op's formula (problem.hpp) in double, plain loops over the
// whole output. These ops are O(bytes), so the reference computes everything at once rather than
// one element at a time: a norm's or softmax's statistics are shared by a whole row or channel.
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <numbers>
#include <span>

#include "verify/reference.hpp"

namespace trainrate::reference {

namespace {

using Tensor = std::vector<float>;
using Out = std::vector<double>;

double gelu(double x) { return 0.5 * x * (1.0 + std::erf(x / std::numbers::sqrt2)); }
double gelu_grad(double x) {
  const double cdf = 0.5 * (1.0 + std::erf(x / std::numbers::sqrt2));
  const double pdf = std::exp(-0.5 * x * x) / std::sqrt(2.0 * std::numbers::pi);
  return cdf + x * pdf;
}

void elementwise(const MemoryProblem& m, const HostInputs& in, Out& out) {
  for (int64_t i = 0; i < m.elements; ++i) {
    const double x = in.in0[size_t(i)];
    if (m.op == MemoryOp::add) {
      out[size_t(i)] = x + double(in.in1[size_t(i)]);
    } else if (!m.backward) {
      out[size_t(i)] = m.op == MemoryOp::relu ? std::max(x, 0.0) : gelu(x);
    } else {
      const double dy = in.in1[size_t(i)];
      out[size_t(i)] = m.op == MemoryOp::relu ? (x > 0 ? dy : 0.0) : dy * gelu_grad(x);
    }
  }
}

// Normalization over `groups` sets of `count` values; value j of group g sits at at(g, j) and
// uses parameter param(g, j) (batch norm: one per channel; layer norm: one per column). Outputs
// follow memory_outputs: forward y, mean[groups], variance[groups]; backward dx, dgamma, dbeta.
template <typename At, typename Param>
void normalize(const MemoryProblem& m, const HostInputs& in, Out& out, int64_t groups, int64_t count,
               int64_t params, At at, Param param) {
  const size_t values = size_t(groups * count);
  const Tensor& x = in.in0;
  for (int64_t g = 0; g < groups; ++g) {
    double mean = 0, var = 0;
    if (m.backward) {
      mean = in.more[1][size_t(g)];
      var = in.more[2][size_t(g)];
    } else {
      for (int64_t j = 0; j < count; ++j) mean += x[at(g, j)];
      mean /= double(count);
      for (int64_t j = 0; j < count; ++j) var += (x[at(g, j)] - mean) * (x[at(g, j)] - mean);
      var /= double(count);
      out[values + size_t(g)] = mean;
      out[values + size_t(groups + g)] = var;
    }
    const double inv_std = 1.0 / std::sqrt(var + kNormEps);
    if (!m.backward) {
      const Tensor &gamma = in.in1, &beta = in.more[0];
      for (int64_t j = 0; j < count; ++j) {
        const size_t p = param(g, j);
        out[at(g, j)] = gamma[p] * (x[at(g, j)] - mean) * inv_std + beta[p];
      }
      continue;
    }
    const Tensor &dy = in.in1, &gamma = in.more[0];
    double* dgamma = &out[values];
    double* dbeta = &out[values + size_t(params)];
    // Per-group sums of dy·gamma and dy·gamma·x̂ (batch norm: gamma is constant in the group).
    double sum_g = 0, sum_gx = 0;
    for (int64_t j = 0; j < count; ++j) {
      const size_t i = at(g, j), p = param(g, j);
      const double xhat = (x[i] - mean) * inv_std;
      dgamma[p] += dy[i] * xhat;
      dbeta[p] += dy[i];
      sum_g += dy[i] * gamma[p];
      sum_gx += dy[i] * gamma[p] * xhat;
    }
    for (int64_t j = 0; j < count; ++j) {
      const size_t i = at(g, j), p = param(g, j);
      const double xhat = (x[i] - mean) * inv_std;
      out[i] = inv_std * (dy[i] * gamma[p] - sum_g / double(count) - xhat * sum_gx / double(count));
    }
  }
}

void batchnorm(const MemoryProblem& m, const HostInputs& in, Out& out) {
  const int64_t hw = m.h * m.w;
  normalize(m, in, out, m.c, m.n * hw, m.c,
            [&](int64_t ch, int64_t j) { return size_t(((j / hw) * m.c + ch) * hw + j % hw); },
            [](int64_t ch, int64_t) { return size_t(ch); });
}

void layernorm(const MemoryProblem& m, const HostInputs& in, Out& out) {
  normalize(m, in, out, m.rows, m.cols, m.cols, [&](int64_t r, int64_t j) { return size_t(r * m.cols + j); },
            [](int64_t, int64_t j) { return size_t(j); });
}

// Calls visit(input_offset) for each in-bounds input of output (plane, p, q), rows then columns.
template <typename Visit>
void pool_window(const MemoryProblem& m, int64_t plane, int64_t p, int64_t q, Visit visit) {
  for (int64_t r = 0; r < m.window; ++r) {
    const int64_t iy = p * m.stride - m.pad + r;
    if (iy < 0 || iy >= m.h) continue;
    for (int64_t s = 0; s < m.window; ++s) {
      const int64_t ix = q * m.stride - m.pad + s;
      if (ix >= 0 && ix < m.w) visit(size_t((plane * m.h + iy) * m.w + ix));
    }
  }
}

void pool(const MemoryProblem& m, const HostInputs& in, Out& out) {
  const double divisor = double(m.window * m.window);
  const bool max = m.op == MemoryOp::maxpool;
  const Tensor& dy = m.backward ? (max ? in.in1 : in.in0) : in.in0;
  for (int64_t plane = 0; plane < m.n * m.c; ++plane) {
    for (int64_t p = 0; p < m.p(); ++p) {
      for (int64_t q = 0; q < m.q(); ++q) {
        const size_t o = size_t((plane * m.p() + p) * m.q() + q);
        if (max) {
          double best = -std::numeric_limits<double>::infinity();
          size_t first = 0;
          pool_window(m, plane, p, q, [&](size_t i) {
            if (in.in0[i] > best) best = in.in0[i], first = i;
          });
          if (m.backward) {
            out[first] += dy[o];
          } else {
            out[o] = best;
          }
        } else if (m.backward) {
          pool_window(m, plane, p, q, [&](size_t i) { out[i] += dy[o] / divisor; });
        } else {
          double sum = 0;
          pool_window(m, plane, p, q, [&](size_t i) { sum += in.in0[i]; });
          out[o] = sum / divisor;
        }
      }
    }
  }
}

// softmax(scale·x) of one row of `cols` values into y; causal masking as in problem.hpp.
void softmax_row(const float* x, double* y, int64_t cols, double scale, int64_t last_unmasked) {
  double max = -std::numeric_limits<double>::infinity(), sum = 0;
  for (int64_t j = 0; j <= last_unmasked; ++j) max = std::max(max, scale * x[j]);
  for (int64_t j = 0; j < cols; ++j) {
    y[j] = j <= last_unmasked ? std::exp(scale * x[j] - max) : 0.0;
    sum += y[j];
  }
  for (int64_t j = 0; j < cols; ++j) y[j] /= sum;
}

void softmax(const MemoryProblem& m, const HostInputs& in, Out& out) {
  for (int64_t r = 0; r < m.rows; ++r) {
    double* row = &out[size_t(r * m.cols)];
    if (!m.backward) {
      const int64_t last = m.causal_seq > 0 ? std::min(m.cols - 1, r % m.causal_seq) : m.cols - 1;
      softmax_row(&in.in0[size_t(r * m.cols)], row, m.cols, m.scale, last);
      continue;
    }
    const float* y = &in.in0[size_t(r * m.cols)];
    const float* dy = &in.in1[size_t(r * m.cols)];
    double dot = 0;
    for (int64_t j = 0; j < m.cols; ++j) dot += double(dy[j]) * y[j];
    for (int64_t j = 0; j < m.cols; ++j) row[j] = m.scale * y[j] * (dy[j] - dot);
  }
}

void cross_entropy(const MemoryProblem& m, const HostInputs& in, Out& out) {
  std::vector<double> p(size_t(m.cols));
  double loss = 0;
  for (int64_t r = 0; r < m.rows; ++r) {
    const float* x = &in.in0[size_t(r * m.cols)];
    const auto label = int64_t(in.in1[size_t(r)]);
    softmax_row(x, p.data(), m.cols, 1.0, m.cols - 1);
    if (m.backward) {
      for (int64_t j = 0; j < m.cols; ++j) out[size_t(r * m.cols + j)] = (p[size_t(j)] - (j == label)) / double(m.rows);
    } else {
      loss -= std::log(p[size_t(label)]);  // logsumexp − x[label]
    }
  }
  if (!m.backward) out[0] = loss / double(m.rows);
}

void embedding(const MemoryProblem& m, const HostInputs& in, Out& out) {
  for (int64_t t = 0; t < m.rows; ++t) {
    const auto row = int64_t(in.in1[size_t(t)]);
    for (int64_t j = 0; j < m.cols; ++j) {
      if (m.backward) {
        out[size_t(row * m.cols + j)] += in.in0[size_t(t * m.cols + j)];
      } else {
        out[size_t(t * m.cols + j)] = in.in0[size_t(row * m.cols + j)];
      }
    }
  }
}

double chain_op(ChainOp op, double k, double a, double b, double c) {
  switch (op) {
    case ChainOp::scale: return k * a;
    case ChainOp::add_scalar: return a + k;
    case ChainOp::square: return a * a;
    case ChainOp::sqrt: return std::sqrt(a);
    case ChainOp::add: return a + b;
    case ChainOp::sub: return a - b;
    case ChainOp::div: return a / b;
    case ChainOp::axpy: return a + k * b;
    case ChainOp::addcmul: return a + k * b * b;
    case ChainOp::addcdiv: return a + k * b / c;
  }
  return 0.0;
}

// A chain form, element by element: every pass of the chain in order on that element's slots.
void optimizer_chain(const MemoryProblem& m, std::span<const ChainStep> chain, const HostInputs& in, Out& out) {
  const size_t n = size_t(m.elements);
  const bool sgd = m.op == MemoryOp::sgd_momentum;
  const auto slot = [](ChainSlot s) { return size_t(s); };
  for (size_t i = 0; i < n; ++i) {
    std::array<double, kChainSlots> x{};
    x[slot(ChainSlot::w)] = in.in0[i];
    x[slot(ChainSlot::g)] = in.in1[i];
    x[slot(sgd ? ChainSlot::v : ChainSlot::m)] = in.more[0][i];
    if (!sgd) x[slot(ChainSlot::v)] = in.more[1][i];
    for (const ChainStep& s : chain) {
      x[slot(s.out)] = chain_op(s.op, chain_coefficient(m.op, s.k), x[slot(s.a)], x[slot(s.b)], x[slot(s.c)]);
    }
    out[i] = x[slot(ChainSlot::w)];
    if (!sgd) out[n + i] = x[slot(ChainSlot::m)];
    out[(sgd ? 1 : 2) * n + i] = x[slot(ChainSlot::v)];
  }
}

void optimizer(const MemoryProblem& m, const HostInputs& in, Out& out) {
  const size_t n = size_t(m.elements);
  if (const auto chain = update_chain(m.op, m.form); !chain.empty()) return optimizer_chain(m, chain, in, out);
  for (size_t i = 0; i < n; ++i) {
    const double w = in.in0[i], g = in.in1[i];
    if (m.op == MemoryOp::sgd_momentum) {
      const double v = kSgd.momentum * in.more[0][i] + g + kSgd.weight_decay * w;
      out[i] = w - kSgd.lr * v;
      out[n + i] = v;
      continue;
    }
    const auto& a = kAdamW;
    const double mom = a.beta1 * in.more[0][i] + (1 - a.beta1) * g;
    const double var = a.beta2 * in.more[1][i] + (1 - a.beta2) * g * g;
    const double mhat = mom / (1 - std::pow(a.beta1, double(a.step)));
    const double vhat = var / (1 - std::pow(a.beta2, double(a.step)));
    out[i] = w - a.lr * (mhat / (std::sqrt(vhat) + a.eps) + a.weight_decay * w);
    out[n + i] = mom;
    out[2 * n + i] = var;
  }
}

}  // namespace

std::vector<double> memory_output(const MemoryProblem& m, const HostInputs& inputs) {
  Out out(size_t(operand_elements(m).output), 0.0);
  switch (m.op) {
    case MemoryOp::relu:
    case MemoryOp::gelu:
    case MemoryOp::add: elementwise(m, inputs, out); break;
    case MemoryOp::bias_add:
      for (int64_t i = 0; i < m.rows * m.cols; ++i) out[size_t(i)] = double(inputs.in0[size_t(i)]) + inputs.in1[size_t(i % m.cols)];
      break;
    case MemoryOp::batchnorm: batchnorm(m, inputs, out); break;
    case MemoryOp::layernorm: layernorm(m, inputs, out); break;
    case MemoryOp::maxpool:
    case MemoryOp::avgpool: pool(m, inputs, out); break;
    case MemoryOp::softmax: softmax(m, inputs, out); break;
    case MemoryOp::cross_entropy: cross_entropy(m, inputs, out); break;
    case MemoryOp::embedding: embedding(m, inputs, out); break;
    case MemoryOp::sgd_momentum:
    case MemoryOp::adamw: optimizer(m, inputs, out); break;
  }
  return out;
}

}  // namespace trainrate::reference
