// Prometheus metrics from results: names in base units, exact values, label escaping, the
// OpenMetrics terminator, and a collision between two files refused. tests/prometheus/ checks the
// same text against a real node_exporter, Prometheus and promtool.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "fleet_nodes.hpp"
#include "problems/problem_json.hpp"
#include "reports/metrics.hpp"

namespace trainrate::reports {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

bool has_line(const std::string& text, const std::string& line) {
  const auto lines = lines_of(text);
  return std::find(lines.begin(), lines.end(), line) != lines.end();
}

// The value of the series written as `series` (name and labels), or NaN when it is not there.
double value_of(const std::string& text, const std::string& series) {
  for (const std::string& line : lines_of(text)) {
    if (line.starts_with(series + " ")) return std::stod(line.substr(series.size() + 1));
  }
  return std::nan("");
}

const std::string kNode01 = R"(host="gpu-node01",device="cuda:0",device_model="NVIDIA H100 80GB HBM3")";

TEST(Metrics, RowsBecomeGaugesInBaseUnitsWithTheResultsValues) {
  ResultsFile file = read_results_file(testing::kFleetSeed);
  file.results[0].percent_of_peak = 76.4;
  const std::string text = render_metrics({{"a.json", file}}, nullptr, MetricsFormat::prometheus);
  const std::string row = kNode01 + R"(,backend="cublas",kind="gemm",problem="gemm 4096x4096x4096 NN fp32")";
  EXPECT_TRUE(has_line(text, "# TYPE trainrate_rate_flops_per_second gauge")) << text;
  EXPECT_TRUE(has_line(text, "trainrate_rate_flops_per_second{" + row + "} 51200000000000")) << text;
  EXPECT_DOUBLE_EQ(value_of(text, "trainrate_median_seconds{" + row + "}"), 2.68435456e-3) << text;
  EXPECT_TRUE(has_line(text, "trainrate_peak_ratio{" + row + "} 0.764")) << text;
  EXPECT_TRUE(has_line(text, "trainrate_noise_ratio{" + row + "} 0")) << text;
  EXPECT_TRUE(has_line(text, "trainrate_result_ok{" + row + "} 1")) << text;
  // custom-cuda fp32 against cuBLAS: 47.9 / 51.2 = 479/512, exact in binary.
  EXPECT_TRUE(has_line(text, "trainrate_custom_vendor_ratio{" + kNode01 +
                                 R"(,backend="custom-cuda",kind="gemm",problem="gemm 4096x4096x4096 NN fp32"} 0.935546875)"))
      << text;
  // 2026-11-24T12:00:00Z
  EXPECT_TRUE(has_line(text, "trainrate_run_timestamp_seconds{" + kNode01 + "} 1795521600")) << text;
  // Only the row with a peak has a peak ratio; no timestamps on samples; no OpenMetrics terminator.
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 2 * 7 + 6 * 4 + 1 + 3 + 1) << text;
  EXPECT_FALSE(has_line(text, "# EOF"));
  EXPECT_EQ(lines_of(render_metrics({{"a.json", file}}, nullptr, MetricsFormat::openmetrics)).back(), "# EOF");
}

TEST(Metrics, MemoryBoundRowsAreBytesPerSecondAndFailuresAreZero) {
  ResultsFile file = read_results_file(testing::kFleetSeed);
  file.results.resize(2);
  file.results[0].problem = problem_from_json(
      {{"kind", "memory"}, {"op", "relu"}, {"elements", 1 << 20}, {"pass", "forward"}, {"dtype", "fp32"}}, "test");
  file.results[0].rate_bytes_per_s = 1.5e12;
  file.results[1].status = ResultStatus::invalid;
  const std::string text = render_metrics({{"a.json", file}}, nullptr, MetricsFormat::prometheus);
  const Problem& relu = file.results[0].problem;
  EXPECT_TRUE(has_line(text, "trainrate_rate_bytes_per_second{" + kNode01 + R"(,backend="cublas",kind=")" +
                                 kind_label(relu) + R"(",problem=")" + describe(relu) + "\"} 1500000000000"))
      << text;
  EXPECT_EQ(text.find("trainrate_rate_flops_per_second"), std::string::npos) << text;
  EXPECT_TRUE(has_line(text, "trainrate_result_ok{" + kNode01 +
                                 R"(,backend="custom-cuda",kind="gemm",problem="gemm 4096x4096x4096 NN fp32"} 0)"))
      << text;
}

TEST(Metrics, LabelValuesAreEscapedAndScreenVerdictsAdded) {
  ResultsFile file = read_results_file(testing::kFleetSeed);
  file.host = "odd\"host\\name\n";
  file.results.resize(1);
  ScreenReport screen;
  ScreenDevice device{file.host, "cuda:0", "NVIDIA H100 80GB HBM3", {}, {{"gemm", "cublas", 2, 0.85}}, {"kind: ..."}, 0, 0};
  screen.devices.push_back(device);
  const std::string text = render_metrics({{"a.json", file}}, &screen, MetricsFormat::prometheus);
  const std::string labels = R"(host="odd\"host\\name\n",device="cuda:0",device_model="NVIDIA H100 80GB HBM3")";
  EXPECT_TRUE(has_line(text, "trainrate_screen_accepted{" + labels + "} 0")) << text;
  EXPECT_TRUE(has_line(text, "trainrate_screen_geomean_ratio{" + labels + R"(,backend="cublas",kind="gemm"} 0.85)"))
      << text;
}

TEST(Metrics, TheSameHostAndDeviceInTwoFilesIsBadInput) {
  const ResultsFile file = read_results_file(testing::kFleetSeed);
  EXPECT_THROW(render_metrics({{"a.json", file}, {"b.json", file}}, nullptr, MetricsFormat::prometheus), InputError);
  EXPECT_NO_THROW(render_metrics({{"a.json", file}, {"b.json", testing::scaled_node(file, "other", 1)}}, nullptr,
                                 MetricsFormat::prometheus));
}

}  // namespace
}  // namespace trainrate::reports
