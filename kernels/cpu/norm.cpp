// Batch and layer normalisation.
//
// Batch norm reduces each channel over N·HW values spread over N planes. The channel is cut into
// pieces of about piece_elements (a run of whole planes, or a slice of one large plane) so that
// every piece is a task of its own whatever C is. Each piece takes its mean and then its sum of
// squared deviations (the second pass reads the piece from cache, not memory), and the pieces of a
// channel merge in a fixed order with Chan's formula: a two-pass variance at the memory cost of
// one, and the same result for any number of threads. The forward pass normalises a block of
// channels right after their moments when they fit in L2, so x comes from memory once, not twice;
// y past the last-level cache is streamed, as the activations' outputs are.
#include "kernels/cpu/memory_bound.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/gemm_internal.hpp"
#include "kernels/cpu/memory_bound_internal.hpp"
#include "kernels/cpu/memory_bound_stores.hpp"
#include "kernels/cpu/memory_bound_sums.hpp"

namespace trainrate::kernels::cpu {

using detail::blocked_sums;
using detail::SumPair;
using detail::parallel_min_elements;
using detail::split_over_team;

namespace {

// 64 KiB of floats: the second pass over a piece still finds it in L2.
constexpr int64_t piece_elements = 16384;

// How a channel of an NCHW tensor is cut into pieces: planes_per_piece whole planes when planes
// are small, else slices_per_plane slices of each plane.
struct ChannelPieces {
  int64_t n, c, hw;
  int64_t planes_per_piece, slices_per_plane, slice_elements;
  int64_t per_channel;  // pieces in each channel

  ChannelPieces(int64_t n_, int64_t c_, int64_t hw_) : n(n_), c(c_), hw(hw_) {
    planes_per_piece = std::max<int64_t>(1, piece_elements / std::max<int64_t>(hw, 1));
    slices_per_plane = std::max<int64_t>(1, (hw + piece_elements - 1) / piece_elements);
    slice_elements = (hw + slices_per_plane - 1) / slices_per_plane;
    per_channel = slices_per_plane > 1 ? n * slices_per_plane : (n + planes_per_piece - 1) / planes_per_piece;
  }

