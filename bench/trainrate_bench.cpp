// trainrate-bench: every backend × problem of the built-in suites as a Google Benchmark.
//
// Each benchmark is one call of the same runner the CLI uses (verify, then measure with the
// noise-based stopping criterion); Google Benchmark only reports it. The time it shows is our
// median per run (manual time, one iteration), and the counters carry R, bytes/s and % of peak,
// so --benchmark_format=json, --benchmark_filter and compare.py work as users expect.
//
// Names: <suite>/<backend>/<problem>, e.g. "smoke/openblas/gemm 96x64x80 NN fp32".
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <set>

#include "backends/cpu/cpu_backends.hpp"
#include "backends/registry.hpp"
#include "run/runner.hpp"
#include "problems/problem_json.hpp"
#include "problems/suite.hpp"
#include "results/results_json.hpp"

namespace {

using namespace trainrate;

void run_benchmark(benchmark::State& state, Backend* backend, const Problem& problem) {
  RunOptions options;
  const MeasureDefaults defaults = backend->device().measure_defaults();
  options.measure.mode = defaults.cold ? CacheMode::cold : CacheMode::hot;
  options.measure.stopping.target_relative_noise = defaults.noise_target;
  // Set first: a skipped row still names its problem and backend.
  state.SetLabel(benchmark_label(problem, backend->facts(), backend->device().info().id).dump());
  for (auto _ : state) {
    const Result result = run_one(*backend, problem, options);
    if (result.status != ResultStatus::ok) {
      state.SkipWithError(fmt::format("{}: {}", to_string(result.status), result.reason).c_str());
      return;
    }
    const SampleStats& stats = result.measurement->stats;
    state.SetIterationTime(stats.median_ms * 1e-3);
    state.counters["FLOP/s"] = result.rate_flops_per_s;
    state.counters["flops"] = result.flops;
    state.counters["bytes/s"] = min_bytes(problem) / (stats.median_ms * 1e-3);
    state.counters["pct_peak"] = result.percent_of_peak.value_or(0);
    state.counters["samples"] = double(stats.samples);
    state.counters["noise"] = stats.relative_noise;
  }
}

void register_suite(const std::string& suite_name, const std::vector<Backend*>& backends) {
  const Suite suite = load_suite(suite_name);
  for (Backend* backend : backends) {
    for (const Problem& problem : suite.problems) {
      const std::string name = fmt::format("{}/{}/{}", suite.name, backend->name(), describe(problem));
      benchmark::RegisterBenchmark(name.c_str(), run_benchmark, backend, problem)
          ->UseManualTime()
          ->Iterations(1)
          ->Unit(benchmark::kMillisecond);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  use_openblas_kernels_for_this_cpu(argv);
  static const BackendSet set = make_available_backends();
  std::vector<Backend*> backends;
  std::set<std::string> named_kinds;
  for (const auto& backend : set.backends) {
    backends.push_back(backend.get());
    const std::string kind(backend->device().kind());
    if (named_kinds.insert(kind).second) {
      benchmark::AddCustomContext(kind == "cpu" ? "cpu_name" : "gpu_name", backend->device().info().name);
    }
  }
  benchmark::AddCustomContext("trainrate_version", TRAINRATE_VERSION);
  for (const auto& info : builtin_suites()) register_suite(info.name, backends);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
