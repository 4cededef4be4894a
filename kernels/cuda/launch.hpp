// Host-callable launchers for every hand-written CUDA kernel in kernels/cuda.
//
// Plain C++ (no CUDA syntax) so src/backends/cuda/*.cpp can include it with the host compiler.
// Every launcher enqueues one kernel on `stream`, returns without synchronizing, and throws
// std::runtime_error (TRAINRATE_CUDA_CHECK) when the launch is rejected, or std::invalid_argument
// when the problem does not fit the kernel's index types or grid limits.
//
// Operand conventions are those of problems/problem.hpp: GEMMs are column-major,
// C = op(A)·op(B), lda/ldb/ldc as GemmProblem says, batch entries back to back. Convolutions use
// in0/in1/out as reference.hpp lists per pass (forward x,w→y; backward-data dy,w→dx;
// backward-filter x,dy→dw). All pointers are device pointers; 16-bit kernels take __half or
// __nv_bfloat16 data according to the problem's dtype.
#pragma once
// Host-only, so empty under NVRTC, which compiles just the kernels (see common.cuh).
#ifndef __CUDACC_RTC__

#include <cuda_runtime_api.h>

#include <cstdint>

#include "problems/problem.hpp"

namespace trainrate::cuda_kernels {

// ---- fp32 SGEMM ladder, one step per file (sgemm_1_naive.cu ... sgemm_5_dbuf.cu) ----
void sgemm_naive(const GemmProblem& p, const float* a, const float* b, float* c, cudaStream_t stream);
void sgemm_smem(const GemmProblem& p, const float* a, const float* b, float* c, cudaStream_t stream);
void sgemm_regtile(const GemmProblem& p, const float* a, const float* b, float* c, cudaStream_t stream);
void sgemm_warptile(const GemmProblem& p, const float* a, const float* b, float* c, cudaStream_t stream);
void sgemm_dbuf(const GemmProblem& p, const float* a, const float* b, float* c, cudaStream_t stream);

// ---- Tensor-core GEMM, fp16/bf16 inputs and output, fp32 accumulation ----
// WMMA: fp16 on sm_70+, bf16 on sm_80+.
void hgemm_wmma(const GemmProblem& p, const void* a, const void* b, void* c, cudaStream_t stream);
// mma.sync + ldmatrix + cp.async pipeline: sm_80+ only (throws on older devices).
void hgemm_mma(const GemmProblem& p, const void* a, const void* b, void* c, cudaStream_t stream);

// ---- Implicit-GEMM convolution, every pass, NCHW and NHWC ----
void conv_implicit(const ConvProblem& p, const float* in0, const float* in1, float* out, cudaStream_t stream);
// Same gathers, WMMA tensor cores: fp16 on sm_70+, bf16 on sm_80+.
void conv_implicit_wmma(const ConvProblem& p, const void* in0, const void* in1, void* out, cudaStream_t stream);

// ---- Ceiling kernels: what the device can reach at best ----
// Independent FMA chains; returns the FLOPs one launch performs.
double fma_ceiling(int blocks, int threads_per_block, int iterations, float* sink, cudaStream_t stream);
// Independent mma.sync m16n8k16 fp16→fp32 chains per warp, all operands fp16 1.0, each warp's
// accumulators added into *sink (so *sink grows by half the FLOPs); sm_80+ (throws below it).
// Returns the FLOPs one launch performs.
double mma_ceiling(int blocks, int threads_per_block, int iterations, float* sink, cudaStream_t stream);
// a[i] = b[i] + s·c[i] over n floats (n a multiple of 4, pointers 16-byte aligned); returns bytes moved.
double triad(float* a, const float* b, const float* c, int64_t n, cudaStream_t stream);

// The compute capability of the current device, cached per device (used for runtime arch checks).
int current_compute_capability();

}  // namespace trainrate::cuda_kernels

#endif  // __CUDACC_RTC__
