// Reports: golden Markdown and CSV from a fixed results file, the HTML's self-containment and
// escaping, the Google Benchmark adapter, prediction parsing and the `trainrate report` CLI.
//
// To refresh the golden files after an intended change: TRAINRATE_UPDATE_GOLDEN=1 ./trainrate_tests
// --gtest_filter='Report*', then review the diff like any other change.
#include <gmock/gmock.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "problems/problem_json.hpp"
#include "reports/charts.hpp"
#include "reports/fleet.hpp"
#include "reports/google_benchmark.hpp"
#include "reports/predictions.hpp"
#include "reports/report.hpp"
#include "reports/table.hpp"
#include "reports/text.hpp"
#include "results/results_json.hpp"

namespace trainrate::reports {
namespace {

const std::filesystem::path kData = std::filesystem::path(TRAINRATE_TEST_DATA_DIR) / "reports";

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// Compares with a golden file, or rewrites it when TRAINRATE_UPDATE_GOLDEN is set.
void expect_golden(const std::string& actual, const std::string& golden_name) {
  const std::filesystem::path golden = kData / "golden" / golden_name;
  if (std::getenv("TRAINRATE_UPDATE_GOLDEN")) {
    std::filesystem::create_directories(golden.parent_path());
    std::ofstream(golden, std::ios::binary) << actual;
    GTEST_SKIP() << "rewrote " << golden;
  }
  ASSERT_TRUE(std::filesystem::exists(golden)) << golden << " missing; run with TRAINRATE_UPDATE_GOLDEN=1";
  EXPECT_EQ(actual, read_text(golden)) << "output differs from " << golden;
}

// The fixed input of the golden tests, named by file name only so the output does not depend on
// where the source tree is.
Report fixed_report() {
  ReportInput input;
  input.sources.push_back({"results-cpu.json", read_results_file(kData / "results-cpu.json")});
  input.predictions = read_predictions_file(kData / "predictions.json");
  return build_report(std::move(input));
}

TEST(ReportGolden, Markdown) { expect_golden(render_markdown(fixed_report()), "report.md"); }

TEST(ReportGolden, Csv) { expect_golden(render_csv(fixed_report()), "results.csv"); }

TEST(ReportGolden, FleetMarkdownAndCsv) {
  std::vector<FleetNode> nodes;
  for (const char* name : {"results-gpu-node01-gpu0.json", "results-gpu-node02-gpu0.json", "results-gpu-node03-gpu0.json",
                           "results-gpu-node04-gpu0.json", "results-cpu-node05-cpu.json"}) {
    nodes.push_back({name, read_results_file(kData / "fleet" / name)});
  }
  const FleetReport fleet = build_fleet(nodes, FleetOptions{});
  expect_golden(render_fleet_markdown(fleet), "fleet.md");
  expect_golden(render_fleet_csv(fleet), "fleet.csv");
}

TEST(Report, SameInputGivesSameBytes) {
  EXPECT_EQ(render_markdown(fixed_report()), render_markdown(fixed_report()));
  EXPECT_EQ(render_html(fixed_report()), render_html(fixed_report()));
  EXPECT_EQ(render_csv(fixed_report()), render_csv(fixed_report()));
}

TEST(Report, PairsCustomWithVendorAndSummarizesPerPass) {
  const Report report = fixed_report();
  ASSERT_EQ(report.sections.size(), 1u);
  const DeviceSection& section = report.sections[0];
  EXPECT_EQ(section.backends, (std::vector<std::string>{"onednn", "openblas", "custom-cpu"}));
  EXPECT_EQ(section.custom_backends, (std::vector<std::string>{"custom-cpu"}));
  // 47.3 / 52.1 on gemm 256³ against openblas (not onednn, which also ran it).
  EXPECT_EQ(section.rows[0].name, "gemm 256x256x256 NN fp32");
  ASSERT_EQ(section.rows[0].ratios.size(), 1u);
  EXPECT_EQ(section.rows[0].ratios[0].vendor_backend, "openblas");
  EXPECT_NEAR(section.rows[0].ratios[0].ratio, 47.3 / 52.1, 1e-12);
  ASSERT_EQ(report.geomeans.size(), 3u);
  const GeomeanRow& gemm = report.geomeans[2];
  EXPECT_EQ(gemm.kind, "gemm");
  EXPECT_EQ(gemm.count, 4);
  EXPECT_NEAR(gemm.geomean, std::pow(47.3 / 52.1 * 61.8 / 67.5 * 70.9 / 74.4 * 44.6 / 41.0, 0.25), 1e-12);
  EXPECT_EQ(report.not_measured.size(), 3u);
}

TEST(Report, FindingsNameWinsLossesAndUnmeasuredResults) {
  const Report report = fixed_report();
  std::string all;
  for (const auto& finding : report.findings) all += finding + "\n";
  EXPECT_NE(all.find("Largest wins: custom-cpu at 1.088x of openblas on gemm 2560x64x2560"), std::string::npos) << all;
  EXPECT_NE(all.find("Largest losses: custom-cpu at 0.629x of onednn on conv bwd-data"), std::string::npos) << all;
  EXPECT_NE(all.find("1 result INVALID"), std::string::npos) << all;
  EXPECT_NE(all.find("std::bad_alloc"), std::string::npos) << all;
  EXPECT_NE(all.find("openblas has no bf16 GEMM"), std::string::npos) << all;
  EXPECT_NE(all.find("time reduction 9.1% (speed-up ratio 1.100x)"), std::string::npos) << all;
}

// oneDNN's backward-data of a 3×3 conv on a 1×1 map skips the 8 padding taps of 9 the convention
// counts, so its R passes the peak: every table flags such a cell and says why beside it.
Result above_peak_result(const ResultsFile& file) {
  Result r = *std::find_if(file.results.begin(), file.results.end(), [](const Result& x) {
    return x.backend == "onednn" && kind_label(x.problem) == "conv-bwd-data";
  });
  r.problem = ConvProblem{.n = 8, .c = 512, .h = 1, .w = 1, .k = 512, .r = 3, .s = 3, .pad_h = 1, .pad_w = 1,
                          .pass = ConvPass::backward_data};
  r.rate_flops_per_s = 201.1e9;
  r.percent_of_peak = 252.6;
  return r;
}

TEST(ReportAbovePeak, FlaggedInEveryTableWithTheReason) {
  ResultsFile file = read_results_file(kData / "results-cpu.json");
  const Result flagged = above_peak_result(file);
  file.results.push_back(flagged);
  // The console: the cell is marked and the note names the problem and the share of taps inside.
  EXPECT_NE(result_table_row(flagged).find("252.6*"), std::string::npos) << result_table_row(flagged);
  EXPECT_EQ(result_table_row(file.results[0]).find('*'), std::string::npos) << "65.5% is not flagged";
  const std::string note = above_peak_notes(file.results);
  EXPECT_NE(note.find("above 100% of peak"), std::string::npos) << note;
  EXPECT_NE(note.find("conv bwd-data n8 c512 1x1 k512 3x3 p1 s1 d1 NCHW fp32 on onednn (252.6%)"), std::string::npos)
      << note;
  EXPECT_NE(note.find("11.1% of the counted taps"), std::string::npos) << note;
  EXPECT_EQ(above_peak_notes({file.results[0]}), "") << "nothing to say below 100%";
  // Padding cannot explain 150% on a 28×28 map ((82/84)² of the taps are real): the peak is too low.
  Result low_peak = file.results[0];
  low_peak.problem = ConvProblem{.n = 8, .c = 64, .h = 28, .w = 28, .k = 64, .r = 3, .s = 3, .pad_h = 1, .pad_w = 1};
  low_peak.percent_of_peak = 150;
  EXPECT_EQ(above_peak_reason(low_peak),
            fmt::format("{:.1f}% of peak even counting only the taps that touch the input: the device's peak is "
                        "likely set too low (a ceiling measured while the machine was busy)",
                        150 * (82.0 / 84) * (82.0 / 84)));

  ReportInput input;
  input.sources.push_back({"results-cpu.json", file});
  const Report report = build_report(std::move(input));
  const std::string md = render_markdown(report);
  EXPECT_NE(md.find("201 GFLOP/s (252.6%\\*)"), std::string::npos) << md;
  EXPECT_NE(md.find("11.1% of the counted taps"), std::string::npos) << md;
  const std::string html = render_html(report);
  EXPECT_NE(html.find("201 GFLOP/s (252.6%*)"), std::string::npos);
  EXPECT_NE(html.find("11.1% of the counted taps"), std::string::npos);
  const std::string csv = render_csv(report);
  EXPECT_NE(csv.find(",252.6,"), std::string::npos) << "the CSV keeps the number";
  EXPECT_NE(csv.find("11.1% of the counted taps"), std::string::npos) << "and says why in its own column";
  std::string findings;
  for (const auto& f : report.findings) findings += f + "\n";
  EXPECT_NE(findings.find("onednn 252.6% (above peak"), std::string::npos) << findings;
}

TEST(ReportHtml, IsSelfContainedWithChartsAndNoScript) {
  const std::string html = render_html(fixed_report());
  EXPECT_TRUE(html.starts_with("<!DOCTYPE html>"));
  for (const char* forbidden : {"<script", "http://", "https://", "url(", "@import", "<link", "<img", "<iframe"}) {
    EXPECT_EQ(html.find(forbidden), std::string::npos) << "found " << forbidden;
  }
  size_t charts = 0;
  for (size_t at = html.find("<svg "); at != std::string::npos; at = html.find("<svg ", at + 1)) ++charts;
  // bars, ratio, roofline, training time
  EXPECT_EQ(charts, 4u);
  size_t closed = 0;
  for (size_t at = html.find("</svg>"); at != std::string::npos; at = html.find("</svg>", at + 1)) ++closed;
  EXPECT_EQ(closed, charts);
  EXPECT_NE(html.find("@media print"), std::string::npos);
  EXPECT_NE(html.find("time reduction 9.1%"), std::string::npos);
  EXPECT_NE(html.find("speed-up 1.100x"), std::string::npos);
  EXPECT_NE(html.find("fp32 measured"), std::string::npos) << "roofline shows the measured ceiling";
}

TEST(ReportHtml, EscapesEveryUserString) {
  ResultsFile file = read_results_file(kData / "results-cpu.json");
  file.host = "<script>alert('host')</script>";
  file.results[0].backend = "evil\"><b>backend";
  file.results.back().reason = "a & b <i>reason</i>";
  ReportInput input;
  input.sources.push_back({"x<y>.json", file});
  const std::string html = render_html(build_report(std::move(input)));
  EXPECT_EQ(html.find("<script>"), std::string::npos);
  EXPECT_EQ(html.find("<b>backend"), std::string::npos);
  EXPECT_EQ(html.find("<i>reason"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(&#39;host&#39;)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(html.find("a &amp; b &lt;i&gt;reason&lt;/i&gt;"), std::string::npos);
}

TEST(ReportText, EscapingAndFormats) {
  EXPECT_EQ(escape_html("<a href=\"x\">'&'</a>"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  EXPECT_EQ(csv_field("plain"), "plain");
  EXPECT_EQ(csv_field("a,b"), "\"a,b\"");
  EXPECT_EQ(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(markdown_cell("a|b\nc"), "a\\|b c");
  EXPECT_EQ(format_duration(0.000850), "850 us");
  EXPECT_EQ(format_duration(0.00338), "3.38 ms");
  EXPECT_EQ(format_duration(12.5), "12.5 s");
  EXPECT_EQ(format_duration(252), "4.20 min");
  EXPECT_EQ(format_duration(9000), "2.50 h");
  EXPECT_EQ(format_duration(267840), "3.10 d");
  EXPECT_EQ(format_ratio(1.0 / 0.25), "4.000x");
}

TEST(ReportCharts, EmptyRooflineSaysWhy) {
  const std::string svg = roofline_chart("Roofline", {}, {}, {});
  EXPECT_NE(svg.find("nothing to draw"), std::string::npos);
}

TEST(ReportPredictions, BothSpeedUpLabelsFromTimes) {
  const auto predictions = predictions_from_json(nlohmann::json::parse(R"({
      "network": "resnet50", "total_time_s": 100,
      "speedup": {"old_backend": "cudnn", "new_backend": "custom-cuda",
                  "old_total_time_s": 400, "new_total_time_s": 100}})"),
                                                 "p.json");
  ASSERT_EQ(predictions.size(), 1u);
  EXPECT_DOUBLE_EQ(*predictions[0].time_reduction, 0.75);  // (400 − 100) / 400
  EXPECT_DOUBLE_EQ(*predictions[0].ratio, 4.0);            // 400 / 100
  EXPECT_EQ(predictions[0].old_backend, "cudnn");
  EXPECT_EQ(predictions[0].new_backend, "custom-cuda");
}

TEST(ReportPredictions, RatioOnlyDerivesTheOldTimeAndReduction) {
  const auto p = predictions_from_json(
      nlohmann::json::parse(R"([{"network": "bert-base", "iteration_time_s": 2.0, "speedup": {"ratio": 1.25}}])"), "p");
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].time_basis, "iteration");
  EXPECT_DOUBLE_EQ(*p[0].old_seconds, 2.5);
  EXPECT_DOUBLE_EQ(*p[0].time_reduction, 0.2);
}

TEST(ReportPredictions, SpeedupMayBeAbsentButNetworkIsRequired) {
  const auto p = predictions_from_json(nlohmann::json::parse(R"({"network": "vgg16", "epoch_time_s": 60})"), "p");
  ASSERT_EQ(p.size(), 1u);
  EXPECT_FALSE(p[0].ratio.has_value());
  EXPECT_FALSE(p[0].old_seconds.has_value());
  EXPECT_THROW(predictions_from_json(nlohmann::json::parse(R"({"epoch_time_s": 60})"), "p"), InputError);
  EXPECT_THROW(predictions_from_json(nlohmann::json::parse(R"({"network": "x", "total_time_s": "long"})"), "p"),
               InputError);
}

TEST(ReportGoogleBenchmark, ConvertsRowsToResults) {
  const ResultsFile file = read_results_or_benchmark_file(kData / "bench.json");
  EXPECT_EQ(file.host, "ci-runner-1");
  EXPECT_EQ(file.suite, "smoke");
  ASSERT_EQ(file.results.size(), 4u);
  const Result& openblas = file.results[0];
  EXPECT_EQ(openblas.backend, "openblas");
  EXPECT_EQ(openblas.role, "vendor");
  EXPECT_EQ(openblas.device, "cpu");
  EXPECT_EQ(describe(openblas.problem), "gemm 512x512x512 NN fp32");
  EXPECT_EQ(openblas.status, ResultStatus::ok);
  // The median aggregate: 4.0e6 ns per iteration.
  EXPECT_NEAR(openblas.rate_flops_per_s, 2.0 * 512 * 512 * 512 / 4.0e-3, 1);
  ASSERT_TRUE(openblas.measurement.has_value());
  EXPECT_EQ(openblas.measurement->stats.samples, 3);
  EXPECT_NEAR(openblas.measurement->stats.median_ms, 4.0, 1e-9);
  EXPECT_NEAR(openblas.measurement->stats.min_ms, 3.98, 1e-9);
  ASSERT_TRUE(openblas.percent_of_peak.has_value());
  EXPECT_NEAR(*openblas.peak_flops_per_s, 79.6e9, 1);
  EXPECT_EQ(file.results[1].role, "custom");
  EXPECT_NEAR(file.results[2].measurement->stats.median_ms, 8.0, 1e-9) << "time_unit ms honoured";
  EXPECT_EQ(file.results[3].status, ResultStatus::invalid);
  EXPECT_NE(file.results[3].reason.find("9 of 4096"), std::string::npos);
  ASSERT_EQ(file.devices.size(), 1u);
  EXPECT_EQ(file.devices[0].peaks.flops_per_s(Dtype::fp32).value_or(0), 79.6e9 * 1.0);
}

TEST(ReportGoogleBenchmark, NameWithoutSuiteAndErrorKinds) {
  const Problem problem = GemmProblem{64, 64, 64};
  const std::string cublas =
      benchmark_label(problem, {"cublas", BackendRole::vendor, "cuda", {}, {"gemm"}, {Dtype::fp32}}, "cuda:0").dump();
  const std::string custom =
      benchmark_label(problem, {"custom-cuda", BackendRole::custom, "cuda", {"cublas"}, {"gemm"}, {Dtype::fp32}},
                      "cuda:0")
          .dump();
  const nlohmann::json document = {
      {"context", {{"host_name", "h"}, {"date", "d"}}},
      {"benchmarks",
       {{{"name", "cublas/gemm 64x64x64 NN fp32/manual_time"}, {"run_type", "iteration"}, {"label", cublas},
         {"error_occurred", true}, {"error_message", "skipped: no CUDA device"}},
        {{"name", "custom-cuda/gemm 64x64x64 NN fp32"}, {"label", custom}, {"error_occurred", true},
         {"error_message", "cudaErrorLaunchFailure"}}}}};
  const ResultsFile file = results_from_google_benchmark(document, "b.json");
  ASSERT_EQ(file.results.size(), 2u);
  EXPECT_EQ(file.results[0].backend, "cublas");
  EXPECT_EQ(file.results[0].device, "cuda:0");
  EXPECT_EQ(file.results[0].status, ResultStatus::skipped);
  EXPECT_EQ(file.results[1].backend, "custom-cuda");
  EXPECT_EQ(file.results[1].device_kind, "cuda");
  EXPECT_EQ(file.results[1].compared_with, std::vector<std::string>{"cublas"});
  EXPECT_EQ(file.results[1].status, ResultStatus::failed);
}

TEST(ReportGoogleBenchmark, BackendVariantsKeepTheirSlashAndUnlabelledFailuresAreCounted) {
  const std::string label =
      benchmark_label(GemmProblem{96, 64, 80},
                      {"custom-cpu/avx512", BackendRole::custom, "cpu", {"openblas"}, {"gemm"}, {Dtype::fp32}}, "cpu")
          .dump();
  const nlohmann::json document = {
      {"context", {{"host_name", "h"}}},
      {"benchmarks",
       {{{"name", "smoke/custom-cpu/avx512/gemm 96x64x80 NN fp32/iterations:1/manual_time"}, {"label", label},
         {"real_time", 0.5}, {"time_unit", "ms"}, {"FLOP/s", 1.9e9}, {"pct_peak", 0.0}, {"samples", 40.0},
         {"noise", 0.02}},
        {{"name", "smoke/openblas/conv fwd n2 c8 14x14 k16 3x3 p1 s1 d1 NCHW fp32/iterations:1/manual_time"},
         {"error_occurred", true}, {"error_message", "skipped: openblas has no convolution"}}}}};
  const ResultsFile file = results_from_google_benchmark(document, "b.json");
  EXPECT_EQ(file.suite, "smoke");
  ASSERT_EQ(file.results.size(), 1u);
  EXPECT_EQ(file.results[0].backend, "custom-cpu/avx512");
  EXPECT_EQ(file.results[0].role, "custom");
  EXPECT_FALSE(file.results[0].percent_of_peak.has_value()) << "pct_peak 0 means unknown";
  EXPECT_EQ(file.results[0].measurement->stats.samples, 40);
  EXPECT_DOUBLE_EQ(file.results[0].measurement->stats.relative_noise, 0.02);
  EXPECT_EQ(file.options.at("benchmarks failed without a problem label").substr(0, 1), "1");
}

// Rows timed on a busy machine say nothing about the kernels: the report says so first.
TEST(ReportGoogleBenchmark, BusyMachineIsSaidInTheReport) {
  const std::string label =
      benchmark_label(GemmProblem{96, 64, 80}, {"custom-cpu", BackendRole::custom, "cpu", {}, {"gemm"}, {Dtype::fp32}},
                      "cpu")
          .dump();
  const auto document = [&](const nlohmann::json& context, double busy) {
    return nlohmann::json{
        {"context", context},
        {"benchmarks",
         {{{"name", "smoke/custom-cpu/gemm 96x64x80 NN fp32/iterations:1/manual_time"}, {"label", label},
           {"real_time", 0.5}, {"time_unit", "ms"}, {"FLOP/s", 1.9e9}, {"samples", 40.0}, {"noise", 0.4},
           {"busy", busy}}}}};
  };
  const auto findings_of = [](const ResultsFile& file) {
    ReportInput input;
    input.sources.push_back({"b.json", file});
    std::string all;
    for (const auto& f : build_report(std::move(input)).findings) all += f + "\n";
    return all;
  };
  // trainrate-bench's own warning, carried in the context, and the row it marked.
  const ResultsFile marked = results_from_google_benchmark(
      document({{"machine_busy", "load average 3.10 on 2 cores at start"}}, 1.0), "b.json");
  EXPECT_EQ(marked.options.at("rows measured on a busy machine"), "1 of 1");
  const std::string said = findings_of(marked);
  EXPECT_NE(said.find("b.json was measured on a busy machine (load average 3.10 on 2 cores at start; 1 of 1 rows "
                      "marked busy): its rates and ratios are not trustworthy"),
            std::string::npos) << said;
  // Google Benchmark's own load average says it too, for files written by an older trainrate-bench.
  const ResultsFile loaded = results_from_google_benchmark(
      document({{"num_cpus", 2}, {"load_avg", {3.5, 2.0, 1.0}}}, 0.0), "b.json");
  EXPECT_NE(findings_of(loaded).find("b.json was measured on a busy machine (load average 3.50 on 2 cores at start"),
            std::string::npos) << findings_of(loaded);
  const ResultsFile idle = results_from_google_benchmark(
      document({{"num_cpus", 2}, {"load_avg", {0.2, 0.1, 0.1}}}, 0.0), "b.json");
  EXPECT_EQ(findings_of(idle).find("busy"), std::string::npos) << findings_of(idle);
}

TEST(ReportGoogleBenchmark, LabelMustCarryTheProblemAndTheBackendFacts) {
  // Not JSON, and the problem-only label of older trainrate-bench builds (no backend facts).
  const std::string problem_only = to_json(Problem{GemmProblem{8, 8, 8}}).dump();
  for (const auto& [label, expected] : {std::pair<std::string, std::string>{"not json", "label is not a trainrate-bench label"},
                                        {problem_only, "must be measured again"}}) {
    const nlohmann::json document = {{"context", nlohmann::json::object()},
                                     {"benchmarks", {{{"name", "openblas/x"}, {"label", label}}}}};
    EXPECT_TRUE(is_google_benchmark_json(document));
    try {
      results_from_google_benchmark(document, "b.json");
      ADD_FAILURE() << "expected InputError for " << label;
    } catch (const InputError& e) {
      EXPECT_THAT(std::string(e.what()), ::testing::HasSubstr(expected));
      EXPECT_THAT(std::string(e.what()), ::testing::StartsWith("b.json: benchmarks[0] 'openblas/x'"));
    }
  }
}

// Two files of one host (a re-run, another build) must not read as one: each section's heading names
// its file and when it ran.
TEST(Report, SectionsOfTwoFilesOfOneHostAreToldApart) {
  ReportInput input;
  input.sources.push_back({"before.json", read_results_file(kData / "results-cpu.json")});
  ResultsFile later = read_results_file(kData / "results-cpu.json");
  later.created_utc = "2026-11-25T08:00:00Z";
  input.sources.push_back({"after.json", later});
  const std::string md = render_markdown(build_report(std::move(input)));
  EXPECT_NE(md.find("## Results: AMD EPYC 7B12 (cpu) on ci-runner-1, before.json (run 2026-11-24T10:15:00Z)"),
            std::string::npos) << md;
  EXPECT_NE(md.find("## Results: AMD EPYC 7B12 (cpu) on ci-runner-1, after.json (run 2026-11-25T08:00:00Z)"),
            std::string::npos) << md;
}

TEST(ReportPredictions, TableShowsBatchAndInputSize) {
  const std::string md = render_markdown(fixed_report());
  EXPECT_NE(md.find("| network | batch | input | basis |"), std::string::npos) << md;
  EXPECT_NE(md.find("| resnet50 | 32 | 224x224 | total |"), std::string::npos) << md;
  EXPECT_NE(md.find("| bert-base | 8 | seq 128 | total |"), std::string::npos) << md;
}

// 6 significant digits cut 110867123456 to 1.10867e+11: the CSV is for spreadsheets, so every
// digit that distinguishes the double stays.
TEST(ReportText, CsvNumbersKeepFullPrecision) {
  EXPECT_EQ(format_number(110867123456.0), "110867123456");
  EXPECT_EQ(format_number(0.1), "0.1");
  EXPECT_EQ(format_number(30.288908998589562), "30.288908998589562");
  EXPECT_EQ(std::stod(format_number(1.0 / 3)), 1.0 / 3);
}

// ---- the CLI -------------------------------------------------------------------------------

int run_cli(const std::string& arguments) {
  const int status = std::system((std::string(TRAINRATE_CLI_PATH) + " " + arguments + " >/dev/null 2>&1").c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::filesystem::path fresh_directory(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / ("trainrate-test-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  return dir;
}

TEST(ReportCli, WritesTheThreeFiles) {
  const auto out = fresh_directory("report");
  ASSERT_EQ(run_cli("report " + (kData / "results-cpu.json").string() + " " + (kData / "bench.json").string() +
                    " --predictions " + (kData / "predictions.json").string() + " -o " + out.string()),
            0);
  for (const char* name : {"report.md", "report.html", "results.csv"}) {
    EXPECT_TRUE(std::filesystem::exists(out / name)) << name;
  }
  EXPECT_NE(read_text(out / "report.md").find("## Results: CPU (cpu) on ci-runner-1"), std::string::npos)
      << "the Google Benchmark file gets its own section";
  std::filesystem::remove_all(out);
}

TEST(ReportCli, AcceptsSeveralPredictionFiles) {
  const auto out = fresh_directory("report-predictions");
  const auto second = fresh_directory("report-predictions-input");
  std::filesystem::create_directories(second);
  std::ofstream(second / "vgg.json") << R"({"network": "vgg16", "batch": 16, "image_size": 112, "total_time_s": 7200})";
  ASSERT_EQ(run_cli("report " + (kData / "results-cpu.json").string() + " --predictions " +
                    (kData / "predictions.json").string() + " " + (second / "vgg.json").string() + " -o " + out.string()),
            0);
  const std::string md = read_text(out / "report.md");
  EXPECT_NE(md.find("| resnet50 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| vgg16 | 16 | 112x112 |"), std::string::npos) << md;
  std::filesystem::remove_all(out);
  std::filesystem::remove_all(second);
}

// An empty or non-JSON file gets one line naming it, not the JSON parser's exception text.
TEST(ReportCli, EmptyFileIsNotAResultsFile) {
  const auto dir = fresh_directory("report-empty");
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "empty.json").flush();
  std::ofstream(dir / "garbage.json") << "results: none\n";
  for (const char* name : {"empty.json", "garbage.json"}) {
    const std::string path = (dir / name).string();
    const std::string err = (dir / "err.txt").string();
    const int status = std::system((std::string(TRAINRATE_CLI_PATH) + " report " + path + " -o " + (dir / "out").string() +
                                    " >/dev/null 2>" + err).c_str());
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 2);
    const std::string message = read_text(err);
    EXPECT_EQ(message.rfind("trainrate report: error: " + path + ": not a trainrate results file (", 0), 0u) << message;
    EXPECT_EQ(message.find("json.exception"), std::string::npos) << message;
    EXPECT_EQ(std::count(message.begin(), message.end(), '\n'), 1) << message;
  }
  EXPECT_THROW(read_results_file(dir / "empty.json"), InputError);
  std::filesystem::remove_all(dir);
}

TEST(ReportCli, BadInputExitsTwo) {
  const auto out = fresh_directory("report-bad");
  EXPECT_EQ(run_cli("report /nonexistent/results.json -o " + out.string()), 2);
  EXPECT_EQ(run_cli("report " + (kData / "predictions.json").string() + " -o " + out.string()), 2)
      << "a predictions file is not a results file";
  EXPECT_EQ(run_cli("report " + (kData / "results-cpu.json").string()), 2) << "-o is required";
  std::filesystem::remove_all(out);
}

}  // namespace
}  // namespace trainrate::reports
