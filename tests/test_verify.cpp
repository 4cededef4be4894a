// Verification and the reference: tolerances, deterministic inputs exactly representable in their
// dtype, verify() accepting the reference and rejecting perturbed, non-finite and mis-sized
// outputs, sampled checking, and reference values hand-computed for tiny GEMMs and convolutions
// of every transpose, pass and layout (plus an independent scatter-form convolution).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "verify/reference.hpp"
#include "verify/verify.hpp"

namespace trainrate {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// ---------------------------------------------------------------------------------------------
// Tolerance and reduction length

TEST(VerifyTolerance, PerDtype) {
  EXPECT_EQ(tolerance(Dtype::fp32), 1e-4);
  EXPECT_EQ(tolerance(Dtype::tf32), 4e-3);
  EXPECT_EQ(tolerance(Dtype::fp16), 4e-3);
  EXPECT_EQ(tolerance(Dtype::bf16), 1.6e-2);
}

TEST(VerifyTolerance, ReductionLengthPerKind) {
  EXPECT_EQ(reduction_length(GemmProblem{.m = 3, .n = 5, .k = 7, .batch = 4}), 7);
  // n2 c3 5x7 k4 3x3 pad 1: p = 5, q = 7.
  ConvProblem c{.n = 2, .c = 3, .h = 5, .w = 7, .k = 4, .r = 3, .s = 3, .pad_h = 1, .pad_w = 1};
  c.pass = ConvPass::forward;
  EXPECT_EQ(reduction_length(c), 27);  // C·R·S
  c.pass = ConvPass::backward_data;
  EXPECT_EQ(reduction_length(c), 36);  // K·R·S
  c.pass = ConvPass::backward_filter;
  EXPECT_EQ(reduction_length(c), 70);  // N·P·Q
}

// ---------------------------------------------------------------------------------------------
// Inputs

TEST(VerifyInputs, SizedPerOperandAndDeterministic) {
  const ConvProblem c{.n = 2, .c = 3, .h = 5, .w = 7, .k = 4, .r = 3, .s = 3, .pass = ConvPass::backward_data};
  const HostInputs a = make_inputs(c, 11), b = make_inputs(c, 11), other = make_inputs(c, 12);
  EXPECT_EQ(int64_t(a.in0.size()), c.y_elements());  // dy
  EXPECT_EQ(int64_t(a.in1.size()), c.w_elements());  // w
  EXPECT_EQ(a.in0, b.in0);
  EXPECT_EQ(a.in1, b.in1);
  EXPECT_NE(a.in0, other.in0);
  EXPECT_NE(a.in0, a.in1);  // the two operands are not the same stream
  const GemmProblem g{.m = 3, .n = 5, .k = 7, .batch = 2};
  const HostInputs gi = make_inputs(g, 1);
  EXPECT_EQ(gi.in0.size(), 42u);
  EXPECT_EQ(gi.in1.size(), 70u);
}

TEST(VerifyInputs, UniformInMinusOneToOneAwayFromZero) {
  const HostInputs in = make_inputs(GemmProblem{.m = 200, .n = 200, .k = 50}, 3);
  double sum = 0;
  int negative = 0;
  for (const std::vector<float>* v : {&in.in0, &in.in1}) {
    for (float x : *v) {
      ASSERT_GE(x, -1.0f);
      ASSERT_LT(x, 1.0f);
      ASSERT_GE(std::fabs(x), 1e-3f);
      sum += x;
      negative += x < 0 ? 1 : 0;
    }
  }
  const double count = double(in.in0.size() + in.in1.size());
  EXPECT_NEAR(sum / count, 0.0, 0.02);
  EXPECT_NEAR(negative / count, 0.5, 0.02);
}

uint32_t bits_of(float x) { return std::bit_cast<uint32_t>(x); }

// The same problem shape in two dtypes draws the same random stream, so the low-precision inputs
// must be the round-to-nearest images of the fp32 ones.
GemmProblem with_dtype(Dtype dtype) { return GemmProblem{.m = 64, .n = 48, .k = 40, .dtype = dtype}; }

TEST(VerifyInputs, Fp16ValuesAreRepresentableAndNearest) {
  const HostInputs wide = make_inputs(with_dtype(Dtype::fp32), 9);
  const HostInputs half = make_inputs(with_dtype(Dtype::fp16), 9);
  ASSERT_EQ(wide.in0.size(), half.in0.size());
  int changed = 0;
  for (size_t i = 0; i < half.in0.size(); ++i) {
    const float x = half.in0[i];
    // fp16 normal range and a 10-bit mantissa: the low 13 fp32 mantissa bits are zero.
    ASSERT_EQ(bits_of(x) & 0x1FFFu, 0u) << x;
    ASSERT_GE(std::fabs(x), 0x1p-14f) << x;
#ifdef __FLT16_MAX__
    ASSERT_EQ(float(_Float16(x)), x);                     // representable
    ASSERT_EQ(float(_Float16(wide.in0[i])), x) << wide.in0[i];  // nearest (the hardware rounds to nearest even)
#endif
    const float ulp = std::ldexp(1.0f, std::ilogb(wide.in0[i]) - 10);
    ASSERT_LE(std::fabs(x - wide.in0[i]), 0.5f * ulp) << wide.in0[i] << " rounded to " << x;
    changed += x != wide.in0[i] ? 1 : 0;
  }
  EXPECT_GT(changed, int(half.in0.size()) / 2);  // rounding happened
}

TEST(VerifyInputs, Bf16ValuesAreRepresentableAndNearest) {
  const HostInputs wide = make_inputs(with_dtype(Dtype::fp32), 9);
  const HostInputs brain = make_inputs(with_dtype(Dtype::bf16), 9);
  for (size_t i = 0; i < brain.in1.size(); ++i) {
    const float x = brain.in1[i];
    ASSERT_EQ(bits_of(x) & 0xFFFFu, 0u) << x;  // bf16 is the top half of an fp32
    // The two bf16 neighbours of the fp32 value; the nearer must be chosen.
    const uint32_t truncated = bits_of(wide.in1[i]) & 0xFFFF0000u;
    const float down = std::bit_cast<float>(truncated), up = std::bit_cast<float>(truncated + 0x10000u);
    const float nearer = std::fabs(wide.in1[i] - down) <= std::fabs(up - wide.in1[i]) ? down : up;
    if (std::fabs(wide.in1[i] - down) != std::fabs(up - wide.in1[i])) {
      ASSERT_EQ(x, nearer) << wide.in1[i];
    }
  }
}

TEST(VerifyInputs, Fp32ValuesAreNotRounded) {
  const HostInputs in = make_inputs(with_dtype(Dtype::fp32), 9);
  int low_bits_used = 0;
  for (float x : in.in0) low_bits_used += (bits_of(x) & 0x1FFFu) != 0 ? 1 : 0;
  EXPECT_GT(low_bits_used, int(in.in0.size()) / 2);
}

// ---------------------------------------------------------------------------------------------
// verify()

std::vector<float> reference_output(const Problem& p, const HostInputs& in) {
  std::vector<float> out(size_t(operand_elements(p).output));
  reference::compute(p, in.in0.data(), in.in1.data(), out.data());
  return out;
}

std::vector<Problem> small_problems() {
  return {GemmProblem{.m = 13, .n = 7, .k = 40, .op_a = Op::T, .batch = 2},
          ConvProblem{.n = 2, .c = 3, .h = 7, .w = 6, .k = 4, .r = 3, .s = 3, .pad_h = 1, .pad_w = 1, .stride_h = 2,
                      .stride_w = 2, .pass = ConvPass::forward},
          ConvProblem{.n = 2, .c = 3, .h = 7, .w = 6, .k = 4, .r = 3, .s = 3, .pad_h = 1, .pad_w = 1,
                      .layout = Layout::NHWC, .pass = ConvPass::backward_data},
          ConvProblem{.n = 2, .c = 3, .h = 7, .w = 6, .k = 4, .r = 3, .s = 3, .dilation_h = 2, .dilation_w = 2,
                      .pass = ConvPass::backward_filter}};
}

TEST(Verify, AcceptsTheReferenceExhaustively) {
  for (const Problem& p : small_problems()) {
    SCOPED_TRACE(describe(p));
    const HostInputs in = make_inputs(p, 1);
    const Verification v = verify(p, in, reference_output(p, in));
    EXPECT_TRUE(passed(v));
    EXPECT_FALSE(v.sampled);
    EXPECT_EQ(v.elements_checked, operand_elements(p).output);
    EXPECT_EQ(v.mismatches, 0);
    EXPECT_EQ(v.first_mismatch, "");
    EXPECT_EQ(v.tolerance, 1e-4);
    EXPECT_LT(v.max_error, 1e-6);  // only the float rounding of the output
  }
}

TEST(Verify, RejectsOnePerturbedElementAndNamesIt) {
  for (const Problem& p : small_problems()) {
    SCOPED_TRACE(describe(p));
    const HostInputs in = make_inputs(p, 1);
    std::vector<float> out = reference_output(p, in);
    const size_t index = out.size() / 2 + 1;
    out[index] += 1.0f;
    const Verification v = verify(p, in, out);
    EXPECT_FALSE(passed(v));
    EXPECT_EQ(v.mismatches, 1);
    EXPECT_EQ(v.elements_checked, int64_t(out.size()));
    EXPECT_THAT(v.first_mismatch, StartsWith("output[" + std::to_string(index) + "] = "));
    EXPECT_THAT(v.first_mismatch, HasSubstr("but reference = "));
    EXPECT_GT(v.max_error, 1e-2);
  }
}

TEST(Verify, FirstMismatchIsTheLowestOffset) {
  const Problem p = small_problems()[0];
  const HostInputs in = make_inputs(p, 1);
  std::vector<float> out = reference_output(p, in);
  out[150] = -out[150] + 5.0f;
  out[17] += 3.0f;
  out[3] -= 3.0f;
  const Verification v = verify(p, in, out);
  EXPECT_EQ(v.mismatches, 3);
  EXPECT_THAT(v.first_mismatch, StartsWith("output[3] = "));
}

// |out − ref| <= tolerance · (|ref| + 0.25·sqrt(L)) passes; twice that fails.
TEST(Verify, ToleranceBoundaryFollowsTheDocumentedFormula) {
  const GemmProblem g{.m = 8, .n = 8, .k = 64};
  const HostInputs in = make_inputs(g, 4);
  const std::vector<float> exact = reference_output(g, in);
  const int64_t index = 37;
  const double ref = reference::element(g, in.in0.data(), in.in1.data(), index);
  const double scale = std::fabs(ref) + 0.25 * std::sqrt(64.0);
  for (double factor : {0.5, 0.9}) {
    std::vector<float> out = exact;
    out[index] = float(ref + factor * 1e-4 * scale);
    EXPECT_TRUE(passed(verify(g, in, out))) << factor;
  }
  for (double factor : {1.2, 2.0}) {
    std::vector<float> out = exact;
    out[index] = float(ref - factor * 1e-4 * scale);
    const Verification v = verify(g, in, out);
    EXPECT_FALSE(passed(v)) << factor;
    EXPECT_NEAR(v.max_error, factor * 1e-4, 2e-6);
  }
  // bf16's looser tolerance accepts what fp32 rejects.
  GemmProblem b = g;
  b.dtype = Dtype::bf16;
  const HostInputs bin = make_inputs(b, 4);
  std::vector<float> bout = reference_output(b, bin);
  const double bref = reference::element(b, bin.in0.data(), bin.in1.data(), index);
  bout[index] = float(bref + 1e-2 * (std::fabs(bref) + 2.0));
  EXPECT_TRUE(passed(verify(b, bin, bout)));
  bout[index] = float(bref + 3e-2 * (std::fabs(bref) + 2.0));
  EXPECT_FALSE(passed(verify(b, bin, bout)));
}

TEST(Verify, RejectsNonFiniteOutputs) {
  const Problem p = small_problems()[1];
  const HostInputs in = make_inputs(p, 1);
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                    -std::numeric_limits<float>::infinity()}) {
    std::vector<float> out = reference_output(p, in);
    out[0] = bad;
    const Verification v = verify(p, in, out);
    EXPECT_FALSE(passed(v)) << bad;
    EXPECT_EQ(v.mismatches, 1);
    EXPECT_THAT(v.first_mismatch, StartsWith("output[0] = "));
  }
  // All NaN: every element fails.
  std::vector<float> nans(size_t(operand_elements(p).output), std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(verify(p, in, nans).mismatches, int64_t(nans.size()));
}

