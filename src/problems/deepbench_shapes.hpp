// DeepBench training shapes: the GEMM and forward-convolution problems of DeepBench's training
// sets (baidu-research/DeepBench), as trainrate Problems. Each list is built once, has no exact
// duplicates and keeps DeepBench's order; all entries are fp32 (GEMM batch 1, conv NCHW forward).
#pragma once

#include <vector>

#include "problems/problem.hpp"

namespace trainrate {

// DeepBench training GEMMs (column-major, as cuBLAS sees them): 160 problems.
const std::vector<GemmProblem>& deepbench_train_gemms();
// DeepBench training convolutions, forward pass: 90 problems (94 listed, 4 exact repeats dropped).
const std::vector<ConvProblem>& deepbench_train_convs();

}  // namespace trainrate
