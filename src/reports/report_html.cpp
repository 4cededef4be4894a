// report.html: one self-contained static page — inline CSS and SVG, no script, no fonts or
// images fetched from anywhere — readable offline and printable.
#include <fmt/format.h>

#include <set>

#include "reports/charts.hpp"
#include "reports/html_page.hpp"
#include "reports/report.hpp"
#include "reports/table.hpp"
#include "reports/text.hpp"

namespace trainrate::reports {

namespace {

std::string section_charts(const DeviceSection& section) {
  const std::string title = section_title(section);
  std::vector<std::string> categories;
  for (const ShapeRow& row : section.rows) categories.push_back(row.name);

  std::vector<BarSeries> series;
  for (const std::string& backend : section.backends) {
    BarSeries s{backend, {}, {}};
    for (const ShapeRow& row : section.rows) {
      const auto it = row.by_backend.find(backend);
      const bool ok = it != row.by_backend.end() && it->second.status == ResultStatus::ok;
      s.values.push_back(ok ? std::optional<double>(it->second.rate_flops_per_s) : std::nullopt);
      s.notes.push_back(it == row.by_backend.end() || ok ? "" : std::string(to_string(it->second.status)));
    }
    series.push_back(std::move(s));
  }
  std::string html = figure(grouped_bar_chart("R per shape and backend: " + title, categories, series),
                            "Attained rate R per shape, one bar per backend; INVALID, skipped or FAILED where it gave no rate.");

  for (const std::string& custom : section.custom_backends) {
    std::vector<std::string> names;
    std::vector<double> ratios;
    for (const ShapeRow& row : section.rows) {
      for (const RatioRow& ratio : row.ratios) {
        if (ratio.custom_backend != custom) continue;
        names.push_back(row.name);
        ratios.push_back(ratio.ratio);
      }
    }
    html += figure(ratio_chart(fmt::format("{} / {} per shape: {}", custom, vendor_label(section, custom), title),
                               names, ratios, "custom R / vendor R (above 1.0: ours is faster)"),
                   "Custom rate divided by the vendor's rate on the same shape and device; the dashed line is parity.");
  }

  std::vector<RooflineCeiling> ceilings;
  std::set<Dtype> dtypes;
  for (const ShapeRow& row : section.rows) dtypes.insert(dtype_of(row.problem));
  const Peaks& peaks = section.device.peaks;
  for (const Dtype dtype : dtypes) {
    if (auto it = peaks.datasheet_flops_per_s.find(dtype); it != peaks.datasheet_flops_per_s.end()) {
      ceilings.push_back({fmt::format("{} datasheet", to_string(dtype)), it->second,
                          peaks.datasheet_bytes_per_s ? peaks.datasheet_bytes_per_s : peaks.measured_bytes_per_s, false});
    }
    if (auto it = peaks.measured_flops_per_s.find(dtype); it != peaks.measured_flops_per_s.end()) {
      ceilings.push_back({fmt::format("{} measured", to_string(dtype)), it->second,
                          peaks.measured_bytes_per_s ? peaks.measured_bytes_per_s : peaks.datasheet_bytes_per_s, true});
    }
  }
  std::vector<RooflinePoint> points;
  for (const ShapeRow& row : section.rows) {
    for (const auto& [backend, result] : row.by_backend) {
      if (result.status == ResultStatus::ok && result.rate_flops_per_s > 0 && row.intensity > 0) {
        points.push_back({backend, row.name, row.intensity, result.rate_flops_per_s});
      }
    }
  }
  html += figure(roofline_chart("Roofline: " + title, ceilings, section.backends, points),
                 "Arithmetic intensity (FLOP per byte of minimum DRAM traffic) against attained FLOP/s. Solid: "
                 "datasheet ceilings; dashed: measured ceilings. A point far below the roof under it has headroom.");
  return html;
}

}  // namespace

namespace {

// Where each results file was measured.
void html_environment(HtmlPage& page, const Report& report) {
  page.heading(2, "Environment");
  for (const ReportSource& source : report.sources) {
    page.heading(3, source.path);
    std::vector<std::vector<std::string>> rows;
    for (const auto& [key, value] : environment_of(source)) rows.push_back({key, value});
    page.table({"key", "value"}, rows, 2, "environment");
  }
}

// One device's table, its above-peak notes and its charts.
void html_section(HtmlPage& page, const DeviceSection& section) {
  page.heading(2, "Results: " + section_heading(section));
  page.paragraph(fmt::format("Suite {} from {}. Each cell: R (% of peak).", section.suite.empty() ? "-" : section.suite,
                             section.source));
  std::vector<std::string> header{"problem", "pass", "FLOP/byte"};
  for (const auto& backend : section.backends) header.push_back(backend);
  for (const auto& custom : section.custom_backends) {
    header.push_back(custom + " / " + vendor_label(section, custom));
  }
  std::vector<std::vector<std::string>> rows;
  for (const ShapeRow& row : section.rows) {
    std::vector<std::string> cells{row.name, row.kind, format_fixed(row.intensity, 1)};
    for (const auto& backend : section.backends) cells.push_back(rate_cell(row, backend));
    for (const auto& custom : section.custom_backends) cells.push_back(ratio_cell(row, custom));
    rows.push_back(std::move(cells));
  }
  page.table(header, rows, 2, "results");
  if (const auto lines = above_peak_lines(section); !lines.empty()) {
    page.paragraph(kAbovePeakMeaning);
    page.list(lines);
  }
  page.raw(section_charts(section));
}

// Geomean custom/vendor per suite and pass.
void html_geomeans(HtmlPage& page, const Report& report) {
  page.heading(2, "Geomean custom/vendor per suite and pass");
  if (report.geomeans.empty()) {
    page.paragraph("No custom result has an ok vendor counterpart.");
  } else {
    std::vector<std::vector<std::string>> rows;
    for (const GeomeanRow& g : report.geomeans) {
      rows.push_back({g.suite, g.host.empty() ? g.device : g.device + " on " + g.host, g.kind, g.custom_backend,
                      g.vendor_backend, std::to_string(g.count), format_ratio(g.geomean), format_ratio(g.min),
                      format_ratio(g.max)});
    }
    page.table({"suite", "device", "pass", "custom", "vendor", "shapes", "geomean", "min", "max"}, rows, 5, "");
  }
}

// Predicted training time and its chart, when prediction files were given.
void html_predictions(HtmlPage& page, const Report& report) {
  page.heading(2, "Predicted training time");
  if (report.predictions.empty()) {
    page.paragraph("No predictions given (write them with trainrate predict ... --compare and pass --predictions).");
  } else {
    page.paragraph("Time reduction is (T_vendor − T_custom) / T_vendor; speed-up ratio is T_vendor / T_custom. "
                   "A 75% time reduction is a 4x speed-up.");
    std::vector<std::vector<std::string>> rows;
    std::vector<TimePair> pairs;
    for (const NetworkPrediction& p : report.predictions) {
      rows.push_back({p.network, batch_cell(p), input_cell(p), p.time_basis.empty() ? "-" : p.time_basis,
                      p.old_backend.empty() ? "-" : p.old_backend,
                      p.new_backend.empty() ? "-" : p.new_backend, p.old_seconds ? format_duration(*p.old_seconds) : "-",
                      p.new_seconds ? format_duration(*p.new_seconds) : "-",
                      p.time_reduction ? format_percent(100 * *p.time_reduction) : "-",
                      p.ratio ? format_ratio(*p.ratio) : "-"});
      if (p.old_seconds && p.new_seconds) {
        pairs.push_back({p.network, p.old_backend.empty() ? "vendor" : p.old_backend,
                         p.new_backend.empty() ? "custom" : p.new_backend, *p.old_seconds, *p.new_seconds});
      }
    }
    page.table({"network", "batch", "input", "basis", "vendor", "custom", "T vendor", "T custom", "time reduction",
                "speed-up ratio"},
               rows, 6, "");
    if (!pairs.empty()) {
      page.raw(figure(training_time_chart("Predicted training time, vendor against custom", pairs),
                      "Each network's predicted time with the vendor backend (grey) and ours (blue), with the time "
                      "reduction and the speed-up ratio beside it."));
    }
  }
}

// Every row that has no rate, with its reason.
void html_not_measured(HtmlPage& page, const Report& report) {
  page.heading(2, "Not measured: INVALID, skipped and FAILED");
  if (report.not_measured.empty()) {
    page.paragraph("None.");
  } else {
    std::vector<std::vector<std::string>> rows;
    for (const NotMeasured& entry : report.not_measured) {
      rows.push_back({entry.device, entry.result.backend, describe(entry.result.problem),
                      std::string(to_string(entry.result.status)), entry.result.reason});
    }
    page.table({"device", "backend", "problem", "status", "reason"}, rows, 5, "");
  }
}

// The run comparison's tables; the rule and the sources head it as in report.md.
void html_run_comparison(HtmlPage& page, const RunComparison& c) {
  page.heading(2, "NEW against OLD");
  page.paragraph(fmt::format("NEW {} (run {}) against OLD {} (run {}), suite {}. Ratios are NEW/OLD rates: above 1 "
                             "NEW is faster. Unit: {}. Rule: {}.",
                             c.new_path, c.new_created_utc, c.old_path, c.old_created_utc, c.suite, describe_unit(c),
                             describe_rule(c.rule)));
  std::vector<std::vector<std::string>> environment;
  for (const EnvironmentDifference& d : c.environment) environment.push_back({d.key, d.old_value, d.new_value});
  page.heading(3, "Environment differences");
  if (environment.empty()) page.paragraph("None.");
  if (!environment.empty()) page.table({"setting", "OLD", "NEW"}, environment, 3, "");
  std::vector<std::vector<std::string>> rows;
  for (const RunCompareRow& row : c.rows) {
    const Judgement& j = row.judgement;
    rows.push_back({describe(row.problem), row.backend, format_work_rate(row.problem, row.old_rate_per_s),
                    format_work_rate(row.problem, row.new_rate_per_s), ratio_text(j), interval_text(j),
                    p_value_text(j), q_value_text(j), std::string(to_string(j.verdict)), j.reason});
  }
  page.heading(3, "Per problem and backend");
  page.table({"problem", "backend", "OLD R", "NEW R", "NEW/OLD", "95% interval", "p", "q", "verdict", "why"}, rows, 2, "");
  std::vector<std::string> not_compared;
  for (const NotCompared& n : c.not_compared) {
    not_compared.push_back(fmt::format("{} {} on {}: {}", n.problem, n.backend, n.device, n.why));
  }
  if (!not_compared.empty()) page.heading(3, "Not compared");
  if (!not_compared.empty()) page.list(not_compared);
}

}  // namespace

std::string render_html(const Report& report) {
  HtmlPage page("trainrate report");
  page.paragraph("Real rate R (FLOP/s) of each kernel, vendor libraries against our hand-written ones. R counts the "
                 "conventional FLOPs of each problem (2·M·N·K for GEMM, 2·N·K·P·Q·C·R·S for every convolution pass) "
                 "divided by the median time. Every number is also in results.csv.");

  page.heading(2, "What this means");
  page.list(report.findings);

  if (report.run_comparison) html_run_comparison(page, *report.run_comparison);
  html_environment(page, report);
  for (const DeviceSection& section : report.sections) html_section(page, section);
  html_geomeans(page, report);
  html_predictions(page, report);
  html_not_measured(page, report);
  page.paragraph("How to read each section, and the roofline in particular: docs/reports.md in the trainrate sources.");
  return page.finish();
}

}  // namespace trainrate::reports