TEST(Verify, RejectsAWronglySizedOutput) {
  const Problem p = small_problems()[2];
  const HostInputs in = make_inputs(p, 1);
  const int64_t count = operand_elements(p).output;
  for (int64_t size : {count - 1, count + 1, int64_t{0}}) {
    std::vector<float> out = reference_output(p, in);
    out.resize(size_t(size));
    const Verification v = verify(p, in, out);
    EXPECT_FALSE(passed(v));
    EXPECT_EQ(v.elements_checked, 0);
    EXPECT_EQ(v.mismatches, 1);
    EXPECT_EQ(v.first_mismatch, "output has " + std::to_string(size) + " elements, expected " + std::to_string(count));
  }
}

TEST(Verify, PassedNeedsCheckedElementsAndNoMismatch) {
  EXPECT_FALSE(passed(Verification{}));
  EXPECT_TRUE(passed(Verification{.elements_checked = 1}));
  EXPECT_FALSE(passed(Verification{.elements_checked = 10, .mismatches = 1}));
}

TEST(VerifySampled, LargeProblemsCheckASampleIncludingFirstAndLast) {
  // 2·300³ = 5.4e7 FLOP > the 5e7 allowed for an exhaustive check; 90000 outputs > 512.
  const GemmProblem g{.m = 300, .n = 300, .k = 300};
  const HostInputs in = make_inputs(g, 2);
  std::vector<float> out = reference_output(g, in);
  const Verification ok = verify(g, in, out);
  EXPECT_TRUE(ok.sampled);
  EXPECT_EQ(ok.elements_checked, 512);
  EXPECT_TRUE(passed(ok));

  std::vector<float> last = out;
  last.back() += 1.0f;
  const Verification v_last = verify(g, in, last);
  EXPECT_FALSE(passed(v_last));
  EXPECT_THAT(v_last.first_mismatch, StartsWith("output[89999] = "));

  std::vector<float> first = out;
  first.front() = std::numeric_limits<float>::quiet_NaN();
  const Verification v_first = verify(g, in, first);
  EXPECT_FALSE(passed(v_first));
  EXPECT_THAT(v_first.first_mismatch, StartsWith("output[0] = "));

  // A garbage output is caught by the sample.
  std::vector<float> zeros(out.size(), 0.0f);
  const Verification v_zero = verify(g, in, zeros);
  EXPECT_GT(v_zero.mismatches, 400);
}

