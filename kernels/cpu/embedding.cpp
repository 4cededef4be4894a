// Embedding lookup and its scatter-add backward.
#include "kernels/cpu/memory_bound.hpp"

#include <omp.h>

#include <algorithm>

#include "kernels/cpu/memory_bound_internal.hpp"

namespace trainrate::kernels::cpu {

using detail::parallel_min_elements;

namespace {
// Threads' column ranges start on 64-byte boundaries of a row, so no two share a cache line
// (beyond rows whose length is not a multiple of it).
constexpr int64_t column_align = 16;
}  // namespace

void embedding_forward(const float* table, const int32_t* indices, float* y, int64_t tokens, int64_t dim) {
#pragma omp parallel for schedule(static) if (tokens * dim >= parallel_min_elements)
  for (int64_t t = 0; t < tokens; ++t) std::copy_n(table + int64_t(indices[t]) * dim, dim, y + t * dim);
}

// Repeated indices add into the same row, so the threads split the columns rather than the
// tokens: each walks every token in order and owns its columns outright, no atomics, and the sums
// come out in token order for any number of threads.
void embedding_backward(const float* dy, const int32_t* indices, float* dtable, int64_t tokens, int64_t vocab,
                        int64_t dim) {
  const bool parallel = (vocab + tokens) * dim >= parallel_min_elements;
#pragma omp parallel if (parallel)
  {
    const int64_t team = omp_get_num_threads();
    const int64_t share = (dim + team - 1) / team;
    const int64_t width = (share + column_align - 1) / column_align * column_align;
    const int64_t begin = std::min(dim, omp_get_thread_num() * width);
    const int64_t end = std::min(dim, begin + width);
    if (begin < end) {
      for (int64_t v = 0; v < vocab; ++v) std::fill(dtable + v * dim + begin, dtable + v * dim + end, 0.0f);
      for (int64_t t = 0; t < tokens; ++t) {
        const float* src = dy + t * dim;
        float* dst = dtable + int64_t(indices[t]) * dim;
#pragma omp simd
        for (int64_t j = begin; j < end; ++j) dst[j] += src[j];
      }
    }
  }
}

}  // namespace trainrate::kernels::cpu
