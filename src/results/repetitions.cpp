#include "results/repetitions.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "problems/problem_json.hpp"
#include "results/statistics.hpp"

namespace trainrate {

namespace {

// The samples of each repetition of every measurement, thinned evenly within it to `cap_each`.
struct PooledSamples {
  std::vector<double> samples_ms;
  std::vector<Repetition> repetitions;
};

PooledSamples pool_samples(const std::vector<const Measurement*>& parts) {
  size_t total_repetitions = 0;
  for (const Measurement* m : parts) total_repetitions += repetitions_of(*m).size();
  const size_t cap_each = std::max<size_t>(1, kMaxKeptSamples / total_repetitions);
  PooledSamples pooled;
  for (const Measurement* m : parts) {
    auto first = m->samples_ms.begin();
    for (const Repetition& r : repetitions_of(*m)) {
      const std::vector<double> own(first, first + std::ptrdiff_t(r.samples_kept));
      first += std::ptrdiff_t(r.samples_kept);
      const std::vector<double> kept = evenly_spaced(own, cap_each);
      pooled.samples_ms.insert(pooled.samples_ms.end(), kept.begin(), kept.end());
      pooled.repetitions.push_back({r.median_ms, kept.size()});
    }
  }
  return pooled;
}

// Each reason once, in order: "noise-target" or "noise-target,time-budget".
std::string stop_reasons(const std::vector<const Measurement*>& parts) {
  std::vector<std::string> reasons;
  for (const Measurement* m : parts) {
    if (std::find(reasons.begin(), reasons.end(), m->stop_reason) == reasons.end()) reasons.push_back(m->stop_reason);
  }
  return fmt::format("{}", fmt::join(reasons, ","));
}

Measurement pool_measurements(const std::vector<const Measurement*>& parts) {
  PooledSamples pooled = pool_samples(parts);
  Measurement m;
  std::vector<double> medians;
  for (const Repetition& r : pooled.repetitions) medians.push_back(r.median_ms);
  m.stats = summarize(pooled.samples_ms.empty() ? medians : pooled.samples_ms);
  m.stats.samples = 0;
  for (const Measurement* part : parts) m.stats.samples += part->stats.samples;
  m.samples_ms = std::move(pooled.samples_ms);
  if (pooled.repetitions.size() > 1) m.repetitions = std::move(pooled.repetitions);
  m.runs_per_sample = parts.front()->runs_per_sample;
  m.stop_reason = stop_reasons(parts);
  m.state_before = parts.front()->state_before;
  m.state_after = parts.back()->state_after;
  for (const Measurement* part : parts) m.retakes += part->retakes;
  return m;
}

// The results of one setup, one per run that has it (with the run's index, from 0).
struct Group {
  std::vector<std::pair<size_t, const Result*>> parts;
};

Result pool_group(const Group& group) {
  for (const auto& [run, r] : group.parts) {
    if (r->status == ResultStatus::ok) continue;
    Result failed = *r;
    if (group.parts.size() > 1) failed.reason = fmt::format("repetition {}: {}", run + 1, r->reason);
    return failed;
  }
  Result pooled = *group.parts.front().second;
  std::vector<const Measurement*> measurements;
  for (const auto& [run, r] : group.parts) measurements.push_back(&*r->measurement);
  pooled.measurement = pool_measurements(measurements);
  const double old_rate = work_rate_per_s(pooled);
  const double median_s = pooled.measurement->stats.median_ms * 1e-3;
  pooled.rate_flops_per_s = median_s > 0 ? pooled.flops / median_s : 0;
  pooled.rate_bytes_per_s = median_s > 0 ? pooled.bytes / median_s : 0;
  // Against the same peak as the first run's rate, which the pooled file keeps.
  if (pooled.percent_of_peak && old_rate > 0) *pooled.percent_of_peak *= work_rate_per_s(pooled) / old_rate;
  return pooled;
}

}  // namespace

bool same_setup(const Result& a, const Result& b) {
  return a.device == b.device && a.backend == b.backend && a.mode == b.mode && a.threads == b.threads &&
         a.problem == b.problem;
}

ResultsFile pool_repetitions(const std::vector<ResultsFile>& runs, const std::vector<std::string>& names) {
  if (runs.empty()) throw InputError("no runs to pool");
  for (size_t i = 1; i < runs.size(); ++i) {
    if (runs[i].suite != runs.front().suite) {
      throw InputError(fmt::format("{} ran suite '{}' but {} ran suite '{}'; only runs of one suite are pooled",
                                   names.front(), runs.front().suite, names[i], runs[i].suite));
    }
  }
  std::vector<Group> groups;
  for (size_t run = 0; run < runs.size(); ++run) {
    for (const Result& r : runs[run].results) {
      const auto open = std::find_if(groups.begin(), groups.end(), [&](const Group& g) {
        return same_setup(*g.parts.front().second, r) && g.parts.back().first != run;
      });
      if (open == groups.end()) {
        groups.push_back({{{run, &r}}});
      } else {
        open->parts.push_back({run, &r});
      }
    }
  }
  ResultsFile pooled = runs.front();
  pooled.results.clear();
  for (const Group& group : groups) pooled.results.push_back(pool_group(group));
  for (const ResultsFile& run : runs) {
    pooled.schema_version = std::min(pooled.schema_version, run.schema_version);
    pooled.complete = pooled.complete && run.complete;
    for (const DeviceInfo& device : run.devices) {
      const bool known = std::any_of(pooled.devices.begin(), pooled.devices.end(),
                                     [&](const DeviceInfo& d) { return d.id == device.id; });
      if (!known) pooled.devices.push_back(device);
    }
  }
  return pooled;
}

size_t repetition_count(const ResultsFile& file) {
  size_t count = 1;
  for (const Result& r : file.results) {
    if (r.status == ResultStatus::ok && r.measurement) count = std::max(count, repetitions_of(*r.measurement).size());
  }
  return count;
}

}  // namespace trainrate