TEST(VerifySampled, ThresholdsAndSampleSize) {
  const GemmProblem g{.m = 20, .n = 20, .k = 10};  // 8000 FLOP, 400 outputs
  const HostInputs in = make_inputs(g, 2);
  const std::vector<float> out = reference_output(g, in);
  VerifyOptions options;
  options.sample_elements = 50;
  options.exhaustive_max_flops = 8000;  // not more than the limit: exhaustive
  Verification v = verify(g, in, out, options);
  EXPECT_FALSE(v.sampled);
  EXPECT_EQ(v.elements_checked, 400);
  options.exhaustive_max_flops = 7999;
  v = verify(g, in, out, options);
  EXPECT_TRUE(v.sampled);
  EXPECT_EQ(v.elements_checked, 50);
  EXPECT_TRUE(passed(v));
  // No fewer outputs than the sample size: check them all.
  options.sample_elements = 400;
  v = verify(g, in, out, options);
  EXPECT_FALSE(v.sampled);
  EXPECT_EQ(v.elements_checked, 400);
}

TEST(VerifySampled, SampleIsDeterministicForASeed) {
  const GemmProblem g{.m = 40, .n = 40, .k = 10};
  const HostInputs in = make_inputs(g, 2);
  std::vector<float> out = reference_output(g, in);
  // Corrupt every other element: how many the sample catches depends only on the seed.
  for (size_t i = 1; i + 1 < out.size(); i += 2) out[i] += 1.0f;
  VerifyOptions options{.exhaustive_max_flops = 0, .sample_elements = 100, .seed = 7};
  const Verification a = verify(g, in, out, options), b = verify(g, in, out, options);
  EXPECT_EQ(a.mismatches, b.mismatches);
  EXPECT_EQ(a.first_mismatch, b.first_mismatch);
  EXPECT_GT(a.mismatches, 20);
  EXPECT_LT(a.mismatches, 80);
}