  // Calls run(offset, count) for each contiguous run of piece k of channel ch, offset into the tensor.
  template <class Run>
  void for_each_run(int64_t ch, int64_t k, Run&& run) const {
    if (slices_per_plane > 1) {
      const int64_t plane = k / slices_per_plane, begin = (k % slices_per_plane) * slice_elements;
      run((plane * c + ch) * hw + begin, std::min(slice_elements, hw - begin));
      return;
    }
    const int64_t last = std::min(n, (k + 1) * planes_per_piece);
    for (int64_t plane = k * planes_per_piece; plane < last; ++plane) run((plane * c + ch) * hw, hw);
  }
};

struct PieceMoments {
  double count = 0.0, mean = 0.0, m2 = 0.0;  // m2: sum of squared deviations from mean
};

// Chan et al.'s pairwise update: the moments of a ∪ b from those of a and b.
PieceMoments merge(const PieceMoments& a, const PieceMoments& b) {
  const double count = a.count + b.count;
  if (count == 0.0) return a;
  const double delta = b.mean - a.mean;
  return {count, a.mean + delta * b.count / count, a.m2 + b.m2 + delta * delta * a.count * b.count / count};
}

// The sum of squared deviations taken about float(m.mean), moved to the double mean.
double m2_about_mean(const PieceMoments& m, double m2_about_float_mean) {
  const double offset = double(float(m.mean)) - m.mean;
  return m2_about_float_mean - m.count * offset * offset;
}

PieceMoments piece_moments(const float* x, const ChannelPieces& pieces, int64_t ch, int64_t k) {
  const auto& loops = detail::memory_bound_loops();
  PieceMoments moments;
  double sum = 0.0;
  pieces.for_each_run(ch, k, [&](int64_t offset, int64_t count) {
    sum += loops.sum(x + offset, count);
    moments.count += double(count);
  });
  moments.mean = sum / moments.count;
  const float mean = float(moments.mean);
  double m2 = 0.0;
  pieces.for_each_run(ch, k, [&](int64_t offset, int64_t count) { m2 += loops.squared_deviations(x + offset, count, mean); });
  moments.m2 = m2_about_mean(moments, m2);
  return moments;
}

// piece_moments for every piece of channels [first, last) when pieces are whole planes, read plane
// by plane over the block: its channels lie side by side in each plane, one long run for the
// prefetchers instead of a short run per channel. Each piece adds its runs in plane order, as
// piece_moments does, so the bits are the same.
void block_moments(const float* x, const ChannelPieces& pieces, int64_t first, int64_t last, PieceMoments* out) {
  const auto& loops = detail::memory_bound_loops();
  const int64_t hw = pieces.hw;
  const auto piece = [&](int64_t plane, int64_t ch) {
    return size_t((ch - first) * pieces.per_channel + plane / pieces.planes_per_piece);
  };
  const auto run = [&](int64_t plane, int64_t ch) { return x + (plane * pieces.c + ch) * hw; };
  const size_t count = size_t((last - first) * pieces.per_channel);
  std::vector<double> sums(count, 0.0), m2s(count, 0.0);
  for (size_t p = 0; p < count; ++p) out[p] = {};
  for (int64_t plane = 0; plane < pieces.n; ++plane) {
    for (int64_t ch = first; ch < last; ++ch) {
      sums[piece(plane, ch)] += loops.sum(run(plane, ch), hw);
      out[piece(plane, ch)].count += double(hw);
    }
  }
  for (size_t p = 0; p < count; ++p) out[p].mean = sums[p] / out[p].count;
  for (int64_t plane = 0; plane < pieces.n; ++plane) {
    for (int64_t ch = first; ch < last; ++ch) {
      m2s[piece(plane, ch)] += loops.squared_deviations(run(plane, ch), hw, float(out[piece(plane, ch)].mean));
    }
  }
  for (size_t p = 0; p < count; ++p) out[p].m2 = m2_about_mean(out[p], m2s[p]);
}

// Runs body(ch, k) for every piece of every channel, over the team when the tensor is large.
template <class Body>
void for_each_piece(const ChannelPieces& pieces, Body&& body) {
  split_over_team(pieces.c * pieces.per_channel, pieces.n * pieces.c * pieces.hw, [&](int64_t first, int64_t last) {
    for (int64_t p = first; p < last; ++p) body(p / pieces.per_channel, p % pieces.per_channel);
  });
}

// How many channels the forward pass takes at a time so that they stay in L2 between their moments
// and their normalisation (half of it: x, with y passing through): 0 when one channel does not fit,
// its pieces are slices of a plane, or there are too few channels to give every thread of the team
// four (uneven shares stay small).
int64_t cached_channel_block(const ChannelPieces& pieces) {
  static const int64_t l2_bytes = detail::cache_size(2, int64_t(512) << 10);
  const int64_t channel_bytes = pieces.n * pieces.hw * int64_t(sizeof(float));
  if (pieces.slices_per_plane > 1 || 2 * channel_bytes > l2_bytes || pieces.c < 4 * int64_t(omp_get_max_threads())) {
    return 0;
  }
  return l2_bytes / 2 / channel_bytes;
}

// Runs body(plane_offset, ch) for every (n, c) plane of the tensor.
template <class Body>
void for_each_plane(int64_t n, int64_t c, int64_t hw, Body&& body) {
  split_over_team(n * c, n * c * hw, [&](int64_t first, int64_t last) {
    for (int64_t plane = first; plane < last; ++plane) body(plane * hw, plane % c);
  });
}

}  // namespace

void batchnorm_forward_training(const float* x, const float* gamma, const float* beta, float* y, float* saved_mean,
                                float* saved_inv_std, int64_t n, int64_t c, int64_t hw, float eps) {
  const ChannelPieces pieces(n, c, hw);
  const auto channel_statistics = [&](int64_t ch, const PieceMoments* moments) {
    PieceMoments channel;
    for (int64_t k = 0; k < pieces.per_channel; ++k) channel = merge(channel, moments[k]);
    saved_mean[ch] = float(channel.mean);
    saved_inv_std[ch] = float(1.0 / std::sqrt(channel.m2 / channel.count + double(eps)));
  };
  const auto& loops = detail::memory_bound_loops();
  const auto normalize_plane = [&](int64_t offset, int64_t ch) {
    const float mean = saved_mean[ch], scale = gamma[ch] * saved_inv_std[ch], shift = beta[ch];
    detail::write_output(y, n * c * hw, offset, offset + hw, [&](int64_t first, int64_t last, float* out) {
      loops.scale_shift(x + first, out, last - first, mean, scale, shift);
    });
  };
  if (const int64_t block = cached_channel_block(pieces); block > 0) {
    // A block of channels at a time: normalised right after their moments, from L2, so x is read
    // from memory once. Same pieces merged in the same order: the same result as below.
    split_over_team(c, n * c * hw, [&](int64_t first, int64_t last) {
      std::vector<PieceMoments> moments(size_t(block * pieces.per_channel));
      for (int64_t begin = first; begin < last; begin += block) {
        const int64_t end = std::min(last, begin + block);
        block_moments(x, pieces, begin, end, moments.data());
        for (int64_t ch = begin; ch < end; ++ch) channel_statistics(ch, &moments[size_t((ch - begin) * pieces.per_channel)]);
        for (int64_t plane = 0; plane < n; ++plane) {
          for (int64_t ch = begin; ch < end; ++ch) normalize_plane((plane * c + ch) * hw, ch);
        }
      }
    });
    return;
  }
  std::vector<PieceMoments> moments(size_t(c * pieces.per_channel));
  for_each_piece(pieces, [&](int64_t ch, int64_t k) { moments[ch * pieces.per_channel + k] = piece_moments(x, pieces, ch, k); });
  for (int64_t ch = 0; ch < c; ++ch) channel_statistics(ch, &moments[ch * pieces.per_channel]);
  for_each_plane(n, c, hw, normalize_plane);
}

void batchnorm_backward(const float* x, const float* dy, const float* gamma, const float* saved_mean,
                        const float* saved_inv_std, float* dx, float* dgamma, float* dbeta, int64_t n, int64_t c,
                        int64_t hw) {
  const ChannelPieces pieces(n, c, hw);
  struct PieceSums {
    double dy = 0.0, dy_xmu = 0.0;  // Σ dy and Σ dy·(x − mean)
  };
  std::vector<PieceSums> sums(size_t(c * pieces.per_channel));
  for_each_piece(pieces, [&](int64_t ch, int64_t k) {
    const float mean = saved_mean[ch];
    PieceSums& piece = sums[ch * pieces.per_channel + k];
    pieces.for_each_run(ch, k, [&](int64_t offset, int64_t count) {
      const float* dy_run = dy + offset;
      const float* x_run = x + offset;
      const SumPair run = blocked_sums(
          count, [&](auto at) { return at(dy_run); }, [&](auto at) { return at(dy_run) * (at(x_run) - mean); });
      piece.dy += run.first;
      piece.dy_xmu += run.second;
    });
  });
  for (int64_t ch = 0; ch < c; ++ch) {
    PieceSums channel;
    for (int64_t k = 0; k < pieces.per_channel; ++k) {
      channel.dy += sums[ch * pieces.per_channel + k].dy;
      channel.dy_xmu += sums[ch * pieces.per_channel + k].dy_xmu;
    }
    dbeta[ch] = float(channel.dy);
    dgamma[ch] = float(channel.dy_xmu * saved_inv_std[ch]);
  }
  const float count = float(n * hw);
  for_each_plane(n, c, hw, [&](int64_t offset, int64_t ch) {
    const float mean = saved_mean[ch], inv_std = saved_inv_std[ch], scale = gamma[ch] * inv_std;
    const float dy_mean = dbeta[ch] / count, xhat_coeff = dgamma[ch] / count;
    const float* xp = x + offset;
    const float* dyp = dy + offset;
    float* dxp = dx + offset;
#pragma omp simd
    for (int64_t i = 0; i < hw; ++i) {
      const float xhat = (xp[i] - mean) * inv_std;
      dxp[i] = scale * (dyp[i] - dy_mean - xhat * xhat_coeff);
    }
  });
}

// Layer norm's rows go through the vector loops: at SSE2 width their three passes (two sums and
// the normalisation, the last two from cache) cost more than reading the row.
void layernorm_forward(const float* x, const float* gamma, const float* beta, float* y, float* mean, float* rstd,
                       int64_t rows, int64_t cols, float eps) {
  const auto& loops = detail::memory_bound_loops();
  split_over_team(rows, rows * cols, [&](int64_t first, int64_t last) {
    for (int64_t r = first; r < last; ++r) {
      loops.layernorm_row_forward(x + r * cols, gamma, beta, y + r * cols, cols, eps, mean + r, rstd + r);
    }
  });
}

namespace {
// layernorm_backward's threads add dgamma and dbeta terms in fp32 for this many rows at a time,
// then into double: fp32 keeps the per-row work at vector width, double keeps millions of rows exact.
constexpr int64_t layernorm_flush_rows = 64;
}  // namespace

void layernorm_backward(const float* x, const float* dy, const float* gamma, const float* mean, const float* rstd,
                        float* dx, float* dgamma, float* dbeta, int64_t rows, int64_t cols) {
  const auto& loops = detail::memory_bound_loops();
  const int team = rows * cols >= parallel_min_elements ? omp_get_max_threads() : 1;
  // Per thread: cols sums of dy·xhat, then cols of dy, in double.
  std::vector<std::vector<double>> thread_sums(static_cast<size_t>(team));
#pragma omp parallel num_threads(team)
  {
    std::vector<double>& sums = thread_sums[size_t(omp_get_thread_num())];
    sums.assign(size_t(2 * cols), 0.0);
    std::vector<float> pending(size_t(2 * cols), 0.0f);
    float* pending_dgamma = pending.data();
    float* pending_dbeta = pending.data() + cols;
    int64_t pending_rows = 0;
    const auto flush = [&] {
      for (int64_t j = 0; j < 2 * cols; ++j) sums[size_t(j)] += pending[size_t(j)];
      std::fill(pending.begin(), pending.end(), 0.0f);
      pending_rows = 0;
    };
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      loops.layernorm_row_backward(x + r * cols, dy + r * cols, gamma, mean[r], rstd[r], dx + r * cols,
                                   pending_dgamma, pending_dbeta, cols);
      if (++pending_rows == layernorm_flush_rows) flush();
    }
    flush();
  }
  for (int64_t j = 0; j < cols; ++j) {
    double dgamma_sum = 0.0, dbeta_sum = 0.0;
    for (const std::vector<double>& sums : thread_sums) {
      if (sums.empty()) continue;  // the runtime gave the region fewer threads
      dgamma_sum += sums[size_t(j)];
      dbeta_sum += sums[size_t(cols + j)];
    }
    dgamma[j] = float(dgamma_sum);
    dbeta[j] = float(dbeta_sum);
  }
}

}  // namespace trainrate::kernels::cpu
