#include "reports/html_page.hpp"

#include <fmt/format.h>

#include "reports/text.hpp"

namespace trainrate::reports {

namespace {

constexpr const char* kStyle = R"(
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: #1a1a1a; background: #ffffff; margin: 2em auto; max-width: 1100px; padding: 0 1em; line-height: 1.45; }
h1 { font-size: 1.7em; border-bottom: 2px solid #0072B2; padding-bottom: 0.2em; }
h2 { font-size: 1.3em; margin-top: 1.8em; border-bottom: 1px solid #cccccc; }
h3 { font-size: 1.05em; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.85em; }
th, td { border: 1px solid #d0d0d0; padding: 0.25em 0.5em; vertical-align: top; }
th { background: #f0f4f8; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.bad { background: #fde8e4; color: #8a1c00; font-weight: bold; }
td.skip { background: #f3f3f3; color: #555555; }
table.environment td:first-child { white-space: nowrap; color: #444444; }
figure { margin: 1.2em 0; }
figcaption { font-size: 0.85em; color: #444444; margin-top: 0.3em; }
svg.chart { max-width: 100%; height: auto; display: block; font-family: inherit; }
ul li { margin: 0.25em 0; }
@page { size: A4 landscape; margin: 12mm; }
@media print {
  body { margin: 0; max-width: none; font-size: 10pt; }
  h2, h3 { break-after: avoid; page-break-after: avoid; }
  figure, tr { break-inside: avoid; page-break-inside: avoid; }
  th { background: #eeeeee; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  svg.chart { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
)";

}  // namespace

HtmlPage::HtmlPage(std::string_view title) : title_(title) { heading(1, title); }

void HtmlPage::heading(int level, std::string_view text) {
  body_ += fmt::format("<h{0}>{1}</h{0}>\n", level, escape_html(text));
}

void HtmlPage::paragraph(std::string_view text) { body_ += fmt::format("<p>{}</p>\n", escape_html(text)); }

void HtmlPage::list(const std::vector<std::string>& items) {
  body_ += "<ul>\n";
  for (const auto& item : items) body_ += fmt::format("<li>{}</li>\n", escape_html(item));
  body_ += "</ul>\n";
}

void HtmlPage::table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows,
                     size_t left_aligned, std::string_view css_class) {
  body_ += css_class.empty() ? "<table>\n" : fmt::format("<table class=\"{}\">\n", escape_html(css_class));
  body_ += "<thead><tr>";
  for (const auto& cell : header) body_ += fmt::format("<th>{}</th>", escape_html(cell));
  body_ += "</tr></thead>\n<tbody>\n";
  for (const auto& row : rows) {
    body_ += "<tr>";
    for (size_t i = 0; i < row.size(); ++i) {
      std::string cls = i < left_aligned ? "" : "num";
      if (row[i] == "INVALID" || row[i] == "FAILED" || row[i].starts_with("SLOW") || row[i].starts_with("ERRORS")) {
        cls = "bad";
      }
      if (row[i] == "skipped") cls = "skip";
      body_ += cls.empty() ? fmt::format("<td>{}</td>", escape_html(row[i]))
                           : fmt::format("<td class=\"{}\">{}</td>", cls, escape_html(row[i]));
    }
    body_ += "</tr>\n";
  }
  body_ += "</tbody>\n</table>\n";
}

void HtmlPage::raw(std::string_view markup) { body_ += markup; }

std::string HtmlPage::finish() const {
  return fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<title>{}</title>\n<style>{}</style>\n</head>\n<body>\n{}</body>\n</html>\n",
      escape_html(title_), kStyle, body_);
}

std::string figure(std::string_view svg, std::string_view caption) {
  return fmt::format("<figure>\n{}<figcaption>{}</figcaption>\n</figure>\n", svg, escape_html(caption));
}

}  // namespace trainrate::reports
