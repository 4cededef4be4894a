// Custom against vendor: which vendor each custom result is paired with, which results are left
// out, geomean and median, the per-kind summary, and the console tables that print them. Then two
// runs against each other: the verdict rule, pairing, environment differences and the outputs.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "results/statistics.hpp"
#include "reports/compare.hpp"
#include "reports/table.hpp"
#include "problems/problem_json.hpp"
#include "reports/report.hpp"
#include "reports/run_compare.hpp"
#include "results/results_json.hpp"
#include "two_runs.hpp"

namespace trainrate {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const std::string kResults = std::string(TRAINRATE_TEST_DATA_DIR) + "/results/";

Result make(const Problem& p, const std::string& backend, const std::string& role, ResultStatus status, double rate,
            const std::string& device = "cpu") {
  Result r;
  r.problem = p;
  r.backend = backend;
  r.role = role;
  r.device = device;
  r.status = status;
  r.rate_flops_per_s = rate;
  r.flops = flops(p);
  if (status == ResultStatus::ok) {
    r.measurement = Measurement{};
    r.measurement->stats = summarize({r.flops / rate * 1e3});
    r.verification.elements_checked = 1;
  }
  return r;
}

ResultsFile with_devices(std::vector<Result> results) {
  ResultsFile file;
  DeviceInfo cpu;
  cpu.id = "cpu";
  cpu.kind = "cpu";
  DeviceInfo gpu;
  gpu.id = "cuda:0";
  gpu.kind = "cuda";
  file.devices = {cpu, gpu};
  file.results = std::move(results);
  return file;
}

const GemmProblem kG1{.m = 64, .n = 64, .k = 64};
const GemmProblem kG2{.m = 32, .n = 32, .k = 32};
const ConvProblem kFwd{.n = 2, .c = 8, .h = 14, .w = 14, .k = 16, .r = 3, .s = 3, .pad_h = 1, .pad_w = 1};
const ConvProblem kBwdData{.n = 2, .c = 8, .h = 14, .w = 14, .k = 16, .r = 3, .s = 3, .pad_h = 1, .pad_w = 1,
                           .pass = ConvPass::backward_data};

// Defect 10 of issue 26: pairing took OpenBLAS as the only CPU GEMM vendor, so an onednn-only run
// had no GEMM ratio and the summary ignored a faster oneDNN.
TEST(CompareRatios, PairsWithEveryVendorAndSummarizesAgainstTheBestNamingIt) {
  const ResultsFile file = with_devices({
      make(kG1, "openblas", "vendor", ResultStatus::ok, 2e10),
      make(kG1, "onednn", "vendor", ResultStatus::ok, 4e10),
      make(kG1, "custom-cpu", "custom", ResultStatus::ok, 1e10),
      make(kFwd, "onednn", "vendor", ResultStatus::ok, 1e10),
      make(kFwd, "custom-cpu", "custom", ResultStatus::ok, 3e10),
  });
  const std::vector<RatioRow> rows = custom_vendor_ratios(file);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_TRUE(rows[0].problem == Problem(kG1));
  EXPECT_EQ(rows[0].custom_backend, "custom-cpu");
  EXPECT_EQ(rows[0].vendor_backend, "openblas");
  EXPECT_EQ(rows[0].device, "cpu");
  EXPECT_EQ(rows[0].custom_rate_per_s, 1e10);
  EXPECT_EQ(rows[0].vendor_rate_per_s, 2e10);
  EXPECT_EQ(rows[0].ratio, 0.5);
  EXPECT_FALSE(rows[0].best_vendor);
  EXPECT_EQ(rows[1].vendor_backend, "onednn");
  EXPECT_EQ(rows[1].ratio, 0.25);
  EXPECT_TRUE(rows[1].best_vendor);
  EXPECT_TRUE(rows[2].problem == Problem(kFwd));
  EXPECT_EQ(rows[2].vendor_backend, "onednn");
  EXPECT_EQ(rows[2].ratio, 3.0);
  const auto summaries = summarize_ratios(rows);
  ASSERT_EQ(summaries.size(), 2u);
  EXPECT_EQ(summaries[0].group, "conv-fwd custom-cpu");
  EXPECT_EQ(summaries[1].group, "gemm custom-cpu");
  EXPECT_EQ(summaries[1].count, 1);
  EXPECT_DOUBLE_EQ(summaries[1].geomean, 0.25);  // against onednn, the faster vendor
  EXPECT_EQ(summaries[1].vendors, "onednn 1");
}

TEST(CompareRatios, OnednnOnlyRunStillGivesGemmRatios) {
  const ResultsFile file = with_devices({
      make(kG1, "onednn", "vendor", ResultStatus::ok, 4e10),
      make(kG1, "custom-cpu", "custom", ResultStatus::ok, 2e10),
  });
  const std::vector<RatioRow> rows = custom_vendor_ratios(file);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].vendor_backend, "onednn");
  EXPECT_EQ(rows[0].ratio, 0.5);
}

TEST(CompareRatios, DeclaredComparisonsLimitThePairs) {
  Result custom = make(kG1, "custom-cpu", "custom", ResultStatus::ok, 1e10);
  custom.compared_with = {"openblas"};
  const ResultsFile file = with_devices({
      make(kG1, "openblas", "vendor", ResultStatus::ok, 2e10),
      make(kG1, "onednn", "vendor", ResultStatus::ok, 4e10),
      custom,
  });
  const std::vector<RatioRow> rows = custom_vendor_ratios(file);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].vendor_backend, "openblas");
  EXPECT_TRUE(rows[0].best_vendor);
}

