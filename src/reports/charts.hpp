// The report's charts, each a self-contained inline SVG built from plain numbers.
//
// Charts know nothing about results files: the report model hands them labelled values, so
// each chart can be tested (and reused by the fleet report) on its own.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace trainrate::reports {

// Grouped horizontal bars: one group per category (shape), one bar per series (backend).
struct BarSeries {
  std::string name;
  std::vector<std::optional<double>> values;  // one per category; empty = no bar
  std::vector<std::string> notes;             // optional, per category: shown where there is no bar ("INVALID")
};
std::string grouped_bar_chart(const std::string& title, const std::vector<std::string>& categories,
                              const std::vector<BarSeries>& series);

// One bar per category from 0 to its ratio, with the 1.0 (parity) line drawn across;
// `axis_label` says what the ratio is ("custom R / vendor R (above 1.0: ours is faster)").
std::string ratio_chart(const std::string& title, const std::vector<std::string>& categories,
                        const std::vector<double>& ratios, const std::string& axis_label);

// Roofline on log-log axes: x = arithmetic intensity (FLOP/byte), y = attained FLOP/s.
struct RooflineCeiling {
  std::string label;                   // "fp32 datasheet", "fp32 measured"
  double flops_per_s = 0;
  std::optional<double> bytes_per_s;   // the sloped memory roof; absent = flat roof only
  bool measured = false;               // measured ceilings are drawn dashed
};
struct RooflinePoint {
  std::string series;  // backend: coloured by its index in `series` (as in the bar chart)
  std::string label;   // shape, shown as a tooltip
  double intensity = 0;
  double flops_per_s = 0;
};
std::string roofline_chart(const std::string& title, const std::vector<RooflineCeiling>& ceilings,
                           const std::vector<std::string>& series, const std::vector<RooflinePoint>& points);

// Predicted training time, old (vendor) and new (custom) side by side per network, with the time
// reduction and the speed-up ratio written next to each pair. Networks differ by orders of
// magnitude, so each pair is scaled to its own longer time; the labels carry the absolute times.
struct TimePair {
  std::string network;
  std::string old_label, new_label;  // backend names
  double old_seconds = 0, new_seconds = 0;
};
std::string training_time_chart(const std::string& title, const std::vector<TimePair>& pairs);

// The colour used for the i-th series, shared by every chart and the HTML legend.
std::string series_colour(size_t index);

}  // namespace trainrate::reports
