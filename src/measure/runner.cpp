#include "measure/runner.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <exception>
#include <limits>
#include <map>
#include <optional>

#include "devices/cpu_device.hpp"

namespace trainrate {

namespace {

Result blank_result(Backend& backend, const Problem& problem, const RunOptions& options) {
  Result result;
  result.problem = problem;
  result.backend = backend.name();
  result.role = std::string(to_string(backend.role()));
  result.device = backend.device().info().id;
  result.mode = std::string(to_string(options.measure.mode));
  result.flops = flops(problem);
  result.threads = backend.device().kind() == "cpu" ? CpuDevice::instance().threads() : 0;
  return result;
}

void fill_rate(Result& result, Backend& backend, const Problem& problem) {
  const double median_s = result.measurement->stats.median_ms * 1e-3;
  result.rate_flops_per_s = median_s > 0 ? result.flops / median_s : 0;
  const Dtype dtype = dtype_of(problem);
  result.peak_flops_per_s = backend.device().info().peaks.flops_per_s(dtype);
  if (result.peak_flops_per_s && *result.peak_flops_per_s > 0) {
    result.percent_of_peak = 100.0 * result.rate_flops_per_s / *result.peak_flops_per_s;
  }
}

std::string format_bytes(double bytes) {
  if (bytes >= double(1 << 30)) return fmt::format("{:.2f} GiB", bytes / double(1 << 30));
  return fmt::format("{:.1f} MiB", bytes / double(1 << 20));
}

// Inputs on the host, the backend's own copies and the output copied back: checked before any
// allocation, so an absurd shape becomes a "skipped" row instead of an out-of-memory kill.
std::optional<std::string> host_memory_shortfall(const Problem& problem) {
  const OperandSizes sizes = operand_elements(problem);
  const double needed_bytes = 2.0 * double(sizes.input0 + sizes.input1 + sizes.output) * sizeof(float);
  const double available_bytes = double(available_host_memory_bytes());
  if (needed_bytes <= 0.9 * available_bytes) return std::nullopt;
  return fmt::format("needs {} of host memory, {} available", format_bytes(needed_bytes),
                     format_bytes(available_bytes));
}

Result failed_on_dead_device(Backend& backend, const Problem& problem, const RunOptions& options,
                             const std::string& why) {
  Result result = blank_result(backend, problem, options);
  result.status = ResultStatus::failed;
  result.reason = "not run: " + why;
  return result;
}

// The operands in the problem's storage type on a device with its own memory (GPU).
std::optional<std::string> device_memory_shortfall(Device& device, const Problem& problem) {
  const auto free_bytes = device.free_device_memory_bytes();
  if (!free_bytes) return std::nullopt;
  const OperandSizes sizes = operand_elements(problem);
  const Dtype dtype = dtype_of(problem);
  const double needed_bytes = double(sizes.input0 + sizes.input1 + sizes.output) * double(storage_bytes(dtype));
  if (needed_bytes <= 0.9 * double(*free_bytes)) return std::nullopt;
  return fmt::format("needs {} of device memory, {} free", format_bytes(needed_bytes),
                     format_bytes(double(*free_bytes)));
}

// A backend's turn at one problem: its result so far and, once verified, what is left to time.
struct Entry {
  size_t index;
  Backend* backend;
  Result result;
  std::unique_ptr<PreparedProblem> prepared;  // verified and waiting to be timed; null when settled
  std::optional<Sampler> sampler;
};

std::optional<std::string> memory_shortfall(Backend& backend, const Problem& problem) {
  if (auto shortfall = host_memory_shortfall(problem)) return shortfall;
  return device_memory_shortfall(backend.device(), problem);
}

// Prepares and verifies; leaves `prepared` set only when the backend passed and is ready to time.
// Never throws for per-problem trouble: unsupported or too big → skipped, wrong output → INVALID,
// exceptions → FAILED with the message.
void prepare_verified(Entry& entry, const Problem& problem, const RunOptions& options) {
  Result& result = entry.result;
  try {
    const HostInputs inputs = make_inputs(problem, options.input_seed);
    entry.prepared = entry.backend->prepare(problem, inputs);
    entry.prepared->run();
    result.verification = verify(problem, inputs, entry.prepared->output(), options.verify);
    result.algorithm = entry.prepared->algorithm();
    result.workspace_bytes = entry.prepared->workspace_bytes();
    if (!passed(result.verification)) {
      // Never time (or report a rate for) a kernel that computes the wrong answer.
      result.status = ResultStatus::invalid;
      result.reason = result.verification.first_mismatch;
      entry.prepared.reset();
    }
  } catch (const std::exception& e) {
    result.status = ResultStatus::failed;
    result.reason = e.what();
    entry.prepared.reset();
  }
}

void settle_failed(Entry& entry, const std::string& why) {
  entry.result.status = ResultStatus::failed;
  entry.result.reason = why;
  entry.sampler.reset();
  entry.prepared.reset();
}

// Times every prepared entry, taking turns in slices, so that drifts of a shared machine (a
// neighbour's burst, a clock change, lasting from milliseconds to seconds) fall on every backend
// of the problem alike and the ratios between them stay honest. On a 2-vCPU cloud VM the same
// ResNet-50 layer measured up to 2× apart for either backend from one run to the next, while
// the machine stayed idle. Each entry keeps its own stopping criterion. A hot-mode slice starts
// with one untimed run so its samples see this problem's data in the caches, not the other
// backend's; a slice lasts at least 4 runs, so that re-warming costs at most a fifth of the time.
// A device that a sticky error made unusable ends the turns of every entry on it.
void time_in_turns(std::vector<Entry*> entries, const RunOptions& options,
                   std::map<const Device*, std::string>& dead_devices) {
  constexpr double kMinSliceMs = 20;
  constexpr double kMinSliceRuns = 4;
  const auto fail = [&](Entry& entry, const std::string& why) {
    settle_failed(entry, why);
    if (auto fatal = entry.backend->device().fatal_error()) dead_devices[&entry.backend->device()] = *fatal;
  };
  for (Entry* entry : entries) {
    try {
      entry->sampler.emplace(entry->backend->device(), [p = entry->prepared.get()] { p->run(); }, options.measure);
    } catch (const std::exception& e) {
      fail(*entry, e.what());
    }
  }
  const bool taking_turns = entries.size() > 1;
  while (true) {
    bool sampled = false;
    for (Entry* entry : entries) {
      if (!entry->sampler || entry->sampler->done()) continue;
      if (auto dead = dead_devices.find(&entry->backend->device()); dead != dead_devices.end()) {
        settle_failed(*entry, "not run: " + dead->second);
        continue;
      }
      try {
        const double slice_ms = taking_turns ? std::max(kMinSliceMs, kMinSliceRuns * entry->sampler->warmup_run_ms())
                                             : std::numeric_limits<double>::infinity();
        entry->sampler->sample_for(slice_ms, taking_turns);
        sampled = true;
      } catch (const std::exception& e) {
        fail(*entry, e.what());
      }
    }
    if (!sampled) break;
  }
  for (Entry* entry : entries) {
    if (!entry->sampler) continue;
    entry->result.measurement = entry->sampler->finish();
    fill_rate(entry->result, *entry->backend, entry->result.problem);
    entry->sampler.reset();
    entry->prepared.reset();
  }
}

std::vector<Entry*> waiting_to_be_timed(std::vector<Entry>& entries) {
  std::vector<Entry*> waiting;
  for (Entry& entry : entries) {
    if (entry.prepared && !entry.sampler && !entry.result.measurement) waiting.push_back(&entry);
  }
  return waiting;
}

// One problem on every backend that has not done it yet: each is prepared and verified in turn,
// then all are timed together (time_in_turns). When the next backend's operands would not fit
// next to those already prepared, the prepared ones are timed and released first.
std::vector<Entry> run_problem(const Problem& problem, const std::vector<Backend*>& backends, size_t first_index,
                               const RunOptions& options, const RunObserver& observer,
                               const std::function<bool(const Problem&, const Backend&)>& already_done,
                               size_t total, std::map<const Device*, std::string>& dead_devices) {
  std::vector<Entry> entries;
  entries.reserve(backends.size());  // time_in_turns holds pointers into it
  for (size_t b = 0; b < backends.size(); ++b) {
    Backend& backend = *backends[b];
    if (g_stop_requested.load()) break;
    if (already_done && already_done(problem, backend)) continue;
    if (observer.on_start) observer.on_start(first_index + b, total, problem, backend);
    Entry& entry = entries.emplace_back(Entry{first_index + b, &backend, blank_result(backend, problem, options), {}, {}});
    if (auto dead = dead_devices.find(&backend.device()); dead != dead_devices.end()) {
      settle_failed(entry, "not run: " + dead->second);
      continue;
    }
    if (auto reason = backend.unsupported_reason(problem)) {
      entry.result.status = ResultStatus::skipped;
      entry.result.reason = *reason;
      continue;
    }
    auto shortfall = memory_shortfall(backend, problem);
    if (shortfall && !waiting_to_be_timed(entries).empty()) {
      time_in_turns(waiting_to_be_timed(entries), options, dead_devices);
      shortfall = memory_shortfall(backend, problem);
    }
    if (shortfall) {
      entry.result.status = ResultStatus::skipped;
      entry.result.reason = *shortfall;
      continue;
    }
    prepare_verified(entry, problem, options);
    if (entry.result.status == ResultStatus::failed) {
      if (auto fatal = backend.device().fatal_error()) dead_devices[&backend.device()] = *fatal;
    }
  }
  time_in_turns(waiting_to_be_timed(entries), options, dead_devices);
  return entries;
}

}  // namespace

Result run_one(Backend& backend, const Problem& problem, const RunOptions& options) {
  std::map<const Device*, std::string> dead_devices;
  std::vector<Entry> entries = run_problem(problem, {&backend}, 0, options, RunObserver{}, {}, 1, dead_devices);
  return std::move(entries.front().result);
}

std::vector<Result> run_all(const std::vector<Problem>& problems, const std::vector<Backend*>& backends,
                            const RunOptions& options, const RunObserver& observer,
                            const std::function<bool(const Problem&, const Backend&)>& already_done) {
  std::vector<Result> results;
  const size_t total = problems.size() * backends.size();
  std::map<const Device*, std::string> dead_devices;  // devices a sticky error made unusable
  for (size_t p = 0; p < problems.size(); ++p) {
    if (g_stop_requested.load()) return results;
    std::vector<Entry> entries =
        run_problem(problems[p], backends, p * backends.size(), options, observer, already_done, total, dead_devices);
    for (Entry& entry : entries) {
      // An interrupted measurement is incomplete: drop it so a resume measures it again.
      if (entry.result.measurement && entry.result.measurement->stop_reason == "interrupted") return results;
      if (observer.on_result) observer.on_result(entry.index, total, entry.result);
      results.push_back(std::move(entry.result));
    }
  }
  return results;
}

}  // namespace trainrate