// Our kernels are held to the vendor at its best: the framework view of oneDNN (reorders timed, so
// slower) is never the vendor side, whatever the custom result names or when it names nothing.
TEST(CompareRatios, AFrameworkViewIsNeverTheVendorSide) {
  Result onednn = make(kFwd, "onednn", "vendor", ResultStatus::ok, 4e10);
  onednn.view = RateView::vendor_best;
  Result plain = make(kFwd, "onednn-plain", "vendor", ResultStatus::ok, 2e10);
  plain.view = RateView::framework, plain.framework_view_of = "onednn";
  Result custom = make(kFwd, "custom-cpu", "custom", ResultStatus::ok, 3e10);
  Result naming_plain = make(kFwd, "custom-cpu/avx2", "custom", ResultStatus::ok, 3e10);
  naming_plain.compared_with = {"onednn", "onednn-plain"};
  const std::vector<RatioRow> rows = custom_vendor_ratios(with_devices({plain, onednn, custom, naming_plain}));
  ASSERT_EQ(rows.size(), 2u);
  for (const RatioRow& row : rows) {
    EXPECT_EQ(row.vendor_backend, "onednn") << row.custom_backend;
    EXPECT_EQ(row.ratio, 0.75);
    EXPECT_TRUE(row.best_vendor);
  }
}

TEST(CompareRatios, SkipsAnythingNotOkOnEitherSide) {
  const ResultsFile file = with_devices({
      make(kG1, "openblas", "vendor", ResultStatus::ok, 2e10),
      make(kG1, "custom-cpu", "custom", ResultStatus::invalid, 0),
      make(kG2, "openblas", "vendor", ResultStatus::failed, 0),
      make(kG2, "custom-cpu", "custom", ResultStatus::ok, 1e10),
      make(kFwd, "onednn", "vendor", ResultStatus::skipped, 0),
      make(kFwd, "custom-cpu", "custom", ResultStatus::ok, 1e10),
      make(kBwdData, "custom-cpu", "custom", ResultStatus::ok, 1e10),  // no vendor result at all
  });
  EXPECT_TRUE(custom_vendor_ratios(file).empty());
}

TEST(CompareRatios, PairsOnlyTheSameProblemAndDevice) {
  GemmProblem transposed = kG1;
  transposed.op_a = Op::T;
  ConvProblem nhwc = kFwd;
  nhwc.layout = Layout::NHWC;
  const ResultsFile file = with_devices({
      make(transposed, "openblas", "vendor", ResultStatus::ok, 2e10),
      make(kG1, "custom-cpu", "custom", ResultStatus::ok, 1e10),
      make(nhwc, "onednn", "vendor", ResultStatus::ok, 2e10),
      make(kFwd, "custom-cpu", "custom", ResultStatus::ok, 1e10),
      make(kG2, "openblas", "vendor", ResultStatus::ok, 2e10, "cpu1"),
      make(kG2, "custom-cpu", "custom", ResultStatus::ok, 1e10, "cpu"),
  });
  EXPECT_TRUE(custom_vendor_ratios(file).empty());
}

TEST(CompareRatios, VendorRolesAreNeverTheCustomSideAndVariantsPairToo) {
  const ResultsFile file = with_devices({
      make(kG1, "openblas", "vendor", ResultStatus::ok, 2e10),
      make(kG1, "onednn", "vendor", ResultStatus::ok, 4e10),
      make(kG1, "custom-cpu/portable", "custom", ResultStatus::ok, 5e9),
      make(kG1, "custom-cpu/avx2", "custom", ResultStatus::ok, 3e10),
  });
  const std::vector<RatioRow> rows = custom_vendor_ratios(file);
  ASSERT_EQ(rows.size(), 4u);  // each variant against both vendors
  EXPECT_EQ(rows[0].custom_backend, "custom-cpu/portable");
  EXPECT_EQ(rows[0].ratio, 0.25);
  EXPECT_EQ(rows[1].ratio, 0.125);
  EXPECT_EQ(rows[2].custom_backend, "custom-cpu/avx2");
  EXPECT_EQ(rows[2].ratio, 1.5);
  EXPECT_EQ(rows[3].ratio, 0.75);
}

TEST(CompareRatios, ZeroVendorRateIsNotPaired) {
  const ResultsFile file = with_devices({
      make(kG1, "openblas", "vendor", ResultStatus::ok, 0),
      make(kG1, "custom-cpu", "custom", ResultStatus::ok, 1e10),
  });
  EXPECT_TRUE(custom_vendor_ratios(file).empty());
}

TEST(CompareRatios, GpuResultsPairWithCublasAndCudnn) {
  ResultsFile file = with_devices({
      make(kG1, "cublas", "vendor", ResultStatus::ok, 4e13, "cuda:0"),
      make(kG1, "custom-cuda/sgemm-naive", "custom", ResultStatus::ok, 1e12, "cuda:0"),
      make(kFwd, "cudnn", "vendor", ResultStatus::ok, 2e13, "cuda:0"),
      make(kFwd, "custom-cuda", "custom", ResultStatus::ok, 1e13, "cuda:0"),
      make(kG1, "openblas", "vendor", ResultStatus::ok, 1e12, "cpu"),  // never paired across devices
  });
  std::vector<RatioRow> rows = custom_vendor_ratios(file);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].vendor_backend, "cublas");
  EXPECT_EQ(rows[0].ratio, 0.025);
  EXPECT_EQ(rows[1].vendor_backend, "cudnn");
  EXPECT_EQ(rows[1].ratio, 0.5);
  // Without device descriptions, a "cuda…" id still means a GPU.
  file.devices.clear();
  rows = custom_vendor_ratios(file);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].vendor_backend, "cublas");
}

TEST(CompareStatistics, GeomeanAndMedian) {
  EXPECT_EQ(geomean({}), 0.0);
  EXPECT_DOUBLE_EQ(geomean({1.0, 4.0}), 2.0);
  EXPECT_DOUBLE_EQ(geomean({2.0, 8.0, 4.0}), 4.0);
  EXPECT_DOUBLE_EQ(geomean({0.5, 2.0}), 1.0);
  EXPECT_DOUBLE_EQ(geomean({3.0}), 3.0);
  EXPECT_EQ(median({}), 0.0);
  EXPECT_EQ(median({3.0, 1.0, 2.0}), 2.0);
  EXPECT_EQ(median({4.0, 1.0, 3.0, 2.0}), 2.5);
  EXPECT_EQ(median({7.0}), 7.0);
}

