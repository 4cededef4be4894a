#include "verify/verify.hpp"

#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

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
  const auto& c = std::get<ConvProblem>(problem);
  switch (c.pass) {
    case ConvPass::forward: return c.c * c.r * c.s;
    case ConvPass::backward_data: return c.k * c.r * c.s;
    case ConvPass::backward_filter: return c.n * c.p() * c.q();
  }
  return 1;
}

HostInputs make_inputs(const Problem& problem, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const OperandSizes sizes = operand_elements(problem);
  const Dtype dtype = dtype_of(problem);
  HostInputs inputs;
  inputs.in0 = random_tensor(sizes.input0, dtype, rng);
  inputs.in1 = random_tensor(sizes.input1, dtype, rng);
  return inputs;
}

Verification verify(const Problem& problem, const HostInputs& inputs, const std::vector<float>& output,
                    const VerifyOptions& options) {
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
