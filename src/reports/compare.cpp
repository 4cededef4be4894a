#include "reports/compare.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

namespace trainrate {

namespace {

// A framework view (onednn-plain) is never the bar: our kernels are held to the vendor at its best.
bool compared_with(const Result& custom, const Result& vendor) {
  if (vendor.role != "vendor" || vendor.view == RateView::framework) return false;
  if (vendor.status != ResultStatus::ok || work_rate_per_s(vendor) <= 0) return false;
  if (vendor.device != custom.device || !(vendor.problem == custom.problem)) return false;
  const auto& named = custom.compared_with;
  return named.empty() || std::find(named.begin(), named.end(), vendor.backend) != named.end();
}

void mark_best_vendor(std::vector<RatioRow>& rows, size_t first) {
  if (first == rows.size()) return;
  auto best = std::max_element(rows.begin() + ptrdiff_t(first), rows.end(), [](const RatioRow& a, const RatioRow& b) {
    return a.vendor_rate_per_s < b.vendor_rate_per_s;
  });
  best->best_vendor = true;
}

}  // namespace

std::vector<RatioRow> custom_vendor_ratios(const ResultsFile& file) {
  std::vector<RatioRow> rows;
  for (const Result& custom : file.results) {
    if (custom.role != "custom" || custom.status != ResultStatus::ok) continue;
    const size_t first = rows.size();
    for (const Result& vendor : file.results) {
      if (!compared_with(custom, vendor)) continue;
      const double custom_rate = work_rate_per_s(custom), vendor_rate = work_rate_per_s(vendor);
      rows.push_back(RatioRow{custom.problem, custom.device, custom.backend, vendor.backend, custom_rate, vendor_rate,
                              custom_rate / vendor_rate});
    }
    mark_best_vendor(rows, first);
  }
  return rows;
}

double geomean(const std::vector<double>& values) {
  if (values.empty()) return 0;
  double log_sum = 0;
  for (double v : values) log_sum += std::log(v);
  return std::exp(log_sum / double(values.size()));
}

double median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

std::vector<RatioSummary> summarize_ratios(const std::vector<RatioRow>& rows) {
  struct Group {
    std::vector<double> ratios;
    std::map<std::string, int> best_vendors;
  };
  std::map<std::string, Group> groups;
  for (const RatioRow& row : rows) {
    if (!row.best_vendor) continue;
    Group& group = groups[kind_label(row.problem) + " " + row.custom_backend];
    group.ratios.push_back(row.ratio);
    ++group.best_vendors[row.vendor_backend];
  }
  std::vector<RatioSummary> summaries;
  for (const auto& [name, group] : groups) {
    std::string vendors;
    for (const auto& [vendor, count] : group.best_vendors) {
      vendors += fmt::format("{}{} {}", vendors.empty() ? "" : ", ", vendor, count);
    }
    const auto& r = group.ratios;
    summaries.push_back(RatioSummary{name, vendors, int64_t(r.size()), geomean(r), median(r),
                                     *std::min_element(r.begin(), r.end()), *std::max_element(r.begin(), r.end())});
  }
  return summaries;
}

}  // namespace trainrate
