#include "reports/table.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>

namespace trainrate {

namespace {

constexpr int kProblemWidth = 46;
constexpr int kBackendWidth = 18;

std::string three_digits(double value) {
  if (value >= 100) return fmt::format("{:.0f}", value);
  if (value >= 10) return fmt::format("{:.1f}", value);
  return fmt::format("{:.2f}", value);
}

std::string clip(const std::string& text, size_t width) {
  return text.size() <= width ? text : text.substr(0, width - 1) + "~";
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

std::string format_duration_ms(double ms) {
  if (ms >= 1000) return fmt::format("{} s", three_digits(ms / 1000));
  if (ms >= 1) return fmt::format("{} ms", three_digits(ms));
  return fmt::format("{} us", three_digits(ms * 1000));
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

std::string result_table_header() {
  return fmt::format("{:<{}} {:<{}} {:>10} {:>7} {:>14} {:>7}  {}\n", "problem", kProblemWidth, "backend",
                     kBackendWidth, "median", "noise", "rate R", "% peak", "status");
}

std::string result_table_row(const Result& r) {
  const std::string problem = clip(describe(r.problem), kProblemWidth);
  const std::string backend = clip(r.backend, kBackendWidth);
  if (r.status != ResultStatus::ok) {
    return fmt::format("{:<{}} {:<{}} {:>10} {:>7} {:>14} {:>7}  {}: {}\n", problem, kProblemWidth, backend,
                       kBackendWidth, "-", "-", "-", "-", to_string(r.status), r.reason);
  }
  const SampleStats& s = r.measurement->stats;
  const std::string peak = percent_of_peak_cell(r);
  const std::string verified = r.verification.sampled
                                   ? fmt::format("ok ({} sampled)", r.verification.elements_checked)
                                   : std::string("ok");
  return fmt::format("{:<{}} {:<{}} {:>10} {:>6.1f}% {:>14} {:>7}  {}\n", problem, kProblemWidth, backend,
                     kBackendWidth, format_duration_ms(s.median_ms), 100 * s.relative_noise,
                     format_rate(r.rate_flops_per_s), peak, verified);
}

std::string ratio_table(const std::vector<RatioRow>& rows, const std::vector<RatioSummary>& summaries) {
  if (rows.empty()) return "no custom/vendor pairs with verified results on both sides\n";
  std::string out = fmt::format("{:<{}} {:<{}} {:<10} {:>14} {:>14} {:>8}\n", "problem", kProblemWidth, "custom",
                                kBackendWidth, "vendor", "custom R", "vendor R", "ratio");
  for (const RatioRow& row : rows) {
    out += fmt::format("{:<{}} {:<{}} {:<10} {:>14} {:>14} {:>8.3f}\n", clip(describe(row.problem), kProblemWidth),
                       kProblemWidth, clip(row.custom_backend, kBackendWidth), kBackendWidth, row.vendor_backend,
                       format_rate(row.custom_flops_per_s), format_rate(row.vendor_flops_per_s), row.ratio);
  }
  out += fmt::format("\n{:<40} {:>5} {:>8} {:>8} {:>8} {:>8}\n", "custom/vendor by kind", "n", "geomean", "median",
                     "min", "max");
  for (const RatioSummary& s : summaries) {
    out += fmt::format("{:<40} {:>5} {:>8.3f} {:>8.3f} {:>8.3f} {:>8.3f}\n", s.group, s.count, s.geomean, s.median,
                       s.min, s.max);
  }
  return out;
}

}  // namespace trainrate
