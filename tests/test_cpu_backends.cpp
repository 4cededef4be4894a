// Every CPU backend through the runner on odd shapes: GEMM in all four transposes with sizes that
// are 1, primes and non-multiples of every tile and block, batched; convolution in all three
// passes, both layouts, strides, pads, dilations, 1x1 and 3x3 filters. Each must come back ok with
// verification passed. Unsupported dtypes and kinds come back skipped with the reason.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "fast_run_options.hpp"
#include "backends/registry.hpp"
#include "run/runner.hpp"

namespace trainrate {
namespace {

using ::testing::AnyOf;
using ::testing::HasSubstr;
using ::testing::Not;

// Every CPU backend this build can have; those the CPU cannot run are skipped at run time.
const std::vector<std::string> kCpuBackends{
    "openblas",        "onednn",          "onednn-plain",           "custom-cpu",         "custom-cpu/portable",
    "custom-cpu/avx2", "custom-cpu/avx512", "custom-cpu/avx512-bf16", "custom-cpu/amx-bf16"};

BackendSet& backends() {
  static BackendSet set = make_available_backends();
  return set;
}

Backend* find_backend(const std::string& name) {
  for (const auto& b : backends().backends) {
    if (b->name() == name) return b.get();
  }
  return nullptr;
}

using testing::fast_options;

TEST(CpuBackends, RegistryHasTheCpuBackendsAndAllAreCovered) {
  std::set<std::string> names;
  for (const auto& b : backends().backends) {
    if (b->device().kind() != "cpu") continue;
    names.insert(b->name());
    EXPECT_TRUE(std::find(kCpuBackends.begin(), kCpuBackends.end(), b->name()) != kCpuBackends.end())
        << "backend " << b->name() << " is not covered by this test";
  }
  EXPECT_TRUE(names.contains("openblas"));
  EXPECT_TRUE(names.contains("onednn"));
  EXPECT_TRUE(names.contains("custom-cpu"));
  EXPECT_TRUE(names.contains("custom-cpu/portable"));  // always available
  EXPECT_EQ(find_backend("openblas")->role(), BackendRole::vendor);
  EXPECT_EQ(find_backend("onednn")->role(), BackendRole::vendor);
  EXPECT_EQ(find_backend("custom-cpu")->role(), BackendRole::custom);
  EXPECT_FALSE(backends().gpu_unavailable_reason.empty());  // a CPU-only build
}

TEST(CpuBackends, SelectionByNameFamilyAndAll) {
  const BackendSet& set = backends();
  EXPECT_EQ(select_backends(set, "openblas").size(), 1u);
  const auto family = select_backends(set, "custom-cpu/*");
  EXPECT_GE(family.size(), 1u);
  for (Backend* b : family) EXPECT_TRUE(b->name().starts_with("custom-cpu/")) << b->name();
  EXPECT_EQ(select_backends(set, "all").size(), set.backends.size());
  EXPECT_EQ(select_backends(set, "openblas,openblas,onednn").size(), 2u);  // no duplicates
  try {
    select_backends(set, "openblas,cublas-typo");
    ADD_FAILURE() << "an unknown backend was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(), HasSubstr("unknown backend 'cublas-typo'"));
    EXPECT_THAT(e.what(), HasSubstr("openblas"));
  }
  EXPECT_THROW(select_backends(set, ""), std::invalid_argument);
  // Default on a CPU-only build: the CPU backends without the forced variants.
  std::set<std::string> defaults;
  for (Backend* b : default_backends(set)) defaults.insert(b->name());
  EXPECT_EQ(defaults, (std::set<std::string>{"openblas", "onednn", "onednn-plain", "custom-cpu"}));
}

class CpuBackend : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    backend_ = find_backend(GetParam());
    if (!backend_) GTEST_SKIP() << GetParam() << " is not available on this CPU";
  }

  // Runs and checks one problem; returns false (after reporting) when it did not come back ok.
  bool check(const Problem& problem) {
    const Result r = run_one(*backend_, problem, fast_options());
    ++checked_;
    if (r.status == ResultStatus::ok && passed(r.verification) && r.measurement && r.rate_flops_per_s > 0 &&
        r.backend == backend_->name() && r.device == "cpu" && r.flops == flops(problem)) {
      return true;
    }
    if (++failures_ <= 12) {
      ADD_FAILURE() << backend_->name() << " on " << describe(problem) << ": status " << to_string(r.status)
                    << " (" << r.reason << "), verification " << r.verification.mismatches << " mismatches of "
                    << r.verification.elements_checked << ", max error " << r.verification.max_error;
    }
    return false;
  }