TEST(CompareStatistics, SummaryGroupsByKindAndCustomBackend) {
  const ResultsFile file = with_devices({
      make(kG1, "openblas", "vendor", ResultStatus::ok, 1e10),
      make(kG1, "custom-cpu", "custom", ResultStatus::ok, 5e9),     // 0.5
      make(kG1, "custom-cpu/avx2", "custom", ResultStatus::ok, 4e10),  // 4
      make(kG2, "openblas", "vendor", ResultStatus::ok, 1e10),
      make(kG2, "custom-cpu", "custom", ResultStatus::ok, 2e10),    // 2
      make(GemmProblem{.m = 16, .n = 16, .k = 16}, "openblas", "vendor", ResultStatus::ok, 1e10),
      make(GemmProblem{.m = 16, .n = 16, .k = 16}, "custom-cpu", "custom", ResultStatus::ok, 8e10),  // 8
      make(kFwd, "onednn", "vendor", ResultStatus::ok, 1e10),
      make(kFwd, "custom-cpu", "custom", ResultStatus::ok, 1.5e10),  // 1.5
      make(kBwdData, "onednn", "vendor", ResultStatus::ok, 1e10),
      make(kBwdData, "custom-cpu", "custom", ResultStatus::ok, 8e9),  // 0.8
  });
  const auto summaries = summarize_ratios(custom_vendor_ratios(file));
  ASSERT_EQ(summaries.size(), 4u);
  // Sorted by group name.
  EXPECT_EQ(summaries[0].group, "conv-bwd-data custom-cpu");
  EXPECT_EQ(summaries[0].count, 1);
  EXPECT_DOUBLE_EQ(summaries[0].geomean, 0.8);
  EXPECT_EQ(summaries[1].group, "conv-fwd custom-cpu");
  EXPECT_DOUBLE_EQ(summaries[1].geomean, 1.5);
  EXPECT_EQ(summaries[2].group, "gemm custom-cpu");
  EXPECT_EQ(summaries[2].count, 3);
  EXPECT_DOUBLE_EQ(summaries[2].geomean, 2.0);  // (0.5 · 2 · 8)^(1/3)
  EXPECT_EQ(summaries[2].median, 2.0);
  EXPECT_EQ(summaries[2].min, 0.5);
  EXPECT_EQ(summaries[2].max, 8.0);
  EXPECT_EQ(summaries[3].group, "gemm custom-cpu/avx2");
  EXPECT_EQ(summaries[3].count, 1);
  EXPECT_EQ(summaries[3].median, 4.0);
  EXPECT_TRUE(summarize_ratios({}).empty());
}

TEST(CompareStatistics, HandWrittenResultsFile) {
  // tests/data/results/good.json: gemm 64³ custom 1e10 vs openblas 2e10 and onednn 4e10, avx2 3e10;
  // gemm 32³ custom INVALID; conv fwd 5e9 vs onednn 1e10; conv bwd-data vendor FAILED; conv bwd-filter
  // 1.6e10 vs 8e9.
  const ResultsFile file = read_results_file(kResults + "good.json");
  const auto rows = custom_vendor_ratios(file);
  ASSERT_EQ(rows.size(), 6u);
  EXPECT_EQ(rows[0].ratio, 0.5);
  EXPECT_EQ(rows[1].ratio, 0.25);
  EXPECT_EQ(rows[2].ratio, 1.5);
  EXPECT_EQ(rows[3].ratio, 0.75);
  EXPECT_EQ(rows[4].ratio, 0.5);
  EXPECT_EQ(rows[5].ratio, 2.0);
  const auto summaries = summarize_ratios(rows);
  ASSERT_EQ(summaries.size(), 4u);
  EXPECT_EQ(summaries[0].group, "conv-bwd-filter custom-cpu");
  EXPECT_EQ(summaries[1].group, "conv-fwd custom-cpu");
  EXPECT_EQ(summaries[2].group, "gemm custom-cpu");
  EXPECT_EQ(summaries[3].group, "gemm custom-cpu/avx2");
}

// ---------------------------------------------------------------------------------------------
// Console tables

TEST(Table, FormatRate) {
  EXPECT_EQ(format_rate(74.2e9), "74.2 GFLOP/s");
  EXPECT_EQ(format_rate(312e12), "312 TFLOP/s");
  EXPECT_EQ(format_rate(1.234e15), "1.23 PFLOP/s");
  EXPECT_EQ(format_rate(5.5e6), "5.50 MFLOP/s");
  EXPECT_EQ(format_rate(999.0), "999 FLOP/s");
  EXPECT_EQ(format_rate(0), "0 FLOP/s");
  EXPECT_EQ(format_rate(1e9), "1.00 GFLOP/s");
}

TEST(Table, FormatDuration) {
  EXPECT_EQ(format_duration_ms(0.512), "512 us");
  EXPECT_EQ(format_duration_ms(0.0123), "12.3 us");
  EXPECT_EQ(format_duration_ms(1.25), "1.25 ms");
  EXPECT_EQ(format_duration_ms(1250), "1.25 s");
  EXPECT_EQ(format_duration_ms(45.67), "45.7 ms");
}

