#include "reports/compare.hpp"

#include <algorithm>
#include <cmath>
#include <map>

namespace trainrate {

std::string vendor_backend_for(const Problem& problem, const std::string& device_kind) {
  const bool gemm = std::holds_alternative<GemmProblem>(problem);
  if (device_kind == "cpu") return gemm ? "openblas" : "onednn";
  return gemm ? "cublas" : "cudnn";
}

namespace {

std::string device_kind(const ResultsFile& file, const std::string& device_id) {
  for (const auto& device : file.devices) {
    if (device.id == device_id) return device.kind;
  }
  return device_id.rfind("cuda", 0) == 0 ? "cuda" : "cpu";
}

const Result* find_ok(const ResultsFile& file, const Problem& problem, const std::string& backend,
                      const std::string& device) {
  for (const Result& r : file.results) {
    if (r.status == ResultStatus::ok && r.backend == backend && r.device == device && r.problem == problem) return &r;
  }
  return nullptr;
}

}  // namespace

std::vector<RatioRow> custom_vendor_ratios(const ResultsFile& file) {
  std::vector<RatioRow> rows;
  for (const Result& custom : file.results) {
    if (custom.role != "custom" || custom.status != ResultStatus::ok) continue;
    const std::string vendor = vendor_backend_for(custom.problem, device_kind(file, custom.device));
    const Result* match = find_ok(file, custom.problem, vendor, custom.device);
    if (!match || match->rate_flops_per_s <= 0) continue;
    rows.push_back(RatioRow{custom.problem, custom.device, custom.backend, vendor, custom.rate_flops_per_s,
                            match->rate_flops_per_s, custom.rate_flops_per_s / match->rate_flops_per_s});
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
  std::map<std::string, std::vector<double>> groups;
  for (const RatioRow& row : rows) groups[kind_label(row.problem) + " " + row.custom_backend].push_back(row.ratio);
  std::vector<RatioSummary> summaries;
  for (const auto& [group, ratios] : groups) {
    summaries.push_back(RatioSummary{group, int64_t(ratios.size()), geomean(ratios), median(ratios),
                                     *std::min_element(ratios.begin(), ratios.end()),
                                     *std::max_element(ratios.begin(), ratios.end())});
  }
  return summaries;
}

}  // namespace trainrate
