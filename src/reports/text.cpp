#include "reports/text.hpp"

#include <fmt/format.h>

#include <cmath>

namespace trainrate::reports {

std::string escape_html(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char ch : text) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += ch;
    }
  }
  return out;
}

std::string csv_field(std::string_view text) {
  if (text.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(text);
  std::string out = "\"";
  for (const char ch : text) {
    if (ch == '"') out += '"';
    out += ch;
  }
  return out + "\"";
}

std::string csv_line(const std::vector<std::string>& fields) {
  std::string line;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) line += ',';
    line += csv_field(fields[i]);
  }
  return line + "\n";
}

std::string markdown_cell(std::string_view text) {
  std::string out;
  for (const char ch : text) {
    if (ch == '|' || ch == '*') {
      out += '\\';
      out += ch;
    } else if (ch == '\n' || ch == '\r') {
      out += ' ';
    } else {
      out += ch;
    }
  }
  return out;
}

std::string markdown_row(const std::vector<std::string>& cells) {
  std::string line = "|";
  for (const auto& cell : cells) line += " " + markdown_cell(cell) + " |";
  return line + "\n";
}

std::string markdown_rule(size_t columns, size_t left_aligned) {
  std::string line = "|";
  for (size_t i = 0; i < columns; ++i) line += i < left_aligned ? " --- |" : " ---: |";
  return line + "\n";
}

namespace {

// Three significant digits: 123, 12.3, 1.23.
std::string three_digits(double value) {
  const double magnitude = std::fabs(value);
  if (magnitude >= 99.95) return fmt::format("{:.0f}", value);
  if (magnitude >= 9.995) return fmt::format("{:.1f}", value);
  return fmt::format("{:.2f}", value);
}

}  // namespace

std::string format_duration(double seconds) {
  const double s = std::fabs(seconds);
  if (s < 1e-3 * 0.9995) return three_digits(seconds * 1e6) + " us";
  if (s < 0.9995) return three_digits(seconds * 1e3) + " ms";
  if (s < 59.95) return three_digits(seconds) + " s";
  if (s < 3600 * 0.9995) return three_digits(seconds / 60) + " min";
  if (s < 86400 * 0.9995) return three_digits(seconds / 3600) + " h";
  return three_digits(seconds / 86400) + " d";
}

std::string format_percent(double percent) { return fmt::format("{:.1f}%", percent); }

std::string format_ratio(double ratio) {
  // Three decimals read well around 1.0; far below it they would print as 0.000x.
  if (ratio != 0 && std::fabs(ratio) < 0.01) return fmt::format("{:.2g}x", ratio);
  return fmt::format("{:.3f}x", ratio);
}

std::string format_fixed(double value, int digits) { return fmt::format("{:.{}f}", value, digits); }

std::string format_number(double value) { return fmt::format("{}", value); }

}  // namespace trainrate::reports
