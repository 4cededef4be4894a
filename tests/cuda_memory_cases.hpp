// The odd-shaped memory-bound problems the GPU backends are checked on, by the GPU tests
// (test_cuda_backends.cpp, with the smoke suite's besides) and under the host emulation
// (cuda_host/), each in every dtype the backend takes: both passes of every op, on shapes that take
// the kernels' multi-block reductions, vector bodies with scalar tails, rows past one warp,
// overlapping and partial pooling windows, a scaled causal softmax and repeated embedding indices.
// Sized for the emulation, which runs every GPU thread as a host fiber.
#pragma once

#include <vector>

#include "problems/problem.hpp"

namespace trainrate::testing {

inline std::vector<MemoryProblem> cuda_memory_cases() {
  std::vector<MemoryProblem> cases;
  for (bool bwd : {false, true}) {
    cases.push_back({.op = MemoryOp::relu, .backward = bwd, .elements = 20'003});
    cases.push_back({.op = MemoryOp::gelu, .backward = bwd, .elements = 4'099});
    cases.push_back({.op = MemoryOp::batchnorm, .backward = bwd, .n = 3, .c = 4, .h = 33, .w = 35});
    cases.push_back({.op = MemoryOp::layernorm, .backward = bwd, .rows = 9, .cols = 1029});
    cases.push_back({.op = MemoryOp::maxpool, .backward = bwd, .n = 2, .c = 3, .h = 23, .w = 21, .window = 3,
                     .stride = 2, .pad = 1});
    cases.push_back({.op = MemoryOp::avgpool, .backward = bwd, .n = 1, .c = 3, .h = 15, .w = 14, .window = 2,
                     .stride = 2});
    cases.push_back({.op = MemoryOp::softmax, .backward = bwd, .rows = 5, .cols = 2053});
    cases.push_back({.op = MemoryOp::softmax, .backward = bwd, .rows = 40, .cols = 20, .scale = 0.17, .causal_seq = 20});
    cases.push_back({.op = MemoryOp::cross_entropy, .backward = bwd, .rows = 7, .cols = 1001});
    cases.push_back({.op = MemoryOp::embedding, .backward = bwd, .rows = 300, .cols = 37, .vocab = 23});
  }
  cases.push_back({.op = MemoryOp::add, .elements = 10'001});
  cases.push_back({.op = MemoryOp::bias_add, .rows = 65, .cols = 131});
  cases.push_back({.op = MemoryOp::sgd_momentum, .elements = 10'003});
  cases.push_back({.op = MemoryOp::adamw, .elements = 10'005});
  for (UpdateForm form : {UpdateForm::torch, UpdateForm::keras}) {  // the op chains, odd n: a scalar tail
    cases.push_back({.op = MemoryOp::sgd_momentum, .elements = 10'007, .form = form});
    cases.push_back({.op = MemoryOp::adamw, .elements = 10'009, .form = form});
  }
  return cases;
}

}  // namespace trainrate::testing
