// Our hand-written CPU SGEMM: packed, cache-blocked (Goto/BLIS) loops around a register-blocked
// micro-kernel, with the micro-kernel chosen at run time from what the CPU supports.
//
// The library itself is compiled for baseline x86-64; only the micro-kernel files are compiled with
// AVX2/AVX-512 flags, and they are called only after __builtin_cpu_supports says the CPU can run them.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "problems/problem.hpp"

namespace trainrate::kernels::cpu {

// Micro-kernel families; each has one fixed MR×NR tile shape (see gemm_internal.hpp).
enum class MicroKernel { portable, avx2, avx512 };

std::string_view to_string(MicroKernel kernel);
std::optional<MicroKernel> parse_micro_kernel(std::string_view text);
// The variants this CPU can run, in the order portable, avx2, avx512; always includes portable.
std::vector<MicroKernel> available_micro_kernels();
// The variant sgemm uses when none is forced (the widest that is also fastest on this vendor).
MicroKernel best_micro_kernel();

struct GemmOptions {
  int threads = 0;                          // 0: all hardware threads (omp_get_max_threads)
  std::optional<MicroKernel> micro_kernel;  // forced variant (tests, benchmarks); empty = best
};

// C = alpha · op(A) · op(B) + beta · C, column-major, BLAS semantics: op(A) is m×k, op(B) is k×n,
// beta == 0 means C is not read (NaN in C is overwritten). Leading dimensions as in BLAS
// (lda ≥ rows of A as stored). Throws std::invalid_argument on negative sizes or too-small
// leading dimensions, and std::runtime_error when a forced micro-kernel cannot run on this CPU.
void sgemm(Op op_a, Op op_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
           const float* b, int64_t ldb, float beta, float* c, int64_t ldc, const GemmOptions& options = {});

}  // namespace trainrate::kernels::cpu
