// The ceiling kernels of kernels/cuda/ceilings.cu run on the host under the CUDA emulation, on a
// tiny launch whose sink can be worked out by hand: proof that the kernel runs the chains and
// iterations its launcher counts FLOPs for.
#include <gtest/gtest.h>

#include "cuda_emulation.hpp"
#include "kernels/cuda/launch.hpp"

namespace trainrate {
namespace {

TEST(CudaHostCeilings, MmaSyncSinkMatchesHandCount) {
  void* buffer = nullptr;
  ASSERT_EQ(cudaMalloc(&buffer, sizeof(float)), cudaSuccess);
  float* sink = static_cast<float*>(buffer);
  *sink = 0.f;  // cudaMalloc fills with NaN
  const double flop = cuda_kernels::mma_ceiling(/*blocks=*/2, /*threads_per_block=*/64, /*iterations=*/3, sink,
                                                /*stream=*/nullptr);
  // 2 blocks × 2 warps × 3 iterations × 8 chains = 96 mma.sync; with every operand 1.0 each adds
  // 16 (the k sum) to each of its 16×8 outputs: 96 × 2048 = 196608, and 2 × that in FLOPs.
  EXPECT_EQ(*sink, 196608.f);
  EXPECT_EQ(flop, 393216.0);
  cudaFree(buffer);
}

}  // namespace
}  // namespace trainrate
