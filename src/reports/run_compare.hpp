// Two runs against each other: did anything get faster or slower between OLD and NEW?
//
// Each result of NEW is paired with the result of OLD for exactly the same problem (dtype and
// layout included), device, backend, cache mode and thread count; anything else is listed as not
// paired, with why, never compared. A pair's samples give the NEW/OLD rate ratio (Hodges-Lehmann
// on log times, with its 95% interval), a Mann-Whitney p-value, and a verdict by CompareRule.
// Used by `trainrate compare OLD NEW` and `trainrate report --compare-runs`.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "results/result.hpp"

namespace trainrate::reports {

struct ReportSource;  // reports/report.hpp, which includes this header

enum class Verdict { faster, slower, same, uncertain };
std::string_view to_string(Verdict verdict);  // "FASTER", "SLOWER", "SAME", "UNCERTAIN"

// The default rule (docs/reports.md, "Comparing two runs"): FASTER or SLOWER when the test is
// significant and the estimated change is at least min_change; SAME when the whole interval
// lies within ±min_change; UNCERTAIN otherwise, and whenever a side has too few samples.
struct CompareRule {
  double max_p = 0.05;
  double min_change = 0.02;
  size_t min_samples = 5;  // per side
};

// The statistics of one pair, from the kept samples (ms per run) of each side.
struct Judgement {
  double ratio = 0;  // NEW/OLD rate: above 1 NEW is faster
  std::optional<double> ratio_low, ratio_high;  // its 95% interval
  std::optional<double> p_value;
  Verdict verdict = Verdict::uncertain;
  std::string reason;  // why UNCERTAIN; empty otherwise
};
// The same work in both, so the rate ratio is the inverse of the time ratio. Sides with fewer than
// rule.min_samples, or a sample of 0 ms, are UNCERTAIN with `ratio` 0 (the caller knows the
// recorded rates).
Judgement judge(const std::vector<double>& old_ms, const std::vector<double>& new_ms, const CompareRule& rule);

// The cells every output shows: "0.912", "0.897-0.925" (or "-" without an interval), "0.003" or "<0.001".
std::string ratio_text(const Judgement& judgement);
std::string interval_text(const Judgement& judgement);
std::string p_value_text(const Judgement& judgement);

struct RunCompareRow {
  Problem problem;
  std::string device, backend, mode;
  int threads = 0;
  double old_rate_per_s = 0, new_rate_per_s = 0;  // as recorded: work_rate_per_s
  size_t old_samples = 0, new_samples = 0;        // kept in the file
  Judgement judgement;  // with too few samples, ratio is that of the recorded rates
};

// A result of one run with no counterpart in the other, or a pair that gave no rate.
struct NotCompared {
  std::string problem, device, backend;  // problem as describe() gives it
  std::string why;                       // "only in OLD", "threads 1 in OLD, 2 in NEW", "FAILED in NEW: ..."
};

// Geomean of the ratios per pass (kind_label) and backend, with how many rows got each verdict.
struct KindRatios {
  std::string kind, backend;
  int64_t count = 0;
  double geomean = 0;
  int64_t faster = 0, slower = 0, same = 0, uncertain = 0;
};

// One line of the environment that differs: "build: commit", "device cpu: cpufreq_governor", ...
// A side that lacks the line reads "(absent)".
struct EnvironmentDifference {
  std::string key, old_value, new_value;
};

struct RunComparison {
  std::string old_path, new_path, old_created_utc, new_created_utc, suite;
  CompareRule rule;
  std::vector<EnvironmentDifference> environment;
  std::vector<RunCompareRow> rows;  // in NEW's order
  std::vector<NotCompared> not_compared;
  int64_t skipped_in_both = 0;  // pairs neither run could measure (e.g. openblas has no convolution)
  std::vector<KindRatios> kinds;
};

// Throws InputError when the files come from different suites, unless `any_suite`.
RunComparison compare_runs(const ReportSource& old_run, const ReportSource& new_run, const CompareRule& rule = {},
                           bool any_suite = false);

// Rows judged SLOWER whose rate fell by more than `percent` (1 − ratio, in percent).
std::vector<RunCompareRow> slower_by_more_than(const RunComparison& comparison, double percent);

std::string run_comparison_console(const RunComparison& comparison);
// A Markdown section (from "## NEW against OLD" on), also what report.md includes.
std::string run_comparison_markdown(const RunComparison& comparison);
// One line per compared pair, numbers at full precision.
std::string run_comparison_csv(const RunComparison& comparison);
// The rule as one sentence, the same in every output.
std::string describe_rule(const CompareRule& rule);

}  // namespace trainrate::reports
