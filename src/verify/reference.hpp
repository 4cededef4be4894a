// The reference: plain loops with double accumulation, obviously correct, never fast.
//
// Every backend's output is checked against these before it is timed. Each function computes
// one output element, so large problems can be verified on a random sample of elements
// (see verify.hpp) and small ones exhaustively, with the same code.
#pragma once

#include <cstdint>
#include <vector>

#include "problems/host_inputs.hpp"
#include "problems/problem.hpp"

namespace trainrate::reference {

// C(i, j) of batch entry `b`: sum over l of op(A)(i, l) · op(B)(l, j), column-major,
// batch entries stored back to back (stride m·k, k·n, m·n).
double gemm_element(const GemmProblem& g, const float* a, const float* b, int64_t batch, int64_t i, int64_t j);

// Linear offsets of tensor elements in the problem's layout.
int64_t x_offset(const ConvProblem& c, int64_t n, int64_t ch, int64_t y, int64_t x);
int64_t w_offset(const ConvProblem& c, int64_t k, int64_t ch, int64_t r, int64_t s);
int64_t y_offset(const ConvProblem& c, int64_t n, int64_t k, int64_t p, int64_t q);

// One element of the pass's output tensor, addressed by its linear offset in that tensor's layout.
// forward:          in0 = x,  in1 = w,  output y
// backward_data:    in0 = dy, in1 = w,  output dx
// backward_filter:  in0 = x,  in1 = dy, output dw
double conv_element(const ConvProblem& c, const float* in0, const float* in1, int64_t output_offset);

// The whole output of a memory-bound pass (every output tensor, in memory_outputs order), in double.
// Inputs as make_inputs gives them, in memory_inputs order.
std::vector<double> memory_output(const MemoryProblem& m, const HostInputs& inputs);

// Whole output of a GEMM or convolution, for tests and small problems.
void compute(const Problem& problem, const float* in0, const float* in1, float* out);
// One element by linear offset into the output (batch-major for GEMM: offset = b·m·n + j·m + i).
double element(const Problem& problem, const float* in0, const float* in1, int64_t output_offset);

}  // namespace trainrate::reference