  void TearDown() override {
    if (failures_ > 12) ADD_FAILURE() << failures_ << " of " << checked_ << " problems failed in all";
  }

  // The GEMM in the dtype this backend multiplies: fp32, or bf16 for a bf16-only micro-kernel.
  GemmProblem gemm(GemmProblem g) const {
    if (backend_->unsupported_reason(GemmProblem{}) && !backend_->unsupported_reason(GemmProblem{.dtype = Dtype::bf16})) {
      g.dtype = Dtype::bf16;
    }
    return g;
  }
  bool runs_gemm() const { return !backend_->unsupported_reason(gemm(GemmProblem{})); }

  Backend* backend_ = nullptr;
  int failures_ = 0, checked_ = 0;
};

TEST_P(CpuBackend, GemmAllTransposesOddSizes) {
  if (!runs_gemm()) GTEST_SKIP() << "no GEMM";
  const int64_t sizes[] = {1, 7, 13, 65, 131};
  // Our kernels get every (m, n, k) combination. The vendor libraries (whose wrappers we test, not
  // their arithmetic) get a pairwise-covering subset: every pair of sizes for (m, n), (m, k) and
  // (n, k) appears once, which keeps oneDNN's per-shape primitive creation affordable.
  const bool exhaustive = backend_->role() == BackendRole::custom;
  int expected = 0;
  for (Op op_a : {Op::N, Op::T}) {
    for (Op op_b : {Op::N, Op::T}) {
      for (int i = 0; i < 5; ++i) {
        for (int j = 0; j < 5; ++j) {
          for (int l = 0; l < 5; ++l) {
            if (!exhaustive && l != (i + j) % 5) continue;
            const int64_t m = sizes[i], n = sizes[j], k = sizes[l];
            // Batch 3 everywhere but the largest shapes (kept for time), so batch offsets are checked.
            const int64_t batch = (m * n * k > 200000) ? 1 : 3;
            check(gemm({.m = m, .n = n, .k = k, .op_a = op_a, .op_b = op_b, .batch = batch}));
            ++expected;
          }
        }
      }
    }
  }
  EXPECT_EQ(checked_, expected);
  EXPECT_EQ(expected, exhaustive ? 4 * 125 : 4 * 25);
}

TEST_P(CpuBackend, GemmBeyondTheCacheBlocks) {
  if (!runs_gemm()) GTEST_SKIP() << "no GEMM";
  // K past a typical KC (256..512) and M/N past MC/NC edges, with awkward remainders.
  check(gemm({.m = 301, .n = 67, .k = 769, .op_a = Op::T, .op_b = Op::N}));
  check(gemm({.m = 67, .n = 523, .k = 300, .op_a = Op::N, .op_b = Op::T, .batch = 2}));
  check(gemm({.m = 1, .n = 1031, .k = 1, .op_a = Op::T, .op_b = Op::T}));
  check(gemm({.m = 1031, .n = 1, .k = 3, .op_a = Op::N, .op_b = Op::N}));
}

// bf16 GEMM (bf16 A and B, fp32 accumulation and C) on every backend that has it, in every
// transpose and on odd sizes; the others skip it with a reason naming the backend.
TEST_P(CpuBackend, Bf16GemmWhereTheBackendHasIt) {
  const GemmProblem probe{.dtype = Dtype::bf16};
  if (const auto reason = backend_->unsupported_reason(probe)) {
    EXPECT_THAT(*reason, AnyOf(HasSubstr("bf16"), HasSubstr("has no gemm")));
    GTEST_SKIP() << *reason;
  }
  for (Op op_a : {Op::N, Op::T}) {
    for (Op op_b : {Op::N, Op::T}) {
      check(GemmProblem{.m = 131, .n = 65, .k = 97, .op_a = op_a, .op_b = op_b, .dtype = Dtype::bf16, .batch = 2});
      check(GemmProblem{.m = 1, .n = 7, .k = 1, .op_a = op_a, .op_b = op_b, .dtype = Dtype::bf16});
    }
  }
}

