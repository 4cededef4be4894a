// The speed-up report: one model built from results files (and optional predictions), and three
// writers that only read it — Markdown, CSV and a self-contained HTML page with inline SVG charts.
//
// Nothing here reads clocks or the environment: the same inputs give the same bytes, so the
// Markdown and CSV are pinned by golden files.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "reports/compare.hpp"
#include "reports/predictions.hpp"
#include "reports/run_compare.hpp"
#include "results/result.hpp"

namespace trainrate::reports {

struct ReportSource {
  std::string path;  // as given on the command line; shown in the report
  ResultsFile file;
};

struct ReportInput {
  std::vector<ReportSource> sources;
  std::vector<NetworkPrediction> predictions;
  std::optional<RunComparison> run_comparison;  // the second source against the first (report --compare-runs)
};

// One problem on one device: every backend's result and the custom/vendor pairs.
struct ShapeRow {
  Problem problem;
  std::string name;        // describe(problem)
  std::string kind;        // kind_label(problem)
  double intensity = 0;    // flops / min_bytes, FLOP per byte
  std::map<std::string, Result> by_backend;
  std::vector<RatioRow> ratios;  // one per custom backend that has an ok vendor counterpart
};

// The results of one device in one input file.
struct DeviceSection {
  std::string source, host, suite, created_utc;
  DeviceInfo device;
  std::vector<std::string> backends;         // vendor backends first, then custom, each sorted
  std::vector<std::string> custom_backends;  // those with at least one ratio, sorted
  std::vector<ShapeRow> rows;                // in the order the file lists the problems
};

// Geomean of custom/vendor over the shapes of one suite and pass (kind_label) on one device.
struct GeomeanRow {
  std::string suite, host, device, kind, custom_backend, vendor_backend;
  int64_t count = 0;
  double geomean = 0, min = 0, max = 0;
};

// A result that gave no rate, with the section it belongs to.
struct NotMeasured {
  std::string device;  // section_title()
  Result result;
};

struct Report {
  std::vector<ReportSource> sources;
  std::vector<DeviceSection> sections;
  std::vector<GeomeanRow> geomeans;
  std::vector<NetworkPrediction> predictions;
  std::vector<NotMeasured> not_measured;  // INVALID, skipped and FAILED results
  std::vector<std::string> findings;     // the "what this means" sentences, most important first
  std::optional<RunComparison> run_comparison;
};

Report build_report(ReportInput input);

std::string render_markdown(const Report& report);
std::string render_csv(const Report& report);
std::string render_html(const Report& report);

// Writes report.md, report.html and results.csv (and comparison.csv with a run comparison) into
// `directory` (created if needed), each atomically.
void write_report(const Report& report, const std::filesystem::path& directory);

// "AMD EPYC 7B12 (cpu) on node17": how a section's device is named everywhere in the report.
std::string section_title(const DeviceSection& section);
// The title with the file and the run's start: "…, results.json (run 2026-11-24T10:15:00Z)", so two
// files of one host read as two runs.
std::string section_heading(const DeviceSection& section);

// Helpers shared by the writers, so Markdown and HTML say the same thing.
// Environment of one input as key/value lines: host, tool, build, libraries, options, devices
// with their properties (clocks, versions) and peaks.
std::vector<std::pair<std::string, std::string>> environment_of(const ReportSource& source);
// "74.2 GFLOP/s (93.1%)", "201 GFLOP/s (252.6%*)" above peak, "INVALID", "skipped", "FAILED" or "-" (not run).
std::string rate_cell(const ShapeRow& row, const std::string& backend);
// One line per result of the section above 100% of peak: the problem, backend, % and why.
std::vector<std::string> above_peak_lines(const DeviceSection& section);
// "32 | 224x224" style columns of the prediction table: the batch and the input size.
std::string batch_cell(const NetworkPrediction& prediction);
std::string input_cell(const NetworkPrediction& prediction);
// "0.937x" for the custom backend's ratio against its vendor on this row, or "-".
std::string ratio_cell(const ShapeRow& row, const std::string& custom_backend);
// The vendor a custom backend is compared with in this section: "openblas", or
// "vendor (onednn, openblas)" when it depends on the pass.
std::string vendor_label(const DeviceSection& section, const std::string& custom_backend);

}  // namespace trainrate::reports
