// Problems: FLOP and byte counts on hand-computed cases, output extents, validation messages that
// name the field, describe() uniqueness, enum text round trips and the JSON encoding of problems.
#include <gtest/gtest.h>
#include <gmock/gmock.h>

#include <cstdint>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "problems/problem.hpp"
#include "problems/problem_json.hpp"

namespace trainrate {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// ---------------------------------------------------------------------------------------------
// FLOP counts

TEST(ProblemFlops, GemmIsTwoMnkTimesBatch) {
  EXPECT_EQ(flops(GemmProblem{.m = 3, .n = 5, .k = 7}), 210.0);
  EXPECT_EQ(flops(GemmProblem{.m = 3, .n = 5, .k = 7, .batch = 2}), 420.0);
  EXPECT_EQ(flops(GemmProblem{.m = 1, .n = 1, .k = 1}), 2.0);
  // Transposes and dtype do not change the work.
  EXPECT_EQ(flops(GemmProblem{.m = 3, .n = 5, .k = 7, .op_a = Op::T, .op_b = Op::T, .dtype = Dtype::fp16}), 210.0);
  // 2 · 8192³ does not fit a 32-bit int; the count is exact in double.
  EXPECT_EQ(flops(GemmProblem{.m = 8192, .n = 8192, .k = 8192}), 1099511627776.0);
}

TEST(ProblemFlops, ConvIsTwoNKPQCRSForEveryPass) {
  // n2 c3 5x7 k4 3x3 pad 1 stride 1: p = 5, q = 7 → 2·2·4·5·7·3·3·3 = 15120.
  for (ConvPass pass : {ConvPass::forward, ConvPass::backward_data, ConvPass::backward_filter}) {
    for (Layout layout : {Layout::NCHW, Layout::NHWC}) {
      const ConvProblem c{.n = 2, .c = 3, .h = 5, .w = 7, .k = 4, .r = 3, .s = 3, .pad_h = 1, .pad_w = 1,
                          .layout = layout, .pass = pass};
      SCOPED_TRACE(describe(c));
      EXPECT_EQ(c.p(), 5);
      EXPECT_EQ(c.q(), 7);
      EXPECT_EQ(flops(c), 15120.0);
    }
  }
  // Stride 2, no pad: n1 c8 9x9 k16 3x3 → p = q = 4 → 2·1·16·4·4·8·3·3 = 36864.
  EXPECT_EQ(flops(ConvProblem{.n = 1, .c = 8, .h = 9, .w = 9, .k = 16, .r = 3, .s = 3, .stride_h = 2, .stride_w = 2}),
            36864.0);
  // Non-square filter 1x5 on 4x10, pad_w 2: p = 4, q = 10 → 2·1·2·4·10·3·1·5 = 2400.
  EXPECT_EQ(flops(ConvProblem{.n = 1, .c = 3, .h = 4, .w = 10, .k = 2, .r = 1, .s = 5, .pad_w = 2}), 2400.0);
}

// ---------------------------------------------------------------------------------------------
// Output extents

// The conventional count includes taps that fall on padding; backends skip them, so on small maps
// a rate can pass the device's peak. The share of taps inside the image says by how much.
TEST(ProblemFlops, InBoundsTapShareLeavesOutPaddingTaps) {
  EXPECT_EQ(in_bounds_tap_share(GemmProblem{.m = 3, .n = 5, .k = 7}), 1.0);
  // 3×3, pad 1 on a 1×1 map: of the 3 taps per axis only the centre one lands on the pixel.
  ConvProblem one{.n = 1, .c = 512, .h = 1, .w = 1, .k = 512, .r = 3, .s = 3, .pad_h = 1, .pad_w = 1};
  one.pass = ConvPass::backward_data;
  EXPECT_DOUBLE_EQ(in_bounds_tap_share(one), 1.0 / 9);
  // 56×56, 3×3, pad 1: per axis 56·3 = 168 taps, 2 on padding (first row's top, last row's bottom).
  const ConvProblem big{.n = 2, .c = 64, .h = 56, .w = 56, .k = 64, .r = 3, .s = 3, .pad_h = 1, .pad_w = 1};
  EXPECT_DOUBLE_EQ(in_bounds_tap_share(big), (166.0 / 168) * (166.0 / 168));
  // Stride 2, pad 3, 7×7 on 8×8: outputs at -3, -1, 1, 3 (P = 4); taps inside per axis 4+6+7+5 = 22 of 28.
  const ConvProblem strided{.h = 8, .w = 8, .r = 7, .s = 7, .pad_h = 3, .pad_w = 3, .stride_h = 2, .stride_w = 2};
  EXPECT_DOUBLE_EQ(in_bounds_tap_share(strided), (22.0 / 28) * (22.0 / 28));
  // No padding: every tap is inside.
  EXPECT_EQ(in_bounds_tap_share(ConvProblem{.h = 5, .w = 5, .r = 3, .s = 3}), 1.0);
}

TEST(ProblemExtent, StridePadDilation) {
  // (in + 2·pad − (dilation·(filter − 1) + 1)) / stride + 1
  EXPECT_EQ((ConvProblem{.h = 10, .w = 10, .r = 3, .s = 3}).p(), 8);
  EXPECT_EQ((ConvProblem{.h = 10, .w = 10, .r = 3, .s = 3, .pad_h = 1, .pad_w = 1}).p(), 10);
  EXPECT_EQ((ConvProblem{.h = 10, .w = 10, .r = 3, .s = 3, .pad_h = 1, .pad_w = 1, .stride_h = 2, .stride_w = 2}).p(),
            5);  // (10 + 2 − 3) / 2 + 1 = 4 + 1
  EXPECT_EQ((ConvProblem{.h = 10, .w = 10, .r = 3, .s = 3, .dilation_h = 2, .dilation_w = 2}).p(), 6);
  // h 11, r 3, pad 2, stride 3, dilation 2: effective filter 5, span 11 + 4 − 5 = 10, 10 / 3 + 1 = 4.
  const ConvProblem mixed{.h = 11, .w = 11, .r = 3, .s = 3, .pad_h = 2, .pad_w = 2, .stride_h = 3, .stride_w = 3,
                          .dilation_h = 2, .dilation_w = 2};
  EXPECT_EQ(mixed.p(), 4);
  EXPECT_EQ(mixed.q(), 4);
  // Height and width use their own fields.
  const ConvProblem asym{.h = 7, .w = 12, .r = 3, .s = 1, .pad_h = 1, .pad_w = 0, .stride_h = 2, .stride_w = 3};
  EXPECT_EQ(asym.p(), 4);  // (7 + 2 − 3) / 2 + 1
  EXPECT_EQ(asym.q(), 4);  // (12 − 1) / 3 + 1
  // Filter larger than the padded input: no output.
  EXPECT_EQ((ConvProblem{.h = 2, .w = 2, .r = 5, .s = 5, .pad_h = 1, .pad_w = 1}).p(), 0);
  // Element counts follow.
  const ConvProblem c{.n = 2, .c = 3, .h = 5, .w = 7, .k = 4, .r = 3, .s = 3, .stride_h = 2, .stride_w = 2};
  EXPECT_EQ(c.p(), 2);
  EXPECT_EQ(c.q(), 3);
  EXPECT_EQ(c.x_elements(), 2 * 3 * 5 * 7);
  EXPECT_EQ(c.w_elements(), 4 * 3 * 3 * 3);
  EXPECT_EQ(c.y_elements(), 2 * 4 * 2 * 3);
}

// ---------------------------------------------------------------------------------------------
// Bytes and operand sizes

TEST(ProblemBytes, GemmCountsEveryOperandOncePerBatch) {
  // (3·7 + 7·5 + 3·5) · batch 2 · 4 bytes = 71 · 8 = 568.
  EXPECT_EQ(min_bytes(GemmProblem{.m = 3, .n = 5, .k = 7, .batch = 2}), 568.0);
  EXPECT_EQ(min_bytes(GemmProblem{.m = 3, .n = 5, .k = 7, .dtype = Dtype::fp16, .batch = 2}), 284.0);
  EXPECT_EQ(min_bytes(GemmProblem{.m = 3, .n = 5, .k = 7, .dtype = Dtype::bf16}), 142.0);
  EXPECT_EQ(min_bytes(GemmProblem{.m = 3, .n = 5, .k = 7, .dtype = Dtype::tf32}), 284.0);  // stored as fp32
  const OperandSizes sizes = operand_elements(GemmProblem{.m = 3, .n = 5, .k = 7, .op_a = Op::T, .batch = 2});
  EXPECT_EQ(sizes.input0, 42);
  EXPECT_EQ(sizes.input1, 70);
  EXPECT_EQ(sizes.output, 30);
}

TEST(ProblemBytes, ConvOperandsPerPass) {
  // n1 c2 4x4 k3 3x3: p = q = 2; x 32, w 54, y 12 elements.
  ConvProblem c{.n = 1, .c = 2, .h = 4, .w = 4, .k = 3, .r = 3, .s = 3};
  for (ConvPass pass : {ConvPass::forward, ConvPass::backward_data, ConvPass::backward_filter}) {
    c.pass = pass;
    EXPECT_EQ(min_bytes(c), 98.0 * 4) << to_string(pass);
  }
  c.pass = ConvPass::forward;
  EXPECT_EQ(operand_elements(c).input0, 32);
  EXPECT_EQ(operand_elements(c).input1, 54);
  EXPECT_EQ(operand_elements(c).output, 12);
  c.pass = ConvPass::backward_data;  // dy, w → dx
  EXPECT_EQ(operand_elements(c).input0, 12);
  EXPECT_EQ(operand_elements(c).input1, 54);
  EXPECT_EQ(operand_elements(c).output, 32);
  c.pass = ConvPass::backward_filter;  // x, dy → dw
  EXPECT_EQ(operand_elements(c).input0, 32);
  EXPECT_EQ(operand_elements(c).input1, 12);
  EXPECT_EQ(operand_elements(c).output, 54);
  c.dtype = Dtype::bf16;
  EXPECT_EQ(min_bytes(c), 98.0 * 2);
}

TEST(ProblemBytes, StorageBytes) {
  EXPECT_EQ(storage_bytes(Dtype::fp32), 4);
  EXPECT_EQ(storage_bytes(Dtype::tf32), 4);
  EXPECT_EQ(storage_bytes(Dtype::fp16), 2);
  EXPECT_EQ(storage_bytes(Dtype::bf16), 2);
}

TEST(ProblemGemm, LeadingDimensionsFollowTheTransposes) {
  const GemmProblem nn{.m = 3, .n = 5, .k = 7};
  EXPECT_EQ(nn.lda(), 3);
  EXPECT_EQ(nn.ldb(), 7);
  EXPECT_EQ(nn.ldc(), 3);
  const GemmProblem tt{.m = 3, .n = 5, .k = 7, .op_a = Op::T, .op_b = Op::T};
  EXPECT_EQ(tt.lda(), 7);
  EXPECT_EQ(tt.ldb(), 5);
  EXPECT_EQ(tt.ldc(), 3);
}

// ---------------------------------------------------------------------------------------------
// Validation

std::string error_of(const Problem& problem) {
  const auto error = validate(problem);
  return error ? *error : std::string("<valid>");
}

TEST(ProblemValidate, ValidProblemsPass) {
  EXPECT_FALSE(validate(GemmProblem{.m = 1, .n = 1, .k = 1}));
  EXPECT_FALSE(validate(GemmProblem{.m = 46340, .n = 46340, .k = 46340}));  // 46340² < 2^31 − 1
  EXPECT_FALSE(validate(ConvProblem{.n = 2, .c = 3, .h = 5, .w = 7, .k = 4, .r = 3, .s = 3, .pad_h = 2, .pad_w = 2}));
  // Pad just below the dilated filter extent (dilation 2, r 3 → extent 5).
  EXPECT_FALSE(validate(ConvProblem{.h = 8, .w = 8, .r = 3, .s = 3, .pad_h = 4, .pad_w = 4, .dilation_h = 2,
                                    .dilation_w = 2}));
  // 1x1 filter on a 1x1 input.
  EXPECT_FALSE(validate(ConvProblem{}));
}

TEST(ProblemValidate, GemmRejectsNonPositiveSizesNamingTheField) {
  EXPECT_EQ(error_of(GemmProblem{.m = 0, .n = 4, .k = 4}), "m must be >= 1 (got 0)");
  EXPECT_EQ(error_of(GemmProblem{.m = 4, .n = -1, .k = 4}), "n must be >= 1 (got -1)");
  EXPECT_EQ(error_of(GemmProblem{.m = 4, .n = 4, .k = 0}), "k must be >= 1 (got 0)");
  EXPECT_EQ(error_of(GemmProblem{.m = 4, .n = 4, .k = 4, .batch = 0}), "batch must be >= 1 (got 0)");
  EXPECT_EQ(error_of(GemmProblem{.m = 4, .n = 4, .k = 4, .batch = -3}), "batch must be >= 1 (got -3)");
}

TEST(ProblemValidate, GemmRejectsTensorsBeyondThe32BitIndexLimit) {
  // 65536 · 32768 = 2^31, one past the limit.
  EXPECT_THAT(error_of(GemmProblem{.m = 65536, .n = 1, .k = 32768}), StartsWith("A (m*k) has 2147483648 elements"));
  EXPECT_THAT(error_of(GemmProblem{.m = 1, .n = 65536, .k = 32768}), StartsWith("B (k*n)"));
  EXPECT_THAT(error_of(GemmProblem{.m = 46341, .n = 46341, .k = 1}), StartsWith("C (m*n)"));
  // Exactly 2^31 − 1 = 7·7·73·127·337 elements is still addressable.
  EXPECT_FALSE(validate(GemmProblem{.m = 2147483647, .n = 1, .k = 1}));
  // Products that overflow int64 are caught, not wrapped to something small or negative.
  EXPECT_THAT(error_of(GemmProblem{.m = int64_t{1} << 40, .n = 1, .k = int64_t{1} << 40}), StartsWith("A (m*k)"));
  EXPECT_THAT(error_of(GemmProblem{.m = 1, .n = int64_t{3} << 61, .k = 4}), StartsWith("B (k*n)"));
  const int64_t big = std::numeric_limits<int64_t>::max();
  EXPECT_THAT(error_of(GemmProblem{.m = big, .n = big, .k = big}), StartsWith("A (m*k)"));
}

TEST(ProblemValidate, GemmRejectsABatchWhoseOperandsOverflow) {
  // Each matrix is addressable, but batch · elements overflows int64, which operand_elements()
  // and min_bytes() compute (signed overflow) and every backend allocates. The issue asks for
  // "index overflow" to be rejected with a message naming the field.
  const GemmProblem g{.m = 32768, .n = 32768, .k = 32768, .batch = int64_t{1} << 40};
  const auto error = validate(g);
  ASSERT_TRUE(error.has_value()) << "a batch of 2^40 matrices of 2^30 elements was accepted";
  EXPECT_THAT(*error, HasSubstr("batch"));
}

TEST(ProblemValidate, ConvRejectsNonPositiveFieldsNamingTheField) {
  const ConvProblem base{.n = 2, .c = 3, .h = 8, .w = 8, .k = 4, .r = 3, .s = 3};
  const std::vector<std::pair<std::string, int64_t ConvProblem::*>> fields{
      {"n", &ConvProblem::n},           {"c", &ConvProblem::c},
      {"h", &ConvProblem::h},           {"w", &ConvProblem::w},
      {"k", &ConvProblem::k},           {"r", &ConvProblem::r},
      {"s", &ConvProblem::s},           {"stride_h", &ConvProblem::stride_h},
      {"stride_w", &ConvProblem::stride_w}, {"dilation_h", &ConvProblem::dilation_h},
      {"dilation_w", &ConvProblem::dilation_w}};
  for (const auto& [name, member] : fields) {
    for (int64_t bad : {int64_t{0}, int64_t{-2}}) {
      ConvProblem c = base;
      c.*member = bad;
      EXPECT_EQ(error_of(c), name + " must be >= 1 (got " + std::to_string(bad) + ")");
    }
  }
  ConvProblem c = base;
  c.pad_h = -1;
  EXPECT_EQ(error_of(c), "pad_h must be >= 0 (got -1)");
  c = base;
  c.pad_w = -1;
  EXPECT_EQ(error_of(c), "pad_w must be >= 0 (got -1)");
}

TEST(ProblemValidate, ConvRejectsPadAsWideAsTheDilatedFilter) {
  // r 3: extent 3, so pad 3 only adds all-zero output rows.
  EXPECT_EQ(error_of(ConvProblem{.h = 8, .w = 8, .r = 3, .s = 3, .pad_h = 3, .pad_w = 1}),
            "pad_h 3 must be smaller than the dilated filter height 3");
  EXPECT_EQ(error_of(ConvProblem{.h = 8, .w = 8, .r = 3, .s = 3, .pad_h = 1, .pad_w = 3}),
            "pad_w 3 must be smaller than the dilated filter width 3");
  // 1x1 filters allow no pad at all.
  EXPECT_THAT(error_of(ConvProblem{.h = 8, .w = 8, .r = 1, .s = 1, .pad_h = 1, .pad_w = 0}), StartsWith("pad_h 1"));
  // Dilation widens the extent: r 3, dilation 2 → 5.
  EXPECT_EQ(error_of(ConvProblem{.h = 8, .w = 8, .r = 3, .s = 3, .pad_h = 1, .pad_w = 5, .dilation_h = 2,
                                 .dilation_w = 2}),
            "pad_w 5 must be smaller than the dilated filter width 5");
}

TEST(ProblemValidate, ConvRejectsEmptyOutput) {
  EXPECT_THAT(error_of(ConvProblem{.h = 2, .w = 8, .r = 5, .s = 3, .pad_h = 1}), StartsWith("output height p is 0"));
  EXPECT_THAT(error_of(ConvProblem{.h = 8, .w = 3, .r = 1, .s = 3, .dilation_w = 2}),
              StartsWith("output width q is 0"));
}

TEST(ProblemValidate, ConvRejectsTensorsBeyondThe32BitIndexLimit) {
  // x: 1·2^16·2^8·2^7 = 2^31.
  EXPECT_THAT(error_of(ConvProblem{.n = 1, .c = 65536, .h = 256, .w = 128, .k = 1}), StartsWith("x (n*c*h*w)"));
  // w: 2^16 · 2^15 · 1 · 1 = 2^31.
  EXPECT_THAT(error_of(ConvProblem{.c = 32768, .k = 65536}), StartsWith("w (k*c*r*s)"));
  // y: x is 2^30 elements, y with k = 4 is 2^32.
  EXPECT_THAT(error_of(ConvProblem{.n = 1, .c = 1, .h = 32768, .w = 32768, .k = 4}), StartsWith("y (n*k*p*q)"));
  // Overflowing products saturate instead of wrapping.
  const int64_t huge = int64_t{1} << 32;
  EXPECT_THAT(error_of(ConvProblem{.n = huge, .c = huge, .h = huge, .w = huge, .k = 1}), StartsWith("x (n*c*h*w)"));
}

// ---------------------------------------------------------------------------------------------
// describe(), kind_label(), enum text

TEST(ProblemDescribe, Examples) {
  EXPECT_EQ(describe(GemmProblem{.m = 1024, .n = 512, .k = 256, .op_a = Op::N, .op_b = Op::T}),
            "gemm 1024x512x256 NT fp32");
  EXPECT_EQ(describe(GemmProblem{.m = 3, .n = 5, .k = 7, .op_a = Op::T, .dtype = Dtype::bf16, .batch = 4}),
            "gemm 3x5x7 TN bf16 b4");
  EXPECT_EQ(describe(ConvProblem{.n = 32, .c = 64, .h = 56, .w = 56, .k = 64, .r = 3, .s = 3, .pad_h = 1, .pad_w = 1}),
            "conv fwd n32 c64 56x56 k64 3x3 p1 s1 d1 NCHW fp32");
  EXPECT_EQ(describe(ConvProblem{.n = 2, .c = 6, .h = 11, .w = 13, .k = 10, .r = 3, .s = 5, .pad_h = 1, .pad_w = 2,
                                 .stride_h = 2, .stride_w = 1, .dilation_h = 1, .dilation_w = 2,
                                 .layout = Layout::NHWC, .pass = ConvPass::backward_filter, .dtype = Dtype::fp16}),
            "conv bwd-filter n2 c6 11x13 k10 3x5 p1x2 s2x1 d1x2 NHWC fp16");
}

// Equal descriptions must mean equal problems: random problems over small domains, so that
// many share most fields and differ in one or two.
TEST(ProblemDescribe, UniqueAcrossEveryField) {
  std::mt19937 rng(5);
  auto pick = [&](std::vector<int64_t> values) { return values[rng() % values.size()]; };
  std::map<std::string, Problem> seen;
  for (int i = 0; i < 20000; ++i) {
    Problem problem;
    if (i % 3 == 0) {
      problem = GemmProblem{.m = pick({1, 2, 12, 21}), .n = pick({1, 2, 12, 21}), .k = pick({1, 2, 12}),
                            .op_a = rng() % 2 ? Op::N : Op::T, .op_b = rng() % 2 ? Op::N : Op::T,
                            .dtype = Dtype(rng() % 4), .batch = pick({1, 2, 12})};
    } else {
      problem = ConvProblem{.n = pick({1, 2, 12}), .c = pick({1, 2, 12}), .h = pick({1, 2, 12, 21}),
                            .w = pick({1, 2, 12, 21}), .k = pick({1, 2, 12}), .r = pick({1, 2, 12}),
                            .s = pick({1, 2, 12}), .pad_h = pick({0, 1, 12}), .pad_w = pick({0, 1, 12}),
                            .stride_h = pick({1, 2}), .stride_w = pick({1, 2}), .dilation_h = pick({1, 2}),
                            .dilation_w = pick({1, 2}), .layout = rng() % 2 ? Layout::NCHW : Layout::NHWC,
                            .pass = ConvPass(rng() % 3), .dtype = Dtype(rng() % 4)};
    }
    const auto [it, inserted] = seen.emplace(describe(problem), problem);
    if (!inserted) {
      ASSERT_TRUE(it->second == problem) << "two different problems are both described as '" << it->first << "'";
    }
  }
  EXPECT_GT(seen.size(), 10000u);
}

// Changing any single field from a base changes the description.
TEST(ProblemDescribe, EverySingleFieldShows) {
  const GemmProblem g{.m = 8, .n = 8, .k = 8};
  std::vector<GemmProblem> gemms(8, g);
  gemms[1].m = 9;
  gemms[2].n = 9;
  gemms[3].k = 9;
  gemms[4].op_a = Op::T;
  gemms[5].op_b = Op::T;
  gemms[6].dtype = Dtype::tf32;
  gemms[7].batch = 2;
  std::set<std::string> gemm_names;
  for (const auto& p : gemms) gemm_names.insert(describe(p));
  EXPECT_EQ(gemm_names.size(), gemms.size());

  const ConvProblem c{.n = 2, .c = 2, .h = 8, .w = 8, .k = 2, .r = 3, .s = 3, .pad_h = 1, .pad_w = 1};
  std::vector<ConvProblem> convs(17, c);
  convs[1].n = 3;
  convs[2].c = 3;
  convs[3].h = 9;
  convs[4].w = 9;
  convs[5].k = 3;
  convs[6].r = 5;
  convs[7].s = 5;
  convs[8].pad_h = 0;
  convs[9].pad_w = 0;
  convs[10].stride_h = 2;
  convs[11].stride_w = 2;
  convs[12].dilation_h = 2;
  convs[13].dilation_w = 2;
  convs[14].layout = Layout::NHWC;
  convs[15].pass = ConvPass::backward_data;
  convs[16].dtype = Dtype::bf16;
  std::set<std::string> conv_names;
  for (const auto& p : convs) conv_names.insert(describe(p));
  EXPECT_EQ(conv_names.size(), convs.size());
}

TEST(ProblemDescribe, KindLabel) {
  EXPECT_EQ(kind_label(GemmProblem{}), "gemm");
  EXPECT_EQ(kind_label(ConvProblem{.pass = ConvPass::forward}), "conv-fwd");
  EXPECT_EQ(kind_label(ConvProblem{.pass = ConvPass::backward_data}), "conv-bwd-data");
  EXPECT_EQ(kind_label(ConvProblem{.pass = ConvPass::backward_filter}), "conv-bwd-filter");
}

TEST(ProblemText, EnumRoundTrips) {
  for (Dtype d : {Dtype::fp32, Dtype::tf32, Dtype::fp16, Dtype::bf16}) EXPECT_EQ(parse_dtype(to_string(d)), d);
  for (Op o : {Op::N, Op::T}) EXPECT_EQ(parse_op(to_string(o)), o);
  for (Layout l : {Layout::NCHW, Layout::NHWC}) EXPECT_EQ(parse_layout(to_string(l)), l);
  for (ConvPass p : {ConvPass::forward, ConvPass::backward_data, ConvPass::backward_filter}) {
    EXPECT_EQ(parse_pass(to_string(p)), p);
  }
  EXPECT_EQ(to_string(Dtype::bf16), "bf16");
  EXPECT_EQ(to_string(Op::T), "T");
  EXPECT_EQ(to_string(Layout::NHWC), "NHWC");
  EXPECT_EQ(to_string(ConvPass::backward_filter), "backward_filter");
}

TEST(ProblemText, ParseRejectsUnknownText) {
  EXPECT_EQ(parse_dtype("fp64"), std::nullopt);
  EXPECT_EQ(parse_dtype(""), std::nullopt);
  EXPECT_EQ(parse_dtype("fp32 "), std::nullopt);
  EXPECT_EQ(parse_op("X"), std::nullopt);
  EXPECT_EQ(parse_op(""), std::nullopt);
  EXPECT_EQ(parse_layout("NCWH"), std::nullopt);
  EXPECT_EQ(parse_pass("fwd"), std::nullopt);
  EXPECT_EQ(parse_pass("backward"), std::nullopt);
}

// ---------------------------------------------------------------------------------------------
// JSON encoding of one problem

TEST(ProblemJson, RoundTripsEveryField) {
  const std::vector<Problem> problems{
      GemmProblem{.m = 3, .n = 5, .k = 7, .op_a = Op::T, .op_b = Op::N, .dtype = Dtype::bf16, .batch = 4},
      GemmProblem{.m = 1, .n = 2, .k = 3, .op_a = Op::N, .op_b = Op::T, .dtype = Dtype::tf32},
      ConvProblem{.n = 2, .c = 6, .h = 11, .w = 13, .k = 10, .r = 3, .s = 5, .pad_h = 1, .pad_w = 2, .stride_h = 2,
                  .stride_w = 3, .dilation_h = 2, .dilation_w = 1, .layout = Layout::NHWC,
                  .pass = ConvPass::backward_data, .dtype = Dtype::fp16},
      ConvProblem{.n = 1, .c = 1, .h = 4, .w = 4, .k = 1, .r = 1, .s = 1, .pass = ConvPass::backward_filter}};
  for (const Problem& p : problems) {
    const nlohmann::json json = to_json(p);
    const Problem back = problem_from_json(nlohmann::json::parse(json.dump()), "test");
    EXPECT_TRUE(back == p) << json.dump();
  }
}

TEST(ProblemJson, DefaultsAndShorthands) {
  const auto g = std::get<GemmProblem>(
      problem_from_json(nlohmann::json::parse(R"({"kind": "gemm", "m": 2, "n": 3, "k": 4})"), "x"));
  EXPECT_TRUE((g == GemmProblem{.m = 2, .n = 3, .k = 4, .op_a = Op::N, .op_b = Op::N, .dtype = Dtype::fp32,
                                .batch = 1}));
  // s defaults to r; pad/stride/dilation set both directions, _h/_w override one.
  const auto c = std::get<ConvProblem>(problem_from_json(
      nlohmann::json::parse(
          R"({"kind": "conv", "n": 1, "c": 2, "h": 9, "w": 9, "k": 3, "r": 3, "pad": 1, "pad_w": 2, "stride": 2,
              "dilation": 2, "dilation_h": 1})"),
      "x"));
  EXPECT_EQ(c.s, 3);
  EXPECT_EQ(c.pad_h, 1);
  EXPECT_EQ(c.pad_w, 2);
  EXPECT_EQ(c.stride_h, 2);
  EXPECT_EQ(c.stride_w, 2);
  EXPECT_EQ(c.dilation_h, 1);
  EXPECT_EQ(c.dilation_w, 2);
  EXPECT_EQ(c.layout, Layout::NCHW);
  EXPECT_EQ(c.pass, ConvPass::forward);
  EXPECT_EQ(c.dtype, Dtype::fp32);
}