// ---------------------------------------------------------------------------------------------
// The reference on hand-computed GEMMs
//
// op(A) = [[1 2 3] [4 5 6]] (2×3), op(B) = [[7 8] [9 10] [11 12]] (3×2),
// C = op(A)·op(B) = [[58 64] [139 154]], column-major [58, 139, 64, 154].

std::vector<float> stored_a(Op op) {
  return op == Op::N ? std::vector<float>{1, 4, 2, 5, 3, 6}   // 2×3 column-major, lda 2
                     : std::vector<float>{1, 2, 3, 4, 5, 6};  // its transpose 3×2 column-major, lda 3
}
std::vector<float> stored_b(Op op) {
  return op == Op::N ? std::vector<float>{7, 9, 11, 8, 10, 12}  // 3×2 column-major, ldb 3
                     : std::vector<float>{7, 8, 9, 10, 11, 12}; // its transpose 2×3 column-major, ldb 2
}

TEST(ReferenceGemm, HandComputedForEveryTranspose) {
  for (Op op_a : {Op::N, Op::T}) {
    for (Op op_b : {Op::N, Op::T}) {
      const GemmProblem g{.m = 2, .n = 2, .k = 3, .op_a = op_a, .op_b = op_b};
      SCOPED_TRACE(describe(g));
      const std::vector<float> a = stored_a(op_a), b = stored_b(op_b);
      std::vector<double> c;
      for (int64_t offset = 0; offset < 4; ++offset) c.push_back(reference::element(g, a.data(), b.data(), offset));
      EXPECT_EQ(c, (std::vector<double>{58, 139, 64, 154}));
      EXPECT_EQ(reference::gemm_element(g, a.data(), b.data(), 0, 1, 0), 139.0);  // (i 1, j 0)
      std::vector<float> out(4);
      reference::compute(g, a.data(), b.data(), out.data());
      EXPECT_EQ(out, (std::vector<float>{58, 139, 64, 154}));
    }
  }
}

