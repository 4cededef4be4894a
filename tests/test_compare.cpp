// Custom against vendor: which vendor each custom result is paired with, which results are left
// out, geomean and median, the per-kind summary, and the console tables that print them.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "results/statistics.hpp"
#include "reports/compare.hpp"
#include "reports/table.hpp"
#include "results/results_json.hpp"

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

}  // namespace
}  // namespace trainrate
