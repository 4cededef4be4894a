// trainrate run: measure a suite on the chosen backends, print a table, write a results file.
//
// The results file is rewritten atomically after every finished problem, so an interrupted or
// killed run loses at most the problem in flight; --resume continues it with the options the file
// records, against the device peaks the file records. --repetitions N runs the suite N times, each
// in a fresh process of this program, and pools their files into one (results/repetitions.hpp).
#include <fmt/format.h>
#include <unistd.h>

#include <stdlib.h>

#include <charconv>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <set>
#include <sstream>

#include "backends/registry.hpp"
#include "cli/commands.hpp"
#include "devices/cpu_device.hpp"
#include "run/runner.hpp"
#include "problems/problem_json.hpp"
#include "problems/suite.hpp"
#include "reports/metrics.hpp"
#include "reports/table.hpp"
#include "run/environment.hpp"
#include "run/this_program.hpp"
#include "results/repetitions.hpp"
#include "results/results_json.hpp"

namespace trainrate::cli {

namespace {

struct RunArgs {
  std::string suite;
  std::string backends;
  std::string output;
  std::string resume;
  std::string metrics;  // Prometheus text file, written when the run completes
  std::string mode = "auto";
  std::string dtype, layout;
  std::vector<std::string> kinds;
  int64_t batch = 0, seq_len = 0, image_size = 0, min_size = 0, max_size = 0;
  int64_t ranks = 0;  // collectives: the ranks expected (0: as many as the launcher started)
  double noise = 0;  // 0: the device's default
  double budget_ms = 2000;
  double min_time_ms = 50;
  int64_t min_samples = 10, max_samples = 1000, warmup = 1;
  int threads = 0;
  int repetitions = 1;
  std::string as_repetition;  // "K/N": this process is repetition K of a parent's --repetitions N
  uint64_t seed = 1;
  bool quiet = false, json = false, list = false;
  std::set<std::string> given_flags;  // the options on the command line, by long name
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
  p.ranks = positive_or_unset(a.ranks);
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

// Replaces "let the device decide" in the arguments by what it decided, so that the arguments
// are exactly what the results file records and what a resumed run compares against.
void resolve_device_defaults(RunArgs& a, const MeasureDefaults& defaults) {
  if (a.mode == "auto") {
    a.mode = defaults.cold ? "cold" : "hot";
  } else if (a.mode != "cold" && a.mode != "hot") {
    throw InputError(fmt::format("--mode: '{}' is not one of auto, cold, hot", a.mode));
  }
  if (a.noise <= 0) a.noise = defaults.noise_target;
  a.threads = CpuDevice::instance().threads();
}

RunOptions run_options(const RunArgs& a) {
  RunOptions options;
  options.measure.mode = a.mode == "cold" ? CacheMode::cold : CacheMode::hot;
  options.measure.warmup_runs = a.warmup;
  StoppingCriterion& stop = options.measure.stopping;
  stop.target_relative_noise = a.noise;
  stop.budget_ms = a.budget_ms;
  stop.min_time_ms = a.min_time_ms;
  stop.min_samples = a.min_samples;
  stop.max_samples = a.max_samples;
  options.input_seed = a.seed;
  return options;
}

// Every option that shapes a run's rows, as the results file's options record it: --resume
// restores each one the command line leaves out and refuses one given with another value.
struct RecordedOption {
  std::string key;   // in ResultsFile::options
  std::string flag;  // on the command line
  std::function<std::string(const RunArgs&)> record;
  std::function<void(RunArgs&, const std::string&)> restore;
};

// What the file says for a suite option left unset: the suite chooses.
const std::string kSuiteDefault = "default";

template <typename T>
T parse_recorded(const std::string& key, const std::string& text) {
  T value{};
  const char* end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(text.data(), end, value);
  if (error != std::errc() || stop != end) throw InputError(fmt::format("options.{}: '{}' is not a number", key, text));
  return value;
}

RecordedOption text_option(std::string key, std::string flag, std::string RunArgs::*field) {
  return {key, flag, [field](const RunArgs& a) { return a.*field; },
          [field](RunArgs& a, const std::string& text) { a.*field = text; }};
}

template <typename T>
RecordedOption number_option(std::string key, std::string flag, T RunArgs::*field) {
  return {key, flag, [field](const RunArgs& a) { return fmt::format("{}", a.*field); },
          [key, field](RunArgs& a, const std::string& text) { a.*field = parse_recorded<T>(key, text); }};
}

// Suite parameters, where 0 (or empty) leaves the value to the suite.
RecordedOption suite_size_option(std::string key, std::string flag, int64_t RunArgs::*field) {
  return {key, flag, [field](const RunArgs& a) { return a.*field > 0 ? std::to_string(a.*field) : kSuiteDefault; },
          [key, field](RunArgs& a, const std::string& text) {
            a.*field = text == kSuiteDefault ? 0 : parse_recorded<int64_t>(key, text);
          }};
}

RecordedOption suite_text_option(std::string key, std::string flag, std::string RunArgs::*field) {
  return {key, flag, [field](const RunArgs& a) { return (a.*field).empty() ? kSuiteDefault : a.*field; },
          [field](RunArgs& a, const std::string& text) { a.*field = text == kSuiteDefault ? "" : text; }};
}

RecordedOption kinds_option() {
  return {"kinds", "--kind",
          [](const RunArgs& a) { return a.kinds.empty() ? kSuiteDefault : fmt::format("{}", fmt::join(a.kinds, ",")); },
          [](RunArgs& a, const std::string& text) {
            a.kinds.clear();
            if (text == kSuiteDefault) return;
            std::stringstream list(text);
            for (std::string kind; std::getline(list, kind, ',');) a.kinds.push_back(kind);
          }};
}

const std::vector<RecordedOption>& recorded_options() {
  static const std::vector<RecordedOption> options{
      text_option("suite_arg", "--suite", &RunArgs::suite),
      text_option("backends_arg", "--backends", &RunArgs::backends),
      text_option("mode", "--mode", &RunArgs::mode),
      number_option("target_relative_noise", "--noise", &RunArgs::noise),
      number_option("budget_ms", "--budget-ms", &RunArgs::budget_ms),
      number_option("min_time_ms", "--min-time-ms", &RunArgs::min_time_ms),
      number_option("min_samples", "--min-samples", &RunArgs::min_samples),
      number_option("max_samples", "--max-samples", &RunArgs::max_samples),
      number_option("warmup", "--warmup", &RunArgs::warmup),
      number_option("threads", "--threads", &RunArgs::threads),
      number_option("seed", "--seed", &RunArgs::seed),
      number_option("repetitions", "--repetitions", &RunArgs::repetitions),
      suite_size_option("batch", "--batch", &RunArgs::batch),
      suite_size_option("seq_len", "--seq-len", &RunArgs::seq_len),
      suite_size_option("image_size", "--image-size", &RunArgs::image_size),
      suite_size_option("min_size", "--min-size", &RunArgs::min_size),
      suite_size_option("max_size", "--max-size", &RunArgs::max_size),
      suite_size_option("ranks", "--ranks", &RunArgs::ranks),
      suite_text_option("dtype", "--dtype", &RunArgs::dtype),
      suite_text_option("layout", "--layout", &RunArgs::layout),
      kinds_option(),
  };
  return options;
}

void record_options(ResultsFile& file, const RunArgs& a) {
  for (const RecordedOption& option : recorded_options()) file.options[option.key] = option.record(a);
}

// Continue an earlier run: every option it recorded that the command line does not give is
// restored; files written before an option was recorded leave it at its default.
void restore_recorded_options(RunArgs& a, const ResultsFile& file) {
  for (const RecordedOption& option : recorded_options()) {
    const auto recorded = file.options.find(option.key);
    if (recorded != file.options.end() && !a.given_flags.contains(option.flag)) option.restore(a, recorded->second);
  }
}

// Rows measured with other settings would not belong in the file, so a differing option is an error.
void refuse_conflicting_options(const RunArgs& a, const ResultsFile& file) {
  for (const RecordedOption& option : recorded_options()) {
    const auto recorded = file.options.find(option.key);
    if (recorded == file.options.end() || !a.given_flags.contains(option.flag)) continue;
    const std::string given = option.record(a);
    if (given == recorded->second) continue;
    const std::string used = recorded->second == kSuiteDefault ? "the suite's default" : recorded->second;
    throw InputError(fmt::format("{} {}: the run in {} used {}; resume without {}", option.flag, given, a.resume, used,
                                 option.flag));
  }
}

// `device_kind`: that of the first backend ("cpu", "cuda").
std::string default_output_path(const std::string& suite, std::string_view device_kind) {
  const std::string device(device_kind == "cuda" ? "gpu" : device_kind);
  std::string stamp = utc_timestamp();
  std::erase(stamp, ':');
  std::erase(stamp, '-');
  return fmt::format("results/{}-{}-{}-{}.json", sanitize_for_filename(host_name()), device,
                     sanitize_for_filename(std::filesystem::path(suite).stem().string()), stamp);
}

// Every row's % of peak is against its device's entry in the file, so rows added by --resume use
// the peak the earlier rows use, not one measured again.
const DeviceInfo& device_in(const ResultsFile& file, const std::string& id) {
  const auto found = std::find_if(file.devices.begin(), file.devices.end(), [&](const DeviceInfo& d) { return d.id == id; });
  if (found == file.devices.end()) throw std::logic_error("results file has no device " + id);
  return *found;
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
  // `label` heads the line ("repetition 2 of 5 "), or is empty.
  Progress(bool enabled, std::string label)
      : enabled_(enabled), label_(std::move(label)), start_(std::chrono::steady_clock::now()) {}

  void show(size_t index, size_t total, const Problem& problem, const Backend& backend) {
    if (!enabled_) return;
    const double elapsed_s = seconds_since_start();
    const std::string eta = index > 0 ? fmt::format("{:.0f}s", elapsed_s / double(index) * double(total - index)) : "?";
    fmt::print(stderr, "\r\033[K{}[{}/{}] {} on {}  elapsed {:.0f}s  ETA {}", label_, index + 1, total,
               describe(problem), backend.name(), elapsed_s, eta);
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
  std::string label_;
  std::chrono::steady_clock::time_point start_;
};

bool has_collectives(const Suite& suite) {
  return std::any_of(suite.problems.begin(), suite.problems.end(), [](const Problem& p) { return is_collective(p); });
}

// The process group collectives run in (starting MPI), or an error when this build has no
// collective backend.
ProcessGroup collective_group(const BackendSet& set) {
  const std::vector<Backend*> found = collective_backends(set);
  if (found.empty()) {
    throw InputError("collectives need the mpi backend, and this build has none (install libopenmpi-dev and "
                     "openmpi-bin, then configure again; docs/cluster.md)");
  }
  return found.front()->device().process_group();
}

// A suite or results file made for N ranks is refused on M: its rows would mean something else.
void require_rank_count(const Suite& suite, const ProcessGroup& group) {
  for (const Problem& problem : suite.problems) {
    const auto* c = std::get_if<CollectiveProblem>(&problem);
    if (c && c->ranks != group.ranks) {
      throw InputError(fmt::format("{} expects {} ranks but {} are running (start it with mpirun -n {})",
                                   describe(problem), c->ranks, group.ranks, c->ranks));
    }
  }
}

std::vector<Backend*> backends_for(const RunArgs& a, const BackendSet& set, const Suite& suite) {
  if (!a.backends.empty()) return select_backends(set, a.backends);
  std::vector<Backend*> chosen;
  if (!std::all_of(suite.problems.begin(), suite.problems.end(), [](const Problem& p) { return is_collective(p); })) {
    chosen = default_backends(set);
  }
  if (has_collectives(suite)) {
    for (Backend* backend : collective_backends(set)) chosen.push_back(backend);
  }
  return chosen;
}

// "repetition 2 of 5 " for --as-repetition 2/5; empty for a run of its own.
std::string repetition_label(const std::string& as_repetition) {
  const size_t slash = as_repetition.find('/');
  if (slash == std::string::npos) return "";
  return fmt::format("repetition {} of {} ", as_repetition.substr(0, slash), as_repetition.substr(slash + 1));
}

// A repetition of a parent's run shows only its progress: the parent prints the table of all.
bool shows_table(const RunArgs& a) { return !a.quiet && a.as_repetition.empty(); }

// What every finished run does last: metrics, JSON, the notes and ratio table, and the exit status.
int finish_run(const RunArgs& a, const ResultsFile& file, const std::filesystem::path& output, std::FILE* table_out) {
  if (!a.metrics.empty()) {
    write_file_atomically(a.metrics, reports::render_metrics({{output.string(), file}}, nullptr,
                                                             reports::MetricsFormat::prometheus));
  }
  if (a.json) std::cout << to_json(file).dump(2) << "\n";
  if (shows_table(a)) {
    if (const std::string notes = above_peak_notes(file.results); !notes.empty()) fmt::print(table_out, "\n{}", notes);
    if (const std::string collectives = collectives_table(file.results); !collectives.empty()) {
      fmt::print(table_out, "\n{}", collectives);
    }
    const auto rows = custom_vendor_ratios(file);
    if (!rows.empty()) fmt::print(table_out, "\n{}", ratio_table(rows, summarize_ratios(rows)));
    fmt::print(stderr, "results written to {}\n", output.string());
  }
  const bool any_failed = std::any_of(file.results.begin(), file.results.end(), [](const Result& r) {
    return r.status == ResultStatus::failed || r.status == ResultStatus::invalid;
  });
  return any_failed ? kExitFailure : kExitOk;
}

int run_repetitions(RunArgs a);

int run_suite(RunArgs a) {
  ResultsFile file;
  const bool resuming = !a.resume.empty();
  if (resuming) {
    file = read_results_file(a.resume);
    restore_recorded_options(a, file);
    if (a.output.empty()) a.output = a.resume;
  }
  if (a.suite.empty()) a.suite = "quick";
  if (a.repetitions > 1 && !a.list) return run_repetitions(a);
  const BackendSet set = make_available_backends();
  SuiteParams params = suite_params(a);
  // The built-in collectives suite is made for the ranks that were launched unless --ranks says.
  if (a.suite == "collectives" && !params.ranks && !a.list) params.ranks = collective_group(set).ranks;
  const Suite suite = load_suite(a.suite, params);
  if (a.list) {
    for (const Problem& problem : suite.problems) fmt::print("{}\n", describe(problem));
    return kExitOk;
  }
  ProcessGroup group;
  if (has_collectives(suite)) {
    group = collective_group(set);
    require_rank_count(suite, group);
    if (group.ranks == 1) {
      fmt::print(stderr, "trainrate run: 1 rank: a collective has nothing to move, so there is nothing to measure; "
                         "start 2 or more ranks (mpirun -n 2 trainrate run --suite collectives; docs/cluster.md)\n");
      return kExitOk;
    }
    if (a.mode == "cold") {
      throw InputError("--mode cold: collectives are timed hot (a cache flush on one rank says nothing about the "
                       "network)");
    }
  }
  // Rank 0 prints and writes the results file; the other ranks only take part in the measurements.
  const bool writer = group.rank == 0;
  if (!writer) a.quiet = true;
  CpuDevice::instance().set_threads(a.threads);

  const std::vector<Backend*> backends = backends_for(a, set, suite);
  if (backends.empty()) throw InputError("no backend selected");
  if (shows_table(a) && !set.gpu_unavailable_reason.empty()) {
    fmt::print(stderr, "trainrate: no GPU ({}); running on the CPU\n", set.gpu_unavailable_reason);
  }
  resolve_device_defaults(a, backends.front()->device().measure_defaults());
  if (resuming) refuse_conflicting_options(a, file);
  const RunOptions options = run_options(a);
  if (a.output.empty()) a.output = default_output_path(a.suite, backends.front()->device().kind());
  const std::filesystem::path output = a.output;
  if (writer && output.has_parent_path()) std::filesystem::create_directories(output.parent_path());
  const auto save = [&] {
    if (writer) write_results_file(output, file);
  };

  if (!resuming) file = new_results_file(suite.name);
  file.complete = false;
  record_options(file, a);
  add_devices(file, backends);
  save();

  Progress progress(!a.quiet && isatty(STDERR_FILENO), repetition_label(a.as_repetition));
  std::vector<std::string> backend_names;
  for (const Backend* backend : backends) backend_names.push_back(backend->name());
  const TableWidths widths = table_widths(suite.problems, backend_names);
  // With --json, stdout carries the JSON document alone; the table a person watches goes to stderr.
  std::FILE* table_out = a.json ? stderr : stdout;
  if (shows_table(a)) fmt::print(table_out, "{}", result_table_header(widths));
  RunObserver observer;
  observer.on_start = [&](size_t i, size_t total, const Problem& p, const Backend& b) { progress.show(i, total, p, b); };
  observer.on_result = [&](size_t, size_t, const Result& measured) {
    progress.clear();
    Result result = measured;
    if (result.status == ResultStatus::ok) stamp_peak(result, device_in(file, result.device).peaks);
    if (shows_table(a)) fmt::print(table_out, "{}", result_table_row(result, widths));
    std::fflush(table_out);
    file.results.push_back(result);
    save();
  };
  auto already_done = [&](const Problem& p, const Backend& b) {
    return std::any_of(file.results.begin(), file.results.end(),
                       [&](const Result& r) { return r.backend == b.name() && r.problem == p; });
  };
  install_signal_handlers();
  run_all(suite.problems, backends, options, observer, already_done);
  progress.clear();

  const int signal = g_signal.load();
  if (signal == 0 && !resuming) recheck_cpu_peak(file, backends);
  file.complete = signal == 0;
  save();
  if (signal != 0) {
    if (a.as_repetition.empty()) {  // a repetition's file is its parent's to keep or drop
      fmt::print(stderr, "trainrate run: interrupted; {} results saved to {} (continue with --resume {})\n",
                 file.results.size(), output.string(), output.string());
    }
    return 128 + signal;
  }
  return finish_run(a, file, output, table_out);
}

// A folder of its own under the system's temporary folder, removed with everything in it.
class TemporaryFolder {
 public:
  TemporaryFolder() {
    std::string pattern = (std::filesystem::temp_directory_path() / "trainrate-repetitions-XXXXXX").string();
    if (!mkdtemp(pattern.data())) throw std::runtime_error(fmt::format("cannot create {}", pattern));
    path_ = pattern;
  }
  ~TemporaryFolder() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TemporaryFolder(const TemporaryFolder&) = delete;
  TemporaryFolder& operator=(const TemporaryFolder&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// The options --repetitions divides among the repetitions: a problem's budget and samples are for
// all of them together, so a run takes about as long as one without repetitions.
bool split_over_repetitions(const RecordedOption& option) {
  return option.key == "budget_ms" || option.key == "max_samples";
}

// The command line of repetition k: the suite, the options given here as the results file records
// them, its share of the budget and samples, and its own results file.
std::vector<std::string> repetition_command(const RunArgs& a, int k, const std::filesystem::path& output) {
  RunArgs each = a;
  each.budget_ms = a.budget_ms / a.repetitions;
  each.max_samples = std::max<int64_t>(1, a.max_samples / a.repetitions);
  std::vector<std::string> args{"run", "-o", output.string(), "--as-repetition", fmt::format("{}/{}", k, a.repetitions)};
  for (const RecordedOption& option : recorded_options()) {
    const bool pass = option.flag == "--suite" || split_over_repetitions(option) || a.given_flags.contains(option.flag);
    if (pass && option.key != "repetitions") args.insert(args.end(), {option.flag, option.record(each)});
  }
  if (a.quiet) args.push_back("-q");
  return args;
}

void refuse_repetitions_of(const RunArgs& a) {
  if (!a.resume.empty()) {
    throw InputError(fmt::format("--resume: {} is a run of --repetitions {}, which cannot be resumed (each repetition "
                                 "is a process of its own); run it again",
                                 a.resume, a.repetitions));
  }
  if (a.suite == "collectives" || has_collectives(load_suite(a.suite, suite_params(a)))) {
    throw InputError("--repetitions: collectives start one process per rank under mpirun; measure them without it");
  }
}

// --repetitions N: the whole suite once per repetition, each in a fresh process (run_this_program),
// so a problem's repetitions lie minutes apart and each sees its own thread placement and memory;
// after each one the files so far are pooled into the output.
int run_repetitions(RunArgs a) {
  refuse_repetitions_of(a);
  install_signal_handlers();
  const TemporaryFolder folder;
  std::vector<ResultsFile> runs;
  std::vector<std::string> names;
  ResultsFile file;
  std::filesystem::path output = a.output;
  for (int k = 1; k <= a.repetitions && g_signal.load() == 0; ++k) {
    if (!a.quiet) fmt::print(stderr, "trainrate run: repetition {} of {}\n", k, a.repetitions);
    const std::filesystem::path part = folder.path() / fmt::format("repetition-{}.json", k);
    const int status = run_this_program(repetition_command(a, k, part), g_signal);
    if (status == kExitBadInput) return status;  // the repetition said why
    if (status >= 128 || !std::filesystem::exists(part)) {
      if (status < 128) throw std::runtime_error(fmt::format("repetition {} exited with status {}", k, status));
      if (g_signal.load() == 0) g_signal.store(status - 128);  // ended by a signal sent to it alone
      break;
    }
    runs.push_back(read_results_file(part));
    names.push_back(part.string());
    file = pool_repetitions(runs, names);
    for (const RecordedOption& option : recorded_options()) {
      if (split_over_repetitions(option) || option.key == "repetitions") file.options[option.key] = option.record(a);
    }
    file.complete = file.complete && k == a.repetitions;
    if (output.empty()) output = default_output_path(a.suite, file.devices.front().kind);
    if (output.has_parent_path()) std::filesystem::create_directories(output.parent_path());
    write_results_file(output, file);
  }
  if (const int signal = g_signal.load(); signal != 0) {
    fmt::print(stderr, "trainrate run: interrupted in repetition {} of {}{}\n", runs.size() + 1, a.repetitions,
               runs.empty() ? "" : fmt::format("; the {} finished are pooled in {}", runs.size(), output.string()));
    return 128 + signal;
  }
  std::FILE* table_out = a.json ? stderr : stdout;
  if (shows_table(a)) {
    std::vector<std::string> backend_names;
    for (const Result& r : file.results) backend_names.push_back(r.backend);
    const TableWidths widths = table_widths(load_suite(a.suite, suite_params(a)).problems, backend_names);
    fmt::print(table_out, "{}", result_table_header(widths));
    for (const Result& r : file.results) fmt::print(table_out, "{}", result_table_row(r, widths));
  }
  return finish_run(a, file, output, table_out);
}

}  // namespace

Action add_run_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("run", "Measure a suite of problems on the chosen backends");
  auto a = std::make_shared<RunArgs>();
  std::string suites;
  for (const auto& info : builtin_suites()) suites += fmt::format("\n  {:<16} {}", info.name, info.description);
  cmd->add_option("-s,--suite", a->suite,
                  "Built-in suite or a .json/.csv suite file, format in docs/suites.md (default: quick):" + suites);
  cmd->add_option("-b,--backends", a->backends,
                  "Comma-separated backends: names, family/* for all variants, or all "
                  "(default: the GPU ones when a GPU is present, else the CPU ones)");
  cmd->add_option("-o,--output", a->output, "Results JSON to write (default: results/<host>-<device>-<suite>-<time>.json)");
  cmd->add_option("--resume", a->resume,
                  "Continue an interrupted run from its results file, with the options and peaks it records")
      ->check(CLI::ExistingFile);
  cmd->add_option("--mode", a->mode, "cold: flush caches before each sample; hot: back to back; auto: cold on GPU, hot on CPU");
  cmd->add_option("--noise", a->noise, "Target relative noise (stddev/mean) to stop sampling (default 0.01 CPU, 0.005 GPU)")
      ->check(between(1e-6, 1));
  cmd->add_option("--budget-ms", a->budget_ms, "Time budget per problem and backend (all repetitions together), in ms")->check(greater_than(0));
  cmd->add_option("--min-time-ms", a->min_time_ms, "Measured time before the noise target may stop sampling")
      ->check(at_least(0));
  cmd->add_option("--min-samples", a->min_samples, "Minimum samples")->check(between(1, 1000000));
  cmd->add_option("--max-samples", a->max_samples, "Maximum samples (all repetitions together)")
      ->check(between(1, 1000000));
  cmd->add_option("--warmup", a->warmup, "Warm-up runs before sampling")->check(between(0, 1000));
  cmd->add_option("--threads", a->threads, "CPU threads for every CPU backend (default: all)")->check(at_least(0));
  cmd->add_option("--batch", a->batch, "Batch size for network suites")->check(at_least(1));
  cmd->add_option("--seq-len", a->seq_len, "Sequence length for the transformer suite")->check(at_least(1));
  cmd->add_option("--image-size", a->image_size, "Input height and width for the resnet50 suite")->check(at_least(1));
  cmd->add_option("--min-size", a->min_size, "Smallest size: square suite (n), collectives (bytes, default 4096)")
      ->check(at_least(1));
  cmd->add_option("--max-size", a->max_size,
                  "Largest size: square suite (n), collectives (bytes, default 1073741824)")
      ->check(at_least(1));
  cmd->add_option("--ranks", a->ranks,
                  "Collectives: the ranks expected; a run started with another count is refused (default: as launched)")
      ->check(at_least(1));
  cmd->add_option("--dtype", a->dtype, "Override every problem's dtype: fp32, tf32, fp16, bf16");
  cmd->add_option("--layout", a->layout, "Override every convolution's layout: NCHW, NHWC");
  cmd->add_option("--kind", a->kinds, "Keep only problems of these kinds: gemm, conv, conv-fwd, conv-bwd-data, conv-bwd-filter, memory, "
                  "collective, all-reduce, ...")
      ->delimiter(',');
  cmd->add_option("--seed", a->seed, "Seed of the random inputs");
  cmd->add_option("--repetitions", a->repetitions,
                  "Run the whole suite N times, each in a fresh process, one after the other, and keep every "
                  "repetition's median per row, so `compare` can test whole runs against each other (5 recommended; "
                  "docs/reports.md). --budget-ms and --max-samples are shared among the repetitions, so the run "
                  "takes about as long as one; not with --resume or collectives")
      ->check(between(1, 100));
  cmd->add_option("--as-repetition", a->as_repetition, "K/N: run as repetition K of a parent's --repetitions N")
      ->group("");
  cmd->add_option("--metrics", a->metrics,
                  "When the run completes, also write its results as Prometheus metrics to this file, atomically "
                  "(for node_exporter's textfile collector; docs/cluster.md)");
  cmd->add_flag("-q,--quiet", a->quiet, "No table and no progress; errors only");
  cmd->add_flag("--json", a->json, "Print the results JSON to stdout at the end");
  cmd->add_flag("--list", a->list, "List the suite's problems and exit");
  return [a, cmd] {
    RunArgs args = *a;
    for (const CLI::Option* option : cmd->get_options()) {
      if (option->count() > 0) args.given_flags.insert(option->get_name());
    }
    return run_suite(args);
  };
}

}  // namespace trainrate::cli