TEST(Table, RowsForOkAndNotOk) {
  Result ok = make(kG1, "custom-cpu", "custom", ResultStatus::ok, 2.62144e10);  // 524288 FLOP → 0.02 ms
  ok.measurement->stats.relative_noise = 0.0042;
  ok.percent_of_peak = 12.345;
  const std::string row = result_table_row(ok);
  EXPECT_THAT(row, HasSubstr("gemm 64x64x64 NN fp32"));
  EXPECT_THAT(row, HasSubstr("custom-cpu"));
  EXPECT_THAT(row, HasSubstr("20.0 us"));
  EXPECT_THAT(row, HasSubstr("0.4%"));
  EXPECT_THAT(row, HasSubstr("26.2 GFLOP/s"));
  EXPECT_THAT(row, HasSubstr("12.3"));
  EXPECT_TRUE(row.ends_with("  ok\n")) << row;
  ok.verification.sampled = true;
  ok.verification.elements_checked = 512;
  EXPECT_TRUE(result_table_row(ok).ends_with("ok (512 sampled)\n"));
  // A GPU's slowdowns: the power cap seen after, heat before, each named once; and the retakes.
  ok.measurement->state_before = DeviceState{.slowdowns = {"sw-thermal"}};
  ok.measurement->state_after = DeviceState{.slowdowns = {"sw-power-cap", "sw-thermal"}};
  ok.measurement->retakes = 2;
  EXPECT_TRUE(result_table_row(ok).ends_with("ok (512 sampled, retaken 2x, slowed: sw-thermal sw-power-cap)\n"))
      << result_table_row(ok);

  const Result skipped = make(kFwd, "openblas", "vendor", ResultStatus::skipped, 0);
  Result s = skipped;
  s.reason = "openblas has no convolution";
  EXPECT_TRUE(result_table_row(s).ends_with("skipped: openblas has no convolution\n")) << result_table_row(s);
  Result invalid = make(kG1, "custom-cpu", "custom", ResultStatus::invalid, 0);
  invalid.reason = "output[3] = 1 but reference = 2";
  EXPECT_TRUE(result_table_row(invalid).ends_with("INVALID: output[3] = 1 but reference = 2\n"));
  // Header and rows line up: the status column starts at the same place.
  const std::string header = result_table_header();
  EXPECT_EQ(header.find("status"), row.rfind("ok"));
}

// Names that differ only at the end (fp16 against fp32, avx512 against avx512-bf16) are printed whole,
// and the columns widen so that every row still lines up under the header.
TEST(Table, LongNamesArePrintedWholeAndAligned) {
  const ConvProblem long_conv{.n = 256, .c = 1024, .h = 112, .w = 112, .k = 2048, .r = 11, .s = 11, .pad_h = 5,
                              .pad_w = 3, .stride_h = 2, .stride_w = 1, .dilation_h = 2, .dilation_w = 1,
                              .pass = ConvPass::backward_filter};
  ConvProblem half = long_conv;
  half.dtype = Dtype::fp16;
  const std::string fp32_name = describe(long_conv), fp16_name = describe(half);
  ASSERT_GT(fp32_name.size(), 46u);  // wider than the default problem column
  const std::vector<Result> rows{make(long_conv, "custom-cpu/avx512", "custom", ResultStatus::ok, 1e10),
                                 make(half, "custom-cpu/avx512-bf16", "custom", ResultStatus::ok, 2e10)};
  std::vector<Problem> problems;
  std::vector<std::string> backends;
  for (const Result& r : rows) {
    problems.push_back(r.problem);
    backends.push_back(r.backend);
  }
  const TableWidths widths = table_widths(problems, backends);
  const std::string header = result_table_header(widths);
  for (const Result& r : rows) {
    const std::string row = result_table_row(r, widths);
    EXPECT_THAT(row, HasSubstr(describe(r.problem) + " ")) << row;
    EXPECT_THAT(row, HasSubstr(" " + r.backend + " ")) << row;
    EXPECT_EQ(row.find(r.backend), header.find("backend")) << row;
    EXPECT_EQ(row.rfind("  ok"), header.find("status") - 2) << row;
  }
  // Without widths the row still names the problem and backend whole (it is only wider).
  EXPECT_THAT(result_table_row(rows[1]), HasSubstr(fp16_name + " custom-cpu/avx512-bf16 "));
  EXPECT_THAT(result_table_row(rows[0]), HasSubstr(fp32_name + " custom-cpu/avx512 "));

  RatioRow ratio{.problem = half, .custom_backend = "custom-cpu/avx512-bf16", .vendor_backend = "onednn",
                 .custom_rate_per_s = 2e10, .vendor_rate_per_s = 1e10, .ratio = 2.0};
  const std::string table = ratio_table({ratio}, summarize_ratios({ratio}));
  EXPECT_THAT(table, HasSubstr(fp16_name + " "));
  EXPECT_THAT(table, HasSubstr(" custom-cpu/avx512-bf16 "));
  EXPECT_THAT(table, Not(HasSubstr("~")));
}

// The status says why sampling stopped when the noise target was not what ended it, and flags a
// row whose noise is above 5% whatever stopped it.
TEST(Table, StatusSaysWhySamplingStoppedAndFlagsHighNoise) {
  Result r = make(kG1, "custom-cpu", "custom", ResultStatus::ok, 2.62144e10);
  const auto status_of = [&](const std::string& stop_reason, double relative_noise) {
    r.measurement->stop_reason = stop_reason;
    r.measurement->stats.relative_noise = relative_noise;
    const std::string row = result_table_row(r);
    return row.substr(result_table_header().find("status"));
  };
  EXPECT_EQ(status_of("noise-target", 0.004), "ok\n");
  EXPECT_EQ(status_of("time-budget", 1.557), "noisy (budget)\n");
  EXPECT_EQ(status_of("time-budget", 0.02), "ok (budget)\n");
  EXPECT_EQ(status_of("max-samples", 0.003), "ok (max samples)\n");
  EXPECT_EQ(status_of("max-samples", 0.0501), "noisy (max samples)\n");
  EXPECT_EQ(status_of("time-budget", 0.05), "ok (budget)\n");       // 5% itself is not flagged
  EXPECT_EQ(status_of("noise-target", 0.08), "noisy\n");            // a --noise target above 5%
  EXPECT_EQ(status_of("interrupted", 0.01), "ok (interrupted)\n");
  r.verification.sampled = true;
  r.verification.elements_checked = 512;
  EXPECT_EQ(status_of("time-budget", 0.2), "noisy (budget, 512 sampled)\n");
  EXPECT_EQ(status_of("noise-target", 0.001), "ok (512 sampled)\n");
}

