// GoogleTest main of cuda_host_tests, with --inject=FAULT to prove the checks catch broken kernels:
//   --inject=mma-lanes        the mma.sync emulation reads A from the wrong lanes (lanes 4g+1 and
//                             4g+2 swapped, as a kernel mixing up a fragment's columns would)
//   --inject=no-syncthreads   __syncthreads does nothing (every missing barrier at once)
// ctest runs both and passes only when the verifier reports mismatches.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>

#include "cuda_emulation.hpp"

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--inject=mma-lanes") == 0) {
      cuda_host::injected_fault = cuda_host::Fault::mma_lanes;
    } else if (std::strcmp(argv[i], "--inject=no-syncthreads") == 0) {
      cuda_host::injected_fault = cuda_host::Fault::no_syncthreads;
    } else {
      std::fprintf(stderr, "cuda_host_tests: error: unknown argument %s\n", argv[i]);
      return 2;
    }
  }
  return RUN_ALL_TESTS();
}
