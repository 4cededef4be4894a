// Ceiling kernels: the fp32 FMA throughput and the DRAM bandwidth this device actually reaches,
// reported next to the datasheet peaks so "% of peak" can be read against either.
//
// fma_ceiling: every thread runs 8 independent FMA chains (enough to cover the FMA latency with
// a few warps per scheduler) on values the compiler cannot fold, and stores only when an
// impossible value appears, so nothing is optimized away and memory traffic is nil.
// mma_ceiling: every warp runs kMmaChains independent mma.sync.m16n8k16 fp16→fp32 accumulator
// chains on operands held in registers (enough chains per warp, and warps per SM, to cover the MMA
// latency), so only the tensor cores are measured; each warp adds its accumulators into the sink.
// It is the mma.sync ceiling, not the chip's: Hopper's wgmma issues larger tiles faster.
// triad: STREAM's a = b + s·c with float4 accesses and a grid-stride loop; 3 × 4 bytes per element.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/launch.hpp"
#include "kernels/cuda/ptx.cuh"

namespace trainrate::cuda_kernels {
namespace {

constexpr int kChains = 8;

__global__ void fma_ceiling_kernel(int iterations, float mul, float add, float* sink) {
  float v[kChains];
#pragma unroll
  for (int q = 0; q < kChains; ++q) v[q] = float(threadIdx.x + q);
  for (int it = 0; it < iterations; ++it) {
#pragma unroll
    for (int rep = 0; rep < 16; ++rep)
#pragma unroll
      for (int q = 0; q < kChains; ++q) v[q] = fmaf(v[q], mul, add);
  }
  float sum = 0.f;
#pragma unroll
  for (int q = 0; q < kChains; ++q) sum += v[q];
  if (sum == -1.2345f) *sink = sum;  // never true for the inputs used; keeps the chains alive
}

constexpr int kMmaChains = 8;
constexpr double kMmaFlops = 2.0 * 16 * 8 * 16;  // one m16n8k16 by one warp

// operand_bits: two fp16 values, the content of every A and B register.
__global__ void mma_ceiling_kernel(int iterations, uint32_t operand_bits, float* sink) {
#if TRAINRATE_SM80_DEVICE_CODE
  const uint32_t a[4] = {operand_bits, operand_bits, operand_bits, operand_bits};
  const uint32_t b[2] = {operand_bits, operand_bits};
  float d[kMmaChains][4] = {};
  for (int it = 0; it < iterations; ++it) {
#pragma unroll
    for (int q = 0; q < kMmaChains; ++q) ptx::mma_m16n8k16<__half>(d[q], a, b);
  }
  float sum = 0.f;
#pragma unroll
  for (int q = 0; q < kMmaChains; ++q) sum += d[q][0] + d[q][1] + d[q][2] + d[q][3];
  // One atomic per warp: thousands of same-address atomics per thread would queue at the end.
  for (int lanes = 16; lanes > 0; lanes /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, lanes);
  if (threadIdx.x % 32 == 0) atomicAdd(sink, sum);
#endif  // below sm_80 the launcher refuses: sm_75 has mma.sync m16n8k8 only
}

__global__ void triad_kernel(float4* __restrict__ a, const float4* __restrict__ b, const float4* __restrict__ c,
                             int64_t n4, float s) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n4; i += int64_t(gridDim.x) * blockDim.x) {
    const float4 x = b[i], y = c[i];
    a[i] = make_float4(x.x + s * y.x, x.y + s * y.y, x.z + s * y.z, x.w + s * y.w);
  }
}

}  // namespace

#ifndef __CUDACC_RTC__  // host launchers; NVRTC compiles only the kernels (see common.cuh)
double fma_ceiling(int blocks, int threads_per_block, int iterations, float* sink, cudaStream_t stream) {
  if (blocks < 1 || threads_per_block < 32 || iterations < 1) throw std::invalid_argument("fma_ceiling: bad shape");
  // mul slightly below 1 and a small add keep the values finite and away from the sink's trigger.
  fma_ceiling_kernel<<<blocks, threads_per_block, 0, stream>>>(iterations, 0.999999f, 1e-6f, sink);
  TRAINRATE_CHECK_LAUNCH();
  return 2.0 * kChains * 16 * double(iterations) * double(blocks) * double(threads_per_block);
}

double mma_ceiling(int blocks, int threads_per_block, int iterations, float* sink, cudaStream_t stream) {
  if (blocks < 1 || threads_per_block < 32 || threads_per_block % 32 != 0 || iterations < 1)
    throw std::invalid_argument("mma_ceiling: bad shape (threads_per_block must be whole warps)");
  if (current_compute_capability() < 80)
    throw std::invalid_argument("mma_ceiling needs compute capability 8.0+ (m16n8k16; sm_75 has m16n8k8 only)");
  constexpr uint32_t kOnes = 0x3c003c00;  // fp16 1.0 twice: every accumulator grows by exactly 16 per mma
  mma_ceiling_kernel<<<blocks, threads_per_block, 0, stream>>>(iterations, kOnes, sink);
  TRAINRATE_CHECK_LAUNCH();
  return kMmaFlops * kMmaChains * double(iterations) * double(blocks) * double(threads_per_block / 32);
}

double triad(float* a, const float* b, const float* c, int64_t n, cudaStream_t stream) {
  if (n < 4 || n % 4 != 0 || !detail::aligned16(a) || !detail::aligned16(b) || !detail::aligned16(c))
    throw std::invalid_argument("triad: n must be a positive multiple of 4 and pointers 16-byte aligned");
  int device = 0, sms = 0;
  TRAINRATE_CUDA_CHECK(cudaGetDevice(&device));
  TRAINRATE_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  const int64_t n4 = n / 4;
  const int threads = 256;
  const int64_t wanted = (n4 + threads - 1) / threads;
  const int blocks = int(wanted < int64_t(sms) * 16 ? wanted : int64_t(sms) * 16);
  triad_kernel<<<blocks, threads, 0, stream>>>(reinterpret_cast<float4*>(a), reinterpret_cast<const float4*>(b),
                                               reinterpret_cast<const float4*>(c), n4, 3.0f);
  TRAINRATE_CHECK_LAUNCH();
  return 3.0 * 4.0 * double(n);
}

#endif  // __CUDACC_RTC__

}  // namespace trainrate::cuda_kernels