std::vector<ConvProblem> conv_cases() {
  std::vector<ConvProblem> cases;
  for (ConvPass pass : {ConvPass::forward, ConvPass::backward_data, ConvPass::backward_filter}) {
    for (Layout layout : {Layout::NCHW, Layout::NHWC}) {
      for (int64_t stride : {1, 2}) {
        for (int64_t pad : {0, 1}) {
          for (int64_t dilation : {1, 2}) {
            for (int64_t filter : {1, 3}) {
              const ConvProblem c{.n = 2, .c = 3, .h = 11, .w = 9, .k = 5, .r = filter, .s = filter, .pad_h = pad,
                                  .pad_w = pad, .stride_h = stride, .stride_w = stride, .dilation_h = dilation,
                                  .dilation_w = dilation, .layout = layout, .pass = pass};
              if (!validate(c)) cases.push_back(c);  // 1x1 with pad 1 is rejected by design
            }
          }
        }
      }
    }
  }
  return cases;
}

TEST_P(CpuBackend, ConvAllPassesLayoutsStridesPadsDilations) {
  if (backend_->unsupported_reason(ConvProblem{})) GTEST_SKIP() << "no convolution";
  const auto cases = conv_cases();
  EXPECT_EQ(cases.size(), 72u);  // 3 passes · 2 layouts · 2 strides · 2 dilations · (3x3 pad 0/1 + 1x1 pad 0)
  for (const ConvProblem& c : cases) check(c);
}

TEST_P(CpuBackend, ConvOddChannelsAndNonSquareShapes) {
  if (backend_->unsupported_reason(ConvProblem{})) GTEST_SKIP() << "no convolution";
  for (ConvPass pass : {ConvPass::forward, ConvPass::backward_data, ConvPass::backward_filter}) {
    for (Layout layout : {Layout::NCHW, Layout::NHWC}) {
      // Channels that are no multiple of any vector width or tile; C·R·S = 603 past a KC block.
      check(ConvProblem{.n = 1, .c = 67, .h = 9, .w = 7, .k = 35, .r = 3, .s = 3, .pad_h = 1, .pad_w = 1,
                        .layout = layout, .pass = pass});
      // Non-square filter, asymmetric pad, stride and dilation.
      check(ConvProblem{.n = 3, .c = 5, .h = 13, .w = 8, .k = 7, .r = 3, .s = 1, .pad_h = 2, .pad_w = 0,
                        .stride_h = 2, .stride_w = 1, .dilation_h = 2, .dilation_w = 1, .layout = layout,
                        .pass = pass});
      // Stride larger than the filter: input pixels no filter tap reads.
      check(ConvProblem{.n = 2, .c = 4, .h = 10, .w = 11, .k = 6, .r = 2, .s = 2, .stride_h = 3, .stride_w = 3,
                        .layout = layout, .pass = pass});
      // 1x1 stride 1 (the direct-GEMM path) and a single-pixel output.
      check(ConvProblem{.n = 3, .c = 17, .h = 5, .w = 3, .k = 19, .r = 1, .s = 1, .layout = layout, .pass = pass});
      check(ConvProblem{.n = 2, .c = 3, .h = 3, .w = 3, .k = 4, .r = 3, .s = 3, .layout = layout, .pass = pass});
    }
  }
}

TEST_P(CpuBackend, LowPrecisionDtypesAreSkippedWithAReason) {
  for (Dtype dtype : {Dtype::fp16, Dtype::bf16, Dtype::tf32}) {
    for (const Problem& p : {Problem(GemmProblem{.m = 8, .n = 8, .k = 8, .dtype = dtype}),
                             Problem(ConvProblem{.n = 1, .c = 2, .h = 5, .w = 5, .k = 2, .r = 3, .s = 3, .dtype = dtype})}) {
      if (dtype == Dtype::bf16 && std::holds_alternative<GemmProblem>(p) && !backend_->unsupported_reason(p)) {
        continue;  // bf16 GEMM runs here (Bf16GemmWhereTheBackendHasIt)
      }
      const Result r = run_one(*backend_, p, fast_options());
      EXPECT_EQ(r.status, ResultStatus::skipped) << describe(p);
      EXPECT_FALSE(r.reason.empty());
      const auto& families = backend_->facts().families;
      if (std::find(families.begin(), families.end(), family_of(p)) != families.end()) {
        EXPECT_THAT(r.reason, HasSubstr(std::string(to_string(dtype)))) << describe(p);
      }
      EXPECT_FALSE(r.measurement.has_value());
      EXPECT_EQ(r.rate_flops_per_s, 0.0);
    }
  }
}

