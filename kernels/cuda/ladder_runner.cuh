// The launch runner of the CUDA ladder: turns a problem into template arguments (transposes,
// convolution pass, dtype), instantiates the step's kernel for each, and launches it with the
// geometry its ladder_config.hpp entry states. Each step file defines its kernel and a Step
// struct (its config plus `kernel<T, ...>`, the instantiation for element type T) and calls one
// run_* function here; under NVRTC it names the Rtc* alias instead (see common.cuh).
#pragma once

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/conv_gather.cuh"
#include "kernels/cuda/ladder_config.hpp"

#ifndef __CUDACC_RTC__
#include <type_traits>

#include "kernels/cuda/launch.hpp"
#endif

namespace trainrate::cuda_kernels::detail {

#ifdef __CUDACC_RTC__
// The instantiations the run_* functions below make, for NVRTC to compile.
template <class Step, typename T>
using RtcGemmKernels = RtcKernels<Step::template kernel<T, Op::N, Op::N>, Step::template kernel<T, Op::N, Op::T>,
                                  Step::template kernel<T, Op::T, Op::N>, Step::template kernel<T, Op::T, Op::T>>;
template <class Step, typename T>
using RtcConvKernels = RtcKernels<Step::template kernel<T, ConvPass::forward>,
                                  Step::template kernel<T, ConvPass::backward_data>,
                                  Step::template kernel<T, ConvPass::backward_filter>>;
#else

// fp32 kernels read floats; 16-bit kernels move fp16/bf16 operands as raw 16-bit words.
template <typename T>
using InputWord = std::conditional_t<std::is_same_v<T, float>, float, uint16_t>;

// Steps 1-2: one kernel for every transpose, reading operands through runtime strides.
template <class Step>
void run_strided_gemm(const GemmProblem& p, const float* a, const float* b, float* c, cudaStream_t stream) {
  check_gemm(p);
  const int64_t a_si = p.op_a == Op::N ? 1 : p.lda(), a_sl = p.op_a == Op::N ? p.lda() : 1;
  const int64_t b_sl = p.op_b == Op::N ? 1 : p.ldb(), b_sj = p.op_b == Op::N ? p.ldb() : 1;
  const dim3 grid = gemm_grid(p.m, p.n, p.batch, Step::kBM, Step::kBN);
  auto* kernel = Step::kernel;
  kernel<<<grid, dim3(Step::kBlockX, Step::kBlockY), 0, stream>>>(int(p.m), int(p.n), int(p.k), a, a_si, a_sl, b, b_sl,
                                                                  b_sj, c, p.ldc(), p.batch);
  TRAINRATE_CHECK_LAUNCH();
}

template <class Step, typename T, Op OPA, Op OPB>
void launch_gemm(const GemmProblem& p, const void* a, const void* b, void* c, cudaStream_t stream) {
  auto* kernel = Step::template kernel<T, OPA, OPB>;
  if constexpr (Step::kDynamicSmemBytes > 48 * 1024) {  // opt in to more than the default dynamic shared memory
    TRAINRATE_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                              Step::kDynamicSmemBytes));
  }
  const dim3 grid = gemm_grid(p.m, p.n, p.batch, Step::kBM, Step::kBN);
  using In = InputWord<T>;
  constexpr int kVector = 16 / sizeof(In);  // elements in one 16-byte load
  const bool vec_a = p.lda() % kVector == 0 && aligned16(a);
  const bool vec_b = p.ldb() % kVector == 0 && aligned16(b);
  const auto* ta = static_cast<const In*>(a);
  const auto* tb = static_cast<const In*>(b);
  auto* tc = static_cast<T*>(c);
  if constexpr (std::is_same_v<T, float>) {  // fp32 epilogues store float4 runs of C
    const bool vec_c = p.ldc() % kVector == 0 && aligned16(c);
    kernel<<<grid, Step::kThreads, Step::kDynamicSmemBytes, stream>>>(int(p.m), int(p.n), int(p.k), ta, tb, tc,
                                                                      p.batch, vec_a, vec_b, vec_c);
  } else {
    kernel<<<grid, Step::kThreads, Step::kDynamicSmemBytes, stream>>>(int(p.m), int(p.n), int(p.k), ta, tb, tc,
                                                                      p.batch, vec_a, vec_b);
  }
  TRAINRATE_CHECK_LAUNCH();
}