std::string json_error(const std::string& text) {
  try {
    problem_from_json(nlohmann::json::parse(text), "where");
  } catch (const InputError& e) {
    return e.what();
  }
  return "<no error>";
}

TEST(ProblemJson, ErrorsNameTheField) {
  EXPECT_EQ(json_error(R"([1, 2])"), "where: expected an object, got [1,2]");
  EXPECT_THAT(json_error(R"({"m": 1})"), StartsWith("where: missing field 'kind'"));
  EXPECT_THAT(json_error(R"({"kind": 3})"), StartsWith("where: missing field 'kind'"));
  EXPECT_EQ(json_error(R"({"kind": "matmul"})"), "where.kind: 'matmul' is not one of gemm, conv, memory, collective");
  EXPECT_EQ(json_error(R"({"kind": "gemm", "m": 1, "n": 1})"), "where: missing required field 'k'");
  EXPECT_EQ(json_error(R"({"kind": "gemm", "m": 1, "n": 1, "k": 1, "pad": 1})"), "where: unknown field 'pad'");
  EXPECT_EQ(json_error(R"({"kind": "gemm", "m": "64", "n": 1, "k": 1})"), R"(where.m: expected an integer, got "64")");
  EXPECT_EQ(json_error(R"({"kind": "gemm", "m": 6.5, "n": 1, "k": 1})"), "where.m: expected an integer, got 6.5");
  EXPECT_EQ(json_error(R"({"kind": "gemm", "m": true, "n": 1, "k": 1})"), "where.m: expected an integer, got true");
  EXPECT_EQ(json_error(R"({"kind": "gemm", "m": 1, "n": 1, "k": 1, "op_a": "X"})"),
            "where.op_a: 'X' is not one of N, T");
  EXPECT_EQ(json_error(R"({"kind": "gemm", "m": 1, "n": 1, "k": 1, "dtype": 16})"),
            "where.dtype: expected a string (fp32, tf32, fp16, bf16), got 16");
  EXPECT_EQ(json_error(R"({"kind": "gemm", "m": 0, "n": 1, "k": 1})"), "where: m must be >= 1 (got 0)");
  EXPECT_EQ(json_error(R"({"kind": "conv", "n": 1, "c": 1, "h": 4, "w": 4, "k": 1, "r": 3, "layout": "nchw"})"),
            "where.layout: 'nchw' is not one of NCHW, NHWC");
  EXPECT_EQ(json_error(R"({"kind": "conv", "n": 1, "c": 1, "h": 4, "w": 4, "k": 1, "r": 3, "pass": "bwd"})"),
            "where.pass: 'bwd' is not one of forward, backward_data, backward_filter");
  EXPECT_EQ(json_error(R"({"kind": "conv", "n": 1, "c": 1, "h": 4, "w": 4, "k": 1, "r": 3, "pad": 3})"),
            "where: pad_h 3 must be smaller than the dilated filter height 3");
  EXPECT_EQ(json_error(R"({"kind": "conv", "n": 1, "c": 1, "h": 4, "w": 4, "r": 3})"),
            "where: missing required field 'k'");
}

}  // namespace
}  // namespace trainrate