TEST(ReferenceGemm, BatchesAreStoredBackToBack) {
  for (Op op_a : {Op::N, Op::T}) {
    for (Op op_b : {Op::N, Op::T}) {
      const GemmProblem g{.m = 2, .n = 2, .k = 3, .op_a = op_a, .op_b = op_b, .batch = 2};
      SCOPED_TRACE(describe(g));
      std::vector<float> a = stored_a(op_a), b = stored_b(op_b);
      for (int i = 0; i < 6; ++i) a.push_back(2 * a[size_t(i)]);  // batch 1: 2·A, B − 1 elementwise
      for (int i = 0; i < 6; ++i) b.push_back(b[size_t(i)] - 1);
      std::vector<float> out(8);
      reference::compute(g, a.data(), b.data(), out.data());
      // 2·op(A)·(op(B) − 1) = 2·(C − rowsum(op(A))): row sums 6 and 15.
      EXPECT_EQ(out, (std::vector<float>{58, 139, 64, 154, 104, 248, 116, 278}));
    }
  }
}

TEST(ReferenceGemm, RectangularNonTrivialLeadingDimensions) {
  // m 3, n 1, k 2 with op T: A stored k×m = 2×3, lda 2; op(A)(i, l) = A_stored(l, i).
  const GemmProblem g{.m = 3, .n = 1, .k = 2, .op_a = Op::T, .op_b = Op::N};
  const std::vector<float> a{1, 2, 3, 4, 5, 6};  // stored columns (1,2), (3,4), (5,6): op(A) rows (1,2),(3,4),(5,6)
  const std::vector<float> b{10, 100};
  std::vector<float> out(3);
  reference::compute(g, a.data(), b.data(), out.data());
  EXPECT_EQ(out, (std::vector<float>{210, 430, 650}));
}

// ---------------------------------------------------------------------------------------------
// The reference on hand-computed convolutions (single channel unless said: NCHW = NHWC then)

std::vector<double> conv_out(const ConvProblem& c, const std::vector<float>& in0, const std::vector<float>& in1) {
  EXPECT_EQ(int64_t(in0.size()), operand_elements(c).input0);
  EXPECT_EQ(int64_t(in1.size()), operand_elements(c).input1);
  std::vector<double> out;
  for (int64_t i = 0; i < operand_elements(c).output; ++i) out.push_back(reference::element(c, in0.data(), in1.data(), i));
  return out;
}

std::vector<float> iota(int count, float first = 1) {
  std::vector<float> v;
  for (int i = 0; i < count; ++i) v.push_back(first + float(i));
  return v;
}

TEST(ReferenceConvForward, TwoByTwoFilter) {
  // x 3×3 = 1..9, w [[1 2] [3 4]]: y(p, q) = Σ x(p + r, q + s)·w(r, s).
  const ConvProblem c{.h = 3, .w = 3, .r = 2, .s = 2};
  for (Layout layout : {Layout::NCHW, Layout::NHWC}) {
    ConvProblem l = c;
    l.layout = layout;
    EXPECT_EQ(conv_out(l, iota(9), {1, 2, 3, 4}), (std::vector<double>{37, 47, 67, 77}));
  }
}

