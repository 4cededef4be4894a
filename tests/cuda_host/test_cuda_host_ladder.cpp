// The CUDA ladder (every GEMM step and both implicit-GEMM convolutions) run on the host under the
// CUDA emulation (cuda_emulation.hpp) and checked by the shared verifier against the reference,
// on the cases tests/test_cuda_backends.cpp runs on a GPU: odd shapes around the tile sizes, every
// transpose, strided batch, every conv pass and layout, fp32 / fp16 / bf16. Only the two large
// sampled GPU cases are left out (minutes under emulation; the shapes here already reach every
// tail path: M, N and K tails, odd leading dimensions and several tiles per dimension).
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "cuda_conv_cases.hpp"
#include "cuda_emulation.hpp"
#include "kernels/cuda/launch.hpp"
#include "verify/verify.hpp"

namespace trainrate {
namespace {

// A device buffer of the problem's storage type, filled from floats exact in that type.
struct Buffer {
  void* ptr = nullptr;
  Buffer(const std::vector<float>& values, int64_t elements, Dtype dtype) {
    const size_t bytes = size_t(elements) * (dtype == Dtype::fp32 ? 4 : 2);
    EXPECT_EQ(cudaMalloc(&ptr, bytes), cudaSuccess);
    for (size_t i = 0; i < values.size() && i < size_t(elements); ++i) {
      if (dtype == Dtype::fp32)
        static_cast<float*>(ptr)[i] = values[i];
      else if (dtype == Dtype::fp16)
        static_cast<__half*>(ptr)[i] = __float2half_rn(values[i]);
      else
        static_cast<__nv_bfloat16*>(ptr)[i] = __float2bfloat16_rn(values[i]);
    }
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer() { cudaFree(ptr); }

  std::vector<float> read(int64_t elements, Dtype dtype) const {
    std::vector<float> out(static_cast<size_t>(elements));
    for (size_t i = 0; i < out.size(); ++i)
      out[i] = dtype == Dtype::fp32   ? static_cast<const float*>(ptr)[i]
               : dtype == Dtype::fp16 ? __half2float(static_cast<const __half*>(ptr)[i])
                                      : __bfloat162float(static_cast<const __nv_bfloat16*>(ptr)[i]);
    return out;
  }
};

// With a fault injected (main.cpp --inject) one wrong case is the proof; the rest would only cost time.
bool fault_shown() { return cuda_host::injected_fault != cuda_host::Fault::none && ::testing::Test::HasFailure(); }

using Launcher = std::function<void(const Problem&, const void* in0, const void* in1, void* out)>;

// Runs `p` twice (a run must not accumulate into the output) and verifies it, as the GPU test does.
void run_and_verify(const std::string& variant, const Launcher& launch, const Problem& p) {
  const Dtype dtype = dtype_of(p);
  const HostInputs inputs = make_inputs(p, 11);
  const OperandSizes sizes = operand_elements(p);
  const Buffer in0(inputs.in0, sizes.input0, dtype), in1(inputs.in1, sizes.input1, dtype);
  const Buffer out({}, sizes.output, dtype);  // cudaMalloc fills it with NaN
  try {
    launch(p, in0.ptr, in1.ptr, out.ptr);
    launch(p, in0.ptr, in1.ptr, out.ptr);
  } catch (const std::exception& e) {
    ADD_FAILURE() << variant << " " << describe(p) << " threw: " << e.what();
    return;
  }
  const Verification v = verify(p, inputs, out.read(sizes.output, dtype));
  EXPECT_TRUE(passed(v)) << variant << " " << describe(p) << ": " << v.mismatches << " of " << v.elements_checked
                         << " wrong, max error " << v.max_error << " (tolerance " << v.tolerance
                         << "); first: " << v.first_mismatch;
}

template <void (*F)(const GemmProblem&, const float*, const float*, float*, cudaStream_t)>
Launcher sgemm() {
  return [](const Problem& p, const void* a, const void* b, void* c) {
    F(std::get<GemmProblem>(p), static_cast<const float*>(a), static_cast<const float*>(b), static_cast<float*>(c),
      nullptr);
  };
}
template <void (*F)(const GemmProblem&, const void*, const void*, void*, cudaStream_t)>
Launcher hgemm() {
  return [](const Problem& p, const void* a, const void* b, void* c) { F(std::get<GemmProblem>(p), a, b, c, nullptr); };
}

struct GemmShape {
  int64_t m, n, k, batch;
};
// test_cuda_backends.cpp's GemmOddShapesEveryTransposeEveryDtype shapes.
constexpr GemmShape kGemmShapes[] = {{1, 1, 1, 1},      {37, 53, 71, 1},   {129, 65, 33, 1}, {128, 128, 128, 1},
                                     {200, 136, 264, 1}, {67, 300, 520, 1}, {33, 45, 70, 3},  {64, 64, 40, 2}};

void gemm_every_shape_and_transpose(const std::string& variant, const Launcher& launch, std::vector<Dtype> dtypes) {
  for (const GemmShape& s : kGemmShapes)
    for (Op op_a : {Op::N, Op::T})
      for (Op op_b : {Op::N, Op::T})
        for (Dtype dtype : dtypes) {
          if (fault_shown()) return;
          run_and_verify(variant, launch, GemmProblem{s.m, s.n, s.k, op_a, op_b, dtype, s.batch});
        }
}

namespace k = cuda_kernels;
const std::vector<Dtype> kFp32{Dtype::fp32};
const std::vector<Dtype> k16Bit{Dtype::fp16, Dtype::bf16};

TEST(CudaHostLadder, SgemmNaive) { gemm_every_shape_and_transpose("sgemm-naive", sgemm<k::sgemm_naive>(), kFp32); }
TEST(CudaHostLadder, SgemmSmem) { gemm_every_shape_and_transpose("sgemm-smem", sgemm<k::sgemm_smem>(), kFp32); }
TEST(CudaHostLadder, SgemmRegtile) { gemm_every_shape_and_transpose("sgemm-regtile", sgemm<k::sgemm_regtile>(), kFp32); }
TEST(CudaHostLadder, SgemmWarptile) {
  gemm_every_shape_and_transpose("sgemm-warptile", sgemm<k::sgemm_warptile>(), kFp32);
}
TEST(CudaHostLadder, SgemmDbuf) { gemm_every_shape_and_transpose("sgemm-dbuf", sgemm<k::sgemm_dbuf>(), kFp32); }
TEST(CudaHostLadder, HgemmWmma) { gemm_every_shape_and_transpose("hgemm-wmma", hgemm<k::hgemm_wmma>(), k16Bit); }
TEST(CudaHostLadder, HgemmMma) { gemm_every_shape_and_transpose("hgemm-mma", hgemm<k::hgemm_mma>(), k16Bit); }

void conv_every_pass_and_layout(const std::string& variant, const Launcher& launch, std::vector<Dtype> dtypes) {
  for (ConvProblem cp : testing::cuda_conv_shapes())
    for (Layout layout : {Layout::NCHW, Layout::NHWC})
      for (ConvPass pass : {ConvPass::forward, ConvPass::backward_data, ConvPass::backward_filter})
        for (Dtype dtype : dtypes) {
          if (fault_shown()) return;
          cp.layout = layout, cp.pass = pass, cp.dtype = dtype;
          run_and_verify(variant, launch, cp);
        }
}

TEST(CudaHostLadder, ConvImplicit) {
  conv_every_pass_and_layout(
      "conv-implicit",
      [](const Problem& p, const void* in0, const void* in1, void* out) {
        k::conv_implicit(std::get<ConvProblem>(p), static_cast<const float*>(in0), static_cast<const float*>(in1),
                         static_cast<float*>(out), nullptr);
      },
      kFp32);
}
TEST(CudaHostLadder, ConvImplicitWmma) {
  conv_every_pass_and_layout(
      "conv-implicit-wmma",
      [](const Problem& p, const void* in0, const void* in1, void* out) {
        k::conv_implicit_wmma(std::get<ConvProblem>(p), in0, in1, out, nullptr);
      },
      k16Bit);
}

// The emulation's fp16/bf16 rounding, on values worked out by hand (nearest even at ties).
TEST(CudaHostEmulation, HalfAndBf16RoundToNearestEven) {
  EXPECT_EQ(__half_as_ushort(__float2half_rn(1.0f)), 0x3c00);
  EXPECT_EQ(__half_as_ushort(__float2half_rn(1.0f + 0x1p-11f)), 0x3c00);      // tie → even mantissa 0
  EXPECT_EQ(__half_as_ushort(__float2half_rn(1.0f + 3 * 0x1p-11f)), 0x3c02);  // tie → even mantissa 2
  EXPECT_EQ(__half_as_ushort(__float2half_rn(65504.0f)), 0x7bff);             // largest finite half
  EXPECT_EQ(__half_as_ushort(__float2half_rn(65520.0f)), 0x7c00);             // tie with 65536 → infinity
  EXPECT_EQ(__half_as_ushort(__float2half_rn(-0x1p-24f)), 0x8001);            // smallest subnormal
  EXPECT_EQ(__half2float(__ushort_as_half(0x0001)), 0x1p-24f);
  EXPECT_EQ(__half2float(__ushort_as_half(0xc000)), -2.0f);
  EXPECT_EQ(__bfloat16_as_ushort(__float2bfloat16_rn(1.0f)), 0x3f80);
  EXPECT_EQ(__bfloat16_as_ushort(__float2bfloat16_rn(1.0f + 0x1p-8f)), 0x3f80);  // tie → even
  EXPECT_EQ(__bfloat162float(__ushort_as_bfloat16(0xbf81)), -(1.0f + 0x1p-7f));
}

}  // namespace
}  // namespace trainrate
