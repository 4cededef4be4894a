#include "verify/verify.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "problems/collective.hpp"
#include "verify/reference.hpp"

namespace trainrate {

namespace {

// Rounds to the nearest value representable in the dtype (round-to-nearest-even on the mantissa),
// so that a GPU fed fp16/bf16 copies computes on exactly the numbers the reference uses.
float round_to_dtype(float value, Dtype dtype) {
  int mantissa_bits = 23;
  if (dtype == Dtype::fp16) mantissa_bits = 10;
  if (dtype == Dtype::bf16) mantissa_bits = 7;
  if (mantissa_bits == 23) return value;
  const int drop = 23 - mantissa_bits;
  // Inputs lie in [-1, 1) and are kept above 2^-14 in magnitude, so fp16's normal range holds.
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  const uint32_t half_ulp = 1u << (drop - 1);
  const uint32_t lsb = (bits >> drop) & 1u;
  bits = (bits + half_ulp - 1 + lsb) & ~((1u << drop) - 1);
  float rounded;
  std::memcpy(&rounded, &bits, sizeof rounded);
  return rounded;
}

std::vector<float> random_tensor(int64_t elements, Dtype dtype, std::mt19937_64& rng) {
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> values(static_cast<size_t>(elements));
  for (float& v : values) {
    float x = uniform(rng);
    if (std::fabs(x) < 1e-3f) x = 1e-3f;  // no subnormals in fp16
    v = round_to_dtype(x, dtype);
  }
  return values;
}


// Saved statistics for a norm's backward pass: the mean and biased variance of each of `groups`
// sets of `count` values, value j of group g at at(g, j), as the forward pass would have saved them.
template <typename At>
void saved_statistics(const std::vector<float>& x, int64_t groups, int64_t count, At at, std::vector<float>& mean,
                      std::vector<float>& variance) {
  for (int64_t g = 0; g < groups; ++g) {
    double sum = 0, squares = 0;
    for (int64_t j = 0; j < count; ++j) sum += x[at(g, j)];
    const double mu = sum / double(count);
    for (int64_t j = 0; j < count; ++j) squares += (x[at(g, j)] - mu) * (x[at(g, j)] - mu);
    mean[size_t(g)] = float(mu);
    variance[size_t(g)] = float(squares / double(count));
  }
}

// Inputs that make sense for the op: whole-number labels and indices in range, saved norm
// statistics of x, a softmax output for softmax backward, a non-negative Adam second moment.
HostInputs memory_inputs_for(const MemoryProblem& m, std::mt19937_64& rng) {
  std::vector<std::vector<float>> tensors;
  for (const MemoryTensor& t : memory_inputs(m)) {
    if (!t.integer) {
      tensors.push_back(random_tensor(t.elements, m.dtype, rng));
      continue;
    }
    const int64_t bound = m.op == MemoryOp::embedding ? m.vocab : m.cols;
    std::uniform_int_distribution<int64_t> pick(0, bound - 1);
    std::vector<float> indices(size_t(t.elements));
    for (float& index : indices) index = float(pick(rng));
    tensors.push_back(std::move(indices));
  }
  if (m.backward && m.op == MemoryOp::batchnorm) {
    const int64_t hw = m.h * m.w;
    saved_statistics(tensors[0], m.c, m.n * hw,
                     [&](int64_t ch, int64_t j) { return size_t(((j / hw) * m.c + ch) * hw + j % hw); }, tensors[3],
                     tensors[4]);
  }
  if (m.backward && m.op == MemoryOp::layernorm) {
    saved_statistics(tensors[0], m.rows, m.cols, [&](int64_t r, int64_t j) { return size_t(r * m.cols + j); },
                     tensors[3], tensors[4]);
  }
  if (m.backward && m.op == MemoryOp::softmax) {
    MemoryProblem forward = m;
    forward.backward = false;
    const std::vector<double> y = reference::memory_output(forward, HostInputs{tensors[0], {}, {}});
    for (size_t i = 0; i < y.size(); ++i) tensors[0][i] = round_to_dtype(float(y[i]), m.dtype);
  }
  if (m.op == MemoryOp::adamw) {
    for (float& v : tensors[3]) v = round_to_dtype(v * v, m.dtype);
  }
  HostInputs inputs;
  inputs.in0 = std::move(tensors[0]);
  if (tensors.size() > 1) inputs.in1 = std::move(tensors[1]);
  for (size_t i = 2; i < tensors.size(); ++i) inputs.more.push_back(std::move(tensors[i]));
  return inputs;
}

// Ops that only move or combine values element by element meet a tight bound; reductions (norms,
// softmax, pooling sums, losses, scatter-adds) sum many float terms in whatever order a backend likes.
double memory_tolerance(const MemoryProblem& m) {
  if (m.dtype != Dtype::fp32) return tolerance(m.dtype);
  switch (m.op) {
    case MemoryOp::relu:
    case MemoryOp::gelu:
    case MemoryOp::add:
    case MemoryOp::bias_add:
    case MemoryOp::maxpool:
    case MemoryOp::sgd_momentum:
    case MemoryOp::adamw: return 1e-5;
    case MemoryOp::embedding: return m.backward ? 1e-4 : 1e-5;
    default: return 1e-4;
  }
}

// Every output element against the double reference, each output tensor judged on its own scale:
// |out − ref| <= tolerance · (|ref| + rms(ref over that tensor)).
Verification verify_memory(const MemoryProblem& m, const HostInputs& inputs, const std::vector<float>& output) {
  Verification v;
  v.tolerance = memory_tolerance(m);
  const std::vector<double> expected = reference::memory_output(m, inputs);
  if (output.size() != expected.size()) {
    v.mismatches = 1;
    v.first_mismatch = fmt::format("output has {} elements, expected {}", output.size(), expected.size());
    return v;
  }
  size_t begin = 0;
  for (const MemoryTensor& tensor : memory_outputs(m)) {
    const size_t end = begin + size_t(tensor.elements);
    double squares = 0;
    for (size_t i = begin; i < end; ++i) squares += expected[i] * expected[i];
    const double rms = std::sqrt(squares / double(tensor.elements));
    for (size_t i = begin; i < end; ++i) {
      const double actual = output[i];
      const double error = std::isfinite(actual) ? std::fabs(actual - expected[i]) / (std::fabs(expected[i]) + rms)
                                                 : std::numeric_limits<double>::infinity();
      ++v.elements_checked;
      v.max_error = std::max(v.max_error, error);
      if (!(error <= v.tolerance)) {
        if (v.mismatches == 0) {
          v.first_mismatch = fmt::format("{}[{}] = {} but reference = {}", tensor.name, i - begin, actual, expected[i]);
        }
        ++v.mismatches;
      }
    }
    begin = end;
  }
  return v;
}

}  // namespace

double tolerance(Dtype dtype) {
  switch (dtype) {
    case Dtype::fp32: return 1e-4;
    case Dtype::tf32: return 4e-3;   // 10-bit mantissa products
    case Dtype::fp16: return 4e-3;   // fp32 accumulation, fp16 output rounding (2^-11)
    case Dtype::bf16: return 1.6e-2; // bf16 output rounding (2^-8)
  }
  return 1e-4;
}

int64_t reduction_length(const Problem& problem) {
  if (const auto* g = std::get_if<GemmProblem>(&problem)) return g->k;
  if (is_memory_bound(problem)) return 1;  // verify_memory scales by each tensor's rms instead
  if (const auto* c = std::get_if<CollectiveProblem>(&problem)) return c->ranks;
  const auto& c = std::get<ConvProblem>(problem);
  switch (c.pass) {
    case ConvPass::forward: return c.c * c.r * c.s;
    case ConvPass::backward_data: return c.k * c.r * c.s;
    case ConvPass::backward_filter: return c.n * c.p() * c.q();
  }
  return 1;
}

Verification verify_collective(const CollectiveProblem& problem, int64_t rank, const std::vector<float>& output) {
  Verification v;
  // Partial sums of the integer fill are exact in fp32; in bf16 each of the ranks−1 additions may
  // round once by 2^-8.
  v.tolerance = problem.dtype == Dtype::fp32 ? 0.0 : 0.004 * double(problem.ranks);
  const int64_t count = operand_elements(problem).output;
  if (int64_t(output.size()) != count) {
    v.mismatches = 1;
    v.first_mismatch = fmt::format("output has {} elements, expected {}", output.size(), count);
    return v;
  }
  for (int64_t i = 0; i < count; ++i) {
    const double expected = collective_expected_value(problem, rank, i);
    const double error = std::abs(double(output[size_t(i)]) - expected) / expected;
    const bool bad = !(error <= v.tolerance);  // also catches NaN
    if (bad && v.mismatches++ == 0) {
      v.first_mismatch = fmt::format("rank {}: output[{}] = {} but expected {}", rank, i, output[size_t(i)], expected);
    }
    if (std::isfinite(error)) v.max_error = std::max(v.max_error, error);
  }
  v.elements_checked = count;
  return v;
}

HostInputs make_inputs(const Problem& problem, uint64_t seed) {
  std::mt19937_64 rng(seed);
  if (const auto* m = std::get_if<MemoryProblem>(&problem)) return memory_inputs_for(*m, rng);
  // A collective's inputs differ per rank and are closed-form (problems/collective.hpp): each
  // backend fills its own, and nothing is shared on the host.
  if (is_collective(problem)) return {};
  const OperandSizes sizes = operand_elements(problem);
  const Dtype dtype = dtype_of(problem);
  HostInputs inputs;
  inputs.in0 = random_tensor(sizes.input0, dtype, rng);
  inputs.in1 = random_tensor(sizes.input1, dtype, rng);
  return inputs;
}

Verification verify(const Problem& problem, const HostInputs& inputs, const std::vector<float>& output,
                    const VerifyOptions& options) {
  if (const auto* m = std::get_if<MemoryProblem>(&problem)) return verify_memory(*m, inputs, output);
  if (const auto* c = std::get_if<CollectiveProblem>(&problem)) return verify_collective(*c, options.rank, output);
  Verification v;
  v.tolerance = tolerance(dtype_of(problem));
  const int64_t count = operand_elements(problem).output;
  if (int64_t(output.size()) != count) {
    v.mismatches = 1;
    v.first_mismatch = fmt::format("output has {} elements, expected {}", output.size(), count);
    return v;
  }
  const double typical = 0.25 * std::sqrt(double(reduction_length(problem)));
  auto check = [&](int64_t offset) {
    const double expected = reference::element(problem, inputs.in0.data(), inputs.in1.data(), offset);
    const double actual = output[size_t(offset)];
    const double error = std::isfinite(actual) ? std::fabs(actual - expected) / (std::fabs(expected) + typical)
                                               : std::numeric_limits<double>::infinity();
    ++v.elements_checked;
    v.max_error = std::max(v.max_error, error);
    if (!(error <= v.tolerance)) {
      if (v.mismatches == 0) {
        v.first_mismatch = fmt::format("output[{}] = {} but reference = {}", offset, actual, expected);
      }
      ++v.mismatches;
    }
  };
  v.sampled = flops(problem) > options.exhaustive_max_flops && count > options.sample_elements;
  if (!v.sampled) {
    for (int64_t offset = 0; offset < count; ++offset) check(offset);
  } else {
    std::mt19937_64 rng(options.seed);
    std::uniform_int_distribution<int64_t> pick(0, count - 1);
    check(0);
    check(count - 1);  // the last element catches edge-tile bugs a random sample might miss
    for (int64_t i = 2; i < options.sample_elements; ++i) check(pick(rng));
  }
  return v;
}

}  // namespace trainrate
