#include "reports/run_compare.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "problems/problem_json.hpp"
#include "reports/compare.hpp"
#include "reports/report.hpp"
#include "reports/table.hpp"
#include "reports/text.hpp"
#include "results/repetitions.hpp"
#include "results/statistics.hpp"

namespace trainrate::reports {

namespace {

std::vector<double> logs_of(const std::vector<double>& values) {
  std::vector<double> logs;
  logs.reserve(values.size());
  for (double v : values) logs.push_back(std::log(v));
  return logs;
}

// Why an UNCERTAIN pair with enough samples is uncertain.
std::string uncertain_reason(const Judgement& j, const CompareRule& rule) {
  const double change_percent = 100 * std::abs(j.ratio - 1);
  const std::string band = fmt::format("±{:g}%", 100 * rule.min_change);
  if (*j.q_value < rule.max_p) {
    return fmt::format("significant (q {}) but the change, {:.1f}%, is below {} and the interval {} reaches beyond it",
                       q_value_text(j), change_percent, band, interval_text(j));
  }
  return fmt::format("not significant (q {}) and the interval {} reaches beyond {}", q_value_text(j), interval_text(j), band);
}

// Problems that differ only in dtype or layout are "the same shape run differently".
Problem shape_only(Problem problem) {
  std::visit(
      [](auto& p) {
        p.dtype = Dtype::fp32;
        if constexpr (requires { p.layout; }) p.layout = Layout::NCHW;
      },
      problem);
  return problem;
}

std::string layout_text(const Problem& problem) {
  return std::visit(
      [](const auto& p) -> std::string {
        if constexpr (requires { p.layout; }) {
          return std::string(to_string(p.layout));
        } else {
          return "";
        }
      },
      problem);
}

// What differs between two results that share device, backend and shape: "dtype fp32 in OLD, bf16 in NEW; ...".
std::string setup_differences(const Result& o, const Result& n) {
  std::vector<std::string> parts;
  const auto add = [&](const char* what, const std::string& old_value, const std::string& new_value) {
    if (old_value != new_value) parts.push_back(fmt::format("{} {} in OLD, {} in NEW", what, old_value, new_value));
  };
  add("dtype", std::string(to_string(dtype_of(o.problem))), std::string(to_string(dtype_of(n.problem))));
  add("layout", layout_text(o.problem), layout_text(n.problem));
  add("mode", o.mode, n.mode);
  add("threads", std::to_string(o.threads), std::to_string(n.threads));
  std::string text;
  for (const std::string& part : parts) text += (text.empty() ? "" : "; ") + part;
  return text;
}

// The same device, backend and shape, set up differently (dtype, layout, mode or threads).
bool near_partners(const Result& a, const Result& b) {
  return a.device == b.device && a.backend == b.backend && shape_only(a.problem) == shape_only(b.problem);
}

// The first result of `others` not yet taken that `accept`s r, marked taken; or nullptr.
template <typename Accept>
const Result* take_partner(const Result& r, const std::vector<Result>& others, std::vector<bool>& taken,
                           Accept accept) {
  for (size_t i = 0; i < others.size(); ++i) {
    if (taken[i] || !accept(r, others[i])) continue;
    taken[i] = true;
    return &others[i];
  }
  return nullptr;
}

NotCompared not_compared(const Result& r, std::string why) { return {describe(r.problem), r.device, r.backend, why}; }

// Why a pair gives no rate: nullopt when both sides are ok, empty when both were skipped (the
// backend cannot run the problem; nothing to report), else which side failed and why.
std::optional<std::string> status_problem(const Result& o, const Result& n) {
  if (o.status == ResultStatus::ok && n.status == ResultStatus::ok) return std::nullopt;
  if (o.status == ResultStatus::skipped && n.status == ResultStatus::skipped) return "";
  std::vector<std::string> parts;
  for (const auto& [side, r] : {std::pair<const char*, const Result*>{"OLD", &o}, {"NEW", &n}}) {
    if (r->status == ResultStatus::ok) continue;
    parts.push_back(fmt::format("{} in {}{}", to_string(r->status), side, r->reason.empty() ? "" : ": " + r->reason));
  }
  return parts.size() == 1 ? parts[0] : parts[0] + "; " + parts[1];
}

std::string too_few_reason(const ReportSource& source, const char* side, size_t kept, const CompareRule& rule) {
  if (source.file.schema_version < 2) {
    return fmt::format("{} is a schema v1 file, which keeps no samples: measure it again with this trainrate", side);
  }
  return fmt::format("{} kept {} sample{}, fewer than the {} a side needs", side, kept, kept == 1 ? "" : "s",
                     rule.min_samples);
}

std::vector<double> repetition_medians(const Measurement& m) {
  std::vector<double> medians;
  for (const Repetition& r : repetitions_of(m)) medians.push_back(r.median_ms);
  return medians;
}

RunCompareRow compare_pair(const Result& o, const Result& n, const ReportSource& old_run, const ReportSource& new_run,
                           const CompareRule& rule, Unit unit) {
  RunCompareRow row{n.problem, n.device, n.backend, n.mode, n.threads, work_rate_per_s(o), work_rate_per_s(n)};
  const Measurement& om = *o.measurement;  // ok results always have one
  const Measurement& nm = *n.measurement;
  row.old_samples = om.samples_ms.size();
  row.new_samples = nm.samples_ms.size();
  row.old_repetitions = repetitions_of(om).size();
  row.new_repetitions = repetitions_of(nm).size();
  const std::vector<double> old_ms = unit == Unit::repetition ? repetition_medians(om) : om.samples_ms;
  const std::vector<double> new_ms = unit == Unit::repetition ? repetition_medians(nm) : nm.samples_ms;
  row.judgement = judge(old_ms, new_ms, rule, unit);
  if (row.judgement.ratio == 0) {  // none from the samples: the recorded (median) rates still give one
    row.judgement.ratio = row.new_rate_per_s / row.old_rate_per_s;
    // Repetitions have no minimum count of their own: judge() said why (a median of 0 ms).
    if (unit == Unit::sample && old_ms.size() < rule.min_samples) {
      row.judgement.reason = too_few_reason(old_run, "OLD", old_ms.size(), rule);
    } else if (unit == Unit::sample && new_ms.size() < rule.min_samples) {
      row.judgement.reason = too_few_reason(new_run, "NEW", new_ms.size(), rule);
    }
  }
  return row;
}

std::vector<EnvironmentDifference> environment_differences(const ReportSource& old_run, const ReportSource& new_run) {
  // The file names and start times always differ; they head the comparison instead.
  const auto lines_of = [](const ReportSource& source) {
    std::map<std::string, std::string> lines;
    for (const auto& [key, value] : environment_of(source)) {
      if (key != "file" && key != "created (UTC)") lines.emplace(key, value);
    }
    return lines;
  };
  const auto old_lines = lines_of(old_run), new_lines = lines_of(new_run);
  std::map<std::string, EnvironmentDifference> differences;
  for (const auto& [key, value] : old_lines) differences[key] = {key, value, "(absent)"};
  for (const auto& [key, value] : new_lines) {
    auto [it, inserted] = differences.try_emplace(key, EnvironmentDifference{key, "(absent)", value});
    if (!inserted) it->second.new_value = value;
  }
  std::vector<EnvironmentDifference> listed;
  for (const auto& [key, difference] : differences) {
    if (difference.old_value != difference.new_value) listed.push_back(difference);
  }
  return listed;
}

std::vector<KindRatios> kind_ratios(const std::vector<RunCompareRow>& rows) {
  std::map<std::pair<std::string, std::string>, std::pair<KindRatios, std::vector<double>>> groups;
  for (const RunCompareRow& row : rows) {
    auto& [kind, ratios] = groups[{kind_label(row.problem), row.backend}];
    kind.kind = kind_label(row.problem);
    kind.backend = row.backend;
    ++kind.count;
    ratios.push_back(row.judgement.ratio);
    switch (row.judgement.verdict) {
      case Verdict::faster: ++kind.faster; break;
      case Verdict::slower: ++kind.slower; break;
      case Verdict::same: ++kind.same; break;
      case Verdict::uncertain: ++kind.uncertain; break;
    }
  }
  std::vector<KindRatios> kinds;
  for (auto& [key, group] : groups) {
    group.first.geomean = geomean(group.second);
    kinds.push_back(group.first);
  }
  return kinds;
}

// Benjamini-Hochberg over the pairs that have a p: with m of them sorted by p, q of the i-th is
// the smallest m·p/k over k ≥ i. A FASTER/SLOWER whose q is not below max_p becomes UNCERTAIN
// (its estimate lies outside the ±min_change band, so it cannot be SAME); the rest keep their
// verdicts, since q ≥ p.
void adjust_for_pairs(std::vector<RunCompareRow>& rows, const CompareRule& rule) {
  std::vector<Judgement*> tested;
  for (RunCompareRow& row : rows) {
    if (row.judgement.p_value) tested.push_back(&row.judgement);
  }
  std::stable_sort(tested.begin(), tested.end(), [](const Judgement* a, const Judgement* b) { return *a->p_value < *b->p_value; });
  const double m = double(tested.size());
  double q = 1.0;
  for (size_t i = tested.size(); i-- > 0;) {
    Judgement& j = *tested[i];
    q = std::min(q, *j.p_value * m / double(i + 1));
    j.q_value = q;
    if ((j.verdict == Verdict::faster || j.verdict == Verdict::slower) && q >= rule.max_p) {
      j.verdict = Verdict::uncertain;
      j.reason = fmt::format("p {} alone, but q {} over the {} pairs compared (Benjamini-Hochberg) is not below {:g}",
                             p_value_text(j), q_value_text(j), tested.size(), rule.max_p);
    }
  }
}

}  // namespace

std::string interval_text(const Judgement& j) {
  if (!j.ratio_low || !j.ratio_high) return "-";
  return fmt::format("{:.3f}-{:.3f}", *j.ratio_low, *j.ratio_high);
}

namespace {
std::string probability_text(const std::optional<double>& p) {
  if (!p) return "-";
  return *p < 0.001 ? "<0.001" : fmt::format("{:.3f}", *p);
}
}  // namespace

std::string p_value_text(const Judgement& j) { return probability_text(j.p_value); }
std::string q_value_text(const Judgement& j) { return probability_text(j.q_value); }

std::string ratio_text(const Judgement& j) { return j.ratio > 0 ? fmt::format("{:.3f}", j.ratio) : "-"; }

std::string_view to_string(Verdict verdict) {
  switch (verdict) {
    case Verdict::faster: return "FASTER";
    case Verdict::slower: return "SLOWER";
    case Verdict::same: return "SAME";
    case Verdict::uncertain: return "UNCERTAIN";
  }
  return "?";
}

size_t repetitions_needed(const CompareRule& rule) {
  size_t k = 1;
  while (smallest_p_two_sided(k, k) >= rule.max_p) ++k;
  return k;
}

Judgement judge(const std::vector<double>& old_ms, const std::vector<double>& new_ms, const CompareRule& rule,
                Unit unit) {
  Judgement j;
  if (unit == Unit::sample && (old_ms.size() < rule.min_samples || new_ms.size() < rule.min_samples)) {
    j.reason = fmt::format("{} samples in OLD, {} in NEW: fewer than {} a side", old_ms.size(), new_ms.size(),
                           rule.min_samples);
    return j;
  }
  const auto zero = [](const std::vector<double>& samples) {
    return std::any_of(samples.begin(), samples.end(), [](double ms) { return ms <= 0; });
  };
  if (zero(old_ms) || zero(new_ms)) {
    j.reason = "a sample of 0 ms (shorter than the timer resolves) gives no ratio";
    return j;
  }
  // log(old time) − log(new time) is log(new rate / old rate): a shift on the log scale is a ratio.
  const ShiftEstimate shift = hodges_lehmann_shift(logs_of(old_ms), logs_of(new_ms));
  j.ratio = std::exp(shift.estimate);
  if (shift.low && shift.high) {
    j.ratio_low = std::exp(*shift.low);
    j.ratio_high = std::exp(*shift.high);
  }
  j.p_value = mann_whitney(old_ms, new_ms).p_two_sided;
  j.q_value = j.p_value;
  const double change = j.ratio - 1;
  const bool inside_band = j.ratio_low && j.ratio_high && *j.ratio_low >= 1 - rule.min_change &&
                           *j.ratio_high <= 1 + rule.min_change;
  // Too few for the test to ever reject: say so rather than let "not significant" read as news.
  if (const double floor_p = smallest_p_two_sided(old_ms.size(), new_ms.size()); floor_p >= rule.max_p) {
    j.reason = fmt::format("{} vs {} {}s: the smallest p Mann-Whitney can reach is {:.3f}, never below {:g}; "
                           "measure both sides with --repetitions {} (at least {} a side)",
                           old_ms.size(), new_ms.size(), unit == Unit::repetition ? "repetition" : "sample", floor_p,
                           rule.max_p, kRecommendedRepetitions, repetitions_needed(rule));
  } else if (*j.q_value < rule.max_p && std::abs(change) >= rule.min_change) {
    j.verdict = change > 0 ? Verdict::faster : Verdict::slower;
  } else if (inside_band) {
    j.verdict = Verdict::same;
  } else {
    j.verdict = Verdict::uncertain;
    j.reason = uncertain_reason(j, rule);
  }
  return j;
}

RunComparison compare_runs(const ReportSource& old_run, const ReportSource& new_run, const CompareRule& rule,
                           bool any_suite) {
  if (!any_suite && old_run.file.suite != new_run.file.suite) {
    throw InputError(fmt::format("{} ran suite '{}' but {} ran suite '{}'; only runs of one suite are compared",
                                 old_run.path, old_run.file.suite, new_run.path, new_run.file.suite));
  }
  RunComparison c{old_run.path, new_run.path, old_run.file.created_utc, new_run.file.created_utc, new_run.file.suite,
                  rule};
  c.old_repetitions = repetition_count(old_run.file);
  c.new_repetitions = repetition_count(new_run.file);
  c.unit = c.old_repetitions >= 2 && c.new_repetitions >= 2 ? Unit::repetition : Unit::sample;
  c.environment = environment_differences(old_run, new_run);
  const std::vector<Result>& olds = old_run.file.results;
  const std::vector<Result>& news = new_run.file.results;
  std::vector<bool> old_taken(olds.size(), false);
  std::vector<const Result*> new_unpaired;
  for (const Result& n : news) {
    const Result* o = take_partner(n, olds, old_taken, same_setup);
    if (!o) {
      new_unpaired.push_back(&n);
      continue;
    }
    const auto trouble = status_problem(*o, n);
    if (!trouble) {
      c.rows.push_back(compare_pair(*o, n, old_run, new_run, rule, c.unit));
    } else if (trouble->empty()) {
      ++c.skipped_in_both;
    } else {
      c.not_compared.push_back(not_compared(n, *trouble));
    }
  }
  // Only after every exact pair is taken, so a near match never steals an exact one's partner.
  for (const Result* n : new_unpaired) {
    const Result* near = take_partner(*n, olds, old_taken, near_partners);
    c.not_compared.push_back(not_compared(*n, near ? setup_differences(*near, *n) : "only in NEW"));
  }
  for (size_t i = 0; i < olds.size(); ++i) {
    if (!old_taken[i]) c.not_compared.push_back(not_compared(olds[i], "only in OLD"));
  }
  adjust_for_pairs(c.rows, rule);
  c.kinds = kind_ratios(c.rows);
  return c;
}

std::vector<RunCompareRow> slower_by_more_than(const RunComparison& comparison, double percent) {
  std::vector<RunCompareRow> rows;
  for (const RunCompareRow& row : comparison.rows) {
    if (row.judgement.verdict == Verdict::slower && 100 * (1 - row.judgement.ratio) > percent) rows.push_back(row);
  }
  return rows;
}

std::string describe_rule(const CompareRule& rule) {
  const std::string band = fmt::format("{:g}%", 100 * rule.min_change);
  return fmt::format(
      "FASTER/SLOWER when the Mann-Whitney p, adjusted for the number of pairs compared (Benjamini-Hochberg q), is "
      "below {:g} and the estimated change is at least {}; SAME when the 95% "
      "interval of the ratio lies within ±{}; otherwise UNCERTAIN, as is any pair with fewer than {} samples a side "
      "or too few repetitions for p to reach {:g} ({} against {} at least). The unit of the test is the repetition "
      "(each one's median) when both sides have 2 or more (run --repetitions {}, or several files a side), else the "
      "sample: one run a side cannot see how whole runs vary, so a machine that shifts between the two runs reads as "
      "FASTER/SLOWER too (docs/reports.md)",
      rule.max_p, band, band, rule.min_samples, rule.max_p, repetitions_needed(rule), repetitions_needed(rule),
      kRecommendedRepetitions);
}

std::string describe_unit(const RunComparison& c) {
  if (c.unit == Unit::repetition) {
    return fmt::format("repetition ({} vs {}), the median of each; a fresh process each, so run-to-run "
                       "variation is in the test",
                       c.old_repetitions, c.new_repetitions);
  }
  return fmt::format("sample ({} vs {} repetitions): the test cannot see run-to-run variation, so a FASTER/SLOWER "
                     "may be the machine, not the code; measure both sides with `trainrate run --repetitions {}`",
                     c.old_repetitions, c.new_repetitions, kRecommendedRepetitions);
}

std::string run_comparison_console(const RunComparison& c) {
  std::string out = fmt::format("compare: NEW {} (run {}) against OLD {} (run {}), suite {}\n", c.new_path,
                                c.new_created_utc, c.old_path, c.old_created_utc, c.suite);
  out += "unit: " + describe_unit(c) + "\n";
  if (c.environment.empty()) {
    out += "environment: no differences\n";
  } else {
    out += fmt::format("environment differences ({}):\n", c.environment.size());
  }
  for (const EnvironmentDifference& d : c.environment) {
    out += fmt::format("  {}: {} -> {}\n", d.key, d.old_value, d.new_value);
  }
  std::vector<Problem> problems;
  std::vector<std::string> backends;
  for (const RunCompareRow& row : c.rows) {
    problems.push_back(row.problem);
    backends.push_back(row.backend);
  }
  const TableWidths widths = table_widths(problems, backends);
  out += fmt::format("\n{:<{}} {:<{}} {:>14} {:>14} {:>8} {:>13} {:>7} {:>7}  {:<9}  {}\n", "problem", widths.problem,
                     "backend", widths.backend, "OLD R", "NEW R", "NEW/OLD", "95% interval", "p", "q", "verdict", "why");
  for (const RunCompareRow& row : c.rows) {
    const Judgement& j = row.judgement;
    out += fmt::format("{:<{}} {:<{}} {:>14} {:>14} {:>8} {:>13} {:>7} {:>7}  {:<9}  {}\n", describe(row.problem),
                       widths.problem, row.backend, widths.backend, format_work_rate(row.problem, row.old_rate_per_s),
                       format_work_rate(row.problem, row.new_rate_per_s), ratio_text(j), interval_text(j), p_value_text(j),
                       q_value_text(j), to_string(j.verdict), j.reason);
  }
  if (c.rows.empty()) out += "(no pairs measured in both runs)\n";
  if (!c.not_compared.empty()) out += fmt::format("\nnot compared ({}):\n", c.not_compared.size());
  for (const NotCompared& n : c.not_compared) {
    out += fmt::format("  {} {} on {}: {}\n", n.problem, n.backend, n.device, n.why);
  }
  if (c.skipped_in_both > 0) out += fmt::format("{} pairs skipped in both runs\n", c.skipped_in_both);
  out += fmt::format("\n{:<36} {:>5} {:>8} {:>7} {:>7} {:>7} {:>10}\n", "NEW/OLD by kind", "n", "geomean", "faster",
                     "slower", "same", "uncertain");
  for (const KindRatios& k : c.kinds) {
    out += fmt::format("{:<36} {:>5} {:>8.3f} {:>7} {:>7} {:>7} {:>10}\n", k.kind + " " + k.backend, k.count,
                       k.geomean, k.faster, k.slower, k.same, k.uncertain);
  }
  return out + "\nrule: " + describe_rule(c.rule) + "\n";
}

std::string run_comparison_markdown(const RunComparison& c) {
  std::string md = fmt::format("## NEW against OLD\n\nNEW `{}` (run {}) against OLD `{}` (run {}), suite {}. "
                               "Ratios are NEW/OLD rates: above 1 NEW is faster. Unit: {}. Rule: {}.\n\n",
                               c.new_path, c.new_created_utc, c.old_path, c.old_created_utc, c.suite,
                               describe_unit(c), describe_rule(c.rule));
  md += "### Environment differences\n\n";
  if (c.environment.empty()) md += "None.\n\n";
  if (!c.environment.empty()) md += markdown_row({"setting", "OLD", "NEW"}) + markdown_rule(3, 3);
  for (const EnvironmentDifference& d : c.environment) md += markdown_row({d.key, d.old_value, d.new_value});
  if (!c.environment.empty()) md += "\n";
  md += "### Per problem and backend\n\n";
  md += markdown_row({"problem", "backend", "OLD R", "NEW R", "NEW/OLD", "95% interval", "p", "q", "verdict", "why"}) +
        markdown_rule(10, 2);
  for (const RunCompareRow& row : c.rows) {
    const Judgement& j = row.judgement;
    md += markdown_row({describe(row.problem), row.backend, format_work_rate(row.problem, row.old_rate_per_s),
                        format_work_rate(row.problem, row.new_rate_per_s), ratio_text(j), interval_text(j), p_value_text(j),
                        q_value_text(j), std::string(to_string(j.verdict)), j.reason});
  }
  md += "\n### NEW/OLD by kind\n\n" +
        markdown_row({"kind", "backend", "n", "geomean", "FASTER", "SLOWER", "SAME", "UNCERTAIN"}) +
        markdown_rule(8, 2);
  for (const KindRatios& k : c.kinds) {
    md += markdown_row({k.kind, k.backend, std::to_string(k.count), fmt::format("{:.3f}", k.geomean),
                        std::to_string(k.faster), std::to_string(k.slower), std::to_string(k.same),
                        std::to_string(k.uncertain)});
  }
  md += "\n";
  if (!c.not_compared.empty()) md += "### Not compared\n\n";
  for (const NotCompared& n : c.not_compared) {
    md += fmt::format("- {} {} on {}: {}\n", markdown_cell(n.problem), markdown_cell(n.backend),
                      markdown_cell(n.device), markdown_cell(n.why));
  }
  if (c.skipped_in_both > 0) md += fmt::format("\n{} pairs were skipped in both runs.\n", c.skipped_in_both);
  return md + (c.not_compared.empty() && c.skipped_in_both == 0 ? "" : "\n");
}

std::string run_comparison_csv(const RunComparison& c) {
  std::string csv =
      "problem,kind,device,backend,mode,threads,old_rate_per_s,new_rate_per_s,old_samples,new_samples,unit,"
      "old_repetitions,new_repetitions,ratio,ratio_low,ratio_high,p_value,q_value,verdict,reason\n";
  const auto optional_number = [](const std::optional<double>& value) {
    std::string text;
    if (value) text = format_number(*value);
    return text;
  };
  for (const RunCompareRow& row : c.rows) {
    const Judgement& j = row.judgement;
    csv += fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n", csv_field(describe(row.problem)),
                       csv_field(kind_label(row.problem)), csv_field(row.device), csv_field(row.backend),
                       csv_field(row.mode), row.threads, format_number(row.old_rate_per_s),
                       format_number(row.new_rate_per_s), row.old_samples, row.new_samples,
                       c.unit == Unit::repetition ? "repetition" : "sample", row.old_repetitions,
                       row.new_repetitions, format_number(j.ratio),
                       optional_number(j.ratio_low), optional_number(j.ratio_high), optional_number(j.p_value),
                       optional_number(j.q_value), to_string(j.verdict), csv_field(j.reason));
  }
  return csv;
}

}  // namespace trainrate::reports
