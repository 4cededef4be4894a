// Text for reports: escaping for each output format and the number formats every report shares.
//
// Everything a report prints goes through these, so HTML, SVG, Markdown and CSV agree on how a
// rate or a time looks, and no user-supplied text (host names, backend names, reasons) reaches
// HTML or SVG unescaped.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace trainrate::reports {

// Escapes & < > " ' so the result is safe in HTML/SVG text and in double- or single-quoted attributes.
std::string escape_html(std::string_view text);
// A CSV field (RFC 4180): quoted, with quotes doubled, when it holds a comma, quote or line break.
std::string csv_field(std::string_view text);
// One CSV record: the fields escaped by csv_field, joined by commas, ending in a line feed.
std::string csv_line(const std::vector<std::string>& fields);
// A Markdown table cell: pipes and asterisks escaped (a "*" marks a figure above peak), line breaks turned into spaces.
std::string markdown_cell(std::string_view text);

// One Markdown table line: "| a | b |" with each cell escaped by markdown_cell.
std::string markdown_row(const std::vector<std::string>& cells);
// The line under a Markdown header: the first `left_aligned` columns left-aligned, the rest right-aligned.
std::string markdown_rule(size_t columns, size_t left_aligned);

// Rates are formatted by trainrate::format_rate (reports/table.hpp), shared with the console table.
// Seconds in the most readable unit, up to days (predicted training times): "850 us", "3.38 ms", "12.5 s", "4.20 min", "2.50 h", "3.10 d".
std::string format_duration(double seconds);
// A percentage given in percent (0..100): "93.7%".
std::string format_percent(double percent);
// A ratio: "1.230x", or two significant digits below 0.01 ("0.0023x").
std::string format_ratio(double ratio);
// A plain number with `digits` decimals, for CSV (fixed, locale-independent, deterministic).
std::string format_fixed(double value, int digits);
// For machine-readable output (CSV): the shortest text that reads back as the same double, so no
// precision is lost ("110867123456", "0.1", "30.288908998589562").
std::string format_number(double value);

}  // namespace trainrate::reports