TEST(Table, RatioTableHasRowsAndAGeomeanSummary) {
  const ResultsFile file = read_results_file(kResults + "good.json");
  const auto rows = custom_vendor_ratios(file);
  const std::string table = ratio_table(rows, summarize_ratios(rows));
  EXPECT_THAT(table, HasSubstr("geomean"));
  EXPECT_THAT(table, HasSubstr("gemm 64x64x64 NN fp32"));
  EXPECT_THAT(table, HasSubstr("0.500"));
  EXPECT_THAT(table, HasSubstr("2.000"));
  EXPECT_THAT(table, HasSubstr("gemm custom-cpu/avx2"));
  EXPECT_EQ(ratio_table({}, {}), "no custom/vendor pairs with verified results on both sides\n");
}

// ---------------------------------------------------------------------------------------------
// Two runs against each other (trainrate compare OLD NEW)

using reports::compare_runs;
using reports::Judgement;
using reports::judge;
using reports::ReportSource;
using reports::RunComparison;
using reports::RunCompareRow;
using reports::Unit;
using reports::Verdict;
using testing::samples_around;
using testing::small_run;
using testing::with_backend_scaled;

RunComparison compare_files(const ResultsFile& old_file, const ResultsFile& new_file) {
  return compare_runs(ReportSource{"old.json", old_file}, ReportSource{"new.json", new_file});
}

TEST(RunCompare, ARunAgainstItselfIsSameEverywhere) {
  const RunComparison c = compare_files(small_run(), small_run());
  ASSERT_EQ(c.rows.size(), 6u);
  for (const RunCompareRow& row : c.rows) {
    SCOPED_TRACE(describe(row.problem) + " " + row.backend);
    EXPECT_EQ(row.judgement.verdict, Verdict::same);
    EXPECT_DOUBLE_EQ(row.judgement.ratio, 1.0);
    EXPECT_DOUBLE_EQ(*row.judgement.p_value, 1.0);
    EXPECT_EQ(row.old_samples, 20u);
  }
  EXPECT_TRUE(c.environment.empty());
  EXPECT_TRUE(c.not_compared.empty());
  EXPECT_TRUE(reports::slower_by_more_than(c, 0).empty());
}

TEST(RunCompare, TenPercentSlowerOnOneBackendIsSlowerOnExactlyItsRows) {
  const RunComparison c = compare_files(small_run(), with_backend_scaled(small_run(), "custom-cpu", 1.1));
  ASSERT_EQ(c.rows.size(), 6u);
  for (const RunCompareRow& row : c.rows) {
    SCOPED_TRACE(describe(row.problem) + " " + row.backend);
    if (row.backend == "custom-cpu") {
      EXPECT_EQ(row.judgement.verdict, Verdict::slower);
      // Every sample took 1.1× as long: the rate is 1/1.1 of what it was, on FLOP/s and bytes/s rows alike.
      EXPECT_NEAR(row.judgement.ratio, 1 / 1.1, 1e-12);
      EXPECT_LT(*row.judgement.ratio_high, 1 / 1.1 + 0.01);
      EXPECT_LT(*row.judgement.p_value, 1e-6);
      EXPECT_NEAR(row.new_rate_per_s / row.old_rate_per_s, 1 / 1.1, 1e-12);
    } else {
      EXPECT_EQ(row.judgement.verdict, Verdict::same);
    }
  }
  // The memory-bound row is rated in bytes/s, and NEW's rate is the lower one.
  const RunCompareRow& relu = c.rows[5];
  EXPECT_TRUE(is_memory_bound(relu.problem));
  EXPECT_DOUBLE_EQ(relu.old_rate_per_s, min_bytes(relu.problem) / 0.06e-3);
  EXPECT_LT(relu.new_rate_per_s, relu.old_rate_per_s);
  // 1 − 1/1.1 = 9.1%: beyond a 5% gate, within a 10% one.
  EXPECT_EQ(reports::slower_by_more_than(c, 5).size(), 3u);
  EXPECT_TRUE(reports::slower_by_more_than(c, 10).empty());
}

TEST(RunCompare, TenPercentFasterIsFaster) {
  const RunComparison c = compare_files(small_run(), with_backend_scaled(small_run(), "openblas", 1 / 1.1));
  for (const RunCompareRow& row : c.rows) {
    if (row.backend != "openblas") continue;
    EXPECT_EQ(row.judgement.verdict, Verdict::faster);
    EXPECT_NEAR(row.judgement.ratio, 1.1, 1e-12);
  }
  EXPECT_TRUE(reports::slower_by_more_than(c, 0).empty());
}

TEST(RunCompare, GeomeanAndVerdictCountsPerKindAndBackend) {
  const RunComparison c = compare_files(small_run(), with_backend_scaled(small_run(), "custom-cpu", 1.1));
  ASSERT_EQ(c.kinds.size(), 4u);  // sorted: gemm custom-cpu, gemm openblas, then the memory kind
  EXPECT_EQ(c.kinds[0].kind, "gemm");
  EXPECT_EQ(c.kinds[0].backend, "custom-cpu");
  EXPECT_EQ(c.kinds[0].count, 2);
  EXPECT_NEAR(c.kinds[0].geomean, 1 / 1.1, 1e-12);
  EXPECT_EQ(c.kinds[0].slower, 2);
  EXPECT_EQ(c.kinds[1].backend, "openblas");
  EXPECT_NEAR(c.kinds[1].geomean, 1.0, 1e-12);
  EXPECT_EQ(c.kinds[1].same, 2);
}

TEST(RunCompareRule, SignificantButSmallChangeInsideTheBandIsSame) {
  // ±0.1% noise, 1% more time: p is tiny, but 1% is below the 2% that counts, and the whole
  // interval lies within ±2%.
  const Judgement j = judge(samples_around(1.0, 20, 0.001), samples_around(1.01, 20, 0.001), {});
  EXPECT_LT(*j.p_value, 1e-6);
  EXPECT_NEAR(j.ratio, 1 / 1.01, 1e-12);
  EXPECT_EQ(j.verdict, Verdict::same);
  EXPECT_EQ(j.reason, "");
}

