// report.md: the report as Markdown tables and sentences (charts live in report.html).
#include <fmt/format.h>

#include "reports/report.hpp"
#include "reports/table.hpp"
#include "reports/text.hpp"

namespace trainrate::reports {


namespace {

// What the numbers mean, first: the report's findings.
std::string markdown_findings(const Report& report) {
  std::string md;
  md += "## What this means\n\n";
  for (const auto& finding : report.findings) md += "- " + finding + "\n";
  md += "\n";
  return md;
}

// Where each results file was measured.
std::string markdown_environment(const Report& report) {
  std::string md;
  md += "## Environment\n\n";
  for (const ReportSource& source : report.sources) {
    md += fmt::format("### {}\n\n", markdown_cell(source.path));
    md += markdown_row({"key", "value"}) + markdown_rule(2, 2);
    for (const auto& [key, value] : environment_of(source)) md += markdown_row({key, value});
    md += "\n";
  }
  return md;
}

// One device's table: R (% of peak) per backend and the custom/vendor ratios, with above-peak notes.
std::string markdown_section(const DeviceSection& section) {
  std::string md;
  md += fmt::format("## Results: {}\n\n", markdown_cell(section_heading(section)));
  md += fmt::format("Suite `{}` from {}. Each cell: R (% of peak).\n\n", section.suite.empty() ? "-" : section.suite,
                    markdown_cell(section.source));
  std::vector<std::string> header{"problem", "pass", "FLOP/byte"};
  for (const auto& backend : section.backends) header.push_back(backend);
  for (const auto& custom : section.custom_backends) {
    header.push_back(custom + " / " + vendor_label(section, custom));
  }
  md += markdown_row(header) + markdown_rule(header.size(), 2);
  for (const ShapeRow& row : section.rows) {
    std::vector<std::string> cells{row.name, row.kind, format_fixed(row.intensity, 1)};
    for (const auto& backend : section.backends) cells.push_back(rate_cell(row, backend));
    for (const auto& custom : section.custom_backends) cells.push_back(ratio_cell(row, custom));
    md += markdown_row(cells);
  }
  md += "\n";
  if (const auto lines = above_peak_lines(section); !lines.empty()) {
    md += markdown_cell(kAbovePeakMeaning) + "\n\n";
    for (const auto& line : lines) md += "- " + markdown_cell(line) + "\n";
    md += "\n";
  }
  return md;
}

// Geomean custom/vendor per suite and pass.
std::string markdown_geomeans(const Report& report) {
  std::string md;
  md += "## Geomean custom/vendor per suite and pass\n\n";
  if (report.geomeans.empty()) {
    md += "No custom result has an ok vendor counterpart.\n\n";
  } else {
    md += markdown_row({"suite", "device", "pass", "custom", "vendor", "shapes", "geomean", "min", "max"}) +
          markdown_rule(9, 5);
    for (const GeomeanRow& g : report.geomeans) {
      md += markdown_row({g.suite, g.host.empty() ? g.device : g.device + " on " + g.host, g.kind, g.custom_backend,
                       g.vendor_backend, std::to_string(g.count), format_ratio(g.geomean), format_ratio(g.min),
                       format_ratio(g.max)});
    }
    md += "\n";
  }
  return md;
}

// Predicted training time, when prediction files were given.
std::string markdown_predictions(const Report& report) {
  std::string md;
  md += "## Predicted training time\n\n";
  if (report.predictions.empty()) {
    md += "No predictions given (write them with `trainrate predict ... --compare` and pass `--predictions`).\n\n";
  } else {
    md += "Time reduction is (T_vendor − T_custom) / T_vendor; speed-up ratio is T_vendor / T_custom. "
          "A 75% time reduction is a 4x speed-up.\n\n";
    md += markdown_row({"network", "batch", "input", "basis", "vendor", "custom", "T vendor", "T custom",
                        "time reduction", "speed-up ratio"}) +
          markdown_rule(10, 6);
    for (const NetworkPrediction& p : report.predictions) {
      md += markdown_row({p.network, batch_cell(p), input_cell(p), p.time_basis.empty() ? "-" : p.time_basis,
                          p.old_backend.empty() ? "-" : p.old_backend,
                       p.new_backend.empty() ? "-" : p.new_backend, p.old_seconds ? format_duration(*p.old_seconds) : "-",
                       p.new_seconds ? format_duration(*p.new_seconds) : "-",
                       p.time_reduction ? format_percent(100 * *p.time_reduction) : "-",
                       p.ratio ? format_ratio(*p.ratio) : "-"});
    }
    md += "\n";
  }
  return md;
}

// Every row that has no rate, with its reason.
std::string markdown_not_measured(const Report& report) {
  std::string md;
  md += "## Not measured: INVALID, skipped and FAILED\n\n";
  if (report.not_measured.empty()) {
    md += "None.\n";
  } else {
    md += markdown_row({"device", "backend", "problem", "status", "reason"}) + markdown_rule(5, 5);
    for (const NotMeasured& entry : report.not_measured) {
      md += markdown_row({entry.device, entry.result.backend, describe(entry.result.problem),
                       std::string(to_string(entry.result.status)), entry.result.reason});
    }
  }
  return md;
}

}  // namespace

std::string render_markdown(const Report& report) {
  std::string md = "# trainrate report\n\n";
  md += "Real rate R (FLOP/s) of each kernel, vendor libraries against our hand-written ones. "
        "R counts the conventional FLOPs of each problem (2·M·N·K for GEMM, 2·N·K·P·Q·C·R·S for every "
        "convolution pass) divided by the median time. Charts are in report.html; every number is in results.csv.\n\n";

  md += markdown_findings(report);
  if (report.run_comparison) md += run_comparison_markdown(*report.run_comparison);
  md += markdown_environment(report);
  for (const DeviceSection& section : report.sections) md += markdown_section(section);
  return md + markdown_geomeans(report) + markdown_predictions(report) + markdown_not_measured(report);
}

}  // namespace trainrate::reports
