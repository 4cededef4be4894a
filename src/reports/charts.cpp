#include "reports/charts.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>

#include "reports/svg.hpp"
#include "reports/table.hpp"
#include "reports/text.hpp"

namespace trainrate::reports {

namespace {

constexpr double kWidth = 900;
constexpr double kTitleHeight = 28;
constexpr double kCharWidth = 6.2;  // average width of an 11 px sans-serif character, for label margins
constexpr const char* kAxisStyle = "stroke=\"#444444\" stroke-width=\"1\"";
constexpr const char* kGridStyle = "stroke=\"#dddddd\" stroke-width=\"1\"";
constexpr const char* kSmallText = "font-size=\"10\" fill=\"#333333\"";
constexpr const char* kLabelText = "font-size=\"11\" fill=\"#222222\"";

// A "nice" axis maximum (1, 2, 2.5 or 5 times a power of ten) at or above `value`, and its tick step.
struct LinearAxis {
  double max = 1, step = 0.2;
};
LinearAxis nice_axis(double value) {
  if (!(value > 0) || !std::isfinite(value)) return {};
  const double raw_step = value / 5;
  const double power = std::pow(10.0, std::floor(std::log10(raw_step)));
  for (const double multiple : {1.0, 2.0, 2.5, 5.0, 10.0}) {
    const double step = multiple * power;
    if (step * 5 >= value * (1 - 1e-12)) return {step * 5, step};
  }
  return {power * 50, power * 10};
}

double label_margin(const std::vector<std::string>& labels) {
  size_t longest = 0;
  for (const auto& label : labels) longest = std::max(longest, label.size());
  return std::clamp(double(longest) * kCharWidth + 16, 80.0, 380.0);
}

void draw_title(Svg& svg, const std::string& title) {
  svg.text(12, 18, title, "start", "font-size=\"14\" font-weight=\"bold\" fill=\"#111111\"");
}

// Legend swatches laid out left to right, wrapping; returns the height used.
double draw_legend(Svg& svg, double top, const std::vector<std::string>& names) {
  double x = 12, y = top;
  for (size_t i = 0; i < names.size(); ++i) {
    const double item_width = 24 + double(names[i].size()) * kCharWidth + 14;
    if (x + item_width > kWidth - 12 && x > 12) {
      x = 12;
      y += 18;
    }
    svg.rect(x, y, 12, 12, fmt::format("fill=\"{}\"", series_colour(i)));
    svg.text(x + 16, y + 10, names[i], "start", kLabelText);
    x += item_width;
  }
  return names.empty() ? 0 : y - top + 22;
}

// Vertical grid lines and tick labels of a linear value axis along the bottom of a plot.
void draw_linear_axis(Svg& svg, double left, double right, double top, double bottom, const LinearAxis& axis,
                      const std::function<std::string(double)>& label) {
  for (double tick = 0; tick <= axis.max * (1 + 1e-9); tick += axis.step) {
    const double x = left + (right - left) * tick / axis.max;
    svg.line(x, top, x, bottom, kGridStyle);
    svg.text(x, bottom + 14, label(tick), "middle", kSmallText);
  }
  svg.line(left, top, left, bottom, kAxisStyle);
  svg.line(left, bottom, right, bottom, kAxisStyle);
}

}  // namespace

std::string series_colour(size_t index) {
  // Colour-blind-safe palette (Okabe & Ito), then darker variants.
  static constexpr std::array<const char*, 10> kPalette{"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9",
                                                        "#D55E00", "#F0E442", "#000000", "#7F7F7F", "#8C564B"};
  return kPalette[index % kPalette.size()];
}

std::string grouped_bar_chart(const std::string& title, const std::vector<std::string>& categories,
                              const std::vector<BarSeries>& series) {
  constexpr double kBar = 12, kGap = 10, kRightMargin = 90;
  const double left = label_margin(categories);
  const double right = kWidth - kRightMargin;
  double max_value = 0;
  for (const auto& s : series) {
    for (const auto& value : s.values) {
      if (value) max_value = std::max(max_value, *value);
    }
  }
  const LinearAxis axis = nice_axis(max_value);
  std::vector<std::string> names;
  for (const auto& s : series) names.push_back(s.name);

  // Lay out once to know the height, then draw.
  Svg measure_only(kWidth, 10, title);
  const double legend_height = draw_legend(measure_only, 0, names);
  const double top = kTitleHeight + legend_height + 6;
  const double group = double(std::max<size_t>(series.size(), 1)) * kBar + kGap;
  const double bottom = top + group * double(categories.size()) + 4;
  Svg svg(kWidth, bottom + 34, title);
  draw_title(svg, title);
  draw_legend(svg, kTitleHeight, names);
  draw_linear_axis(svg, left, right, top, bottom, axis, [](double v) { return format_rate(v); });
  for (size_t c = 0; c < categories.size(); ++c) {
    const double group_top = top + 4 + group * double(c);
    svg.text(left - 6, group_top + group / 2 - 2, categories[c], "end", kLabelText);
    for (size_t s = 0; s < series.size(); ++s) {
      const double y = group_top + kBar * double(s);
      const auto value = c < series[s].values.size() ? series[s].values[c] : std::nullopt;
      if (!value) {
        if (c < series[s].notes.size() && !series[s].notes[c].empty()) {
          svg.text(left + 4, y + kBar - 3, series[s].name + ": " + series[s].notes[c], "start", kSmallText);
        }
        continue;
      }
      const double length = (right - left) * *value / axis.max;
      svg.begin_group(fmt::format("{} / {}: {}", categories[c], series[s].name, format_rate(*value)));
      svg.rect(left, y, length, kBar - 2, fmt::format("fill=\"{}\"", series_colour(s)));
      svg.text(left + length + 4, y + kBar - 3, format_rate(*value), "start", kSmallText);
      svg.end_group();
    }
  }
  svg.text((left + right) / 2, bottom + 30, "attained rate R (FLOP/s), higher is better", "middle", kSmallText);
  return svg.finish();
}

std::string ratio_chart(const std::string& title, const std::vector<std::string>& categories,
                        const std::vector<double>& ratios, const std::string& axis_label) {
  constexpr double kBar = 14, kGap = 6, kRightMargin = 80;
  const double left = label_margin(categories);
  const double right = kWidth - kRightMargin;
  double max_ratio = 1.2;
  for (const double ratio : ratios) max_ratio = std::max(max_ratio, ratio * 1.05);
  const LinearAxis axis = nice_axis(max_ratio);
  const double top = kTitleHeight + 8;
  const double bottom = top + (kBar + kGap) * double(categories.size()) + 4;
  Svg svg(kWidth, bottom + 34, title);
  draw_title(svg, title);
  draw_linear_axis(svg, left, right, top, bottom, axis, [](double v) { return fmt::format("{:.2g}", v); });
  for (size_t c = 0; c < categories.size() && c < ratios.size(); ++c) {
    const double y = top + 4 + (kBar + kGap) * double(c);
    const double length = (right - left) * ratios[c] / axis.max;
    svg.text(left - 6, y + kBar - 3, categories[c], "end", kLabelText);
    svg.begin_group(fmt::format("{}: {}", categories[c], format_ratio(ratios[c])));
    svg.rect(left, y, length, kBar, ratios[c] >= 1 ? "fill=\"#009E73\"" : "fill=\"#D55E00\"");
    svg.text(right + 8, y + kBar - 3, format_ratio(ratios[c]), "start", kSmallText);
    svg.end_group();
  }
  const double parity = left + (right - left) / axis.max;
  svg.line(parity, top - 4, parity, bottom, "stroke=\"#111111\" stroke-width=\"1.5\" stroke-dasharray=\"5,3\"");
  svg.text(parity, top - 6, "1.0 = parity", "middle", kSmallText);
  svg.text((left + right) / 2, bottom + 30, axis_label, "middle", kSmallText);
  return svg.finish();
}

std::string roofline_chart(const std::string& title, const std::vector<RooflineCeiling>& ceilings,
                           const std::vector<std::string>& series, const std::vector<RooflinePoint>& points) {
  constexpr double kLeft = 90, kRight = 640, kTop = kTitleHeight + 12, kBottom = 440;
  if (points.empty() && ceilings.empty()) {
    Svg svg(kWidth, 60, title);
    draw_title(svg, title);
    svg.text(12, 44, "no successful results and no known peaks: nothing to draw", "start", kLabelText);
    return svg.finish();
  }
  // Axis ranges in decades, wide enough for every point and every ridge point.
  double x_low = 1e300, x_high = 0, y_low = 1e300, y_high = 0;
  for (const auto& p : points) {
    x_low = std::min(x_low, p.intensity);
    x_high = std::max(x_high, p.intensity);
    y_low = std::min(y_low, p.flops_per_s);
    y_high = std::max(y_high, p.flops_per_s);
  }
  for (const auto& c : ceilings) {
    y_high = std::max(y_high, c.flops_per_s);
    if (c.bytes_per_s && *c.bytes_per_s > 0) {
      const double ridge = c.flops_per_s / *c.bytes_per_s;
      x_low = std::min(x_low, ridge / 4);
      x_high = std::max(x_high, ridge * 4);
    }
  }
  if (x_high <= 0) x_low = 0.1, x_high = 100;
  if (y_low > y_high) y_low = y_high / 100;
  const double x_min = std::floor(std::log10(x_low)), x_max = std::max(x_min + 1, std::ceil(std::log10(x_high)));
  double y_min = std::floor(std::log10(y_low / 2));
  const double y_max = std::ceil(std::log10(y_high * 1.2));
  y_min = std::clamp(y_min, y_max - 6, y_max - 1);
  const auto px = [&](double intensity) { return kLeft + (kRight - kLeft) * (std::log10(intensity) - x_min) / (x_max - x_min); };
  const auto py = [&](double rate) { return kBottom - (kBottom - kTop) * (std::log10(rate) - y_min) / (y_max - y_min); };

  Svg svg(kWidth, kBottom + 50, title);
  draw_title(svg, title);
  for (double d = x_min; d <= x_max; d += 1) {
    const double x = px(std::pow(10.0, d));
    svg.line(x, kTop, x, kBottom, kGridStyle);
    svg.text(x, kBottom + 14, format_number(std::pow(10.0, d)), "middle", kSmallText);
  }
  for (double d = y_min; d <= y_max; d += 1) {
    const double y = py(std::pow(10.0, d));
    svg.line(kLeft, y, kRight, y, kGridStyle);
    svg.text(kLeft - 6, y + 3, format_rate(std::pow(10.0, d)), "end", kSmallText);
    // Minor lines at 2..9 × the decade; labelled at 2 and 5 when few decades leave room.
    for (int m = 2; m <= 9 && d < y_max; ++m) {
      const double minor = py(m * std::pow(10.0, d));
      svg.line(kLeft, minor, kRight, minor, "stroke=\"#f0f0f0\" stroke-width=\"1\"");
      if ((m == 2 || m == 5) && y_max - y_min <= 2) {
        svg.text(kLeft - 6, minor + 3, format_rate(m * std::pow(10.0, d)), "end", kSmallText);
      }
    }
  }
  svg.line(kLeft, kTop, kLeft, kBottom, kAxisStyle);
  svg.line(kLeft, kBottom, kRight, kBottom, kAxisStyle);
  svg.text((kLeft + kRight) / 2, kBottom + 32, "arithmetic intensity (FLOP per byte of minimum traffic), log scale",
           "middle", kSmallText);

  // Ceilings: min(peak, intensity × bandwidth), clipped to the plot.
  const double lowest_rate = std::pow(10.0, y_min), x_left = std::pow(10.0, x_min), x_right = std::pow(10.0, x_max);
  double label_y = kTop + 4;
  for (const auto& c : ceilings) {
    if (!(c.flops_per_s > 0)) continue;
    std::string polyline;
    if (c.bytes_per_s && *c.bytes_per_s > 0) {
      const double start = std::clamp(lowest_rate / *c.bytes_per_s, x_left, x_right);
      const double ridge = std::clamp(c.flops_per_s / *c.bytes_per_s, start, x_right);
      polyline = fmt::format("{},{} {},{} ", svg_number(px(start)), svg_number(py(std::min(c.flops_per_s, start * *c.bytes_per_s))),
                             svg_number(px(ridge)), svg_number(py(c.flops_per_s)));
    } else {
      polyline = fmt::format("{},{} ", svg_number(px(x_left)), svg_number(py(c.flops_per_s)));
    }
    polyline += fmt::format("{},{}", svg_number(px(x_right)), svg_number(py(c.flops_per_s)));
    const std::string style = c.measured ? "stroke=\"#555555\" stroke-width=\"1.5\" stroke-dasharray=\"6,4\""
                                         : "stroke=\"#111111\" stroke-width=\"2\"";
    std::string description = fmt::format("{}: {}", c.label, format_rate(c.flops_per_s));
    if (c.bytes_per_s) description += fmt::format(", {:.3g} GB/s", *c.bytes_per_s / 1e9);
    svg.begin_group(description);
    svg.polyline(polyline, style);
    svg.end_group();
    svg.line(kRight + 12, label_y, kRight + 36, label_y, style);
    svg.text(kRight + 40, label_y + 4, description, "start", kSmallText);
    label_y += 16;
  }
  label_y += 8;
  for (size_t s = 0; s < series.size(); ++s) {
    svg.circle(kRight + 24, label_y, 4, fmt::format("fill=\"{}\"", series_colour(s)));
    svg.text(kRight + 40, label_y + 4, series[s], "start", kLabelText);
    label_y += 16;
  }
  for (const auto& p : points) {
    if (!(p.intensity > 0) || !(p.flops_per_s > 0)) continue;
    const size_t s = size_t(std::find(series.begin(), series.end(), p.series) - series.begin());  // unknown: last colour
    svg.begin_group(fmt::format("{} / {}: {} at {:.3g} FLOP/byte", p.label, p.series, format_rate(p.flops_per_s),
                                p.intensity));
    svg.circle(px(p.intensity), py(std::max(p.flops_per_s, lowest_rate)), 4,
               fmt::format("fill=\"{}\" fill-opacity=\"0.8\" stroke=\"#ffffff\" stroke-width=\"0.5\"", series_colour(s)));
    svg.end_group();
  }
  return svg.finish();
}

std::string training_time_chart(const std::string& title, const std::vector<TimePair>& pairs) {
  constexpr double kBar = 14, kGap = 14, kRightMargin = 330;
  std::vector<std::string> networks;
  for (const auto& p : pairs) networks.push_back(p.network);
  const double left = std::max(label_margin(networks), 120.0);
  const double right = kWidth - kRightMargin;
  const double top = kTitleHeight + 8;
  const double group = 2 * kBar + kGap;
  const double bottom = top + group * double(pairs.size());
  Svg svg(kWidth, bottom + 26, title);
  draw_title(svg, title);
  svg.line(left, top, left, bottom, kAxisStyle);
  for (size_t i = 0; i < pairs.size(); ++i) {
    const auto& p = pairs[i];
    const double y = top + 4 + group * double(i);
    const double longest = std::max(p.old_seconds, p.new_seconds);
    svg.text(left - 6, y + kBar + 2, p.network, "end", "font-size=\"11\" font-weight=\"bold\" fill=\"#222222\"");
    const std::array<std::pair<const std::string*, double>, 2> bars{{{&p.old_label, p.old_seconds}, {&p.new_label, p.new_seconds}}};
    for (size_t b = 0; b < bars.size(); ++b) {
      const double length = longest > 0 ? (right - left) * bars[b].second / longest : 0;
      const double bar_y = y + kBar * double(b);
      svg.begin_group(fmt::format("{} on {}: {}", p.network, *bars[b].first, format_duration(bars[b].second)));
      svg.rect(left, bar_y, length, kBar - 2, b == 0 ? "fill=\"#7F7F7F\"" : "fill=\"#0072B2\"");
      svg.text(right + 8, bar_y + kBar - 4, fmt::format("{} {}", *bars[b].first, format_duration(bars[b].second)),
               "start", kSmallText);
      svg.end_group();
    }
    if (p.old_seconds > 0 && p.new_seconds > 0) {
      const double reduction = (p.old_seconds - p.new_seconds) / p.old_seconds;
      svg.text(right + 170, y + kBar - 3, fmt::format("time reduction {:.1f}%", 100 * reduction), "start", kLabelText);
      svg.text(right + 170, y + 2 * kBar - 3, fmt::format("speed-up {}", format_ratio(p.old_seconds / p.new_seconds)),
               "start", kLabelText);
    }
  }
  svg.text((left + right) / 2, bottom + 18,
           "predicted training time, lower is better (grey: vendor, blue: custom); each pair scaled to its longer time",
           "middle", kSmallText);
  return svg.finish();
}

}  // namespace trainrate::reports
