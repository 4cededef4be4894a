// trainrate run: measure a suite on the chosen backends, print a table, write a results file.
//
// The results file is rewritten atomically after every finished problem, so an interrupted or
// killed run loses at most the problem in flight; --resume continues it.
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <iostream>

#include "backends/registry.hpp"
#include "cli/commands.hpp"
#include "devices/cpu_device.hpp"
#include "measure/runner.hpp"
#include "problems/problem_json.hpp"
#include "problems/suite.hpp"
#include "reports/table.hpp"
#include "results/environment.hpp"
#include "results/results_json.hpp"

namespace trainrate::cli {

namespace {

struct RunArgs {
  std::string suite;
  std::string backends;
  std::string output;
  std::string resume;
  std::string mode = "auto";
  std::string dtype, layout;
  std::vector<std::string> kinds;
  int64_t batch = 0, seq_len = 0, image_size = 0, min_size = 0, max_size = 0;
  double noise = 0;  // 0: the device's default
  double budget_ms = 2000;
  double min_time_ms = 50;
  int64_t min_samples = 10, max_samples = 1000, warmup = 1;
  int threads = 0;
  uint64_t seed = 1;
  bool quiet = false, json = false, list = false;
};

std::atomic<int> g_signal{0};

void on_stop_signal(int signal) {
  g_signal.store(signal);
  g_stop_requested.store(true);
}

void install_signal_handlers() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

template <typename T>
std::optional<T> positive_or_unset(T value) {
  return value > 0 ? std::optional<T>(value) : std::nullopt;
}

SuiteParams suite_params(const RunArgs& a) {
  SuiteParams p;
  p.kinds = a.kinds;
  p.batch = positive_or_unset(a.batch);
  p.seq_len = positive_or_unset(a.seq_len);
  p.image_size = positive_or_unset(a.image_size);
  p.min_size = positive_or_unset(a.min_size);
  p.max_size = positive_or_unset(a.max_size);
  if (!a.dtype.empty()) {
    p.dtype = parse_dtype(a.dtype);
    if (!p.dtype) throw InputError(fmt::format("--dtype: '{}' is not one of fp32, tf32, fp16, bf16", a.dtype));
  }
  if (!a.layout.empty()) {
    p.layout = parse_layout(a.layout);
    if (!p.layout) throw InputError(fmt::format("--layout: '{}' is not one of NCHW, NHWC", a.layout));
  }
  return p;
}

RunOptions run_options(const RunArgs& a, bool on_gpu) {
  RunOptions options;
  if (a.mode == "auto") {
    // nvbench's default on GPU: L2 flushed before each sample. CPU problems here mostly exceed the
    // caches already, and flushing tens of MiB per sample would dominate small problems' budgets.
    options.measure.mode = on_gpu ? CacheMode::cold : CacheMode::hot;
  } else if (a.mode == "cold" || a.mode == "hot") {
    options.measure.mode = a.mode == "cold" ? CacheMode::cold : CacheMode::hot;
  } else {
    throw InputError(fmt::format("--mode: '{}' is not one of auto, cold, hot", a.mode));
  }
  options.measure.warmup_runs = a.warmup;
  StoppingCriterion& stop = options.measure.stopping;
  stop.target_relative_noise = a.noise > 0 ? a.noise : (on_gpu ? 0.005 : 0.01);
  stop.budget_ms = a.budget_ms;
  stop.min_time_ms = a.min_time_ms;
  stop.min_samples = a.min_samples;
  stop.max_samples = a.max_samples;
  options.input_seed = a.seed;
  return options;
}

std::string default_output_path(const std::string& suite, const std::vector<Backend*>& backends) {
  const std::string device = backends.front()->device().kind() == "cpu" ? "cpu" : "gpu";
  std::string stamp = utc_timestamp();
  std::erase(stamp, ':');
  std::erase(stamp, '-');
  return fmt::format("results/{}-{}-{}-{}.json", sanitize_for_filename(host_name()), device,
                     sanitize_for_filename(std::filesystem::path(suite).stem().string()), stamp);
}

void record_options(ResultsFile& file, const RunArgs& a, const RunOptions& o) {
  file.options = {{"suite_arg", a.suite},
                  {"backends_arg", a.backends},
                  {"mode", std::string(to_string(o.measure.mode))},
                  {"target_relative_noise", fmt::format("{}", o.measure.stopping.target_relative_noise)},
                  {"budget_ms", fmt::format("{}", o.measure.stopping.budget_ms)},
                  {"min_samples", std::to_string(o.measure.stopping.min_samples)},
                  {"threads", std::to_string(CpuDevice::instance().threads())},
                  {"seed", std::to_string(o.input_seed)}};
}

void add_devices(ResultsFile& file, const std::vector<Backend*>& backends) {
  for (Backend* backend : backends) {
    const DeviceInfo& info = backend->device().info();
    const bool known = std::any_of(file.devices.begin(), file.devices.end(),
                                   [&](const DeviceInfo& d) { return d.id == info.id; });
    if (!known) file.devices.push_back(info);
  }
}

// A second look at the CPU's FMA ceiling once the run is over (CpuDevice::recheck_fma_peak): if it
// rose, the file's CPU entry and the % of peak of every CPU result measured in it follow.
void recheck_cpu_peak(ResultsFile& file, const std::vector<Backend*>& backends) {
  const bool used_cpu =
      std::any_of(backends.begin(), backends.end(), [](Backend* b) { return b->device().kind() == "cpu"; });
  if (!used_cpu) return;
  CpuDevice& cpu = CpuDevice::instance();
  const bool rose = cpu.recheck_fma_peak();
  const DeviceInfo& info = cpu.info();
  for (DeviceInfo& device : file.devices) {
    if (device.id == info.id) device = info;  // also when it did not rise: it lists both checks
  }
  if (!rose) return;
  for (Result& result : file.results) {
    if (result.device == info.id && result.percent_of_peak) stamp_peak(result, info.peaks);
  }
}

// Progress on a terminal: one line, rewritten in place, under the growing table.
class Progress {
 public:
  explicit Progress(bool enabled) : enabled_(enabled), start_(std::chrono::steady_clock::now()) {}

