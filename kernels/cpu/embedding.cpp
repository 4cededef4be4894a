// Embedding lookup and its scatter-add backward.
#include "kernels/cpu/memory_bound.hpp"

#include <omp.h>

#include <algorithm>

#include "kernels/cpu/memory_bound_internal.hpp"

namespace trainrate::kernels::cpu {

using detail::parallel_min_elements;

void embedding_forward(const float* table, const int32_t* indices, float* y, int64_t tokens, int64_t dim) {
  detail::split_over_team(tokens, tokens * dim, [&](int64_t first, int64_t last) {
    for (int64_t t = first; t < last; ++t) std::copy_n(table + int64_t(indices[t]) * dim, dim, y + t * dim);
  });
}

// Repeated indices add into the same row, so each thread owns a range of the table's rows: it
// zeroes them (one contiguous stretch), then walks every token in order and adds those whose row
// it owns. No atomics, and every row's sum comes out in token order for any number of threads.
// A skewed index distribution loads the owner of the frequent rows more; splitting the columns
// instead balances any distribution but has every thread touch every row, and was the slower
// split at two threads on uniformly random indices (each row a page of its own at dim 1024).
void embedding_backward(const float* dy, const int32_t* indices, float* dtable, int64_t tokens, int64_t vocab,
                        int64_t dim) {
  const bool parallel = (vocab + tokens) * dim >= parallel_min_elements;
#pragma omp parallel if (parallel)
  {
    const int64_t team = omp_get_num_threads(), share = (vocab + team - 1) / team;
    const int64_t first = std::min(vocab, omp_get_thread_num() * share), last = std::min(vocab, first + share);
    std::fill(dtable + first * dim, dtable + last * dim, 0.0f);
    for (int64_t t = 0; t < tokens; ++t) {
      const int64_t row = indices[t];
      if (row < first || row >= last) continue;
      const float* src = dy + t * dim;
      float* dst = dtable + row * dim;
#pragma omp simd
      for (int64_t j = 0; j < dim; ++j) dst[j] += src[j];
    }
  }
}

}  // namespace trainrate::kernels::cpu
