#include "reports/table.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>

#include "problems/collective.hpp"

namespace trainrate {

namespace {

// Above this the samples disagree by more than the few percent that custom/vendor ratios are read
// for, whatever the noise target was; the row says so instead of a plain "ok".
constexpr double kNoisyAboveRelativeNoise = 0.05;

std::string three_digits(double value) {
  if (value >= 100) return fmt::format("{:.0f}", value);
  if (value >= 10) return fmt::format("{:.1f}", value);
  return fmt::format("{:.2f}", value);
}

// Why sampling stopped, in the words of the status column; empty when the noise target stopped it.
std::string stop_note(const std::string& stop_reason) {
  if (stop_reason.empty() || stop_reason == "noise-target") return {};
  if (stop_reason == "time-budget") return "budget";
  if (stop_reason == "max-samples") return "max samples";
  return stop_reason;
}

size_t widest(size_t at_least, const std::vector<std::string>& names) {
  for (const std::string& name : names) at_least = std::max(at_least, name.size());
  return at_least;
}

}  // namespace

std::string format_rate(double flops_per_s) {
  static constexpr std::pair<double, const char*> kUnits[] = {
      {1e15, "PFLOP/s"}, {1e12, "TFLOP/s"}, {1e9, "GFLOP/s"}, {1e6, "MFLOP/s"}};
  for (const auto& [scale, unit] : kUnits) {
    if (flops_per_s >= scale) return fmt::format("{} {}", three_digits(flops_per_s / scale), unit);
  }
  return fmt::format("{:.0f} FLOP/s", flops_per_s);
}

std::string format_bandwidth(double bytes_per_s) {
  if (bytes_per_s >= 1e12) return fmt::format("{} TB/s", three_digits(bytes_per_s / 1e12));
  if (bytes_per_s >= 1e9) return fmt::format("{} GB/s", three_digits(bytes_per_s / 1e9));
  return fmt::format("{} MB/s", three_digits(bytes_per_s / 1e6));
}

std::string format_work_rate(const Problem& problem, double rate_per_s) {
  return rated_in_bytes(problem) ? format_bandwidth(rate_per_s) : format_rate(rate_per_s);
}

std::string format_duration_ms(double ms) {
  if (ms >= 1000) return fmt::format("{} s", three_digits(ms / 1000));
  if (ms >= 1) return fmt::format("{} ms", three_digits(ms));
  return fmt::format("{} us", three_digits(ms * 1000));
}

TableWidths table_widths(const std::vector<Problem>& problems, const std::vector<std::string>& backends) {
  std::vector<std::string> names;
  for (const Problem& problem : problems) names.push_back(describe(problem));
  TableWidths widths;
  widths.problem = widest(widths.problem, names);
  widths.backend = widest(widths.backend, backends);
  return widths;
}

bool above_peak(const Result& r) {
  return r.status == ResultStatus::ok && r.percent_of_peak && *r.percent_of_peak > 100;
}

std::string above_peak_reason(const Result& r) {
  const double share = in_bounds_tap_share(r.problem);
  const double real_percent = *r.percent_of_peak * share;  // counting only taps that touch the input
  if (share < 0.9995 && real_percent <= 100) {
    return fmt::format("only {:.1f}% of the counted taps touch the input, the rest fall on padding, which the "
                       "backend skips ({:.1f}% of peak counting those alone)",
                       100 * share, real_percent);
  }
  std::string algorithm = r.algorithm;
  std::transform(algorithm.begin(), algorithm.end(), algorithm.begin(), [](unsigned char ch) { return std::tolower(ch); });
  if (algorithm.find("winograd") != std::string::npos || algorithm.find("fft") != std::string::npos) {
    return fmt::format("its {} algorithm does fewer operations than the conventional count", r.algorithm);
  }
  // Neither explains it: the ceiling itself is low, as when it was measured while other jobs ran.
  return fmt::format("{}the device's peak is likely set too low (a ceiling measured while the machine was busy)",
                     share < 0.9995 ? fmt::format("{:.1f}% of peak even counting only the taps that touch the "
                                                  "input: ",
                                                  real_percent)
                                    : "");
}

const char* const kAbovePeakMeaning =
    "* above 100% of peak: the counted FLOPs include work the backend skips (padding taps, a fast "
    "algorithm), or the peak is set too low; R still compares backends on the same problem.";

std::string above_peak_notes(const std::vector<Result>& results) {
  std::string lines;
  for (const Result& r : results) {
    if (!above_peak(r)) continue;
    lines += fmt::format("  {} on {} ({:.1f}%): {}\n", describe(r.problem), r.backend, *r.percent_of_peak,
                         above_peak_reason(r));
  }
  return lines.empty() ? "" : std::string(kAbovePeakMeaning) + "\n" + lines;
}

std::string percent_of_peak_cell(const Result& r) {
  if (!r.percent_of_peak) return "-";
  return fmt::format("{:.1f}{}", *r.percent_of_peak, above_peak(r) ? "*" : "");
}

std::string collectives_table(const std::vector<Result>& results) {
  std::string rows;
  for (const Result& r : results) {
    const auto* c = std::get_if<CollectiveProblem>(&r.problem);
    if (!c || r.status == ResultStatus::skipped) continue;
    const std::string verified = r.status == ResultStatus::ok ? "yes" : std::string(to_string(r.status));
    if (!r.measurement || r.status != ResultStatus::ok) {
      rows += fmt::format("{:<15} {:<5} {:>10} {:>5} {:>10} {:>12} {:>12}  {}\n", to_string(c->op), to_string(c->dtype),
                          format_message_size(c->bytes), c->ranks, "-", "-", "-", verified);
      continue;
    }
    const double busbw = r.rate_bytes_per_s * bus_bandwidth_factor(c->op, c->ranks);
    rows += fmt::format("{:<15} {:<5} {:>10} {:>5} {:>10} {:>12} {:>12}  {}\n", to_string(c->op), to_string(c->dtype),
                        format_message_size(c->bytes), c->ranks, format_duration_ms(r.measurement->stats.median_ms),
                        format_bandwidth(r.rate_bytes_per_s), format_bandwidth(busbw), verified);
  }
  if (rows.empty()) return {};
  return fmt::format("{:<15} {:<5} {:>10} {:>5} {:>10} {:>12} {:>12}  {}\n", "collective", "dtype", "size", "ranks",
                     "time", "algbw", "busbw", "verified") +
         rows;
}

std::string result_table_header(const TableWidths& widths) {
  return fmt::format("{:<{}} {:<{}} {:>10} {:>7} {:>14} {:>7}  {}\n", "problem", widths.problem, "backend",
                     widths.backend, "median", "noise", "rate R", "% peak", "status");
}

std::string ok_status(const Result& r) {
  const Measurement& m = *r.measurement;
  std::vector<std::string> notes;
  if (std::string note = stop_note(m.stop_reason); !note.empty()) notes.push_back(note);
  if (r.verification.sampled) notes.push_back(fmt::format("{} sampled", r.verification.elements_checked));
  if (m.retakes > 0) notes.push_back(fmt::format("retaken {}x", m.retakes));
  if (const std::vector<std::string> slowed = slowdowns_seen(m); !slowed.empty()) {
    notes.push_back(fmt::format("slowed: {}", fmt::join(slowed, " ")));
  }
  const std::string word = m.stats.relative_noise > kNoisyAboveRelativeNoise ? "noisy" : "ok";
  return notes.empty() ? word : fmt::format("{} ({})", word, fmt::join(notes, ", "));
}

std::string result_table_row(const Result& r, const TableWidths& widths) {
  const std::string problem = describe(r.problem);
  if (r.status != ResultStatus::ok) {
    return fmt::format("{:<{}} {:<{}} {:>10} {:>7} {:>14} {:>7}  {}: {}\n", problem, widths.problem, r.backend,
                       widths.backend, "-", "-", "-", "-", to_string(r.status), r.reason);
  }
  const SampleStats& s = r.measurement->stats;
  const std::string peak = percent_of_peak_cell(r);
  return fmt::format("{:<{}} {:<{}} {:>10} {:>6.1f}% {:>14} {:>7}  {}\n", problem, widths.problem, r.backend,
                     widths.backend, format_duration_ms(s.median_ms), 100 * s.relative_noise,
                     format_work_rate(r.problem, work_rate_per_s(r)), peak, ok_status(r));
}

std::string ratio_table(const std::vector<RatioRow>& rows, const std::vector<RatioSummary>& summaries) {
  if (rows.empty()) return "no custom/vendor pairs with verified results on both sides\n";
  std::vector<Problem> problems;
  std::vector<std::string> customs, vendors;
  for (const RatioRow& row : rows) {
    problems.push_back(row.problem);
    customs.push_back(row.custom_backend);
    vendors.push_back(row.vendor_backend);
  }
  const TableWidths widths = table_widths(problems, customs);
  const size_t vendor_width = widest(10, vendors);
  std::string out = fmt::format("{:<{}} {:<{}} {:<{}} {:>14} {:>14} {:>8}\n", "problem", widths.problem, "custom",
                                widths.backend, "vendor", vendor_width, "custom R", "vendor R", "ratio");
  for (const RatioRow& row : rows) {
    out += fmt::format("{:<{}} {:<{}} {:<{}} {:>14} {:>14} {:>8.3f}\n", describe(row.problem), widths.problem,
                       row.custom_backend, widths.backend, row.vendor_backend, vendor_width,
                       format_work_rate(row.problem, row.custom_rate_per_s),
                       format_work_rate(row.problem, row.vendor_rate_per_s), row.ratio);
  }
  out += fmt::format("\n{:<40} {:>5} {:>8} {:>8} {:>8} {:>8}  {}\n", "custom/best vendor by kind", "n", "geomean",
                     "median", "min", "max", "best vendor (problems)");
  for (const RatioSummary& s : summaries) {
    out += fmt::format("{:<40} {:>5} {:>8.3f} {:>8.3f} {:>8.3f} {:>8.3f}  {}\n", s.group, s.count, s.geomean,
                       s.median, s.min, s.max, s.vendors);
  }
  return out;
}

}  // namespace trainrate
