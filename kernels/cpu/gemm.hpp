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

// Micro-kernel families; each has one fixed MR×NR tile shape (see gemm_internal.hpp). The first
// three multiply fp32 (sgemm, the convolutions); avx512-bf16 and amx-bf16 multiply bf16 (gemm_bf16).
enum class MicroKernel { portable, avx2, avx512, avx512_bf16, amx_bf16 };

std::string_view to_string(MicroKernel kernel);
std::optional<MicroKernel> parse_micro_kernel(std::string_view text);
// What a micro-kernel's operands hold: Dtype::fp32 or Dtype::bf16.
Dtype input_dtype(MicroKernel kernel);
// The variants for `input` this CPU can run, in enum order. fp32 always includes portable; bf16
// holds avx512-bf16 where the CPU has AVX512-BF16, and amx-bf16 where it has AMX-BF16 and the OS
// lets this process use the tiles; it is empty on CPUs with neither.
std::vector<MicroKernel> available_micro_kernels(Dtype input = Dtype::fp32);
// The variant sgemm uses when none is forced: the widest this CPU runs, except that avx512 is
// chosen only where it pays off (see avx512_pays_off).
MicroKernel best_micro_kernel();
// 512-bit over 256-bit FMA throughput of the calling core, measured once (a few milliseconds, best
// of short interleaved trials, so a preempted trial cannot decide it) and remembered: about 2 on
// cores with full-width units (Intel Xeon, AMD Zen 5), about 1 where 512-bit operations run as two
// 256-bit halves (AMD Zen 4). Empty where the CPU lacks AVX-512 or AVX2.
std::optional<double> avx512_fma_gain();
// Whether the 48×8 AVX-512 tile beats the 16×6 AVX2 one at this FMA gain. With no gain the wider
// tile only crowds L1 with a larger B sliver and is slower; with double the FMA rate it about
// doubles the SGEMM (docs/results/history-from-code.md).
bool avx512_pays_off(double fma_gain);
// The variant gemm_bf16 uses when none is forced (amx-bf16 before avx512-bf16); empty when the CPU
// has none.
std::optional<MicroKernel> best_bf16_micro_kernel();

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

// The arithmetic ceiling of a micro-kernel family on the calling thread, for the peaks that
// "% of peak" divides by: runs `iterations` rounds of the family's multiply-add instruction on
// independent accumulators and returns the FLOPs done. The fp32 families run twelve FMA chains
// on their vectors, avx512-bf16 twelve VDPBF16PS chains, amx-bf16 four 16×16×32 tile products.
// Returns 0 for a family this CPU cannot run. Time it from outside.
double peak_loop(MicroKernel family, int64_t iterations);

// bf16 as stored: the upper 16 bits of an IEEE fp32 (sign, 8 exponent bits, 7 mantissa bits).
using bf16_bits = uint16_t;
// bf16_bits of x, rounded to nearest even (NaN stays NaN); exact when x is representable.
bf16_bits to_bf16(float x);

// The same GEMM with A and B in bf16 and C in fp32: products are exact in fp32 and accumulate in
// fp32, so the result differs from fp32 SGEMM on the same (bf16-representable) values only by
// summation order. Same conventions and errors as sgemm; throws std::runtime_error when no bf16
// micro-kernel can run here (see available_micro_kernels(Dtype::bf16)) or the forced one is fp32.
// (avx512-bf16 also flushes denormals to zero, as VDPBF16PS does.)
void gemm_bf16(Op op_a, Op op_b, int64_t m, int64_t n, int64_t k, float alpha, const bf16_bits* a, int64_t lda,
               const bf16_bits* b, int64_t ldb, float beta, float* c, int64_t ldc, const GemmOptions& options = {});

}  // namespace trainrate::kernels::cpu
