#include "reports/svg.hpp"

#include <fmt/format.h>

#include "reports/text.hpp"

namespace trainrate::reports {

std::string svg_number(double value) {
  std::string text = fmt::format("{:.1f}", value);
  if (text == "-0.0") text = "0.0";
  return text;
}

Svg::Svg(double width, double height, std::string_view title) : width_(width), height_(height), title_(title) {}

void Svg::rect(double x, double y, double width, double height, std::string_view style) {
  body_ += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" {}/>\n", svg_number(x), svg_number(y),
                       svg_number(width), svg_number(height), style);
}

void Svg::line(double x1, double y1, double x2, double y2, std::string_view style) {
  body_ += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" {}/>\n", svg_number(x1), svg_number(y1),
                       svg_number(x2), svg_number(y2), style);
}

void Svg::circle(double cx, double cy, double r, std::string_view style) {
  body_ += fmt::format("<circle cx=\"{}\" cy=\"{}\" r=\"{}\" {}/>\n", svg_number(cx), svg_number(cy),
                       svg_number(r), style);
}

void Svg::polyline(std::string_view points, std::string_view style) {
  body_ += fmt::format("<polyline points=\"{}\" fill=\"none\" {}/>\n", points, style);
}

void Svg::text(double x, double y, std::string_view text, std::string_view anchor, std::string_view style) {
  body_ += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"{}\"{}{}>{}</text>\n", svg_number(x), svg_number(y),
                       anchor, style.empty() ? "" : " ", style, escape_html(text));
}

void Svg::begin_group(std::string_view tooltip) {
  body_ += fmt::format("<g><title>{}</title>\n", escape_html(tooltip));
}

void Svg::end_group() { body_ += "</g>\n"; }

std::string Svg::finish() const {
  return fmt::format(
      "<svg viewBox=\"0 0 {0} {1}\" width=\"{0}\" height=\"{1}\" "
      "role=\"img\" aria-label=\"{2}\" class=\"chart\">\n<title>{2}</title>\n"
      "<rect x=\"0\" y=\"0\" width=\"{0}\" height=\"{1}\" fill=\"#ffffff\"/>\n{3}</svg>\n",
      svg_number(width_), svg_number(height_), escape_html(title_), body_);
}

}  // namespace trainrate::reports
