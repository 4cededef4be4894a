// Console tables: the results of a run, row by row as they finish, and the custom/vendor ratios.
#pragma once

#include <string>
#include <vector>

#include "reports/compare.hpp"
#include "results/result.hpp"

namespace trainrate {

// "74.2 GFLOP/s", "312 TFLOP/s": three significant digits, unit chosen by magnitude.
std::string format_rate(double flops_per_s);
// "0.512 ms", "12.3 us", "1.25 s".
std::string format_duration_ms(double ms);

std::string result_table_header();
std::string result_table_row(const Result& result);

std::string ratio_table(const std::vector<RatioRow>& rows, const std::vector<RatioSummary>& summaries);

}  // namespace trainrate
