// AVX-512F packing of the NCHW forward's phase-plane slivers at the AVX-512 micro-kernel's width
// (48 lanes). Compiled with -mavx512f (see CMakeLists.txt); only reached through slivers of that
// width, which only the AVX-512 micro-kernel asks for, after the dispatcher has checked the CPU.
//
// Why: such slivers span more than one output row on every ResNet-50 map narrower than the
// sliver and on most slivers of the wider ones, where per-lane scalar gathers took about half as
// long as the micro-kernel (docs/results/history-from-code.md). A sliver's lanes are a few contiguous runs of the tap's plane, one per output
// row it touches; each 16-lane vector of a k step is assembled from its runs by masked loads
// (masked-off lanes are neither read nor written), then stored whole.
#include "kernels/cpu/conv_internal.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

namespace trainrate::kernels::cpu::detail {

namespace {
constexpr int lanes_per_vector = 16;
constexpr int vectors = avx512_mr / lanes_per_vector;
static_assert(vectors * lanes_per_vector == avx512_mr, "slivers are whole vectors");

// One vector's runs: run i fills the lanes in masks[i] from plane offset shifts[i] + lane.
struct VectorRuns {
  int count = 0;
  __mmask16 masks[lanes_per_vector];
  int64_t shifts[lanes_per_vector];
};

// The runs of lanes [0, lanes) of the sliver whose lane 0 is output pixel `pixel`.
void find_runs(const WideLayout& layout, int64_t pixel, int64_t lanes, VectorRuns (&runs)[vectors]) {
  for (int64_t l = 0; l < lanes;) {
    const int64_t in_vector = l % lanes_per_vector;
    const int64_t run = std::min({layout.run_length(pixel + l, lanes - l), lanes_per_vector - in_vector});
    VectorRuns& h = runs[l / lanes_per_vector];
    h.masks[h.count] = __mmask16(((1u << run) - 1u) << in_vector);
    h.shifts[h.count] = layout.plane_offset(pixel + l) - in_vector;
    ++h.count;
    l += run;
  }
}
}  // namespace

void pack_wide_sliver_avx512(const WideOperand& x, const int64_t* tap_offsets, int64_t kc, int64_t pixel,
                             int64_t lanes, float* sliver) {
  VectorRuns runs[vectors];
  find_runs(*x.layout, pixel, lanes, runs);
  for (int64_t t = 0; t < kc; ++t) {
    const float* tap = x.planes + tap_offsets[t];
#pragma GCC unroll 3
    for (int v = 0; v < vectors; ++v) {
      const VectorRuns& h = runs[v];
      __m512 lanes16 = _mm512_setzero_ps();  // lanes past the sliver's end stay zero
      for (int i = 0; i < h.count; ++i) lanes16 = _mm512_mask_loadu_ps(lanes16, h.masks[i], tap + h.shifts[i]);
      _mm512_storeu_ps(sliver + t * avx512_mr + v * lanes_per_vector, lanes16);
    }
  }
}

}  // namespace trainrate::kernels::cpu::detail

#endif  // x86
