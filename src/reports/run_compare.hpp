// Two runs against each other: did anything get faster or slower between OLD and NEW?
//
// Each result of NEW is paired with the result of OLD for exactly the same problem (dtype and
// layout included), device, backend, cache mode and thread count; anything else is listed as not
// paired, with why, never compared. A pair gives the NEW/OLD rate ratio (Hodges-Lehmann on log
// times, with its 95% interval), a Mann-Whitney p-value, and a verdict by CompareRule. The unit
// of the test is the repetition (its median) when both sides have two or more (run --repetitions,
// or several files a side pooled by results/repetitions.hpp), else the sample of the one run.
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
// What the test takes as independent: the samples of one run a side (which cannot see how whole
// runs vary), or the medians of the repetitions, each a fresh process (which can).
enum class Unit { sample, repetition };
std::string_view to_string(Verdict verdict);  // "FASTER", "SLOWER", "SAME", "UNCERTAIN"

// The default rule (docs/reports.md, "Comparing two runs"): FASTER or SLOWER when the test is
// significant and the estimated change is at least min_change; SAME when the whole interval
// lies within ±min_change; UNCERTAIN otherwise, whenever a side has too few samples, and when
// the counts a side are too few for any p below max_p (3 repetitions against 3). Significant
// means q < max_p, q being p adjusted for the number of pairs compared together
// (Benjamini-Hochberg): dozens of pairs of identical code tested at p < 0.05 each would give a
// FASTER or SLOWER somewhere in most comparisons.
struct CompareRule {
  double max_p = 0.05;
  double min_change = 0.02;
  size_t min_samples = 5;  // per side
};

// The statistics of one pair, from the values of each side: kept samples or repetition medians,
// ms per run.
struct Judgement {
  double ratio = 0;  // NEW/OLD rate: above 1 NEW is faster
  std::optional<double> ratio_low, ratio_high;  // its 95% interval
  std::optional<double> p_value;
  std::optional<double> q_value;  // p adjusted for the pairs compared together; what the verdict tests
  Verdict verdict = Verdict::uncertain;
  std::string reason;  // why UNCERTAIN; empty otherwise
};
// One pair judged alone (q = p). The same work in both, so the rate ratio is the inverse of the
// time ratio. Sides with fewer than
// rule.min_samples, or a sample of 0 ms, are UNCERTAIN with `ratio` 0 (the caller knows the
// recorded rates).
Judgement judge(const std::vector<double>& old_ms, const std::vector<double>& new_ms, const CompareRule& rule,
                Unit unit = Unit::sample);

// What compare recommends: one more than the fewest that can reach p < 0.05 at all (4 against 4
// only when every repetition of one side beats every one of the other), so that one stray
// repetition still leaves a 10% change detectable (5 against 5 reaches 0.008).
constexpr size_t kRecommendedRepetitions = 5;

// The fewest repetitions a side, the same on both, whose Mann-Whitney p can fall below max_p (4 at 0.05).
size_t repetitions_needed(const CompareRule& rule);

// The cells every output shows: "0.912", "0.897-0.925" (or "-" without an interval), "0.003" or "<0.001".
std::string ratio_text(const Judgement& judgement);
std::string interval_text(const Judgement& judgement);
std::string p_value_text(const Judgement& judgement);
std::string q_value_text(const Judgement& judgement);

struct RunCompareRow {
  Problem problem;
  std::string device, backend, mode;
  int threads = 0;
  double old_rate_per_s = 0, new_rate_per_s = 0;  // as recorded: work_rate_per_s
  size_t old_samples = 0, new_samples = 0;        // kept in the file
  size_t old_repetitions = 0, new_repetitions = 0;
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
  Unit unit = Unit::sample;
  size_t old_repetitions = 1, new_repetitions = 1;  // the most any result of the side has
  std::vector<EnvironmentDifference> environment;
  std::vector<RunCompareRow> rows;  // in NEW's order
  std::vector<NotCompared> not_compared;
  int64_t skipped_in_both = 0;  // pairs neither run could measure (e.g. openblas has no convolution)
  std::vector<KindRatios> kinds;
};

// Throws InputError when the files come from different suites, unless `any_suite`. A side of
// several files is one ReportSource whose file is their pool_repetitions().
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
// The unit of the test, one line: "repetition (5 vs 5), ...", or the sample with what it cannot see.
std::string describe_unit(const RunComparison& comparison);

}  // namespace trainrate::reports