// Steps with the transposes as template arguments: the kernel is compiled for all four.
template <class Step, typename T>
void run_gemm_ops(const GemmProblem& p, const void* a, const void* b, void* c, cudaStream_t stream) {
  if (p.op_a == Op::N && p.op_b == Op::N) return launch_gemm<Step, T, Op::N, Op::N>(p, a, b, c, stream);
  if (p.op_a == Op::N && p.op_b == Op::T) return launch_gemm<Step, T, Op::N, Op::T>(p, a, b, c, stream);
  if (p.op_a == Op::T && p.op_b == Op::N) return launch_gemm<Step, T, Op::T, Op::N>(p, a, b, c, stream);
  return launch_gemm<Step, T, Op::T, Op::T>(p, a, b, c, stream);
}

template <class Step, typename T, ConvPass PASS>
void launch_conv(const ConvGeometry& g, const void* in0, const void* in1, void* out, cudaStream_t stream) {
  const ConvGemm<PASS> cg{g};
  const int64_t m = PASS == ConvPass::forward         ? int64_t(g.n) * g.p * g.q
                    : PASS == ConvPass::backward_data ? int64_t(g.n) * g.h * g.w
                                                      : g.k;
  const int64_t n = PASS == ConvPass::forward ? g.k : PASS == ConvPass::backward_data ? g.c : int64_t(g.c) * g.r * g.s;
  const dim3 grid = gemm_grid(m, n, 1, Step::kBM, Step::kBN);
  using In = InputWord<T>;
  auto* kernel = Step::template kernel<T, PASS>;
  kernel<<<grid, Step::kThreads, 0, stream>>>(cg, static_cast<const In*>(in0), static_cast<const In*>(in1),
                                              static_cast<T*>(out));
  TRAINRATE_CHECK_LAUNCH();
}

// Convolution steps take the pass as a template argument: the kernel is compiled for all three.
template <class Step, typename T>
void run_conv_passes(const ConvProblem& p, const void* in0, const void* in1, void* out, cudaStream_t stream) {
  const ConvGeometry g = conv_geometry(p);
  switch (p.pass) {
    case ConvPass::forward: return launch_conv<Step, T, ConvPass::forward>(g, in0, in1, out, stream);
    case ConvPass::backward_data: return launch_conv<Step, T, ConvPass::backward_data>(g, in0, in1, out, stream);
    case ConvPass::backward_filter: return launch_conv<Step, T, ConvPass::backward_filter>(g, in0, in1, out, stream);
  }
  throw std::invalid_argument("unknown convolution pass");
}

inline std::string cc_text(int cc) { return std::to_string(cc / 10) + "." + std::to_string(cc % 10); }

// 16-bit steps: checks the device, then calls run(std::type_identity<T>{}) with T = __half or
// __nv_bfloat16 as the dtype says (bf16 tensor-core instructions need sm_80).
template <class Step, class Run>
void run_16bit(Dtype dtype, Run run) {
  const int cc = current_compute_capability();
  const std::string name = Step::kName;
  if (cc < Step::kMinCc)
    throw std::invalid_argument(name + " needs compute capability " + cc_text(Step::kMinCc) + "+" + Step::kMinCcWhy);
  if (dtype == Dtype::fp16) return run(std::type_identity<__half>{});
  if (dtype == Dtype::bf16) {
    if (cc < 80) throw std::invalid_argument(name + " bf16 needs compute capability 8.0+");
    return run(std::type_identity<__nv_bfloat16>{});
  }
  throw std::invalid_argument(name + " runs fp16 and bf16 only");
}

template <class Step>
void run_16bit_gemm(const GemmProblem& p, const void* a, const void* b, void* c, cudaStream_t stream) {
  check_gemm(p);
  run_16bit<Step>(p.dtype, [&](auto type) { run_gemm_ops<Step, typename decltype(type)::type>(p, a, b, c, stream); });
}

template <class Step>
void run_16bit_conv(const ConvProblem& p, const void* in0, const void* in1, void* out, cudaStream_t stream) {
  run_16bit<Step>(p.dtype,
                  [&](auto type) { run_conv_passes<Step, typename decltype(type)::type>(p, in0, in1, out, stream); });
}

#endif  // __CUDACC_RTC__

}  // namespace trainrate::cuda_kernels::detail
