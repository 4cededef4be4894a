// trainrate-bench: every backend × problem of the built-in suites as a Google Benchmark.
//
// Each benchmark is one call of the same runner the CLI uses (verify, then measure with the
// noise-based stopping criterion); Google Benchmark only reports it. The time it shows is our
// median per run (manual time, one iteration), and the counters carry R, bytes/s and % of peak,
// so --benchmark_format=json, --benchmark_filter and compare.py work as users expect.
//
// Names: <suite>/<backend>/<problem>, e.g. "smoke/openblas/gemm 96x64x80 NN fp32".
// Our own flags (--trainrate_threads, --trainrate_budget_ms) are taken out of argv before Google
// Benchmark sees it; --help lists them above its own.
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <set>
#include <string_view>
#include <thread>

#include "backends/cpu/cpu_backends.hpp"
#include "backends/registry.hpp"
#include "devices/cpu_device.hpp"
#include "run/runner.hpp"
#include "problems/problem_json.hpp"
#include "problems/suite.hpp"
#include "results/results_json.hpp"

namespace {

using namespace trainrate;

// A row whose noise is this many times the stopping target was timed while something else ran.
constexpr double kBusyNoiseFactor = 10;

struct BenchOptions {
  int threads = 0;  // 0: every hardware thread
  double budget_ms = StoppingCriterion{}.budget_ms;
  bool machine_busy = false;  // at start; every row is then marked
};

[[noreturn]] void usage_error(const std::string& message) {
  fmt::print(stderr, "trainrate-bench: error: {}\n", message);
  std::exit(2);
}

template <typename T>
T parse_value(std::string_view flag, std::string_view text) {
  T value{};
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) {
    usage_error(fmt::format("{}: '{}' is not a number", flag, text));
  }
  return value;
}

// Takes our flags out of argv, leaving Google Benchmark's.
BenchOptions take_own_flags(int& argc, char** argv) {
  BenchOptions options;
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg.starts_with("--trainrate_threads=")) {
      options.threads = parse_value<int>("--trainrate_threads", arg.substr(arg.find('=') + 1));
      if (options.threads < 0) usage_error("--trainrate_threads: must be >= 0 (0: all hardware threads)");
    } else if (arg.starts_with("--trainrate_budget_ms=")) {
      options.budget_ms = parse_value<double>("--trainrate_budget_ms", arg.substr(arg.find('=') + 1));
      if (!std::isfinite(options.budget_ms) || options.budget_ms <= 0) {
        usage_error("--trainrate_budget_ms: must be a positive number of milliseconds");
      }
    } else {
      argv[kept++] = argv[i];
    }
  }
  argc = kept;
  return options;
}

void print_help() {
  fmt::print(
      "trainrate-bench: every backend x problem of trainrate's built-in suites as a Google Benchmark.\n\n"
      "trainrate flags:\n"
      "  --trainrate_threads=N      CPU threads for every CPU backend (default 0: all hardware threads)\n"
      "  --trainrate_budget_ms=MS   time budget per benchmark, in ms (default {:g})\n"
      "A machine whose load average at start exceeds its cores less one is busy: a warning is printed, the\n"
      "context says machine_busy, and every row gets the counter busy=1 (so does a row whose noise is {:g}x\n"
      "the target); trainrate report says so. Rows on a busy machine do not measure the kernels.\n\n"
      "Google Benchmark flags:\n",
      StoppingCriterion{}.budget_ms, kBusyNoiseFactor);
  benchmark::PrintDefaultHelp();
}

// Checked once at start: the benchmark itself adds load, so later readings would accuse it.
void check_machine_load(BenchOptions& options) {
  const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
  const std::optional<double> load = load_average_1min();
  if (!load || !host_is_busy(*load, cores)) return;
  options.machine_busy = true;
  const std::string why = fmt::format("load average {:.2f} on {} cores at start", *load, cores);
  benchmark::AddCustomContext("machine_busy", why);
  fmt::print(stderr,
             "trainrate-bench: warning: this machine is busy ({}): every row is marked busy=1; its rates and "
             "custom/vendor ratios measure the other jobs as much as the kernels\n",
             why);
}

