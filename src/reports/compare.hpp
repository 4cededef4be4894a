// Custom against vendor: pairs each of our results with every vendor result on the same problem
// and device that its backend declares it is compared with (Result::compared_with), and
// summarizes each kind against the best vendor per problem, naming it. Used by `compare`, reports.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "results/result.hpp"

namespace trainrate {

struct RatioRow {
  Problem problem;
  std::string device;
  std::string custom_backend, vendor_backend;
  double custom_rate_per_s = 0, vendor_rate_per_s = 0;  // work_rate_per_s: FLOP/s, or bytes/s if memory-bound
  double ratio = 0;  // custom / vendor rate: > 1 means ours is faster
  bool best_vendor = false;  // the fastest of the vendors this custom result was paired with
};

// Only results with status ok on both sides are paired. A result without compared_with (files
// from before backends declared it) pairs with every vendor result on its device. A vendor's
// framework view (Result::view, e.g. onednn-plain) is never paired: ratios are against the vendor
// at its best.
std::vector<RatioRow> custom_vendor_ratios(const ResultsFile& file);

struct RatioSummary {
  std::string group;  // kind_label() plus the custom backend, e.g. "gemm custom-cpu"
  std::string vendors;  // which vendor was the best per problem, with counts: "onednn 3, openblas 1"
  int64_t count = 0;
  double geomean = 0, median = 0, min = 0, max = 0;
};
// Against the best vendor of each problem (rows with best_vendor), grouped by kind and custom backend.
std::vector<RatioSummary> summarize_ratios(const std::vector<RatioRow>& rows);

double geomean(const std::vector<double>& values);
double median(std::vector<double> values);

}  // namespace trainrate
