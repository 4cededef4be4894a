// Our packed CPU GEMMs against the double-accumulating reference: every micro-kernel this CPU can
// run (forced by name; the bf16 ones through gemm_bf16 on bf16-representable inputs), all four
// transposes, edge shapes around the tile and block sizes, alpha/beta semantics and one to three
// threads.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

#include "kernels/cpu/gemm.hpp"
#include "kernels/cpu/gemm_internal.hpp"
#include "verify/reference.hpp"

namespace trainrate::kernels::cpu {
namespace {

std::vector<float> random_values(int64_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> values(size_t(std::max<int64_t>(count, 1)));
  for (float& v : values) v = dist(rng);
  return values;
}

struct Case {
  Op op_a = Op::N, op_b = Op::N;
  int64_t m = 1, n = 1, k = 1;
  int64_t lda_pad = 0, ldb_pad = 0, ldc_pad = 0;  // extra rows beyond the minimum leading dimension
  float alpha = 1.0f, beta = 0.0f;
};

std::string describe(const Case& c) {
  return std::string(to_string(c.op_a)) + std::string(to_string(c.op_b)) + " m" + std::to_string(c.m) + " n" +
         std::to_string(c.n) + " k" + std::to_string(c.k) + " alpha" + std::to_string(c.alpha) + " beta" +
         std::to_string(c.beta);
}

bool is_available(MicroKernel kernel) {
  for (MicroKernel k : available_micro_kernels(input_dtype(kernel))) {
    if (k == kernel) return true;
  }
  return false;
}

// The same values rounded to bf16 and widened back, so both GEMMs and the reference see them.
void round_to_bf16(std::vector<float>& values) {
  for (float& v : values) {
    const uint32_t bits = uint32_t(to_bf16(v)) << 16;
    std::memcpy(&v, &bits, sizeof v);
  }
}

std::vector<bf16_bits> bf16_copy(const float* x, int64_t count) {
  std::vector<bf16_bits> bits;
  if (x != nullptr) {
    for (int64_t i = 0; i < count; ++i) bits.push_back(to_bf16(x[i]));
  }
  return bits;
}

// sgemm, or gemm_bf16 on bf16 copies of A (a_count floats) and B when the kernel multiplies bf16.
void gemm_with(const GemmOptions& options, Op op_a, Op op_b, int64_t m, int64_t n, int64_t k, float alpha,
               const float* a, int64_t lda, int64_t a_count, const float* b, int64_t ldb, int64_t b_count, float beta,
               float* c, int64_t ldc) {
  if (!options.micro_kernel || input_dtype(*options.micro_kernel) == Dtype::fp32) {
    return sgemm(op_a, op_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, options);
  }
  const std::vector<bf16_bits> a16 = bf16_copy(a, a_count), b16 = bf16_copy(b, b_count);
  gemm_bf16(op_a, op_b, m, n, k, alpha, a ? a16.data() : nullptr, lda, b ? b16.data() : nullptr, ldb, beta, c, ldc,
            options);
}

// Runs one case and compares every element of C with alpha·reference + beta·C0.
void check(const Case& c, const GemmOptions& options) {
  const int64_t a_rows = c.op_a == Op::N ? c.m : c.k, a_cols = c.op_a == Op::N ? c.k : c.m;
  const int64_t b_rows = c.op_b == Op::N ? c.k : c.n, b_cols = c.op_b == Op::N ? c.n : c.k;
  const int64_t lda = std::max<int64_t>(1, a_rows) + c.lda_pad;
  const int64_t ldb = std::max<int64_t>(1, b_rows) + c.ldb_pad;
  const int64_t ldc = std::max<int64_t>(1, c.m) + c.ldc_pad;
  std::vector<float> a = random_values(lda * a_cols, 1);
  std::vector<float> b = random_values(ldb * b_cols, 2);
  if (options.micro_kernel && input_dtype(*options.micro_kernel) == Dtype::bf16) {
    round_to_bf16(a);
    round_to_bf16(b);
  }
  std::vector<float> out = random_values(ldc * c.n, 3);
  if (c.beta == 0.0f) {
    for (float& v : out) v = std::numeric_limits<float>::quiet_NaN();  // beta == 0: C must not be read
  }
  const std::vector<float> before = out;

  gemm_with(options, c.op_a, c.op_b, c.m, c.n, c.k, c.alpha, a.data(), lda, int64_t(a.size()), b.data(), ldb,
            int64_t(b.size()), c.beta, out.data(), ldc);

  // The reference wants minimal leading dimensions: compact copies of A and B.
  std::vector<float> a_compact(size_t(std::max<int64_t>(1, a_rows * a_cols)));
  std::vector<float> b_compact(size_t(std::max<int64_t>(1, b_rows * b_cols)));
  for (int64_t j = 0; j < a_cols; ++j)
    for (int64_t i = 0; i < a_rows; ++i) a_compact[size_t(i + j * a_rows)] = a[size_t(i + j * lda)];
  for (int64_t j = 0; j < b_cols; ++j)
    for (int64_t i = 0; i < b_rows; ++i) b_compact[size_t(i + j * b_rows)] = b[size_t(i + j * ldb)];
  const GemmProblem problem{.m = c.m, .n = c.n, .k = c.k, .op_a = c.op_a, .op_b = c.op_b};

  const double tolerance = 1e-5 * std::sqrt(double(std::max<int64_t>(c.k, 1))) + 1e-6;
  int64_t mismatches = 0;
  for (int64_t j = 0; j < c.n; ++j) {
    for (int64_t i = 0; i < ldc; ++i) {
      const float got = out[size_t(i + j * ldc)];
      const float old = before[size_t(i + j * ldc)];
      if (i >= c.m) {  // padding rows of C are never touched
        if (!(std::isnan(old) && std::isnan(got)) && got != old) ++mismatches;
        continue;
      }
      double want = c.alpha * reference::gemm_element(problem, a_compact.data(), b_compact.data(), 0, i, j);
      if (c.beta != 0.0f) want += double(c.beta) * old;
      if (!(std::abs(got - want) <= tolerance * (1.0 + std::abs(want)))) {
        if (++mismatches <= 3) {
          ADD_FAILURE() << describe(c) << ": C(" << i << "," << j << ") = " << got << ", want " << want;
        }
      }
    }
  }
  EXPECT_EQ(mismatches, 0) << describe(c) << " threads " << options.threads;
}

class CpuGemm : public testing::TestWithParam<MicroKernel> {
 protected:
  void SetUp() override {
    if (!is_available(GetParam())) {
      GTEST_SKIP() << "this CPU cannot run the " << to_string(GetParam()) << " micro-kernel";
    }
  }
  GemmOptions options(int threads) const { return GemmOptions{.threads = threads, .micro_kernel = GetParam()}; }
};

constexpr Op ops[] = {Op::N, Op::T};

TEST_P(CpuGemm, AllTransposesOddShapes) {
  // Primes and sizes just off the tile shapes (MR 8/16/32, NR 6/12) and 1 in every position.
  const int64_t shapes[][3] = {{1, 1, 1},   {1, 13, 7},  {13, 1, 7},   {7, 13, 1},   {17, 7, 97},
                               {33, 25, 3}, {97, 131, 5}, {131, 97, 67}, {31, 13, 300}, {65, 49, 513}};
  for (Op op_a : ops) {
    for (Op op_b : ops) {
      for (const auto& s : shapes) {
        for (int threads : {1, 2}) {
          check({.op_a = op_a, .op_b = op_b, .m = s[0], .n = s[1], .k = s[2]}, options(threads));
        }
      }
    }
  }
}

TEST_P(CpuGemm, EveryPartialTileShape) {
  // Every count of rows and columns a partial tile can have for MR up to 48 and NR up to 32 (the
  // remainder of m mod MR and n mod NR), with padding rows in C that must stay untouched, and
  // both beta paths (beta == 0 must not read C).
  for (int64_t m = 1; m <= 49; ++m) {
    for (int64_t n = 1; n <= 33; ++n) {
      for (const float beta : {0.0f, 0.5f}) {
        check({.m = m, .n = n, .k = 5, .ldc_pad = 3, .alpha = 1.5f, .beta = beta}, options(1));
      }
    }
  }
}

TEST_P(CpuGemm, CrossesEveryBlockBoundary) {
  // Shrunken MC/KC/NC make small problems cross every block boundary (with ragged last blocks),
  // which with the cache-derived sizes would need multi-gigaflop reference checks.
  detail::set_blocking_override({.mc = 40, .kc = 37, .nc = 50});
  for (Op op_a : ops) {
    for (Op op_b : ops) {
      for (int threads : {1, 2}) {
        check({.op_a = op_a, .op_b = op_b, .m = 211, .n = 163, .k = 101, .alpha = 0.5f, .beta = 0.25f},
              options(threads));
        check({.op_a = op_a, .op_b = op_b, .m = 23, .n = 307, .k = 75, .beta = 1.0f}, options(threads));
      }
    }
  }
  detail::set_blocking_override({});
  // And once with the real blocking: k beyond one KC block.
  check({.m = 300, .n = 200, .k = 600, .beta = 1.0f}, options(2));
}

// A small C over a deep k: threads split k and add their partial products into C, which must
// keep beta's scaling exactly once (thread 0's share) whatever the team size.
TEST_P(CpuGemm, SmallCOverDeepKSplitsKAcrossThreads) {
  for (int threads : {2, 3}) {
    for (Op op_a : {Op::N, Op::T}) {
      for (Op op_b : {Op::N, Op::T}) {
        check({.op_a = op_a, .op_b = op_b, .m = 37, .n = 29, .k = 1501, .ldc_pad = 3, .alpha = -1.5f, .beta = 0.5f}, options(threads));
        check({.op_a = op_a, .op_b = op_b, .m = 1, .n = 5, .k = 997}, options(threads));
      }
    }
  }
}

// Threads split C into whole slivers along the dimension with more of them; 3 threads on these
// shapes leave uneven slices and, for m = 3 or n = 1, fewer slivers than threads.
TEST_P(CpuGemm, TallSkinnyAndShortWide) {
  for (int threads : {1, 2, 3}) {
    check({.m = 1001, .n = 3, .k = 37}, options(threads));
    check({.m = 3, .n = 1001, .k = 37}, options(threads));
    check({.op_a = Op::T, .m = 1, .n = 517, .k = 129}, options(threads));
    check({.op_b = Op::T, .m = 517, .n = 1, .k = 129}, options(threads));
    check({.m = 40, .n = 700, .k = 200}, options(threads));  // few rows: threads split columns
  }
}

TEST_P(CpuGemm, LeadingDimensionsLargerThanNeeded) {
  for (Op op_a : ops) {
    for (Op op_b : ops) {
      check({.op_a = op_a, .op_b = op_b, .m = 29, .n = 23, .k = 41, .lda_pad = 5, .ldb_pad = 11, .ldc_pad = 3,
             .alpha = 1.0f, .beta = 1.0f},
            options(2));
    }
  }
}

TEST_P(CpuGemm, AlphaBetaSemantics) {
  for (float alpha : {1.0f, -2.0f, 0.5f}) {
    for (float beta : {0.0f, 1.0f, -0.5f}) {
      check({.m = 37, .n = 19, .k = 23, .alpha = alpha, .beta = beta}, options(1));
      check({.op_a = Op::T, .op_b = Op::T, .m = 70, .n = 45, .k = 300, .alpha = alpha, .beta = beta},
            options(2));
    }
  }
}

TEST_P(CpuGemm, DegenerateSizes) {
  // k == 0 and alpha == 0 only scale C by beta (beta == 0 clears it, NaN included).
  std::vector<float> c(12, std::numeric_limits<float>::quiet_NaN());
  const float one = 1.0f;
  gemm_with(options(1), Op::N, Op::N, 3, 4, 0, 1.0f, &one, 3, 1, &one, 1, 1, 0.0f, c.data(), 3);
  for (float v : c) EXPECT_EQ(v, 0.0f);
  std::vector<float> d(12, 2.0f);
  gemm_with(options(1), Op::N, Op::N, 3, 4, 5, 0.0f, nullptr, 3, 0, nullptr, 5, 0, 3.0f, d.data(), 3);
  for (float v : d) EXPECT_EQ(v, 6.0f);
  gemm_with(options(1), Op::N, Op::N, 0, 4, 5, 1.0f, nullptr, 1, 0, nullptr, 5, 0, 0.0f, nullptr, 1);  // nothing to do
}

INSTANTIATE_TEST_SUITE_P(Kernels, CpuGemm,
                         testing::Values(MicroKernel::portable, MicroKernel::avx2, MicroKernel::avx512,
                                         MicroKernel::avx512_bf16, MicroKernel::amx_bf16),
                         [](const testing::TestParamInfo<MicroKernel>& param_info) {
                           std::string name(to_string(param_info.param));
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

TEST(CpuGemmDispatch, NamesRoundTripAndPortableAlwaysAvailable) {
  for (MicroKernel kernel : {MicroKernel::portable, MicroKernel::avx2, MicroKernel::avx512, MicroKernel::avx512_bf16,
                             MicroKernel::amx_bf16}) {
    EXPECT_EQ(parse_micro_kernel(to_string(kernel)), kernel);
  }
  EXPECT_FALSE(parse_micro_kernel("sse9").has_value());
  const std::vector<MicroKernel> kernels = available_micro_kernels();
  ASSERT_FALSE(kernels.empty());
  EXPECT_EQ(kernels.front(), MicroKernel::portable);
  EXPECT_TRUE(is_available(best_micro_kernel()));
  for (MicroKernel kernel : kernels) EXPECT_EQ(input_dtype(kernel), Dtype::fp32);
  for (MicroKernel kernel : available_micro_kernels(Dtype::bf16)) EXPECT_EQ(input_dtype(kernel), Dtype::bf16);
  EXPECT_EQ(best_bf16_micro_kernel().has_value(), !available_micro_kernels(Dtype::bf16).empty());
}

// AVX-512 is picked only where 512-bit FMAs run at about twice the 256-bit rate (full-width units),
// not where they split into halves (about 1x); the measured gain decides on this CPU.
TEST(CpuGemmDispatch, Avx512OnlyWhereItsFmaRateDoubles) {
  EXPECT_FALSE(avx512_pays_off(1.0));
  EXPECT_FALSE(avx512_pays_off(1.3));
  EXPECT_TRUE(avx512_pays_off(1.9));
  EXPECT_TRUE(avx512_pays_off(2.0));
  const bool has_avx512 = is_available(MicroKernel::avx512) && is_available(MicroKernel::avx2);
  ASSERT_EQ(avx512_fma_gain().has_value(), has_avx512);
  if (!has_avx512) {
    EXPECT_NE(best_micro_kernel(), MicroKernel::avx512);
    return;
  }
  EXPECT_GT(*avx512_fma_gain(), 0.5);
  EXPECT_LT(*avx512_fma_gain(), 3.0);
  EXPECT_EQ(best_micro_kernel(), avx512_pays_off(*avx512_fma_gain()) ? MicroKernel::avx512 : MicroKernel::avx2);
}

// The ceiling loops count their FLOPs per iteration: 12 FMA chains × lanes × 2 for fp32, 12
// VDPBF16PS chains × 16 lanes × 2 pairs × 2, four 16×16×32 tile products × 2; none where the CPU
// cannot run the family.
TEST(CpuGemmDispatch, PeakLoopsCountTheirFlops) {
  const std::pair<MicroKernel, double> flops_per_iteration[] = {
      {MicroKernel::portable, 12 * 8 * 2},       {MicroKernel::avx2, 12 * 8 * 2},
      {MicroKernel::avx512, 12 * 16 * 2},        {MicroKernel::avx512_bf16, 12 * 16 * 2 * 2},
      {MicroKernel::amx_bf16, 4 * 16 * 16 * 32 * 2}};
  for (const auto& [family, flops] : flops_per_iteration) {
    EXPECT_EQ(peak_loop(family, 10), is_available(family) ? 10 * flops : 0.0) << to_string(family);
  }
}

TEST(CpuGemmBf16, RoundsToNearestEven) {
  const auto bits = [](uint32_t b) {
    float x;
    std::memcpy(&x, &b, sizeof x);
    return to_bf16(x);
  };
  EXPECT_EQ(to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(to_bf16(-2.5f), 0xc020);
  EXPECT_EQ(bits(0x3f808000u), 0x3f80);  // halfway, even below: down
  EXPECT_EQ(bits(0x3f818000u), 0x3f82);  // halfway, odd below: up
  EXPECT_EQ(bits(0x3f808001u), 0x3f81);  // above halfway: up
  EXPECT_EQ(bits(0x7f7fffffu), 0x7f80);  // largest float rounds to infinity
  EXPECT_EQ(bits(0x7fc00000u), 0x7fc0);  // quiet NaN
  EXPECT_EQ(bits(0x7f800001u) & 0x7fc0, 0x7fc0);  // a NaN whose payload would round away stays NaN
}

TEST(CpuGemmBlocking, BalancedKcUsesTheFewestStepsOfNearlyEqualSize) {
  EXPECT_EQ(detail::balanced_kc(272, 576), 192);   // 3 steps of 192, not 272 + 272 + 32
  EXPECT_EQ(detail::balanced_kc(272, 1152), 232);  // 4 × 232 + 224
  EXPECT_EQ(detail::balanced_kc(272, 272), 272);
  EXPECT_EQ(detail::balanced_kc(272, 273), 144);   // 2 steps, rounded up to a multiple of 8
  EXPECT_EQ(detail::balanced_kc(272, 100), 100);   // one step: all of k
  EXPECT_EQ(detail::balanced_kc(272, 1), 1);
  for (int64_t k = 1; k <= 3000; ++k) {
    const int64_t kc = detail::balanced_kc(272, k);
    ASSERT_LE(kc, std::min<int64_t>(272, k)) << k;
    ASSERT_EQ((k + kc - 1) / kc, (k + 271) / 272) << k;  // never more steps than kc_max needs
  }
}

// The A block is at most 128 rows per 512 KiB of L2 and a third of L2 (unless a single sliver is
// more), at any depth: a shallow GEMM (conv backward-filter on 7×7 maps, k = 49) gets the row cap
// in whole slivers, and KC is the balanced one. 128 rows on Zen 3 (512 KiB), 256 with 1 MiB (Zen
// 5), 512 on a 2 MiB-L2 Xeon; the 48×8 tile's KC of 512 on a 48 KiB L1 is deep enough for the
// third of L2 to bind (144 rows on 1 MiB).
TEST(CpuGemmBlocking, ABlocksTake128RowsPer512KiBOfL2AndAtMostAThirdOfL2) {
  const long l2 = sysconf(_SC_LEVEL2_CACHE_SIZE) > 0 ? sysconf(_SC_LEVEL2_CACHE_SIZE) : 512 * 1024;
  const int64_t cap = 128 * std::max<int64_t>(1, l2 / (512 * 1024));
  for (const auto& [mr, nr] : {std::pair{8, 6}, {16, 6}, {32, 12}, {48, 8}}) {
    const detail::Blocking shallow = detail::blocking_for_depth(mr, nr, 49);
    EXPECT_EQ(shallow.kc, 49);
    EXPECT_EQ(shallow.mc, cap / mr * mr) << mr << "x" << nr << ", L2 " << l2;
    for (const int64_t k : {1, 49, 300, 4096}) {
      const detail::Blocking b = detail::blocking_for_depth(mr, nr, k);
      EXPECT_EQ(b.kc, detail::balanced_kc(b.kc, k)) << "balanced";
      EXPECT_EQ(b.mc % mr, 0);
      EXPECT_LE(b.mc, cap);
      EXPECT_TRUE(b.mc == mr || b.mc * b.kc * int64_t(sizeof(float)) <= l2 / 3) << b.mc << "x" << b.kc;
    }
  }
}

TEST(CpuGemmDispatch, RejectsBadArguments) {
  float x = 0.0f;
  EXPECT_THROW(sgemm(Op::N, Op::N, 4, 4, 4, 1.0f, &x, 3, &x, 4, 0.0f, &x, 4), std::invalid_argument);
  EXPECT_THROW(sgemm(Op::N, Op::N, -1, 4, 4, 1.0f, &x, 4, &x, 4, 0.0f, &x, 4), std::invalid_argument);
  for (MicroKernel kernel : {MicroKernel::avx2, MicroKernel::avx512}) {
    if (is_available(kernel)) continue;
    EXPECT_THROW(sgemm(Op::N, Op::N, 1, 1, 1, 1.0f, &x, 1, &x, 1, 0.0f, &x, 1, {.micro_kernel = kernel}),
                 std::runtime_error);
  }
  // A kernel of the other input type is refused, whether or not this CPU can run it.
  EXPECT_THROW(sgemm(Op::N, Op::N, 1, 1, 1, 1.0f, &x, 1, &x, 1, 0.0f, &x, 1, {.micro_kernel = MicroKernel::amx_bf16}),
               std::runtime_error);
  bf16_bits h = 0;
  EXPECT_THROW(gemm_bf16(Op::N, Op::N, 1, 1, 1, 1.0f, &h, 1, &h, 1, 0.0f, &x, 1, {.micro_kernel = MicroKernel::portable}),
               std::runtime_error);
  EXPECT_THROW(gemm_bf16(Op::N, Op::N, 4, 4, 4, 1.0f, &h, 3, &h, 4, 0.0f, &x, 4), std::invalid_argument);
  if (!best_bf16_micro_kernel()) {
    EXPECT_THROW(gemm_bf16(Op::N, Op::N, 1, 1, 1, 1.0f, &h, 1, &h, 1, 0.0f, &x, 1), std::runtime_error);
  }
}

}  // namespace
}  // namespace trainrate::kernels::cpu
