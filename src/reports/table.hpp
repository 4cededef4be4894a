// Console tables: the results of a run, row by row as they finish, and the custom/vendor ratios.
#pragma once

#include <string>
#include <vector>

#include "reports/compare.hpp"
#include "results/result.hpp"

namespace trainrate {

// "74.2 GFLOP/s", "312 TFLOP/s": three significant digits, unit chosen by magnitude.
std::string format_rate(double flops_per_s);
// Memory-bound rates in decimal bytes/s (GB/s), as bandwidths are quoted.
std::string format_bandwidth(double bytes_per_s);
// A work_rate_per_s in the problem's unit: GB/s for memory-bound problems, FLOP/s otherwise.
std::string format_work_rate(const Problem& problem, double rate_per_s);
// "0.512 ms", "12.3 us", "1.25 s".
std::string format_duration_ms(double ms);

// Column widths of the results table. Names are never cut (fp16 and fp32, avx512 and avx512-bf16
// differ at their ends): a longer name widens its row, so a run sizes the columns to its suite.
struct TableWidths {
  size_t problem = 46;
  size_t backend = 18;
};
TableWidths table_widths(const std::vector<Problem>& problems, const std::vector<std::string>& backends);

std::string result_table_header(const TableWidths& widths = {});
std::string result_table_row(const Result& result, const TableWidths& widths = {});

// The status column of an ok row: "ok", or "noisy" above 5% relative noise, followed by why
// sampling stopped when the noise target did not stop it and by how much of the output was
// verified when only a sample was: "noisy (budget)", "ok (max samples, 512 sampled)".
std::string ok_status(const Result& result);

// A rate above 100% of the device's peak is possible: the conventional FLOP count (problem.hpp)
// includes work a backend may skip. Such a figure is printed with a "*" and a note saying why.
bool above_peak(const Result& result);
// Why this result passes the peak: padding taps (with their share), a fast algorithm, or skipped work.
std::string above_peak_reason(const Result& result);
// What a "*" on a percentage means, said once above the lines that explain each one.
extern const char* const kAbovePeakMeaning;
// The note printed under a table: kAbovePeakMeaning and one line per result above peak; empty if none.
std::string above_peak_notes(const std::vector<Result>& results);
// The "% of peak" a table shows: "93.1", or "252.6*" when above peak.
std::string percent_of_peak_cell(const Result& result);

// Collectives as nccl-tests prints them, one row per ok or failed result: size, time, algbw =
// bytes/time, busbw = algbw · bus_bandwidth_factor, and whether every rank's output verified.
// Empty when there are no collective results.
std::string collectives_table(const std::vector<Result>& results);

std::string ratio_table(const std::vector<RatioRow>& rows, const std::vector<RatioSummary>& summaries);

}  // namespace trainrate