TEST(RunCompareRule, SignificantButSmallChangeReachingBeyondTheBandIsUncertain) {
  // 25 samples spread evenly over ±3%, then the same 1.5% longer: the test sees the shift, but
  // 1.5% is below 2% and the interval's low end passes 0.98.
  std::vector<double> old_ms, new_ms;
  for (int i = 0; i < 25; ++i) old_ms.push_back(0.97 + 0.0025 * i);
  for (double ms : old_ms) new_ms.push_back(ms * 1.015);
  const Judgement j = judge(old_ms, new_ms, {});
  EXPECT_LT(*j.p_value, 0.05);
  EXPECT_LT(*j.ratio_low, 0.98);
  EXPECT_EQ(j.verdict, Verdict::uncertain);
  EXPECT_THAT(j.reason, ::testing::StartsWith("significant (q "));
  EXPECT_THAT(j.reason, HasSubstr("the change, 1.5%, is below ±2% and the interval"));
}

TEST(RunCompareRule, NoisySamplesAreUncertainWithTheReason) {
  // ±20% noise and a 1% shift: nothing can be said either way at ±2%.
  const Judgement j = judge(samples_around(1.0, 20, 0.2), samples_around(1.01, 20, 0.2), {});
  EXPECT_GT(*j.p_value, 0.05);
  EXPECT_EQ(j.verdict, Verdict::uncertain);
  EXPECT_THAT(j.reason, ::testing::StartsWith("not significant (q "));
  EXPECT_THAT(j.reason, HasSubstr("reaches beyond ±2%"));
}

TEST(RunCompareRule, TooFewSamplesAreUncertain) {
  const Judgement j = judge(samples_around(1.0, 4), samples_around(2.0, 30), {});
  EXPECT_EQ(j.verdict, Verdict::uncertain);
  EXPECT_EQ(j.reason, "4 samples in OLD, 30 in NEW: fewer than 5 a side");
  EXPECT_EQ(j.ratio, 0);
  EXPECT_FALSE(j.p_value.has_value());
  // Five a side is enough: the exact test and interval exist there.
  EXPECT_EQ(judge(samples_around(1.0, 5), samples_around(2.0, 5), {}).verdict, Verdict::slower);
}

TEST(RunCompareRule, ASampleOfZeroMsGivesNoRatio) {
  std::vector<double> with_zero = samples_around(1.0);
  with_zero[3] = 0;
  const Judgement j = judge(samples_around(1.0), with_zero, {});
  EXPECT_EQ(j.verdict, Verdict::uncertain);
  EXPECT_EQ(j.ratio, 0);
  EXPECT_EQ(j.reason, "a sample of 0 ms (shorter than the timer resolves) gives no ratio");
}

TEST(RunCompare, VersionOneFileIsUncertainSayingItKeepsNoSamples) {
  ResultsFile old_file = small_run();
  old_file.schema_version = 1;
  for (Result& r : old_file.results) r.measurement->samples_ms.clear();
  const RunComparison c = compare_files(old_file, with_backend_scaled(small_run(), "custom-cpu", 1.1));
  ASSERT_EQ(c.rows.size(), 6u);
  for (const RunCompareRow& row : c.rows) {
    EXPECT_EQ(row.judgement.verdict, Verdict::uncertain);
    EXPECT_EQ(row.judgement.reason,
              "OLD is a schema v1 file, which keeps no samples: measure it again with this trainrate");
  }
  // The recorded (median) rates still give the ratio.
  EXPECT_NEAR(c.rows[1].judgement.ratio, 1 / 1.1, 1e-12);
  EXPECT_TRUE(reports::slower_by_more_than(c, 5).empty());  // never SLOWER without the evidence
}

TEST(RunCompare, MismatchedRowsAreListedWithWhyNeverPaired) {
  using testing::timed_result;
  ResultsFile old_file = small_run(), new_file = small_run();
  GemmProblem bf16 = testing::kRunGemmB;
  bf16.dtype = Dtype::bf16;
  new_file.results[0].threads = 1;                                                // gemm A openblas
  new_file.results[2] = timed_result(bf16, "openblas", samples_around(0.2));      // gemm B openblas in bf16
  new_file.results[3].status = ResultStatus::failed;                              // gemm B custom-cpu
  new_file.results[3].reason = "out of memory";
  new_file.results.push_back(timed_result(GemmProblem{.m = 8, .n = 8, .k = 8}, "openblas", samples_around(0.01)));
  old_file.results.push_back(timed_result(GemmProblem{.m = 9, .n = 9, .k = 9}, "openblas", samples_around(0.01)));
  Result skipped = old_file.results[4];
  skipped.backend = "openblas";
  skipped.status = ResultStatus::skipped;
  skipped.measurement.reset();
  old_file.results.push_back(skipped);
  new_file.results.push_back(skipped);

  const RunComparison c = compare_files(old_file, new_file);
  ASSERT_EQ(c.rows.size(), 3u);  // gemm A custom-cpu and both relu rows
  EXPECT_EQ(c.skipped_in_both, 1);
  std::vector<std::string> listed;
  for (const auto& n : c.not_compared) listed.push_back(n.problem + " " + n.backend + ": " + n.why);
  EXPECT_EQ(listed, (std::vector<std::string>{
                        "gemm 32x48x16 NN fp32 custom-cpu: FAILED in NEW: out of memory",
                        "gemm 64x64x64 NN fp32 openblas: threads 2 in OLD, 1 in NEW",
                        "gemm 32x48x16 NN bf16 openblas: dtype fp32 in OLD, bf16 in NEW",
                        "gemm 8x8x8 NN fp32 openblas: only in NEW",
                        "gemm 9x9x9 NN fp32 openblas: only in OLD",
                    }));
}

