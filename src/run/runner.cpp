#include "run/runner.hpp"

#include <fmt/format.h>

#include <exception>
#include <map>

#include "devices/cpu_device.hpp"

namespace trainrate {

namespace {

Result blank_result(Backend& backend, const Problem& problem, const RunOptions& options) {
  Result result;
  result.problem = problem;
  result.backend = backend.name();
  result.role = std::string(to_string(backend.role()));
  result.device = backend.device().info().id;
  result.device_kind = backend.facts().device_kind;
  result.compared_with = backend.facts().compared_with;
  result.view = backend.facts().view;
  result.framework_view_of = backend.facts().framework_view_of;
  result.mode = std::string(to_string(options.measure.mode));
  result.flops = flops(problem);
  result.bytes = min_bytes(problem);
  result.threads = backend.device().kind() == "cpu" ? CpuDevice::instance().threads() : 0;
  return result;
}

void fill_rate(Result& result, Backend& backend) {
  const double median_s = result.measurement->stats.median_ms * 1e-3;
  result.rate_flops_per_s = median_s > 0 ? result.flops / median_s : 0;
  result.rate_bytes_per_s = median_s > 0 ? result.bytes / median_s : 0;
  stamp_peak(result, backend.device().info().peaks);
}

int64_t operand_total(const OperandSizes& sizes) {
  int64_t total = sizes.input0 + sizes.input1 + sizes.output;
  for (int64_t more : sizes.more_inputs) total += more;
  return total;
}

std::string format_bytes(double bytes) {
  if (bytes >= double(1 << 30)) return fmt::format("{:.2f} GiB", bytes / double(1 << 30));
  return fmt::format("{:.1f} MiB", bytes / double(1 << 20));
}

// Inputs on the host, the backend's own copies and the output copied back: checked before any
// allocation, so an absurd shape becomes a "skipped" row instead of an out-of-memory kill.
std::optional<std::string> host_memory_shortfall(const Problem& problem) {
  const OperandSizes sizes = operand_elements(problem);
  const double needed_bytes = 2.0 * double(operand_total(sizes)) * sizeof(float);
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
  const double needed_bytes = double(operand_total(sizes)) * double(storage_bytes(dtype));
  if (needed_bytes <= 0.9 * double(*free_bytes)) return std::nullopt;
  return fmt::format("needs {} of device memory, {} free", format_bytes(needed_bytes),
                     format_bytes(double(*free_bytes)));
}

// A collective is right only if every rank's output is: each rank checks its own and the group
// adds up the counts, so rank 0, which writes the results, reports the others' mismatches too.
void combine_over_group(Verification& v, Device& device) {
  const int64_t local_mismatches = v.mismatches;
  v.mismatches = device.sum_over_group(local_mismatches);
  v.elements_checked = device.sum_over_group(v.elements_checked);
  if (local_mismatches == 0 && v.mismatches > 0) {
    v.first_mismatch = fmt::format("{} mismatches on other ranks", v.mismatches);
  }
}

// Ranks must agree on skipping: one that skips while the others start a collective hangs them.
std::optional<std::string> group_shortfall(Device& device, std::optional<std::string> local) {
  const int64_t short_ranks = device.sum_over_group(local ? 1 : 0);
  if (short_ranks == 0) return std::nullopt;
  return local ? local : fmt::format("{} other ranks are short of memory", short_ranks);
}

}  // namespace

void stamp_peak(Result& result, const Peaks& peaks) {
  result.peak_flops_per_s = peaks.flops_per_s(dtype_of(result.problem));
  result.peak_bytes_per_s = peaks.bytes_per_s();
  result.percent_of_peak.reset();
  const bool memory = rated_in_bytes(result.problem);
  const std::optional<double> peak = memory ? result.peak_bytes_per_s : result.peak_flops_per_s;
  if (peak && *peak > 0) {
    result.percent_of_peak = 100.0 * (memory ? result.rate_bytes_per_s : result.rate_flops_per_s) / *peak;
  }
}

Result run_one(Backend& backend, const Problem& problem, const RunOptions& options) {
  Result result = blank_result(backend, problem, options);
  if (auto reason = backend.unsupported_reason(problem)) {
    result.status = ResultStatus::skipped;
    result.reason = *reason;
    return result;
  }
  auto shortfall = host_memory_shortfall(problem);
  if (!shortfall) shortfall = device_memory_shortfall(backend.device(), problem);
  if (is_collective(problem)) shortfall = group_shortfall(backend.device(), shortfall);
  if (shortfall) {
    result.status = ResultStatus::skipped;
    result.reason = *shortfall;
    return result;
  }
  try {
    const HostInputs inputs = make_inputs(problem, options.input_seed);
    auto prepared = backend.prepare(problem, inputs);
    prepared->run();
    VerifyOptions verify_options = options.verify;
    verify_options.rank = backend.device().process_group().rank;
    result.verification = verify(problem, inputs, prepared->output(), verify_options);
    if (is_collective(problem)) combine_over_group(result.verification, backend.device());
    result.algorithm = prepared->algorithm();
    result.workspace_bytes = prepared->workspace_bytes();
    if (!passed(result.verification)) {
      // Never time (or report a rate for) a kernel that computes the wrong answer.
      result.status = ResultStatus::invalid;
      result.reason = result.verification.first_mismatch;
      return result;
    }
    result.measurement = measure(backend.device(), [&] { prepared->run(); }, options.measure);
    fill_rate(result, backend);
  } catch (const std::exception& e) {
    result.status = ResultStatus::failed;
    result.reason = e.what();
  }
  return result;
}

std::vector<Result> run_all(const std::vector<Problem>& problems, const std::vector<Backend*>& backends,
                            const RunOptions& options, const RunObserver& observer,
                            const std::function<bool(const Problem&, const Backend&)>& already_done) {
  std::vector<Result> results;
  const size_t total = problems.size() * backends.size();
  size_t index = 0;
  std::map<const Device*, std::string> dead_devices;  // devices a sticky error made unusable
  for (const Problem& problem : problems) {
    for (Backend* backend : backends) {
      if (g_stop_requested.load()) return results;
      if (already_done && already_done(problem, *backend)) {
        ++index;
        continue;
      }
      if (observer.on_start) observer.on_start(index, total, problem, *backend);
      if (auto dead = dead_devices.find(&backend->device()); dead != dead_devices.end()) {
        results.push_back(failed_on_dead_device(*backend, problem, options, dead->second));
      } else {
        results.push_back(run_one(*backend, problem, options));
        if (results.back().status == ResultStatus::failed) {
          if (auto fatal = backend->device().fatal_error()) dead_devices[&backend->device()] = *fatal;
        }
      }
      // An interrupted measurement is incomplete: drop it so a resume measures it again.
      if (results.back().measurement && results.back().measurement->stop_reason == "interrupted") {
        results.pop_back();
        return results;
      }
      if (observer.on_result) observer.on_result(index, total, results.back());
      ++index;
    }
  }
  return results;
}

}  // namespace trainrate
