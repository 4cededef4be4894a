// Outputs written past the last-level cache, for the memory-bound kernels compiled at the baseline
// ISA (eltwise.cpp, norm.cpp). Not part of the public API; an anonymous namespace keeps each file's
// copy its own, as in memory_bound_sums.hpp.
#pragma once

#include <algorithm>
#include <cstdint>

#if defined(__SSE2__)
#include <immintrin.h>
#endif

#include "kernels/cpu/gemm_internal.hpp"

namespace trainrate::kernels::cpu::detail {
namespace {

// An output of n floats larger than the last-level cache is written with non-temporal stores: none
// of it could stay cached anyway, and a plain store first reads each line it fills (the
// read-for-ownership, a half more DRAM traffic for relu). Smaller outputs stay plain stores, which
// leave them in cache for the next layer.
bool streamed(int64_t n) {
  static const int64_t llc_bytes = cache_size(3, int64_t(8) << 20);
  return n * int64_t(sizeof(float)) > llc_bytes;
}

// Streamed outputs are computed a chunk at a time into an L1-resident buffer, then copied out; a
// multiple of a 64-byte line, so every chunk after the first fills whole lines.
constexpr int64_t stream_chunk = 1024;
constexpr int64_t floats_per_line = 16;

// dst[0, count) = src[0, count) with non-temporal stores; dst is 64-byte aligned.
void stream_copy(const float* src, float* dst, int64_t count) {
#if defined(__SSE2__)
  int64_t i = 0;
  for (; i + 4 <= count; i += 4) _mm_stream_ps(dst + i, _mm_loadu_ps(src + i));
  for (; i < count; ++i) dst[i] = src[i];
#else
  std::copy_n(src, count, dst);
#endif
}

// Writes y[begin, end) of an n-float output through values(first, last, out), which puts
// y[first, last) in out[0, last − first): straight into y, or, when the output is streamed, up to
// the first line boundary into y and then chunk by chunk through the buffer.
template <class Values>
void write_output(float* y, int64_t n, int64_t begin, int64_t end, Values&& values) {
  if (!streamed(n)) {
    values(begin, end, y + begin);
    return;
  }
  const auto misaligned = int64_t(reinterpret_cast<uintptr_t>(y + begin) / sizeof(float) % floats_per_line);
  const int64_t head_end = std::min(end, begin + (floats_per_line - misaligned) % floats_per_line);
  values(begin, head_end, y + begin);
  alignas(64) float buffer[stream_chunk];
  for (int64_t first = head_end; first < end; first += stream_chunk) {
    const int64_t last = std::min(end, first + stream_chunk);
    values(first, last, buffer);
    stream_copy(buffer, y + first, last - first);
  }
#if defined(__SSE2__)
  _mm_sfence();  // streamed stores are weakly ordered: drained before the team's threads join
#endif
}
}  // namespace
}  // namespace trainrate::kernels::cpu::detail
