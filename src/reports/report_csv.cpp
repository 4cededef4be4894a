// results.csv: one line per result with every number the report uses, for spreadsheets.
#include <fmt/format.h>

#include "reports/report.hpp"
#include "reports/table.hpp"
#include "reports/text.hpp"

namespace trainrate::reports {

namespace {

std::string optional_number(const std::optional<double>& value) { return value ? format_number(*value) : ""; }

}  // namespace

std::string render_csv(const Report& report) {
  std::string csv =
      "source,host,suite,device,device_name,backend,role,problem,pass,dtype,status,rate_flops_per_s,"
      "rate_bytes_per_s,percent_of_peak,median_ms,samples,relative_noise,flops,min_bytes,flop_per_byte,vendor_backend,"
      "custom_vendor_ratio,algorithm,reason,above_peak\n";
  for (const DeviceSection& section : report.sections) {
    for (const ShapeRow& row : section.rows) {
      for (const std::string& backend : section.backends) {
        const auto it = row.by_backend.find(backend);
        if (it == row.by_backend.end()) continue;
        const Result& r = it->second;
        const RatioRow* ratio = nullptr;
        for (const RatioRow& candidate : row.ratios) {
          if (candidate.custom_backend == backend) ratio = &candidate;
        }
        const bool timed = r.status == ResultStatus::ok && r.measurement;
        const Dtype dtype = dtype_of(r.problem);
        const std::vector<std::string> fields{
            section.source, section.host, section.suite, section.device.id, section.device.name, r.backend, r.role,
            row.name, row.kind, std::string(to_string(dtype)), std::string(to_string(r.status)),
            r.status == ResultStatus::ok ? format_number(r.rate_flops_per_s) : "",
            r.status == ResultStatus::ok ? format_number(r.rate_bytes_per_s) : "",
            r.status == ResultStatus::ok ? optional_number(r.percent_of_peak) : "",
            timed ? format_number(r.measurement->stats.median_ms) : "",
            timed ? std::to_string(r.measurement->stats.samples) : "",
            timed ? format_number(r.measurement->stats.relative_noise) : "", format_number(flops(r.problem)),
            format_number(min_bytes(r.problem)), format_number(row.intensity), ratio ? ratio->vendor_backend : "",
            ratio ? format_number(ratio->ratio) : "", r.algorithm, r.reason,
            above_peak(r) ? above_peak_reason(r) : ""};
        csv += csv_line(fields);
      }
    }
  }
  return csv;
}

}  // namespace trainrate::reports
