// A static HTML page for reports: headings, paragraphs, tables and figures, with one built-in
// printable style sheet. No script and nothing fetched: the file is the whole report.
// Every text argument is escaped here; only raw() takes markup (the SVG charts).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace trainrate::reports {

class HtmlPage {
 public:
  explicit HtmlPage(std::string_view title);

  void heading(int level, std::string_view text);
  void paragraph(std::string_view text);
  void list(const std::vector<std::string>& items);
  // The first `left_aligned` columns are text; the rest are numbers, right-aligned.
  // Cells reading INVALID, FAILED, SLOW... or ERRORS... are highlighted, skipped greyed. `css_class` may be empty.
  void table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows,
             size_t left_aligned, std::string_view css_class);
  void raw(std::string_view markup);

  std::string finish() const;

 private:
  std::string title_;
  std::string body_;
};

// A chart with its caption, kept on one printed page.
std::string figure(std::string_view svg, std::string_view caption);

}  // namespace trainrate::reports