TEST(ReferenceConvForward, StrideTwoPadOne) {
  // 3×3 all-ones filter, pad 1, stride 2 on x = 1..9: each output sums a clipped 2×2 corner.
  const ConvProblem c{.h = 3, .w = 3, .r = 3, .s = 3, .pad_h = 1, .pad_w = 1, .stride_h = 2, .stride_w = 2};
  EXPECT_EQ(conv_out(c, iota(9), std::vector<float>(9, 1.0f)), (std::vector<double>{12, 16, 24, 28}));
}

TEST(ReferenceConvForward, DilationTwo) {
  // x 5×5 with x(i, j) = 5i + j + 1, w [[1 2] [3 4]] dilated by 2 (taps 0 and 2):
  // y(p, q) = b + 2(b + 2) + 3(b + 10) + 4(b + 12) = 10b + 82 where b = x(p, q).
  const ConvProblem c{.h = 5, .w = 5, .r = 2, .s = 2, .dilation_h = 2, .dilation_w = 2};
  std::vector<double> expected;
  for (int p = 0; p < 3; ++p) {
    for (int q = 0; q < 3; ++q) expected.push_back(10.0 * (5 * p + q + 1) + 82);
  }
  EXPECT_EQ(conv_out(c, iota(25), {1, 2, 3, 4}), expected);
  EXPECT_EQ(expected[0], 92);
}

TEST(ReferenceConvForward, ChannelsInBothLayouts) {
  // 1×1 filter, c 2 → k 2 on 2×2: y_k = Σ_c w(k, c)·x_c with x_0 = 1..4, x_1 = 5..8, w = [[1 2] [3 4]].
  // y_0 = [11 14 17 20], y_1 = [23 30 37 44].
  const ConvProblem nchw{.n = 1, .c = 2, .h = 2, .w = 2, .k = 2, .r = 1, .s = 1, .layout = Layout::NCHW};
  EXPECT_EQ(conv_out(nchw, iota(8), {1, 2, 3, 4}), (std::vector<double>{11, 14, 17, 20, 23, 30, 37, 44}));
  ConvProblem nhwc = nchw;
  nhwc.layout = Layout::NHWC;  // x as (h, w, c), w as (k, r, s, c), y as (p, q, k)
  EXPECT_EQ(conv_out(nhwc, {1, 5, 2, 6, 3, 7, 4, 8}, {1, 2, 3, 4}),
            (std::vector<double>{11, 23, 14, 30, 17, 37, 20, 44}));
}

TEST(ReferenceConvBackwardData, TwoByTwoFilter) {
  // dx(i, j) = Σ dy(i − r, j − s)·w(r, s) with dy = [[1 2] [3 4]], w = [[1 10] [100 1000]].
  const ConvProblem c{.h = 3, .w = 3, .r = 2, .s = 2, .pass = ConvPass::backward_data};
  for (Layout layout : {Layout::NCHW, Layout::NHWC}) {
    ConvProblem l = c;
    l.layout = layout;
    EXPECT_EQ(conv_out(l, {1, 2, 3, 4}, {1, 10, 100, 1000}),
              (std::vector<double>{1, 12, 20, 103, 1234, 2040, 300, 3400, 4000}));
  }
}

TEST(ReferenceConvBackwardData, StrideTwoLeavesUnreachedRowsZero) {
  // h = w = 5, 2×2 filter, stride 2: p = q = 2, windows tile rows/cols 0..3 and never touch 4.
  const ConvProblem c{.h = 5, .w = 5, .r = 2, .s = 2, .stride_h = 2, .stride_w = 2, .pass = ConvPass::backward_data};
  EXPECT_EQ(conv_out(c, {1, 2, 3, 4}, {1, 10, 100, 1000}),
            (std::vector<double>{1,   10,   2,   20,   0,  //
                                 100, 1000, 200, 2000, 0,  //
                                 3,   30,   4,   40,   0,  //
                                 300, 3000, 400, 4000, 0,  //
                                 0,   0,    0,   0,    0}));
}