  void show(size_t index, size_t total, const Problem& problem, const Backend& backend) {
    if (!enabled_) return;
    const double elapsed_s = seconds_since_start();
    const std::string eta = index > 0 ? fmt::format("{:.0f}s", elapsed_s / double(index) * double(total - index)) : "?";
    fmt::print(stderr, "\r\033[K[{}/{}] {} on {}  elapsed {:.0f}s  ETA {}", index + 1, total, describe(problem),
               backend.name(), elapsed_s, eta);
    std::fflush(stderr);
  }
  void clear() {
    if (enabled_) fmt::print(stderr, "\r\033[K");
  }

 private:
  double seconds_since_start() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }
  bool enabled_;
  std::chrono::steady_clock::time_point start_;
};

// Continue an earlier run: its settings become the defaults, its finished results are kept.
void adopt_resumed_run(RunArgs& a, ResultsFile& file) {
  file = read_results_file(a.resume);
  if (a.suite.empty() && file.options.contains("suite_arg")) a.suite = file.options.at("suite_arg");
  if (a.backends.empty() && file.options.contains("backends_arg")) a.backends = file.options.at("backends_arg");
  if (a.output.empty()) a.output = a.resume;
}

int run_suite(RunArgs a) {
  ResultsFile file;
  if (!a.resume.empty()) adopt_resumed_run(a, file);
  if (a.suite.empty()) a.suite = "quick";
  const Suite suite = load_suite(a.suite, suite_params(a));
  if (a.list) {
    for (const Problem& problem : suite.problems) fmt::print("{}\n", describe(problem));
    return kExitOk;
  }
  if (a.threads < 0) throw InputError("--threads must be >= 0");
  CpuDevice::instance().set_threads(a.threads);

  const BackendSet set = make_available_backends();
  const std::vector<Backend*> backends = a.backends.empty() ? default_backends(set) : select_backends(set, a.backends);
  const bool on_gpu = backends.front()->device().kind() != "cpu";
  if (!a.quiet && !set.gpu_unavailable_reason.empty()) {
    fmt::print(stderr, "trainrate: no GPU ({}); running on the CPU\n", set.gpu_unavailable_reason);
  }
  const RunOptions options = run_options(a, on_gpu);
  if (a.output.empty()) a.output = default_output_path(a.suite, backends);
  const std::filesystem::path output = a.output;
  if (output.has_parent_path()) std::filesystem::create_directories(output.parent_path());

  if (a.resume.empty()) file = new_results_file(suite.name);
  file.complete = false;
  record_options(file, a, options);
  add_devices(file, backends);
  write_results_file(output, file);

  Progress progress(!a.quiet && isatty(STDERR_FILENO));
  // With --json, stdout carries the JSON document alone; the table a person watches goes to stderr.
  std::FILE* table_out = a.json ? stderr : stdout;
  if (!a.quiet) fmt::print(table_out, "{}", result_table_header());
  RunObserver observer;
  observer.on_start = [&](size_t i, size_t total, const Problem& p, const Backend& b) { progress.show(i, total, p, b); };
  observer.on_result = [&](size_t, size_t, const Result& result) {
    progress.clear();
    if (!a.quiet) fmt::print(table_out, "{}", result_table_row(result));
    std::fflush(table_out);
    file.results.push_back(result);
    write_results_file(output, file);
  };
  auto already_done = [&](const Problem& p, const Backend& b) {
    return std::any_of(file.results.begin(), file.results.end(),
                       [&](const Result& r) { return r.backend == b.name() && r.problem == p; });
  };
  install_signal_handlers();
  run_all(suite.problems, backends, options, observer, already_done);
  progress.clear();

  const int signal = g_signal.load();
  if (signal == 0) recheck_cpu_peak(file, backends);
  file.complete = signal == 0;
  write_results_file(output, file);
  if (signal != 0) {
    fmt::print(stderr, "trainrate run: interrupted; {} results saved to {} (continue with --resume {})\n",
               file.results.size(), output.string(), output.string());
    return 128 + signal;
  }
  if (a.json) std::cout << to_json(file).dump(2) << "\n";
  if (!a.quiet) {
    if (const std::string notes = above_peak_notes(file.results); !notes.empty()) fmt::print(table_out, "\n{}", notes);
    const auto rows = custom_vendor_ratios(file);
    if (!rows.empty()) fmt::print(table_out, "\n{}", ratio_table(rows, summarize_ratios(rows)));
    fmt::print(stderr, "results written to {}\n", output.string());
  }
  const bool any_failed = std::any_of(file.results.begin(), file.results.end(), [](const Result& r) {
    return r.status == ResultStatus::failed || r.status == ResultStatus::invalid;
  });
  return any_failed ? kExitFailure : kExitOk;
}

}  // namespace

