// The convolution shapes every CUDA convolution is checked on, by the GPU tests
// (test_cuda_backends.cpp) and under the host emulation (cuda_host/), in every pass, layout and dtype.
#pragma once

#include <cstdint>
#include <vector>

#include "problems/problem.hpp"

namespace trainrate::testing {

inline std::vector<ConvProblem> cuda_conv_shapes() {
  auto shape = [](int64_t n, int64_t c, int64_t h, int64_t w, int64_t k, int64_t r, int64_t s, int64_t ph, int64_t pw,
                  int64_t sh, int64_t sw, int64_t dh, int64_t dw) {
    ConvProblem cp;
    cp.n = n, cp.c = c, cp.h = h, cp.w = w, cp.k = k, cp.r = r, cp.s = s;
    cp.pad_h = ph, cp.pad_w = pw, cp.stride_h = sh, cp.stride_w = sw, cp.dilation_h = dh, cp.dilation_w = dw;
    return cp;
  };
  return {shape(2, 3, 9, 11, 5, 3, 3, 1, 1, 1, 1, 1, 1),    // odd everything, same padding
          shape(1, 8, 7, 7, 16, 1, 1, 0, 0, 2, 2, 1, 1),    // 1×1 stride 2
          shape(2, 5, 10, 9, 7, 3, 2, 1, 0, 2, 1, 1, 2),    // asymmetric stride/pad/dilation
          shape(1, 16, 16, 16, 32, 3, 3, 1, 1, 1, 1, 1, 1),  // channel counts multiple of 8
          shape(3, 70, 6, 5, 66, 3, 3, 1, 1, 1, 1, 1, 1)};   // more than one 64-wide tile in C and K
}

}  // namespace trainrate::testing