TEST(ReferenceConvBackwardData, StrideTwoPadOne) {
  // The transpose of ReferenceConvForward.StrideTwoPadOne: dx(i, j) sums the dy whose window covers it.
  const ConvProblem c{.h = 3, .w = 3, .r = 3, .s = 3, .pad_h = 1, .pad_w = 1, .stride_h = 2, .stride_w = 2,
                      .pass = ConvPass::backward_data};
  EXPECT_EQ(conv_out(c, {1, 2, 3, 4}, std::vector<float>(9, 1.0f)),
            (std::vector<double>{1, 3, 2, 4, 10, 6, 3, 7, 4}));
}

TEST(ReferenceConvBackwardData, DilationTwo) {
  // h = w = 3, 2×2 filter dilated by 2 → p = q = 1: dx(2r, 2s) = dy·w(r, s), zeros elsewhere.
  const ConvProblem c{.h = 3, .w = 3, .r = 2, .s = 2, .dilation_h = 2, .dilation_w = 2, .pass = ConvPass::backward_data};
  EXPECT_EQ(conv_out(c, {2}, {1, 10, 100, 1000}), (std::vector<double>{2, 0, 20, 0, 0, 0, 200, 0, 2000}));
}

TEST(ReferenceConvBackwardFilter, TwoByTwoFilter) {
  // dw(r, s) = Σ x(p + r, q + s)·dy(p, q), x = 1..9, dy = [[1 10] [100 1000]].
  const ConvProblem c{.h = 3, .w = 3, .r = 2, .s = 2, .pass = ConvPass::backward_filter};
  for (Layout layout : {Layout::NCHW, Layout::NHWC}) {
    ConvProblem l = c;
    l.layout = layout;
    EXPECT_EQ(conv_out(l, iota(9), {1, 10, 100, 1000}), (std::vector<double>{5421, 6532, 8754, 9865}));
  }
}

TEST(ReferenceConvBackwardFilter, StrideTwoPadOne) {
  // dy all ones; tap r sees input rows {1} for r = 0 and 2, {0, 2} for r = 1 (same for columns).
  const ConvProblem c{.h = 3, .w = 3, .r = 3, .s = 3, .pad_h = 1, .pad_w = 1, .stride_h = 2, .stride_w = 2,
                      .pass = ConvPass::backward_filter};
  EXPECT_EQ(conv_out(c, iota(9), {1, 1, 1, 1}), (std::vector<double>{5, 10, 5, 10, 20, 10, 5, 10, 5}));
}

TEST(ReferenceConvBackwardFilter, BatchAndChannelsInBothLayouts) {
  // n 2, c 2, k 1, 1×1 filter on 1×2: dw(0, c) = Σ_n Σ_q x(n, c, q)·dy(n, 0, q).
  // x(n=0) c0 [1 2] c1 [3 4]; x(n=1) c0 [5 6] c1 [7 8]; dy(n=0) [1 10], dy(n=1) [100 1000].
  // dw(c0) = 1 + 20 + 500 + 6000 = 6521; dw(c1) = 3 + 40 + 700 + 8000 = 8743.
  const ConvProblem nchw{.n = 2, .c = 2, .h = 1, .w = 2, .k = 1, .pass = ConvPass::backward_filter};
  EXPECT_EQ(conv_out(nchw, iota(8), {1, 10, 100, 1000}), (std::vector<double>{6521, 8743}));
  ConvProblem nhwc = nchw;
  nhwc.layout = Layout::NHWC;
  EXPECT_EQ(conv_out(nhwc, {1, 3, 2, 4, 5, 7, 6, 8}, {1, 10, 100, 1000}), (std::vector<double>{6521, 8743}));
}

// ---------------------------------------------------------------------------------------------
// The reference against an independent scatter-form convolution, every pass and layout

struct Dims {
  int64_t n, c, h, w;
};

int64_t offset4(Layout layout, const Dims& d, int64_t n, int64_t c, int64_t y, int64_t x) {
  return layout == Layout::NCHW ? ((n * d.c + c) * d.h + y) * d.w + x : ((n * d.h + y) * d.w + x) * d.c + c;
}