Action add_run_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("run", "Measure a suite of problems on the chosen backends");
  auto a = std::make_shared<RunArgs>();
  std::string suites;
  for (const auto& info : builtin_suites()) suites += fmt::format("\n  {:<16} {}", info.name, info.description);
  cmd->add_option("-s,--suite", a->suite, "Built-in suite or a .json/.csv suite file (default: quick):" + suites);
  cmd->add_option("-b,--backends", a->backends,
                  "Comma-separated backends: names, family/* for all variants, or all "
                  "(default: the GPU ones when a GPU is present, else the CPU ones)");
  cmd->add_option("-o,--output", a->output, "Results JSON to write (default: results/<host>-<device>-<suite>-<time>.json)");
  cmd->add_option("--resume", a->resume, "Continue an interrupted run from its results file")->check(CLI::ExistingFile);
  cmd->add_option("--mode", a->mode, "cold: flush caches before each sample; hot: back to back; auto: cold on GPU, hot on CPU");
  cmd->add_option("--noise", a->noise, "Target relative noise (stddev/mean) to stop sampling (default 0.01 CPU, 0.005 GPU)")
      ->check(CLI::Range(1e-6, 1.0));
  cmd->add_option("--budget-ms", a->budget_ms, "Time budget per problem and backend, in ms")->check(CLI::PositiveNumber);
  cmd->add_option("--min-time-ms", a->min_time_ms, "Measured time before the noise target may stop sampling")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--min-samples", a->min_samples, "Minimum samples")->check(CLI::Range(int64_t{1}, int64_t{1000000}));
  cmd->add_option("--max-samples", a->max_samples, "Maximum samples")->check(CLI::Range(int64_t{1}, int64_t{1000000}));
  cmd->add_option("--warmup", a->warmup, "Warm-up runs before sampling")->check(CLI::Range(int64_t{0}, int64_t{1000}));
  cmd->add_option("--threads", a->threads, "CPU threads for every CPU backend (default: all)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--batch", a->batch, "Batch size for network suites")->check(CLI::PositiveNumber);
  cmd->add_option("--seq-len", a->seq_len, "Sequence length for the transformer suite")->check(CLI::PositiveNumber);
  cmd->add_option("--image-size", a->image_size, "Input height and width for the resnet50 suite")->check(CLI::PositiveNumber);
  cmd->add_option("--min-size", a->min_size, "Smallest size for the square suite")->check(CLI::PositiveNumber);
  cmd->add_option("--max-size", a->max_size, "Largest size for the square suite")->check(CLI::PositiveNumber);
  cmd->add_option("--dtype", a->dtype, "Override every problem's dtype: fp32, tf32, fp16, bf16");
  cmd->add_option("--layout", a->layout, "Override every convolution's layout: NCHW, NHWC");
  cmd->add_option("--kind", a->kinds, "Keep only problems of these kinds: gemm, conv, conv-fwd, conv-bwd-data, conv-bwd-filter")
      ->delimiter(',');
  cmd->add_option("--seed", a->seed, "Seed of the random inputs");
  cmd->add_flag("-q,--quiet", a->quiet, "No table and no progress; errors only");
  cmd->add_flag("--json", a->json, "Print the results JSON to stdout at the end");
  cmd->add_flag("--list", a->list, "List the suite's problems and exit");
  return [a] { return run_suite(*a); };
}

}  // namespace trainrate::cli