TEST_P(CpuBackend, ResultDescribesTheRun) {
  const Problem p = runs_gemm() ? Problem(gemm({.m = 33, .n = 17, .k = 9}))
                                : Problem(ConvProblem{.n = 1, .c = 2, .h = 5, .w = 5, .k = 2, .r = 3, .s = 3});
  const Result r = run_one(*backend_, p, fast_options());
  ASSERT_EQ(r.status, ResultStatus::ok) << r.reason;
  EXPECT_EQ(r.role, backend_->name().starts_with("custom") ? "custom" : "vendor");
  EXPECT_EQ(r.mode, "hot");
  EXPECT_GE(r.threads, 1);
  EXPECT_FALSE(r.algorithm.empty());
  EXPECT_FALSE(r.verification.sampled);
  EXPECT_EQ(r.verification.elements_checked, operand_elements(p).output);
  ASSERT_TRUE(r.measurement.has_value());
  EXPECT_GE(r.measurement->stats.samples, 1);
  EXPECT_DOUBLE_EQ(r.rate_flops_per_s, r.flops / (r.measurement->stats.median_ms * 1e-3));
  ASSERT_TRUE(r.peak_flops_per_s.has_value());  // the CPU's measured ceiling for the dtype
  EXPECT_GT(*r.peak_flops_per_s, 0);
  ASSERT_TRUE(r.percent_of_peak.has_value());
  EXPECT_DOUBLE_EQ(*r.percent_of_peak, 100.0 * r.rate_flops_per_s / *r.peak_flops_per_s);
}

TEST(CpuBackends, OpenblasSkipsConvolution) {
  Backend* openblas = find_backend("openblas");
  ASSERT_NE(openblas, nullptr);
  for (ConvPass pass : {ConvPass::forward, ConvPass::backward_data, ConvPass::backward_filter}) {
    const Result r = run_one(*openblas, ConvProblem{.n = 1, .c = 2, .h = 5, .w = 5, .k = 2, .r = 3, .s = 3, .pass = pass},
                             fast_options());
    EXPECT_EQ(r.status, ResultStatus::skipped);
    EXPECT_EQ(r.reason, "openblas has no convolution");
  }
}

// The two views of oneDNN: the facts say which is which, and each Result carries them.
TEST(CpuBackends, OnednnPlainIsTheFrameworkViewOfOnednn) {
  Backend* plain = find_backend("onednn-plain");
  Backend* best = find_backend("onednn");
  ASSERT_NE(plain, nullptr);
  ASSERT_NE(best, nullptr);
  EXPECT_EQ(plain->facts().view, RateView::framework);
  EXPECT_EQ(plain->facts().framework_view_of, "onednn");
  EXPECT_EQ(plain->role(), BackendRole::vendor);
  EXPECT_EQ(best->facts().view, RateView::vendor_best);
  EXPECT_EQ(best->facts().framework_view_of, "");
  EXPECT_EQ(find_backend("openblas")->facts().view, RateView::sole);
  // GEMM and the memory-bound kinds take plain layouts in onednn already: one call, one rate.
  EXPECT_EQ(plain->unsupported_reason(GemmProblem{}), "onednn-plain has no gemm");
  EXPECT_EQ(plain->unsupported_reason(MemoryProblem{}), "onednn-plain has no memory-bound layers");
  const Result r = run_one(*plain, ConvProblem{.n = 1, .c = 2, .h = 5, .w = 5, .k = 2, .r = 3, .s = 3}, fast_options());
  EXPECT_EQ(r.view, RateView::framework);
  EXPECT_EQ(r.framework_view_of, "onednn");
}

// With 32 channels oneDNN picks a blocked layout on every x86 CPU it vectorises: the framework view
// pays the reorders in run() and says which; the vendor-best view does them untimed and says nothing.
TEST(CpuBackends, OnednnPlainTimesTheReordersAndSaysWhich) {
  for (ConvPass pass : {ConvPass::forward, ConvPass::backward_data, ConvPass::backward_filter}) {
    const ConvProblem c{.n = 2, .c = 32, .h = 9, .w = 9, .k = 32, .r = 3, .s = 3, .pad_h = 1, .pad_w = 1, .pass = pass};
    const Result plain = run_one(*find_backend("onednn-plain"), c, fast_options());
    ASSERT_EQ(plain.status, ResultStatus::ok) << plain.reason;
    EXPECT_THAT(plain.algorithm, HasSubstr("; timed reorders of ")) << describe(c);
    const Result best = run_one(*find_backend("onednn"), c, fast_options());
    ASSERT_EQ(best.status, ResultStatus::ok) << best.reason;
    EXPECT_THAT(best.algorithm, Not(HasSubstr("reorder"))) << describe(c);
  }
}

INSTANTIATE_TEST_SUITE_P(All, CpuBackend, ::testing::ValuesIn(kCpuBackends),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param;
                           for (char& ch : name) {
                             if (ch == '-' || ch == '/') ch = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace trainrate