TEST(RunCompare, AnExactPairIsNeverTakenByANearOne) {
  // OLD ran gemm B in fp32 and bf16, NEW only in fp32: fp32 pairs, bf16 is "only in OLD".
  ResultsFile old_file = small_run();
  GemmProblem bf16 = testing::kRunGemmB;
  bf16.dtype = Dtype::bf16;
  old_file.results.insert(old_file.results.begin(), testing::timed_result(bf16, "openblas", samples_around(0.2)));
  const RunComparison c = compare_files(old_file, small_run());
  EXPECT_EQ(c.rows.size(), 6u);
  ASSERT_EQ(c.not_compared.size(), 1u);
  EXPECT_EQ(c.not_compared[0].problem, "gemm 32x48x16 NN bf16");
  EXPECT_EQ(c.not_compared[0].why, "only in OLD");
}

TEST(RunCompare, EnvironmentDifferencesAreListedByKey) {
  ResultsFile new_file = small_run();
  new_file.host = "node2";
  new_file.build["commit"] = "2222222222222222222222222222222222222222";
  new_file.libraries.erase("onednn");
  new_file.devices[0].properties["cpufreq_governor"] = "powersave";
  const RunComparison c = compare_files(small_run(), new_file);
  std::vector<std::string> listed;
  for (const auto& d : c.environment) listed.push_back(d.key + ": " + d.old_value + " -> " + d.new_value);
  EXPECT_EQ(listed, (std::vector<std::string>{
                        "build: commit: 1111111111111111111111111111111111111111 -> "
                        "2222222222222222222222222222222222222222",
                        "device cpu: cpufreq_governor: performance -> powersave",
                        "host: node1 -> node2",
                        "library: onednn: 2.7.3 -> (absent)",
                    }));
}

TEST(RunCompare, DifferentSuitesAreRefusedUnlessAsked) {
  ResultsFile new_file = small_run();
  new_file.suite = "quick";
  try {
    compare_files(small_run(), new_file);
    ADD_FAILURE() << "no error";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()),
              "old.json ran suite 'smoke' but new.json ran suite 'quick'; only runs of one suite are compared");
  }
  const RunComparison c = compare_runs(ReportSource{"old.json", small_run()}, ReportSource{"new.json", new_file}, {},
                                       /*any_suite=*/true);
  EXPECT_EQ(c.rows.size(), 6u);
}

TEST(RunCompareOutput, ConsoleMarkdownAndCsvCarryTheVerdicts) {
  const RunComparison c = compare_files(small_run(), with_backend_scaled(small_run(), "custom-cpu", 1.1));
  const std::string console = reports::run_comparison_console(c);
  EXPECT_THAT(console, HasSubstr("compare: NEW new.json (run 2026-12-07T06:00:00Z) against OLD old.json"));
  EXPECT_THAT(console, HasSubstr("environment: no differences"));
  EXPECT_THAT(console, HasSubstr("SLOWER"));
  EXPECT_THAT(console, HasSubstr("rule: FASTER/SLOWER when the Mann-Whitney p, adjusted for the number of pairs compared (Benjamini-Hochberg q), is below 0.05"));
  EXPECT_THAT(console, HasSubstr("a machine that shifts between the two runs reads as FASTER/SLOWER too"));
  EXPECT_THAT(console, HasSubstr("unit: sample (1 vs 1 repetitions): the test cannot see run-to-run variation"));
  EXPECT_THAT(console, HasSubstr("`trainrate run --repetitions 5`"));
  const std::string md = reports::run_comparison_markdown(c);
  EXPECT_THAT(md, HasSubstr("## NEW against OLD"));
  EXPECT_THAT(md, HasSubstr("Unit: sample (1 vs 1 repetitions)"));
  EXPECT_THAT(md, HasSubstr("| gemm 64x64x64 NN fp32 | custom-cpu |"));
  EXPECT_THAT(md, HasSubstr("| 0.909 |"));
  EXPECT_THAT(md, HasSubstr("| gemm | custom-cpu | 2 | 0.909 | 0 | 2 | 0 | 0 |"));
  const std::string csv = reports::run_comparison_csv(c);
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 7);  // header and six rows
  EXPECT_THAT(csv, ::testing::StartsWith("problem,kind,device,backend,mode,threads,old_rate_per_s,"));
  EXPECT_THAT(csv, HasSubstr("\ngemm 64x64x64 NN fp32,gemm,cpu,custom-cpu,hot,2,"));
  EXPECT_THAT(csv, HasSubstr(",20,20,sample,1,1,0.9090909090909"));
  EXPECT_THAT(csv, HasSubstr(",SLOWER,\n"));
}

// Repetitions: the test's unit is the run (each repetition's median), so a machine whose level
// moves from process to process is no longer read as a change in the code.
using testing::repeated;
using testing::with_all_scaled;

const std::vector<double> kOldLevels{1.00, 1.03, 0.98, 1.05, 0.99};
const std::vector<double> kNewLevels{1.02, 0.97, 1.04, 1.00, 1.01};

ResultsFile slower_custom(const std::vector<double>& levels, size_t count) {
  return repeated(with_backend_scaled(small_run(), "custom-cpu", 1.1),
                  std::vector<double>(levels.begin(), levels.begin() + std::ptrdiff_t(count)));
}

TEST(RunCompareRepetitions, LevelShiftsBetweenRepetitionsAreNeitherFasterNorSlower) {
  const RunComparison c = compare_files(repeated(small_run(), kOldLevels), repeated(small_run(), kNewLevels));
  EXPECT_EQ(c.unit, Unit::repetition);
  EXPECT_EQ(reports::describe_unit(c).substr(0, 21), "repetition (5 vs 5), ");
  ASSERT_EQ(c.rows.size(), 6u);
  for (const RunCompareRow& row : c.rows) {
    SCOPED_TRACE(describe(row.problem) + " " + row.backend);
    EXPECT_TRUE(row.judgement.verdict == Verdict::same || row.judgement.verdict == Verdict::uncertain);
    EXPECT_EQ(row.old_repetitions, 5u);
    EXPECT_EQ(row.old_samples, 100u);  // 20 samples each, all kept
  }
  // One repetition a side, the samples as the unit: the level of two processes reads as SLOWER.
  const RunComparison one_each = compare_files(with_all_scaled(small_run(), 1.00), with_all_scaled(small_run(), 1.04));
  EXPECT_EQ(one_each.unit, Unit::sample);
  for (const RunCompareRow& row : one_each.rows) EXPECT_EQ(row.judgement.verdict, Verdict::slower);
}

