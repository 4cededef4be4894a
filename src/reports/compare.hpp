// Custom against vendor: pairs each of our results with the vendor library's result on the same
// problem and device, and summarizes the ratios. Used by `trainrate compare`, reports and models.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "results/result.hpp"

namespace trainrate {

// The vendor library a custom result is judged against: on CPU openblas for GEMM and onednn for
// convolution; on GPU cublas for GEMM and cudnn for convolution.
std::string vendor_backend_for(const Problem& problem, const std::string& device_kind);

struct RatioRow {
  Problem problem;
  std::string device;
  std::string custom_backend, vendor_backend;
  double custom_flops_per_s = 0, vendor_flops_per_s = 0;
  double ratio = 0;  // custom / vendor rate: > 1 means ours is faster
};

// Only results with status ok on both sides are paired.
std::vector<RatioRow> custom_vendor_ratios(const ResultsFile& file);

struct RatioSummary {
  std::string group;  // kind_label() plus the custom backend, e.g. "gemm custom-cpu"
  int64_t count = 0;
  double geomean = 0, median = 0, min = 0, max = 0;
};
std::vector<RatioSummary> summarize_ratios(const std::vector<RatioRow>& rows);

double geomean(const std::vector<double>& values);
double median(std::vector<double> values);

}  // namespace trainrate
