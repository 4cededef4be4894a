// A tiny SVG writer: the handful of elements the report charts draw, with every piece of text
// escaped and every coordinate printed with one decimal, so the same data gives the same bytes.
#pragma once

#include <string>
#include <string_view>

namespace trainrate::reports {

class Svg {
 public:
  // `title` becomes the accessible name (aria-label and <title>) of the chart.
  Svg(double width, double height, std::string_view title);

  // `style` is a literal attribute list chosen by the caller (fill, stroke, class...), never user text.
  void rect(double x, double y, double width, double height, std::string_view style);
  void line(double x1, double y1, double x2, double y2, std::string_view style);
  void circle(double cx, double cy, double r, std::string_view style);
  // `points` is "x,y x,y ..." built by the caller from numbers.
  void polyline(std::string_view points, std::string_view style);
  // anchor: "start", "middle" or "end". `text` is escaped here.
  void text(double x, double y, std::string_view text, std::string_view anchor = "start",
            std::string_view style = "");
  // A tooltip-bearing group around the next elements: opened with the (escaped) tooltip text.
  void begin_group(std::string_view tooltip);
  void end_group();

  std::string finish() const;

 private:
  double width_, height_;
  std::string title_;
  std::string body_;
};

// One decimal, "-0.0" avoided: the number format of every SVG coordinate.
std::string svg_number(double value);

}  // namespace trainrate::reports