// Loops over every (n, k, p, q, c, r, s) and scatters the product into the pass's output.
std::vector<double> scatter_conv(const ConvProblem& cp, const std::vector<float>& in0, const std::vector<float>& in1) {
  const Dims xd{cp.n, cp.c, cp.h, cp.w}, wd{cp.k, cp.c, cp.r, cp.s}, yd{cp.n, cp.k, cp.p(), cp.q()};
  std::vector<double> out(size_t(operand_elements(cp).output), 0.0);
  for (int64_t n = 0; n < cp.n; ++n)
    for (int64_t k = 0; k < cp.k; ++k)
      for (int64_t p = 0; p < cp.p(); ++p)
        for (int64_t q = 0; q < cp.q(); ++q)
          for (int64_t c = 0; c < cp.c; ++c)
            for (int64_t r = 0; r < cp.r; ++r)
              for (int64_t s = 0; s < cp.s; ++s) {
                const int64_t iy = p * cp.stride_h - cp.pad_h + r * cp.dilation_h;
                const int64_t ix = q * cp.stride_w - cp.pad_w + s * cp.dilation_w;
                if (iy < 0 || iy >= cp.h || ix < 0 || ix >= cp.w) continue;
                const int64_t xo = offset4(cp.layout, xd, n, c, iy, ix);
                const int64_t wo = offset4(cp.layout, wd, k, c, r, s);
                const int64_t yo = offset4(cp.layout, yd, n, k, p, q);
                switch (cp.pass) {
                  case ConvPass::forward: out[size_t(yo)] += double(in0[size_t(xo)]) * in1[size_t(wo)]; break;
                  case ConvPass::backward_data: out[size_t(xo)] += double(in0[size_t(yo)]) * in1[size_t(wo)]; break;
                  case ConvPass::backward_filter: out[size_t(wo)] += double(in0[size_t(xo)]) * in1[size_t(yo)]; break;
                }
              }
  return out;
}

TEST(ReferenceConv, MatchesAnIndependentScatterFormOnOddShapes) {
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> small(-3, 3);
  int cases = 0;
  for (ConvPass pass : {ConvPass::forward, ConvPass::backward_data, ConvPass::backward_filter}) {
    for (Layout layout : {Layout::NCHW, Layout::NHWC}) {
      for (int64_t stride : {1, 2, 3}) {
        for (int64_t pad : {0, 1, 2}) {
          for (int64_t dilation : {1, 2}) {
            const ConvProblem c{.n = 2, .c = 3, .h = 7, .w = 6, .k = 5, .r = 3, .s = 2, .pad_h = pad,
                                .pad_w = std::min<int64_t>(pad, 1), .stride_h = stride, .stride_w = 1 + stride % 2,
                                .dilation_h = dilation, .dilation_w = 3 - dilation, .layout = layout, .pass = pass};
            if (validate(c)) continue;
            SCOPED_TRACE(describe(c));
            ++cases;
            // Small integers: every sum is exact in both float and double.
            std::vector<float> in0(size_t(operand_elements(c).input0)), in1(size_t(operand_elements(c).input1));
            for (float& v : in0) v = float(small(rng));
            for (float& v : in1) v = float(small(rng));
            const std::vector<double> expected = scatter_conv(c, in0, in1);
            std::vector<float> computed(expected.size());
            reference::compute(c, in0.data(), in1.data(), computed.data());
            for (size_t i = 0; i < expected.size(); ++i) {
              ASSERT_EQ(double(computed[i]), expected[i]) << "output offset " << i;
            }
          }
        }
      }
    }
  }
  EXPECT_GE(cases, 90);
}

TEST(ReferenceConv, OffsetsFollowTheLayout) {
  const ConvProblem nchw{.n = 2, .c = 3, .h = 5, .w = 7, .k = 4, .r = 3, .s = 2, .stride_h = 2};
  // p = 2, q = 6.
  EXPECT_EQ(reference::x_offset(nchw, 1, 2, 3, 4), ((1 * 3 + 2) * 5 + 3) * 7 + 4);
  EXPECT_EQ(reference::w_offset(nchw, 3, 2, 1, 1), ((3 * 3 + 2) * 3 + 1) * 2 + 1);
  EXPECT_EQ(reference::y_offset(nchw, 1, 3, 1, 5), ((1 * 4 + 3) * 2 + 1) * 6 + 5);
  ConvProblem nhwc = nchw;
  nhwc.layout = Layout::NHWC;
  EXPECT_EQ(reference::x_offset(nhwc, 1, 2, 3, 4), ((1 * 5 + 3) * 7 + 4) * 3 + 2);
  EXPECT_EQ(reference::w_offset(nhwc, 3, 2, 1, 1), ((3 * 3 + 1) * 2 + 1) * 3 + 2);
  EXPECT_EQ(reference::y_offset(nhwc, 1, 3, 1, 5), ((1 * 2 + 1) * 6 + 5) * 4 + 3);
}

}  // namespace
}  // namespace trainrate