void run_benchmark(benchmark::State& state, Backend* backend, const Problem& problem, const BenchOptions* bench) {
  RunOptions options;
  const MeasureDefaults defaults = backend->device().measure_defaults();
  options.measure.mode = defaults.cold ? CacheMode::cold : CacheMode::hot;
  options.measure.stopping.target_relative_noise = defaults.noise_target;
  options.measure.stopping.budget_ms = bench->budget_ms;
  // Set first: a skipped row still names its problem and backend.
  state.SetLabel(benchmark_label(problem, backend->facts(), backend->device().info().id).dump());
  for (auto _ : state) {
    const Result result = run_one(*backend, problem, options);
    if (result.status != ResultStatus::ok) {
      state.SkipWithError(fmt::format("{}: {}", to_string(result.status), result.reason).c_str());
      return;
    }
    const SampleStats& stats = result.measurement->stats;
    const bool noisy = stats.relative_noise > kBusyNoiseFactor * options.measure.stopping.target_relative_noise;
    if (noisy) {
      fmt::print(stderr, "trainrate-bench: warning: {} on {}: noise {:.1f}% ({:g}x the target), marked busy=1\n",
                 describe(problem), backend->name(), 100 * stats.relative_noise, kBusyNoiseFactor);
    }
    state.SetIterationTime(stats.median_ms * 1e-3);
    state.counters["FLOP/s"] = result.rate_flops_per_s;
    state.counters["flops"] = result.flops;
    state.counters["bytes/s"] = min_bytes(problem) / (stats.median_ms * 1e-3);
    state.counters["pct_peak"] = result.percent_of_peak.value_or(0);
    state.counters["samples"] = double(stats.samples);
    state.counters["noise"] = stats.relative_noise;
    state.counters["busy"] = bench->machine_busy || noisy ? 1 : 0;
  }
}

void register_suite(const std::string& suite_name, const std::vector<Backend*>& backends, const BenchOptions* bench) {
  const Suite suite = load_suite(suite_name);
  for (Backend* backend : backends) {
    for (const Problem& problem : suite.problems) {
      const std::string name = fmt::format("{}/{}/{}", suite.name, backend->name(), describe(problem));
      benchmark::RegisterBenchmark(name.c_str(), run_benchmark, backend, problem, bench)
          ->UseManualTime()
          ->Iterations(1)
          ->Unit(benchmark::kMillisecond);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  use_openblas_kernels_for_this_cpu(argv);
  static BenchOptions bench = take_own_flags(argc, argv);
  benchmark::Initialize(&argc, argv, print_help);  // --help ends here
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  check_machine_load(bench);  // before the backends measure their ceilings, which adds load
  CpuDevice::instance().set_threads(bench.threads);
  static const BackendSet set = make_available_backends();
  std::vector<Backend*> backends;
  std::set<std::string> named_kinds;
  // Collectives need several processes under a launcher; this single-process binary leaves them out.
  const std::vector<Backend*> collective = collective_backends(set);
  for (const auto& backend : set.backends) {
    if (std::find(collective.begin(), collective.end(), backend.get()) != collective.end()) continue;
    backends.push_back(backend.get());
    const std::string kind(backend->device().kind());
    if (named_kinds.insert(kind).second) {
      benchmark::AddCustomContext(kind == "cpu" ? "cpu_name" : "gpu_name", backend->device().info().name);
    }
  }
  benchmark::AddCustomContext("trainrate_version", TRAINRATE_VERSION);
  benchmark::AddCustomContext("trainrate_threads", std::to_string(CpuDevice::instance().threads()));
  benchmark::AddCustomContext("trainrate_budget_ms", fmt::format("{:g}", bench.budget_ms));
  for (const auto& info : builtin_suites()) {
    if (info.name != "collectives") register_suite(info.name, backends, &bench);
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