TEST(RunCompareRepetitions, TenPercentSlowerInEveryRepetitionIsSlowerOnExactlyItsRows) {
  const RunComparison c = compare_files(repeated(small_run(), kOldLevels), slower_custom(kNewLevels, 5));
  ASSERT_EQ(c.rows.size(), 6u);
  for (const RunCompareRow& row : c.rows) {
    SCOPED_TRACE(describe(row.problem) + " " + row.backend);
    if (row.backend == "custom-cpu") {
      EXPECT_EQ(row.judgement.verdict, Verdict::slower);
      EXPECT_NEAR(*row.judgement.p_value, 2.0 / 252, 1e-12);  // every NEW repetition slower than every OLD one
      EXPECT_NEAR(row.judgement.ratio, 1 / 1.1, 0.02);
    } else {
      EXPECT_TRUE(row.judgement.verdict == Verdict::same || row.judgement.verdict == Verdict::uncertain);
    }
  }
  EXPECT_EQ(reports::slower_by_more_than(c, 5).size(), 3u);
}

TEST(RunCompareRepetitions, ThreeAgainstThreeCanNeverBeSignificantAndSaysSo) {
  const RunComparison c = compare_files(repeated(small_run(), {1.00, 1.03, 0.98}), slower_custom(kNewLevels, 3));
  EXPECT_EQ(c.unit, Unit::repetition);
  for (const RunCompareRow& row : c.rows) {
    SCOPED_TRACE(describe(row.problem) + " " + row.backend);
    EXPECT_EQ(row.judgement.verdict, Verdict::uncertain);
    EXPECT_EQ(row.judgement.reason,
              "3 vs 3 repetitions: the smallest p Mann-Whitney can reach is 0.100, never below 0.05; measure both "
              "sides with --repetitions 5 (at least 4 a side)");
  }
  // Four a side can: 2/70 = 0.029 when every NEW repetition is slower than every OLD one (every
  // pair here, so that Benjamini-Hochberg leaves q = p).
  const std::vector<double> old_four{1.00, 1.03, 0.98, 1.05};
  const std::vector<double> new_four(kNewLevels.begin(), kNewLevels.begin() + 4);
  const RunComparison four =
      compare_files(repeated(small_run(), old_four), repeated(with_all_scaled(small_run(), 1.1), new_four));
  for (const RunCompareRow& row : four.rows) {
    EXPECT_EQ(row.judgement.verdict, Verdict::slower);
    EXPECT_NEAR(*row.judgement.q_value, 2.0 / 70, 1e-12);
  }
  EXPECT_EQ(reports::repetitions_needed({}), 4u);
}

// Twelve GEMMs on custom-cpu: enough pairs that one at the smallest 5-vs-5 p is not a discovery.
ResultsFile twelve_gemms() {
  ResultsFile file = small_run();
  file.results.clear();
  for (int64_t k = 1; k <= 12; ++k) {
    file.results.push_back(testing::timed_result(GemmProblem{.m = 64, .n = 64, .k = 16 * k}, "custom-cpu", samples_around(0.1 * k)));
  }
  return file;
}

TEST(RunCompareRepetitions, PValuesAreAdjustedForThePairsComparedTogether) {
  const ResultsFile run = twelve_gemms();
  ResultsFile one_slower = run;
  one_slower.results[4] = testing::scaled(one_slower.results[4], 1.1);
  const RunComparison one = compare_files(repeated(run, kOldLevels), repeated(one_slower, kNewLevels));
  ASSERT_EQ(one.rows.size(), 12u);
  const Judgement& alone = one.rows[4].judgement;
  EXPECT_NEAR(*alone.p_value, 2.0 / 252, 1e-12);
  // The smallest of 12 p-values: q = 12·p/1 (the other eleven, of identical code, are far larger).
  EXPECT_NEAR(*alone.q_value, 12 * 2.0 / 252, 1e-12);
  EXPECT_EQ(alone.verdict, Verdict::uncertain);
  EXPECT_EQ(alone.reason, "p 0.008 alone, but q 0.095 over the 12 pairs compared (Benjamini-Hochberg) is not below 0.05");
  for (const RunCompareRow& row : one.rows) EXPECT_NE(row.judgement.verdict, Verdict::slower);
  // The same slowdown on every pair is twelve discoveries: q = p.
  const RunComparison all = compare_files(repeated(run, kOldLevels), repeated(with_all_scaled(run, 1.1), kNewLevels));
  for (const RunCompareRow& row : all.rows) {
    EXPECT_EQ(row.judgement.verdict, Verdict::slower);
    EXPECT_NEAR(*row.judgement.q_value, 2.0 / 252, 1e-12);
  }
  EXPECT_THAT(reports::run_comparison_csv(all), ::testing::HasSubstr(",p_value,q_value,verdict,"));
}

TEST(RunCompareRepetitions, OneRepetitionOnEitherSideTestsTheSamples) {
  const RunComparison c = compare_files(repeated(small_run(), kOldLevels), small_run());
  EXPECT_EQ(c.unit, Unit::sample);
  EXPECT_EQ(c.old_repetitions, 5u);
  EXPECT_EQ(c.new_repetitions, 1u);
  EXPECT_THAT(reports::describe_unit(c), ::testing::StartsWith("sample (5 vs 1 repetitions): the test cannot see"));
  EXPECT_EQ(c.rows[0].old_samples, 100u);
}

}  // namespace
}  // namespace trainrate
