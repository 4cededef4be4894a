// The trainrate binary end to end: `run --suite smoke` (exit status, table, a results file checked
// against the schema field by field), `compare` on it, `--help`, `devices`, `--list`, and the exit
// status and stderr message of bad input.
#include "fleet_nodes.hpp"
#include "temp_dir.hpp"
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "problems/problem_json.hpp"
#include "problems/suite.hpp"
#include "results/results_json.hpp"
#include "results/statistics.hpp"
#include "two_runs.hpp"

namespace trainrate {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kCli = TRAINRATE_CLI_PATH;
const std::string kData = TRAINRATE_TEST_DATA_DIR;

using trainrate::testing::TempDir;

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct CliRun {
  int status = -1;
  std::string out, err;
};

std::string quote(const std::string& s) { return "'" + s + "'"; }

// Runs the binary with `args` (already shell-quoted where needed) in `dir`, capturing both streams.
CliRun run_cli(const std::string& args, const fs::path& dir) {
  const fs::path out = dir / "stdout.txt", err = dir / "stderr.txt";
  const std::string command = "cd " + quote(dir.string()) + " && " + quote(kCli) + " " + args + " >" +
                              quote(out.string()) + " 2>" + quote(err.string()) + " </dev/null";
  const int raw = std::system(command.c_str());
  CliRun run;
  run.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : 1000 + raw;
  run.out = read_text(out);
  run.err = read_text(err);
  return run;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

// One smoke run per process, shared by the tests that inspect it.
struct SmokeRun {
  TempDir dir;
  fs::path json_path;
  CliRun run;
};

const SmokeRun& smoke() {
  static SmokeRun* s = [] {
    auto* r = new SmokeRun;
    r->json_path = r->dir.path() / "out" / "smoke.json";  // the folder does not exist yet
    r->run = run_cli("run --suite smoke --budget-ms 20 -o " + quote(r->json_path.string()), r->dir.path());
    return r;
  }();
  return *s;
}

const std::set<std::string> kDefaultCpuBackends{"openblas", "onednn", "onednn-plain", "custom-cpu"};

TEST(Cli, RunSmokeExitsZeroAndPrintsATable) {
  const SmokeRun& s = smoke();
  ASSERT_EQ(s.run.status, 0) << s.run.err;
  const std::vector<std::string> lines = lines_of(s.run.out);
  ASSERT_FALSE(lines.empty());
  EXPECT_THAT(lines[0], HasSubstr("problem"));
  EXPECT_THAT(lines[0], HasSubstr("backend"));
  EXPECT_THAT(lines[0], HasSubstr("rate R"));
  EXPECT_THAT(lines[0], HasSubstr("status"));
  // One row per problem and backend before the first blank line (the ratio table follows it).
  const Suite suite = load_suite("smoke");
  std::map<std::string, int> rows_per_backend;
  // The problem column is as wide as the suite's longest name, and the backend column follows it.
  const size_t backend_column = lines[0].find("backend");
  size_t longest_name = 0;
  for (const Problem& p : suite.problems) longest_name = std::max(longest_name, describe(p).size());
  EXPECT_EQ(backend_column, std::max<size_t>(46, longest_name) + 1);
  size_t row = 1;
  for (; row < lines.size() && !lines[row].empty(); ++row) {
    for (const std::string& b : kDefaultCpuBackends) {
      if (lines[row].substr(backend_column, b.size() + 1) == b + " ") ++rows_per_backend[b];
    }
  }
  EXPECT_EQ(row - 1, suite.problems.size() * kDefaultCpuBackends.size());
  for (const std::string& b : kDefaultCpuBackends) EXPECT_EQ(rows_per_backend[b], int(suite.problems.size())) << b;
  for (const Problem& p : suite.problems) EXPECT_THAT(s.run.out, HasSubstr(describe(p) + " "));
  EXPECT_THAT(s.run.out, HasSubstr("skipped: openblas has no convolution"));
  EXPECT_THAT(s.run.out, Not(HasSubstr("INVALID")));
  EXPECT_THAT(s.run.out, Not(HasSubstr("FAILED")));
  // The custom/vendor ratios follow the table, with the geomean summary.
  EXPECT_THAT(s.run.out, HasSubstr("geomean"));
  EXPECT_THAT(s.run.err, HasSubstr("results written to " + s.json_path.string()));
}

// A mini schema: each field present with the right JSON type, values consistent with each other.
void check_string_map(const json& j, const std::string& what) {
  ASSERT_TRUE(j.is_object()) << what;
  for (const auto& [key, value] : j.items()) EXPECT_TRUE(value.is_string()) << what << "." << key;
}

void check_result(const json& r, const std::string& at) {
  SCOPED_TRACE(at);
  const std::set<std::string> expected_keys{"problem", "name", "backend", "role", "device", "device_kind",
                                            "compared_with", "view", "framework_view_of", "status", "reason",
                                            "verification", "measurement", "mode", "flops", "rate_flops_per_s",
                                            "peak_flops_per_s", "bytes", "rate_bytes_per_s", "peak_bytes_per_s",
                                            "percent_of_peak", "algorithm", "workspace_bytes", "threads"};
  std::set<std::string> keys;
  for (const auto& [key, value] : r.items()) keys.insert(key);
  EXPECT_EQ(keys, expected_keys);

  const Problem problem = problem_from_json(r.at("problem"), at + ".problem");
  EXPECT_EQ(r.at("name"), describe(problem));
  ASSERT_TRUE(r.at("backend").is_string());
  const std::string backend = r.at("backend");
  EXPECT_TRUE(kDefaultCpuBackends.contains(backend)) << backend;
  EXPECT_EQ(r.at("role"), backend == "custom-cpu" ? "custom" : "vendor");
  ASSERT_TRUE(r.at("view").is_string());
  EXPECT_TRUE(parse_view(r.at("view").get<std::string>()).has_value()) << r.at("view");
  EXPECT_TRUE(r.at("framework_view_of").is_string());
  EXPECT_EQ(r.at("device"), "cpu");
  EXPECT_EQ(r.at("mode"), "hot");
  ASSERT_TRUE(r.at("flops").is_number());
  EXPECT_EQ(r.at("flops").get<double>(), flops(problem));
  EXPECT_TRUE(r.at("reason").is_string());
  EXPECT_TRUE(r.at("algorithm").is_string());
  EXPECT_TRUE(r.at("workspace_bytes").is_number_integer());
  ASSERT_TRUE(r.at("threads").is_number_integer());
  EXPECT_GE(r.at("threads").get<int>(), 1);

  const json& v = r.at("verification");
  ASSERT_TRUE(v.is_object());
  EXPECT_TRUE(v.at("sampled").is_boolean());
  EXPECT_TRUE(v.at("elements_checked").is_number_integer());
  EXPECT_TRUE(v.at("mismatches").is_number_integer());
  EXPECT_TRUE(v.at("max_error").is_number());
  EXPECT_TRUE(v.at("tolerance").is_number());
  EXPECT_TRUE(v.at("first_mismatch").is_string());
  ASSERT_TRUE(r.at("rate_flops_per_s").is_number());
  const double rate = r.at("rate_flops_per_s");

  const bool is_conv = std::holds_alternative<ConvProblem>(problem);
  const bool is_gemm = std::holds_alternative<GemmProblem>(problem);
  if ((backend == "openblas" && is_conv) || (backend == "onednn-plain" && is_gemm)) {
    EXPECT_EQ(r.at("status"), "skipped");
    EXPECT_EQ(r.at("reason"), backend + (is_conv ? " has no convolution" : " has no gemm"));
    EXPECT_TRUE(r.at("measurement").is_null());
    EXPECT_EQ(rate, 0.0);
    EXPECT_EQ(v.at("elements_checked"), 0);
    return;
  }
  EXPECT_EQ(r.at("bytes").get<double>(), min_bytes(problem));
  if (is_memory_bound(problem) && r.at("status") == "skipped") {
    // openblas and custom-cpu have none; onednn lacks a few ops. Each says which.
    EXPECT_THAT(r.at("reason").get<std::string>(),
                backend == "onednn" ? HasSubstr("oneDNN") : HasSubstr(backend + " has no memory-bound layers"));
    return;
  }
  EXPECT_EQ(r.at("status"), "ok");
  EXPECT_EQ(r.at("reason"), "");
  EXPECT_EQ(v.at("elements_checked").get<int64_t>(), operand_elements(problem).output);  // smoke is small
  EXPECT_EQ(v.at("mismatches"), 0);
  EXPECT_EQ(v.at("sampled"), false);
  // Memory-bound ops meet 1e-5 where they only move values, 1e-4 for reductions (verify.hpp).
  if (is_memory_bound(problem)) {
    EXPECT_LE(v.at("tolerance").get<double>(), 1e-4);
  } else {
    EXPECT_EQ(v.at("tolerance"), 1e-4);
  }
  EXPECT_LE(v.at("max_error").get<double>(), v.at("tolerance").get<double>());
  EXPECT_EQ(v.at("first_mismatch"), "");

  const json& m = r.at("measurement");
  ASSERT_TRUE(m.is_object());
  const json& st = m.at("stats");
  for (const char* field : {"min_ms", "median_ms", "mean_ms", "max_ms", "stddev_ms", "relative_noise"}) {
    ASSERT_TRUE(st.at(field).is_number()) << field;
    EXPECT_GE(st.at(field).get<double>(), 0.0) << field;
  }
  ASSERT_TRUE(st.at("samples").is_number_integer());
  EXPECT_GE(st.at("samples").get<int64_t>(), 1);
  const double min = st.at("min_ms"), median = st.at("median_ms"), max = st.at("max_ms"), mean = st.at("mean_ms");
  EXPECT_GT(min, 0.0);
  EXPECT_LE(min, median);
  EXPECT_LE(median, max);
  EXPECT_LE(min, mean);
  EXPECT_LE(mean, max);
  ASSERT_TRUE(m.at("runs_per_sample").is_number_integer());
  EXPECT_GE(m.at("runs_per_sample").get<int64_t>(), 1);
  // Every sample is kept (smoke takes far fewer than the 1000 a file keeps), and they give the median.
  ASSERT_TRUE(m.at("samples_ms").is_array());
  std::vector<double> samples = m.at("samples_ms");
  EXPECT_EQ(int64_t(samples.size()), st.at("samples").get<int64_t>());
  EXPECT_DOUBLE_EQ(summarize(samples).median_ms, median);
  EXPECT_TRUE(std::set<std::string>({"noise-target", "time-budget", "max-samples"}).contains(m.at("stop_reason")))
      << m.at("stop_reason");
  EXPECT_TRUE(m.at("state_before").is_null());  // the CPU reports no state
  EXPECT_TRUE(m.at("state_after").is_null());
  EXPECT_EQ(m.at("retakes"), 0);
  // R = FLOP / median time; % of peak against the CPU's measured ceiling.
  EXPECT_NEAR(rate, flops(problem) / (median * 1e-3), 1e-9 * rate);
  ASSERT_TRUE(r.at("peak_flops_per_s").is_number());
  ASSERT_TRUE(r.at("percent_of_peak").is_number());
  // Memory-bound: bytes over the median time, % of the measured triad bandwidth.
  const double bytes_rate = r.at("rate_bytes_per_s");
  EXPECT_NEAR(bytes_rate, min_bytes(problem) / (median * 1e-3), 1e-9 * bytes_rate);
  const bool memory = is_memory_bound(problem);
  const double work_rate = memory ? bytes_rate : rate;
  const double peak = r.at(memory ? "peak_bytes_per_s" : "peak_flops_per_s");
  EXPECT_NEAR(r.at("percent_of_peak").get<double>(), 100.0 * work_rate / peak, 1e-9 * 100.0 * work_rate / peak);
}

TEST(Cli, RunSmokeWritesAResultsFileMatchingTheSchema) {
  const SmokeRun& s = smoke();
  ASSERT_EQ(s.run.status, 0) << s.run.err;
  ASSERT_TRUE(fs::exists(s.json_path));
  EXPECT_FALSE(fs::exists(s.json_path.string() + ".tmp"));
  const json j = json::parse(read_text(s.json_path));
  ASSERT_TRUE(j.is_object());

  EXPECT_EQ(j.at("schema"), "trainrate-results");
  EXPECT_EQ(j.at("schema_version"), 4);
  EXPECT_EQ(j.at("complete"), true);
  EXPECT_EQ(j.at("suite"), "smoke");
  ASSERT_TRUE(j.at("tool_version").is_string());
  EXPECT_FALSE(j.at("tool_version").get<std::string>().empty());
  ASSERT_TRUE(j.at("host").is_string());
  EXPECT_FALSE(j.at("host").get<std::string>().empty());
  ASSERT_TRUE(j.at("created_utc").is_string());
  EXPECT_TRUE(std::regex_match(j.at("created_utc").get<std::string>(),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")));
  check_string_map(j.at("build"), "build");
  EXPECT_TRUE(j.at("build").contains("compiler"));
  EXPECT_TRUE(j.at("build").contains("build_type"));
  EXPECT_TRUE(j.at("build").contains("cxx_flags"));
  EXPECT_TRUE(j.at("build").contains("commit"));
  check_string_map(j.at("system"), "system");
  EXPECT_TRUE(j.at("system").contains("kernel"));
  check_string_map(j.at("libraries"), "libraries");
  EXPECT_TRUE(j.at("libraries").contains("openblas"));
  EXPECT_TRUE(j.at("libraries").contains("onednn"));
  check_string_map(j.at("options"), "options");
  EXPECT_EQ(j.at("options").at("suite_arg"), "smoke");
  EXPECT_EQ(j.at("options").at("mode"), "hot");
  EXPECT_EQ(j.at("options").at("budget_ms"), "20");

  const json& devices = j.at("devices");
  ASSERT_TRUE(devices.is_array());
  ASSERT_EQ(devices.size(), 1u);
  const json& cpu = devices.at(0);
  EXPECT_EQ(cpu.at("id"), "cpu");
  EXPECT_EQ(cpu.at("kind"), "cpu");
  ASSERT_TRUE(cpu.at("name").is_string());
  EXPECT_FALSE(cpu.at("name").get<std::string>().empty());
  check_string_map(cpu.at("properties"), "devices[0].properties");
  EXPECT_TRUE(cpu.at("properties").contains("cpufreq_governor"));
  EXPECT_TRUE(cpu.at("properties").contains("cpu_mhz"));
#if defined(__x86_64__) && defined(__linux__)
  // /proc/cpuinfo's family and model, which tell Zen 2, 3 and 4 apart where the name does not.
  for (const char* key : {"cpu_family", "cpu_model"}) {
    ASSERT_TRUE(cpu.at("properties").contains(key)) << key;
    const std::string value = cpu.at("properties").at(key);
    EXPECT_FALSE(value.empty()) << key;
    EXPECT_EQ(value.find_first_not_of("0123456789"), std::string::npos) << key << " = " << value;
  }
#endif
  const json& peaks = cpu.at("peaks");
  ASSERT_TRUE(peaks.at("measured_flops_per_s").at("fp32").is_number());
  const double fma_peak = peaks.at("measured_flops_per_s").at("fp32");
  EXPECT_GT(fma_peak, 1e8);
  // The FMA ceiling is measured at start-up and again at the end; the better one is the peak, and
  // every result's % of peak is against it (the second check rises about every other run).
  ASSERT_TRUE(cpu.at("properties").contains("fma_peak_checks_gflops"));
  const std::string checks = cpu.at("properties").at("fma_peak_checks_gflops");
  double best_check_gflops = 0;
  int check_count = 0;
  for (std::stringstream list(checks); list.good(); ++check_count) {
    double gflops = 0;
    list >> gflops;
    list.ignore(1, ',');
    best_check_gflops = std::max(best_check_gflops, gflops);
  }
  EXPECT_EQ(check_count, 2) << checks;
  EXPECT_NEAR(best_check_gflops, fma_peak * 1e-9, 0.051) << checks;
  for (const json& result : j.at("results")) {
    if (result.at("status") == "ok") {
      EXPECT_EQ(result.at("peak_flops_per_s").get<double>(), fma_peak) << result.at("name");
    }
  }
  ASSERT_TRUE(peaks.at("measured_bytes_per_s").is_number());
  EXPECT_GT(peaks.at("measured_bytes_per_s").get<double>(), 1e8);

  const json& results = j.at("results");
  ASSERT_TRUE(results.is_array());
  const Suite suite = load_suite("smoke");
  ASSERT_EQ(results.size(), suite.problems.size() * kDefaultCpuBackends.size());
  std::set<std::pair<std::string, std::string>> pairs;
  for (size_t i = 0; i < results.size(); ++i) {
    check_result(results.at(i), "results[" + std::to_string(i) + "]");
    pairs.emplace(results.at(i).at("name"), results.at(i).at("backend"));
  }
  // Every (problem, backend) exactly once, in suite order, problem-major.
  EXPECT_EQ(pairs.size(), results.size());
  for (size_t i = 0; i < suite.problems.size(); ++i) {
    EXPECT_EQ(results.at(i * kDefaultCpuBackends.size()).at("name"), describe(suite.problems[i]));
  }
  // And the reader accepts what the writer wrote.
  const ResultsFile back = read_results_file(s.json_path);
  EXPECT_EQ(back.results.size(), results.size());
  EXPECT_TRUE(back.complete);
}

TEST(Cli, CompareTheSmokeResults) {
  const SmokeRun& s = smoke();
  ASSERT_EQ(s.run.status, 0) << s.run.err;
  const CliRun c = run_cli("compare " + quote(s.json_path.string()), s.dir.path());
  EXPECT_EQ(c.status, 0) << c.err;
  EXPECT_THAT(c.out, HasSubstr("geomean"));
  EXPECT_THAT(c.out, HasSubstr("gemm custom-cpu"));
  EXPECT_THAT(c.out, HasSubstr("conv-fwd custom-cpu"));
  EXPECT_THAT(c.out, HasSubstr("conv-bwd-data custom-cpu"));
  EXPECT_THAT(c.out, HasSubstr("conv-bwd-filter custom-cpu"));
  EXPECT_THAT(c.out, HasSubstr("openblas"));
  EXPECT_THAT(c.out, HasSubstr("onednn"));
  EXPECT_EQ(c.err, "");
}

// trainrate compare OLD NEW on files the fixture generator writes (two_runs.hpp).
struct TwoRuns {
  TempDir dir;
  std::string path(const std::string& name) const { return (dir.path() / name).string(); }
  std::string write(const std::string& name, const ResultsFile& file) const {
    write_results_file(path(name), file);
    return quote(path(name));
  }
};

TEST(CliCompareRuns, ARunAgainstItselfIsSameAndExitsZero) {
  TwoRuns t;
  const std::string run = t.write("run.json", testing::small_run());
  const CliRun c = run_cli("compare " + run + " " + run + " --fail-on-slower 5", t.dir.path());
  EXPECT_EQ(c.status, 0) << c.err;
  EXPECT_THAT(c.out, HasSubstr("environment: no differences"));
  std::regex verdict(R"(  (SAME|UNCERTAIN|FASTER|SLOWER) )");  // the verdict column, not the rule line
  int same = 0, other = 0;
  for (const std::string& line : lines_of(c.out)) {
    std::smatch m;
    if (!std::regex_search(line, m, verdict)) continue;
    (m[1] == "SAME" ? same : other) += 1;
  }
  EXPECT_EQ(same, 6);
  EXPECT_EQ(other, 0);
  EXPECT_EQ(c.err, "");
}

TEST(CliCompareRuns, TenPercentSlowerFailsTheGateAndWritesMarkdownAndCsv) {
  TwoRuns t;
  const std::string old_run = t.write("old.json", testing::small_run());
  const std::string new_run = t.write("new.json", testing::with_backend_scaled(testing::small_run(), "custom-cpu", 1.1));
  const CliRun c = run_cli("compare " + old_run + " " + new_run + " --fail-on-slower 5 --markdown " +
                               quote(t.path("cmp.md")) + " --csv " + quote(t.path("cmp.csv")),
                           t.dir.path());
  EXPECT_EQ(c.status, 1) << c.err;
  int slower = 0;
  for (const std::string& line : lines_of(c.out)) {
    if (line.find(" SLOWER ") == std::string::npos) continue;
    ++slower;
    EXPECT_THAT(line, HasSubstr(" custom-cpu "));
    EXPECT_THAT(line, HasSubstr(" 0.909 "));
  }
  EXPECT_EQ(slower, 3);
  EXPECT_THAT(c.err, HasSubstr("compare: gemm 64x64x64 NN fp32 custom-cpu is 9.1% slower (NEW/OLD 0.909), more than "
                               "--fail-on-slower 5\n"));
  EXPECT_EQ(lines_of(c.err).size(), 3u);
  EXPECT_THAT(read_text(t.path("cmp.md")), HasSubstr("## NEW against OLD"));
  EXPECT_EQ(lines_of(read_text(t.path("cmp.csv"))).size(), 7u);
  // A 10% gate lets a 9.1% slow-down through.
  EXPECT_EQ(run_cli("compare " + old_run + " " + new_run + " --fail-on-slower 10", t.dir.path()).status, 0);
}

// The verdict column of each row of `compare OLD NEW`'s table, with the row's backend.
std::vector<std::pair<std::string, std::string>> verdicts_of(const std::string& table) {
  std::vector<std::pair<std::string, std::string>> verdicts;
  const std::regex row(R"( (\S+) +\S+ \S+ +\S+ \S+ +\S+ +\S+ +\S+ +\S+  (SAME|UNCERTAIN|FASTER|SLOWER) )");
  for (const std::string& line : lines_of(table)) {
    std::smatch m;
    if (std::regex_search(line, m, row)) verdicts.emplace_back(m[1], m[2]);
  }
  return verdicts;
}

// The real smoke run against itself, and against a copy with custom-cpu's samples 10% longer.
TEST(CliCompareRuns, TheSmokeRunAgainstItselfAndAgainstASlowerCustomBackend) {
  const SmokeRun& s = smoke();
  ASSERT_EQ(s.run.status, 0) << s.run.err;
  const std::string run = quote(s.json_path.string());
  const CliRun same = run_cli("compare " + run + " " + run + " --fail-on-slower 5", s.dir.path());
  EXPECT_EQ(same.status, 0) << same.err;
  const auto same_verdicts = verdicts_of(same.out);
  EXPECT_GE(same_verdicts.size(), 20u) << same.out;
  for (const auto& [backend, verdict] : same_verdicts) {
    EXPECT_TRUE(verdict == "SAME" || verdict == "UNCERTAIN") << backend << " " << verdict;
  }

  const fs::path slower_path = s.dir.path() / "custom-cpu-slower.json";
  write_results_file(slower_path, testing::with_backend_scaled(read_results_file(s.json_path), "custom-cpu", 1.1));
  const CliRun slower = run_cli("compare " + run + " " + quote(slower_path.string()) + " --fail-on-slower 5",
                                s.dir.path());
  int slower_rows = 0;
  for (const auto& [backend, verdict] : verdicts_of(slower.out)) {
    if (backend != "custom-cpu") {
      EXPECT_TRUE(verdict == "SAME" || verdict == "UNCERTAIN") << backend << " " << verdict;
    } else {
      EXPECT_NE(verdict, "FASTER");
    }
    slower_rows += verdict == "SLOWER";
  }
  // Rows too noisy for a 10% change stay UNCERTAIN; the quieter ones must see it.
  EXPECT_GE(slower_rows, 1) << slower.out;
  EXPECT_EQ(slower.status, 1) << slower.err;
}

// compare --old A1 ... --new B1 ...: several files a side pooled as repetitions, tested per repetition.
TEST(CliCompareRuns, SeveralFilesASideArePooledAsRepetitions) {
  TwoRuns t;
  std::string olds, news;
  const std::vector<double> old_levels{1.00, 1.03, 0.98, 1.05, 0.99}, new_levels{1.02, 0.97, 1.04, 1.00, 1.01};
  for (size_t i = 0; i < old_levels.size(); ++i) {
    olds += " " + t.write(fmt::format("a{}.json", i), testing::with_all_scaled(testing::small_run(), old_levels[i]));
    const ResultsFile slower = testing::with_backend_scaled(testing::small_run(), "custom-cpu", 1.1);
    news += " " + t.write(fmt::format("b{}.json", i), testing::with_all_scaled(slower, new_levels[i]));
  }
  const CliRun c = run_cli("compare --old" + olds + " --new" + news + " --fail-on-slower 5", t.dir.path());
  EXPECT_EQ(c.status, 1) << c.err;
  EXPECT_THAT(c.out, HasSubstr("\nunit: repetition (5 vs 5), the median of each"));
  EXPECT_THAT(c.out, HasSubstr(t.path("a0.json") + " + " + t.path("a1.json")));
  for (const auto& [backend, verdict] : verdicts_of(c.out)) {
    EXPECT_EQ(verdict == "SLOWER", backend == "custom-cpu") << backend << " " << verdict;
    EXPECT_NE(verdict, "FASTER");
  }
  EXPECT_EQ(lines_of(c.err).size(), 3u);  // the three custom-cpu rows, named
  EXPECT_EQ(run_cli("compare --old" + olds, t.dir.path()).err, "trainrate compare: error: --old and --new go together\n");
  EXPECT_EQ(run_cli("compare" + olds.substr(0, olds.find(' ', 1)) + " --old" + olds + " --new" + news, t.dir.path()).err,
            "trainrate compare: error: give OLD.json NEW.json or --old ... --new ..., not both\n");
}

// run --repetitions: each repetition a process of its own, one after the other, pooled into one
// file whose rows keep every repetition's median; compare then tests repetitions.
TEST(CliRepetitions, TwoRepetitionsOfTheSmokeSuitePooledAndCompared) {
  TempDir dir;
  const std::string options = "--suite smoke --kind gemm --backends openblas,custom-cpu --budget-ms 400 --max-samples 8";
  const CliRun run = run_cli("run " + options + " --repetitions 2 -o reps.json", dir.path());
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_THAT(run.err, HasSubstr("trainrate run: repetition 1 of 2\ntrainrate run: repetition 2 of 2\n"));
  // One table, of the pooled rows, not one a repetition.
  const std::vector<std::string> lines = lines_of(run.out);
  EXPECT_EQ(std::count_if(lines.begin(), lines.end(),
                          [](const std::string& line) { return line.find("% peak  status") != std::string::npos; }),
            1)
      << run.out;
  const ResultsFile file = read_results_file(dir.path() / "reps.json");
  EXPECT_TRUE(file.complete);
  EXPECT_EQ(file.options.at("repetitions"), "2");
  EXPECT_EQ(file.options.at("budget_ms"), "400");  // for both repetitions together
  EXPECT_EQ(file.options.at("max_samples"), "8");
  int ok = 0, at_max_samples = 0;
  for (const Result& r : file.results) {
    if (r.status != ResultStatus::ok) continue;
    ++ok;
    const std::vector<Repetition> reps = repetitions_of(*r.measurement);
    ASSERT_EQ(reps.size(), 2u) << describe(r.problem) << " " << r.backend;
    EXPECT_EQ(reps[0].samples_kept + reps[1].samples_kept, r.measurement->samples_ms.size());
    // --max-samples is for both together: 4 a repetition, which 200 ms leave room for.
    for (const Repetition& rep : reps) EXPECT_LE(rep.samples_kept, 4u);
    EXPECT_LE(r.measurement->stats.samples, 8);
    at_max_samples += r.measurement->stop_reason == "max-samples";
  }
  EXPECT_GE(ok, 4);
  EXPECT_GE(at_max_samples, 1);
  const CliRun c = run_cli("compare reps.json reps.json", dir.path());
  EXPECT_EQ(c.status, 0) << c.err;
  EXPECT_THAT(c.out, HasSubstr("unit: repetition (2 vs 2)"));
  EXPECT_THAT(c.out, HasSubstr("UNCERTAIN  2 vs 2 repetitions: the smallest p Mann-Whitney can reach is 0.333"));
  // A run of repetitions is not resumed, and collectives (one process per rank) take none.
  EXPECT_EQ(run_cli("run --resume reps.json", dir.path()).err,
            "trainrate run: error: --resume: reps.json is a run of --repetitions 2, which cannot be resumed (each "
            "repetition is a process of its own); run it again\n");
  EXPECT_EQ(run_cli("run --suite collectives --repetitions 2", dir.path()).err,
            "trainrate run: error: --repetitions: collectives start one process per rank under mpirun; measure them "
            "without it\n");
}

TEST(CliCompareRuns, VersionOneFilesAreUncertainSayingWhy) {
  TwoRuns t;
  const std::string v1 = quote(kData + "/results/good.json");
  const CliRun c = run_cli("compare " + v1 + " " + v1 + " --fail-on-slower 0", t.dir.path());
  EXPECT_EQ(c.status, 0) << c.err;
  EXPECT_THAT(c.out, HasSubstr("UNCERTAIN  OLD is a schema v1 file, which keeps no samples"));
  EXPECT_THAT(c.out, Not(HasSubstr("  SAME ")));
}

TEST(CliCompareRuns, BadInputIsOneLineAndExitsTwo) {
  TwoRuns t;
  const std::string smoke_run = t.write("smoke.json", testing::small_run());
  ResultsFile quick = testing::small_run();
  quick.suite = "quick";
  const std::string quick_run = t.write("quick.json", quick);
  const auto expect_one_line_error = [&](const std::string& args, const std::string& message) {
    const CliRun c = run_cli(args, t.dir.path());
    EXPECT_EQ(c.status, 2) << args;
    EXPECT_EQ(c.err, "trainrate compare: error: " + message + "\n") << args;
    EXPECT_EQ(c.out, "") << args;
  };
  expect_one_line_error("compare " + smoke_run + " " + quick_run,
                        t.path("smoke.json") + " ran suite 'smoke' but " + t.path("quick.json") +
                            " ran suite 'quick'; only runs of one suite are compared");
  EXPECT_EQ(run_cli("compare " + smoke_run + " " + quick_run + " --any-suite", t.dir.path()).status, 0);
  const std::string broken = kData + "/results/broken.json";
  const CliRun c = run_cli("compare " + smoke_run + " " + quote(broken), t.dir.path());
  EXPECT_EQ(c.status, 2);
  EXPECT_EQ(lines_of(c.err).size(), 1u) << c.err;
  EXPECT_THAT(c.err, HasSubstr("trainrate compare: error: " + broken + ": not a trainrate results file"));
  expect_one_line_error("compare " + smoke_run + " --csv x.csv",
                        "--markdown, --csv, --fail-on-slower and --any-suite compare two runs: give OLD.json NEW.json");
  expect_one_line_error("compare " + smoke_run + " " + smoke_run + " " + smoke_run,
                        "give one results file (custom against vendor) or two, OLD and NEW; got 3");
}

TEST(CliCompareRuns, ReportWithCompareRunsAddsTheSectionAndItsCsv) {
  TwoRuns t;
  const std::string old_run = t.write("old.json", testing::small_run());
  const std::string new_run = t.write("new.json", testing::with_backend_scaled(testing::small_run(), "custom-cpu", 1.1));
  const CliRun c = run_cli("report " + old_run + " " + new_run + " --compare-runs -o out", t.dir.path());
  ASSERT_EQ(c.status, 0) << c.err;
  const std::string md = read_text(t.dir.path() / "out" / "report.md");
  EXPECT_THAT(md, HasSubstr("## NEW against OLD"));
  EXPECT_THAT(md, HasSubstr("| SLOWER |"));
  EXPECT_THAT(read_text(t.dir.path() / "out" / "report.html"), HasSubstr("NEW against OLD"));
  EXPECT_THAT(read_text(t.dir.path() / "out" / "report.html"), HasSubstr("Unit: sample (1 vs 1 repetitions)"));
  EXPECT_EQ(lines_of(read_text(t.dir.path() / "out" / "comparison.csv")).size(), 7u);
  // Without the flag two files are two sections, as before, and no comparison.
  ASSERT_EQ(run_cli("report " + old_run + " " + new_run + " -o plain", t.dir.path()).status, 0);
  EXPECT_THAT(read_text(t.dir.path() / "plain" / "report.md"), Not(HasSubstr("NEW against OLD")));
  EXPECT_FALSE(fs::exists(t.dir.path() / "plain" / "comparison.csv"));
  const CliRun three = run_cli("report " + old_run + " " + new_run + " " + new_run + " --compare-runs -o x",
                               t.dir.path());
  EXPECT_EQ(three.status, 2);
  EXPECT_EQ(three.err, "trainrate report: error: --compare-runs needs exactly two results files, OLD and NEW; got 3\n");
}

TEST(Cli, CompareAHandWrittenFile) {
  TempDir dir;
  const CliRun c = run_cli("compare " + quote(kData + "/results/good.json"), dir.path());
  EXPECT_EQ(c.status, 0) << c.err;
  // Rows: 0.5 and 0.25 (against openblas and onednn), 1.5 and 0.75, 0.5, 2.0; summaries against the
  // faster vendor, onednn, named.
  EXPECT_THAT(c.out, HasSubstr("0.500"));
  EXPECT_THAT(c.out, HasSubstr("1.500"));
  EXPECT_THAT(c.out, HasSubstr("2.000"));
  std::regex geomean_row(R"(gemm custom-cpu\s+1\s+0\.250\s+0\.250\s+0\.250\s+0\.250\s+onednn 1)");
  EXPECT_TRUE(std::regex_search(c.out, geomean_row)) << c.out;
}

TEST(Cli, CompareBadFilesExitTwoNamingThePath) {
  TempDir dir;
  for (const char* name : {"no_such.json", "broken.json", "bad_schema_version.json", "not_results.json"}) {
    const std::string path = kData + "/results/" + name;
    const CliRun c = run_cli("compare " + quote(path), dir.path());
    EXPECT_EQ(c.status, 2) << name;
    EXPECT_THAT(c.err, HasSubstr(path)) << name;
    EXPECT_EQ(c.out, "") << name;
  }
}

TEST(Cli, HelpExitsZero) {
  TempDir dir;
  const CliRun top = run_cli("--help", dir.path());
  EXPECT_EQ(top.status, 0);
  for (const char* sub : {"run", "devices", "compare"}) EXPECT_THAT(top.out, HasSubstr(sub));
  const CliRun run = run_cli("run --help", dir.path());
  EXPECT_EQ(run.status, 0);
  for (const char* option : {"--suite", "--backends", "--output", "--budget-ms", "--noise", "--list", "smoke",
                             "docs/suites.md"}) {
    EXPECT_THAT(run.out, HasSubstr(option));
  }
  EXPECT_EQ(run_cli("compare --help", dir.path()).status, 0);
  EXPECT_EQ(run_cli("devices --help", dir.path()).status, 0);
}

TEST(Cli, UsageErrorsExitTwo) {
  TempDir dir;
  EXPECT_EQ(run_cli("", dir.path()).status, 2);  // a subcommand is required
  const CliRun unknown = run_cli("run --no-such-flag", dir.path());
  EXPECT_EQ(unknown.status, 2);
  EXPECT_THAT(unknown.err, HasSubstr("--no-such-flag"));
  EXPECT_EQ(run_cli("frobnicate", dir.path()).status, 2);
  EXPECT_EQ(run_cli("run --suite smoke --budget-ms -5", dir.path()).status, 2);
  EXPECT_EQ(run_cli("compare", dir.path()).status, 2);  // the results file is required
}

// An out-of-range number gets one line in the form of every other error: the command, the option,
// the range in words and the value given.
TEST(Cli, OutOfRangeOptionsSayTheRangeWithTheUsualPrefix) {
  TempDir dir;
  const std::string results = quote(kData + "/results/good.json");
  const std::vector<std::pair<std::string, std::string>> cases{
      {"predict -r " + results + " -n resnet50 --devices 0", "trainrate predict: error: --devices: must be at least 1, got 0"},
      {"run --suite smoke --batch 0", "trainrate run: error: --batch: must be at least 1, got 0"},
      {"run --suite smoke --threads -1", "trainrate run: error: --threads: must be at least 0, got -1"},
      {"run --suite smoke --budget-ms -1", "trainrate run: error: --budget-ms: must be greater than 0, got -1"},
      {"run --suite square --min-size -5", "trainrate run: error: --min-size: must be at least 1, got -5"},
      {"run --suite smoke --noise 2", "trainrate run: error: --noise: must be between 1e-06 and 1, got 2"},
      {"replay -n resnet50 -b custom-cpu --profile-passes 101",
       "trainrate replay: error: --profile-passes: must be between 0 and 100, got 101"},
      {"merge a.json -o out --min-peers 2", "trainrate merge: error: --min-peers: must be between 3 and 1000000, got 2"},
  };
  for (const auto& [args, message] : cases) {
    const CliRun r = run_cli(args, dir.path());
    EXPECT_EQ(r.status, 2) << args;
    EXPECT_EQ(r.err, message + "\n") << args;
    EXPECT_EQ(r.out, "") << args;
  }
  // Other usage errors carry the prefix too.
  const CliRun unknown = run_cli("run --no-such-flag", dir.path());
  EXPECT_THAT(unknown.err, ::testing::StartsWith("trainrate run: error: "));
}

TEST(Cli, BadSuiteExitsTwoAndNamesIt) {
  TempDir dir;
  const CliRun r = run_cli("run --suite no-such-suite -o x.json", dir.path());
  EXPECT_EQ(r.status, 2);
  EXPECT_THAT(r.err, HasSubstr("no-such-suite"));
  EXPECT_FALSE(fs::exists(dir.path() / "x.json"));
  const std::string bad_file = kData + "/suites/bad_wrong_type.json";
  const CliRun f = run_cli("run --suite " + quote(bad_file) + " -o x.json", dir.path());
  EXPECT_EQ(f.status, 2);
  EXPECT_THAT(f.err, HasSubstr(bad_file + ": problems[1].h"));
  EXPECT_FALSE(fs::exists(dir.path() / "x.json"));
}

TEST(Cli, BadSuiteFieldTypeExitsTwo) {
  // {"name": 5, ...}: a wrong type in a suite file is bad input (2), not a runtime failure (1).
  TempDir dir;
  const std::string bad_file = kData + "/suites/bad_name_type.json";
  const CliRun f = run_cli("run --suite " + quote(bad_file) + " --list", dir.path());
  EXPECT_EQ(f.status, 2) << f.err;
  EXPECT_THAT(f.err, HasSubstr(bad_file));
}

TEST(Cli, BadBackendsExitTwoAndListTheChoices) {
  TempDir dir;
  const CliRun r = run_cli("run --suite smoke --backends openblas,no-such-backend -o x.json", dir.path());
  EXPECT_EQ(r.status, 2);
  EXPECT_THAT(r.err, HasSubstr("no-such-backend"));
  EXPECT_THAT(r.err, HasSubstr("custom-cpu"));
  EXPECT_FALSE(fs::exists(dir.path() / "x.json"));
}

TEST(Cli, BadDtypeAndModeExitTwo) {
  TempDir dir;
  const CliRun d = run_cli("run --suite smoke --dtype fp64 --list", dir.path());
  EXPECT_EQ(d.status, 2);
  EXPECT_THAT(d.err, HasSubstr("fp64"));
  const CliRun m = run_cli("run --suite smoke --mode lukewarm -o x.json", dir.path());
  EXPECT_EQ(m.status, 2);
  EXPECT_THAT(m.err, HasSubstr("lukewarm"));
}

json read_json(const fs::path& path) { return json::parse(read_text(path)); }

void write_json(const fs::path& path, const json& j) { std::ofstream(path) << j.dump(2); }

std::vector<std::string> result_names(const json& file) {
  std::vector<std::string> names;
  for (const json& r : file.at("results")) names.push_back(r.at("name"));
  return names;
}

// The interrupted run the issue describes (resnet50 at batch 1, one thread, a short budget), made
// small: 32x32 images, forward convs and the FC only, a few samples. The file is cut back to its
// first rows as an interruption leaves it, with a CPU peak no run measures, then resumed with no
// other option: every option of the first run, and its peak, must hold for the new rows.
TEST(CliResume, FinishesAnInterruptedRunWithItsOwnOptionsAndLeavesEarlierRowsAlone) {
  TempDir dir;
  const fs::path path = dir.path() / "run.json";
  const CliRun first = run_cli("run --suite resnet50 --batch 1 --image-size 32 --kind conv-fwd,gemm --threads 1"
                               " --budget-ms 20 --min-time-ms 1 --min-samples 2 --max-samples 5 --warmup 0"
                               " --noise 0.2 --mode cold --layout NHWC --seed 7 --backends custom-cpu -q -o " +
                                   quote(path.string()),
                               dir.path());
  ASSERT_EQ(first.status, 0) << first.err;
  const json full = read_json(path);
  const size_t kept = 5;
  ASSERT_GT(full.at("results").size(), kept + 3);
  json cut = full;
  cut["results"].erase(cut["results"].begin() + kept, cut["results"].end());
  cut["complete"] = false;
  const double planted_peak_flops_per_s = 1.5e9;
  ASSERT_EQ(cut.at("devices").size(), 1u);
  cut["devices"][0]["peaks"]["measured_flops_per_s"]["fp32"] = planted_peak_flops_per_s;
  write_json(path, cut);

  // What a resume would run is what the first run ran (batch 1, 32x32, NHWC, forward and FC only).
  const CliRun listed = run_cli("run --resume " + quote(path.string()) + " --list", dir.path());
  ASSERT_EQ(lines_of(listed.out), result_names(full)) << listed.err;

  const CliRun resumed = run_cli("run --resume " + quote(path.string()), dir.path());
  ASSERT_EQ(resumed.status, 0) << resumed.err;
  const json after = read_json(path);
  EXPECT_EQ(after.at("complete"), true);
  EXPECT_EQ(result_names(after), result_names(full));
  EXPECT_EQ(after.at("options"), full.at("options"));
  EXPECT_EQ(after.at("devices").dump(), cut.at("devices").dump());  // the file's peak, not a new one
  const json& rows = after.at("results");
  for (size_t i = 0; i < rows.size(); ++i) {
    SCOPED_TRACE(rows[i].at("name").get<std::string>());
    EXPECT_EQ(rows[i].at("threads"), 1);
    EXPECT_EQ(rows[i].at("mode"), "cold");
    if (i < kept) {
      EXPECT_EQ(rows[i].dump(), cut.at("results")[i].dump());
    } else if (rows[i].at("status") == "ok") {
      EXPECT_EQ(rows[i].at("peak_flops_per_s"), planted_peak_flops_per_s);
      EXPECT_LE(rows[i].at("measurement").at("stats").at("samples").get<int>(), 5);
    }
  }
}

TEST(CliResume, RefusesAnOptionThatConflictsWithTheRecordedRun) {
  TempDir dir;
  const fs::path path = dir.path() / "run.json";
  const std::string file = quote(path.string());
  ASSERT_EQ(run_cli("run --suite smoke --kind gemm --backends custom-cpu --threads 1 --budget-ms 10 -q -o " + file,
                    dir.path()).status, 0);
  const std::string before = read_text(path);
  const CliRun threads = run_cli("run --resume " + file + " --threads 2 -q", dir.path());
  EXPECT_EQ(threads.status, 2);
  EXPECT_EQ(threads.err, "trainrate run: error: --threads 2: the run in " + path.string() +
                             " used 1; resume without --threads\n");
  const CliRun batch = run_cli("run --resume " + file + " --batch 4 -q", dir.path());
  EXPECT_EQ(batch.status, 2);
  EXPECT_EQ(batch.err, "trainrate run: error: --batch 4: the run in " + path.string() +
                           " used the suite's default; resume without --batch\n");
  EXPECT_EQ(read_text(path), before);
  // Giving the recorded values again is no conflict.
  const CliRun same = run_cli("run --resume " + file + " --threads 1 --budget-ms 10.0 --suite smoke -q", dir.path());
  EXPECT_EQ(same.status, 0) << same.err;
}

// Files written before every option was recorded hold only these eight; they still resume, with the
// rest at their defaults (as those runs had them), and come out recording all of them.
TEST(CliResume, AFileFromBeforeTheNewOptionsStillResumes) {
  TempDir dir;
  const fs::path path = dir.path() / "run.json";
  const std::string file = quote(path.string());
  ASSERT_EQ(run_cli("run --suite smoke --backends custom-cpu --threads 1 --budget-ms 10 -q -o " + file, dir.path()).status,
            0);
  json old = read_json(path);
  const std::set<std::string> old_keys{"suite_arg", "backends_arg", "mode", "target_relative_noise", "budget_ms",
                                       "min_samples", "threads", "seed"};
  for (auto it = old["options"].begin(); it != old["options"].end();) {
    it = old_keys.contains(it.key()) ? std::next(it) : old["options"].erase(it);
  }
  ASSERT_EQ(old.at("options").size(), old_keys.size());
  old["results"].erase(old["results"].begin() + 2, old["results"].end());
  old["complete"] = false;
  write_json(path, old);
  const CliRun resumed = run_cli("run --resume " + file + " -q", dir.path());
  ASSERT_EQ(resumed.status, 0) << resumed.err;
  const json after = read_json(path);
  EXPECT_EQ(after.at("results").size(), load_suite("smoke").problems.size());
  EXPECT_EQ(after.at("options").at("budget_ms"), "10");
  EXPECT_EQ(after.at("options").at("batch"), "default");
  EXPECT_EQ(after.at("options").at("max_samples"), "1000");
  for (const json& r : after.at("results")) EXPECT_EQ(r.at("threads"), 1);
}

TEST(Cli, ReplayPrintsTheErrorAndWhereItComesFromAndWritesJson) {
  TempDir dir;
  const CliRun r = run_cli("replay --network-file " + quote(kData + "/networks/good_tiny.json") +
                               " --batch 2 --backend custom-cpu --threads 1 --budget-ms 20 --iteration-samples 2"
                               " --profile-passes 2 -q --json replay.json",
                           dir.path());
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("replay of tiny-cnn on custom-cpu"));
  EXPECT_THAT(r.out, HasSubstr("relative error (predicted - measured) / measured"));
  EXPECT_THAT(r.out, HasSubstr("largest differences"));
  EXPECT_EQ(r.err, "");  // -q: no progress lines
  const json j = json::parse(read_text(dir.path() / "replay.json"));
  EXPECT_EQ(j.at("network"), "tiny-cnn");
  EXPECT_EQ(j.at("profile_passes"), 2);
  const double predicted = j.at("predicted_iteration_s"), measured = j.at("measured_iteration_s");
  EXPECT_GT(measured, 0);
  EXPECT_DOUBLE_EQ(j.at("relative_error").get<double>(), (predicted - measured) / measured);
  double shares_s = 0;
  for (const json& p : j.at("problems")) {
    EXPECT_GT(p.at("in_iteration_s").get<double>(), 0) << p.at("description");
    shares_s += p.at("predicted_s").get<double>();
  }
  EXPECT_NEAR(shares_s, predicted, 1e-9 * predicted);
}

TEST(Cli, ReplayBadInputExitsTwo) {
  TempDir dir;
  const std::string tiny = " --network-file " + quote(kData + "/networks/good_tiny.json");
  const CliRun mode = run_cli("replay" + tiny + " --backend custom-cpu --mode lukewarm", dir.path());
  EXPECT_EQ(mode.status, 2);
  EXPECT_THAT(mode.err, HasSubstr("lukewarm"));
  const CliRun passes = run_cli("replay" + tiny + " --backend custom-cpu --profile-passes -1", dir.path());
  EXPECT_EQ(passes.status, 2);
  const CliRun network = run_cli("replay --network-file " + quote(kData + "/networks/bad_kind.json") +
                                     " --backend custom-cpu", dir.path());
  EXPECT_EQ(network.status, 2);
  EXPECT_THAT(network.err, HasSubstr("maxpool"));
}

TEST(Cli, DevicesMentionsTheCpu) {
  TempDir dir;
  const CliRun d = run_cli("devices", dir.path());
  EXPECT_EQ(d.status, 0) << d.err;
  EXPECT_THAT(d.out, HasSubstr("cpu (cpu)"));
  EXPECT_THAT(d.out, HasSubstr("fp32"));
  EXPECT_THAT(d.out, HasSubstr("backends:"));
  for (const std::string& b : kDefaultCpuBackends) EXPECT_THAT(d.out, HasSubstr(b));
}

// The JSON says everything the text does: devices, the backends present and the libraries' builds.
TEST(Cli, DevicesJsonHasTheBackendsAndLibrariesTheTextShows) {
  TempDir dir;
  const CliRun j = run_cli("devices --json", dir.path());
  ASSERT_EQ(j.status, 0) << j.err;
  const json d = json::parse(j.out);
  ASSERT_TRUE(d.is_object()) << j.out;
  ASSERT_TRUE(d.at("devices").is_array());
  ASSERT_GE(d.at("devices").size(), 1u);
  EXPECT_EQ(d.at("devices").at(0).at("id"), "cpu");
  std::set<std::string> backends;
  for (const json& b : d.at("backends")) backends.insert(b.get<std::string>());
  for (const std::string& b : kDefaultCpuBackends) EXPECT_TRUE(backends.contains(b)) << b;
  const CliRun text = run_cli("devices", dir.path());
  ASSERT_TRUE(d.at("libraries").is_object());
  EXPECT_TRUE(d.at("libraries").contains("openblas"));
  for (const auto& [library, version] : d.at("libraries").items()) {
    EXPECT_THAT(text.out, HasSubstr(library + ": " + version.get<std::string>()));
  }
}

// Without -q the table still goes somewhere a person sees it, but stdout stays one JSON document.
TEST(Cli, RunJsonKeepsStdoutPureJson) {
  TempDir dir;
  const CliRun r = run_cli("run --suite smoke --backends custom-cpu --kind gemm --budget-ms 5 --json -o out.json",
                           dir.path());
  ASSERT_EQ(r.status, 0) << r.err;
  json parsed;
  ASSERT_NO_THROW(parsed = json::parse(r.out)) << r.out;
  EXPECT_EQ(parsed.at("schema"), "trainrate-results");
  EXPECT_THAT(r.err, HasSubstr("rate R")) << "the table moves to stderr";
}

// An empty results file is named in one line, like every other bad input.
TEST(Cli, EmptyResultsFileIsNotAResultsFile) {
  TempDir dir;
  std::ofstream(dir.path() / "empty.json").flush();
  for (const std::string command : {"compare empty.json", "predict -r empty.json -n resnet50"}) {
    const CliRun r = run_cli(command, dir.path());
    EXPECT_EQ(r.status, 2) << command;
    const std::string name = command.substr(0, command.find(' '));
    EXPECT_EQ(r.err, "trainrate " + name + ": error: empty.json: not a trainrate results file (the file is empty)\n");
  }
}

// ---- predict ----------------------------------------------------------------------------------

// A results file with onednn conv rates for every pass of resnet50's 3×3 64-channel conv and one
// openblas GEMM: onednn supplies almost every rate, so it is named, with its share.
fs::path write_predict_results(const fs::path& dir) {
  ResultsFile file = read_results_file(fs::path(kData) / "reports" / "results-cpu.json");
  const json j = to_json(file);
  std::ofstream(dir / "r.json") << j.dump();
  return dir / "r.json";
}

TEST(Cli, PredictNamesTheBackendsThatSuppliedTheRates) {
  TempDir dir;
  write_predict_results(dir.path());
  // The file has no memory-bound rows: refused, loudly, before any confident total.
  const CliRun refused = run_cli("predict -r r.json -n resnet50 --batch 8 --image-size 32", dir.path());
  EXPECT_EQ(refused.status, 1) << refused.err << refused.out;
  EXPECT_THAT(refused.err, HasSubstr("error: 100.0% of the memory-bound bytes have no measured rate"));
  EXPECT_THAT(refused.out, HasSubstr("MISSING MEMORY-BOUND RATES"));
  const CliRun r = run_cli("predict -r r.json -n resnet50 --batch 8 --image-size 32 --allow-missing", dir.path());
  ASSERT_EQ(r.status, 0) << r.err << r.out;
  // resnet50's FLOPs are nearly all convolutions, which only onednn measured.
  EXPECT_THAT(r.out, HasSubstr("rates from: onednn"));
  EXPECT_THAT(r.out, HasSubstr("conv-fwd: onednn 100.0%"));
  EXPECT_THAT(r.out, HasSubstr("gemm: openblas 100.0%"));
  EXPECT_THAT(r.out, Not(HasSubstr("backend openblas:")));
}

// A hand-made file with both views of oneDNN's convs: onednn (vendor-best) and onednn-plain
// (framework view, here at half the rate). Which one predict takes, and that it says so.
void write_two_view_results(const fs::path& dir, bool vendor_best, bool framework) {
  ResultsFile file = read_results_file(fs::path(kData) / "reports" / "results-cpu.json");
  std::vector<Result> plain;
  for (Result& r : file.results) {
    if (r.backend != "onednn") continue;
    r.view = RateView::vendor_best;
    if (kind_label(r.problem) == "gemm") continue;
    Result p = r;
    p.backend = "onednn-plain", p.view = RateView::framework, p.framework_view_of = "onednn";
    p.rate_flops_per_s /= 2;
    plain.push_back(p);
  }
  if (!vendor_best) {
    std::erase_if(file.results, [](const Result& r) { return r.backend == "onednn" && kind_label(r.problem) != "gemm"; });
  }
  if (framework) file.results.insert(file.results.end(), plain.begin(), plain.end());
  std::ofstream(dir / "views.json") << to_json(file).dump();
}

TEST(Cli, PredictTakesTheFrameworkViewByDefaultAndSaysWhich) {
  TempDir dir;
  const std::string predict = "predict -r views.json -n resnet50 --batch 8 --image-size 32 --allow-missing";
  write_two_view_results(dir.path(), true, true);
  const CliRun framework = run_cli(predict, dir.path());
  ASSERT_EQ(framework.status, 0) << framework.err;
  EXPECT_THAT(framework.out, HasSubstr("conv-fwd: onednn-plain 100.0%"));
  EXPECT_THAT(framework.out, HasSubstr("view: onednn-plain: the framework view of onednn: plain tensors in and out, "
                                       "layout reorders timed"));

  // --compare is a custom/vendor comparison: the vendor side is oneDNN at its best, as in `compare`.
  for (const std::string flag : {" --vendor-best", " --compare custom-cpu:onednn"}) {
    const CliRun best = run_cli(predict + flag, dir.path());
    ASSERT_EQ(best.status, 0) << best.err;
    if (flag == " --vendor-best") {
      EXPECT_THAT(best.out, HasSubstr("conv-fwd: onednn 100.0%"));
    }
    EXPECT_THAT(best.out, Not(HasSubstr("onednn-plain 100.0%"))) << flag;
    EXPECT_THAT(best.out, Not(HasSubstr("view: onednn-plain"))) << flag;
    EXPECT_THAT(best.out, HasSubstr("view: onednn: vendor-best view, the primitive alone with layouts converted "
                                    "outside the timing, as asked (--vendor-best or --compare); its framework view "
                                    "onednn-plain is in the results, unused"))
        << flag;
  }

  write_two_view_results(dir.path(), true, false);
  const CliRun best_only = run_cli(predict, dir.path());
  ASSERT_EQ(best_only.status, 0) << best_only.err;
  EXPECT_THAT(best_only.out, HasSubstr("conv-fwd: onednn 100.0%"));
  EXPECT_THAT(best_only.out, HasSubstr("view: onednn: vendor-best view, the primitive alone with layouts converted "
                                       "outside the timing; the results have no framework view of it"));

  write_two_view_results(dir.path(), false, true);
  for (const std::string flag : {"", " --vendor-best"}) {
    const CliRun plain_only = run_cli(predict + flag, dir.path());
    ASSERT_EQ(plain_only.status, 0) << plain_only.err;
    EXPECT_THAT(plain_only.out, HasSubstr("conv-fwd: onednn-plain 100.0%")) << flag;
  }
  EXPECT_THAT(run_cli(predict, dir.path()).out, HasSubstr("view: onednn-plain: the framework view of onednn: plain"));
  EXPECT_THAT(run_cli(predict + " --vendor-best", dir.path()).out,
              HasSubstr("view: onednn-plain: the framework view of onednn, standing in where the results have no "
                        "vendor-best onednn rate"));
}

TEST(Cli, PredictRefusesATotalMostlyWithoutRates) {
  TempDir dir;
  ResultsFile file = read_results_file(fs::path(kData) / "reports" / "results-cpu.json");
  std::erase_if(file.results, [](const Result& r) { return kind_label(r.problem) != "gemm"; });
  std::ofstream(dir.path() / "gemm-only.json") << to_json(file).dump();
  const CliRun r = run_cli("predict -r gemm-only.json -n vgg16", dir.path());
  EXPECT_EQ(r.status, 1) << r.out << r.err;
  EXPECT_THAT(r.err, HasSubstr("of the GEMM/conv FLOPs and 100.0% of the memory-bound bytes have no measured rate"));
  EXPECT_THAT(r.out, HasSubstr("ESTIMATED"));
  EXPECT_THAT(r.err, HasSubstr("--allow-missing"));
  const CliRun allowed = run_cli("predict -r gemm-only.json -n vgg16 --allow-missing", dir.path());
  EXPECT_EQ(allowed.status, 0) << allowed.err;
  EXPECT_THAT(allowed.out, HasSubstr("ESTIMATED"));
}

// 6·N·D counts each parameter once per token: right for transformers, not for a conv weight that
// is reused at every pixel.
TEST(Cli, PredictShowsSixNDOnlyForTransformers) {
  TempDir dir;
  write_predict_results(dir.path());
  const CliRun cnn = run_cli("predict -r r.json -n resnet50 --batch 8 --image-size 32", dir.path());
  EXPECT_THAT(cnn.out, Not(HasSubstr("6ND =")));
  EXPECT_THAT(cnn.out, HasSubstr("6*N*D rule: not shown for resnet50"));
  const CliRun bert = run_cli("predict -r r.json -n bert-base --batch 1 --seq-len 16 --allow-missing", dir.path());
  EXPECT_THAT(bert.out, HasSubstr("6ND ="));
}

// Sets (or with nullptr removes) an environment variable for one test, restoring it afterwards.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    value ? setenv(name, value, 1) : unsetenv(name);
  }
  ~ScopedEnv() { old_ ? setenv(name_, old_->c_str(), 1) : unsetenv(name_); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// Debian 12's OpenBLAS runs narrower kernels than the CPU's on CPUs newer than itself (generic SSE3
// on Emerald Rapids, AVX2 on Zen 5) unless OPENBLAS_CORETYPE names a core; the binary restarts
// itself with the right one, and says so.
TEST(Cli, OpenblasRunsKernelsThatUseThisCpu) {
  TempDir dir;
  {
    ScopedEnv unset("OPENBLAS_CORETYPE", nullptr);
    const CliRun d = run_cli("devices", dir.path());
    ASSERT_EQ(d.status, 0) << d.err;
    EXPECT_THAT(d.out, HasSubstr("openblas: OpenBLAS"));
    EXPECT_THAT(d.out, Not(HasSubstr("narrower than this CPU's vectors")));
  }
  // A core the user names stands, and where its vectors are narrower than the CPU's the output
  // says so (and how to get better kernels).
  const auto expect_named_core = [&](const char* core, bool narrower) {
    ScopedEnv named("OPENBLAS_CORETYPE", core);
    const CliRun p = run_cli("devices", dir.path());
    ASSERT_EQ(p.status, 0) << p.err;
    EXPECT_THAT(p.out, HasSubstr(core));
    const std::string note = std::string(core) + " kernels, narrower than this CPU's vectors; OPENBLAS_CORETYPE=";
    EXPECT_EQ(p.out.find(note) != std::string::npos, narrower) << p.out;
  };
#if defined(__x86_64__)
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  expect_named_core("Prescott", avx2);
  if (avx2) expect_named_core("Haswell", avx512);
  if (avx512) expect_named_core("SkylakeX", false);
#else
  expect_named_core("Prescott", false);
#endif
}

// The Slurm scripts' default binary is where a CMake preset builds it, and docs/cluster.md says the same.
TEST(CliScripts, SlurmDefaultBinaryIsWhereAPresetBuildsIt) {
  const fs::path root = TRAINRATE_SOURCE_DIR;
  const json presets = read_json(root / "CMakePresets.json");
  std::set<std::string> preset_dirs;
  for (const json& preset : presets.at("configurePresets")) {
    if (!preset.value("hidden", false)) preset_dirs.insert("build/" + preset.at("name").get<std::string>());
  }
  // binaryDir is "${sourceDir}/build/${presetName}" for every preset (inherited from "base").
  const std::regex binary(R"((build(?:/[A-Za-z0-9_-]+)?)/src/trainrate)");
  for (const char* file : {"scripts/slurm/submit", "scripts/slurm/run-task", "scripts/slurm/merge.sbatch",
                           "docs/cluster.md"}) {
    const std::string text = read_text(root / file);
    int defaults = 0;
    for (auto it = std::sregex_iterator(text.begin(), text.end(), binary); it != std::sregex_iterator(); ++it) {
      EXPECT_TRUE(preset_dirs.contains((*it)[1].str())) << file << " names " << (*it)[0].str();
      ++defaults;
    }
    EXPECT_GE(defaults, 1) << file;
  }
}

TEST(Cli, ListPrintsTheSuitesProblems) {
  TempDir dir;
  const CliRun l = run_cli("run --suite smoke --list", dir.path());
  EXPECT_EQ(l.status, 0) << l.err;
  std::vector<std::string> expected;
  for (const Problem& p : load_suite("smoke").problems) expected.push_back(describe(p));
  EXPECT_EQ(lines_of(l.out), expected);
  // Overrides show in the listing; a suite file lists too.
  const CliRun half = run_cli("run --suite smoke --dtype fp16 --layout NHWC --list", dir.path());
  EXPECT_EQ(half.status, 0);
  std::vector<std::string> expected_half;
  for (const Problem& p : load_suite("smoke", {.dtype = Dtype::fp16, .layout = Layout::NHWC}).problems) {
    expected_half.push_back(describe(p));
  }
  EXPECT_EQ(lines_of(half.out), expected_half);
  const CliRun square = run_cli("run --suite square --min-size 128 --max-size 512 --list", dir.path());
  EXPECT_EQ(lines_of(square.out), (std::vector<std::string>{"gemm 128x128x128 NN fp32", "gemm 256x256x256 NN fp32",
                                                            "gemm 512x512x512 NN fp32"}));
  const CliRun csv = run_cli("run --suite " + quote(kData + "/suites/good.csv") + " --list", dir.path());
  EXPECT_EQ(csv.status, 0) << csv.err;
  EXPECT_EQ(lines_of(csv.out).size(), 4u);
  EXPECT_FALSE(fs::exists(dir.path() / "results"));  // --list writes no results file
}

// Memory-bound kinds run end to end: onednn and custom-cpu verify batch norm, the table rates it in
// bytes/s, and compare pairs them.
TEST(CliMemoryBound, RunsTheKindOnOnednnAndRatesItInBytes) {
  TempDir dir;
  const fs::path path = dir.path() / "bn.json";
  const CliRun run = run_cli("run --suite smoke --kind bn --backends onednn,custom-cpu --threads 1 --budget-ms 10 -o " +
                                 quote(path.string()),
                             dir.path());
  ASSERT_EQ(run.status, 0) << run.err;
  int rated = 0;
  int paired = 0;
  bool in_results_table = true;  // the results table comes first, then a blank line, then the pairs
  for (const std::string& line : lines_of(run.out)) {
    if (line.empty()) in_results_table = false;
    if (!line.starts_with("batchnorm")) continue;
    // Bytes per second (GB/s here, MB/s in a sanitizer build), never FLOP/s.
    EXPECT_THAT(line, ::testing::AllOf(HasSubstr("B/s"), ::testing::Not(HasSubstr("FLOP/s")))) << line;
    ++(in_results_table ? rated : paired);
  }
  EXPECT_EQ(rated, 4) << run.out;  // forward and backward on each backend
  EXPECT_EQ(paired, 2) << run.out;
  const nlohmann::json results = nlohmann::json::parse(read_text(path));
  for (const auto& r : results.at("results")) {
    EXPECT_EQ(r.at("problem").at("op"), "batchnorm");
    EXPECT_GT(r.at("rate_bytes_per_s").get<double>(), 0) << r.at("backend");
  }
}

// ---- fleet baseline, screen, export, merge's warnings --------------------------------------

// The five nodes of fleet_nodes.hpp written as results files; node5 is 15% slow.
std::vector<std::string> write_five_nodes(const fs::path& dir) {
  const ResultsFile seed = read_results_file(testing::kFleetSeed);
  std::vector<std::string> paths;
  for (const auto& [host, scale] : testing::kFiveNodes) {
    paths.push_back((dir / (host + ".json")).string());
    write_results_file(paths.back(), testing::scaled_node(seed, host, scale));
  }
  return paths;
}

std::string joined(const std::vector<std::string>& paths) {
  std::string text;
  for (const std::string& path : paths) text += " " + quote(path);
  return text;
}

// Bad input is one line on stderr, "trainrate <command>: error: ...", and exit 2.
void expect_one_line_error(const CliRun& run, const std::string& command, const std::string& says) {
  EXPECT_EQ(run.status, 2) << run.err;
  EXPECT_TRUE(run.err.starts_with("trainrate " + command + ": error: ")) << run.err;
  EXPECT_EQ(std::count(run.err.begin(), run.err.end(), '\n'), 1) << run.err;
  EXPECT_THAT(run.err, HasSubstr(says));
}

TEST(CliFleet, BaselineLeavesTheSlowNodeOutAndScreenRejectsOnlyIt) {
  TempDir dir;
  const auto nodes = write_five_nodes(dir.path());
  const std::string baseline = (dir.path() / "baseline.json").string();
  const CliRun built = run_cli("baseline" + joined(nodes) + " -o " + quote(baseline), dir.path());
  ASSERT_EQ(built.status, 0) << built.err;
  EXPECT_EQ(built.err, "");  // the files' settings agree: no warning
  EXPECT_THAT(built.out, HasSubstr("NVIDIA H100 80GB HBM3: 6 rows from 4 nodes; 1 left out"));
  EXPECT_THAT(built.out, HasSubstr("left out  node5 cuda:0"));
  EXPECT_THAT(built.out, HasSubstr("slow: geomean 0.850 of the per-row median (robust z -10.1, beyond ±3.5)"));
  const json written = json::parse(read_text(baseline));
  EXPECT_EQ(written.at("schema"), "trainrate-baseline");
  EXPECT_EQ(written.at("models")[0].at("excluded")[0].at("node"), "node5 cuda:0");

  for (size_t i = 0; i < 4; ++i) {
    const CliRun screened = run_cli("screen " + quote(nodes[i]) + " --baseline " + quote(baseline), dir.path());
    EXPECT_EQ(screened.status, 0) << nodes[i] << "\n" << screened.out << screened.err;
    EXPECT_TRUE(screened.out.starts_with("ACCEPT node" + std::to_string(i + 1) + " cuda:0")) << screened.out;
  }
  const fs::path md = dir.path() / "s.md", csv = dir.path() / "s.csv", js = dir.path() / "s.json",
                 prom = dir.path() / "s.prom";
  const CliRun slow = run_cli("screen " + quote(nodes[4]) + " --baseline " + quote(baseline) + " --markdown " +
                                  quote(md.string()) + " --csv " + quote(csv.string()) + " --json " + quote(js.string()) +
                                  " --metrics " + quote(prom.string()),
                              dir.path());
  EXPECT_EQ(slow.status, 1) << slow.err;
  EXPECT_TRUE(slow.out.starts_with("REJECT node5 cuda:0 (NVIDIA H100 80GB HBM3)")) << slow.out;
  EXPECT_THAT(slow.out, HasSubstr("REJECT by kind: gemm on cublas: geomean 0.848 of the baseline over 2 rows, below 0.9"));
  EXPECT_THAT(read_text(md), HasSubstr("| node5 | cuda:0 | NVIDIA H100 80GB HBM3 | REJECT | kind: conv-fwd on cudnn"));
  EXPECT_EQ(lines_of(read_text(csv)).size(), 7u);  // header and six rows
  EXPECT_EQ(json::parse(read_text(js)).at("devices")[0].at("verdict"), "REJECT");
  EXPECT_THAT(read_text(prom), HasSubstr("trainrate_screen_accepted{host=\"node5\",device=\"cuda:0\","
                                         "device_model=\"NVIDIA H100 80GB HBM3\"} 0\n"));
  // A looser rule accepts it.
  EXPECT_EQ(run_cli("screen " + quote(nodes[4]) + " --baseline " + quote(baseline) + " --kind-threshold 0.8",
                    dir.path()).status, 0);
}

TEST(CliFleet, BadInputToBaselineAndScreenIsOneLine) {
  TempDir dir;
  const auto nodes = write_five_nodes(dir.path());
  const std::string baseline = (dir.path() / "baseline.json").string();
  ASSERT_EQ(run_cli("baseline" + joined(nodes) + " -o " + quote(baseline), dir.path()).status, 0);
  auto screen = [&](const std::string& node, const std::string& with) {
    return run_cli("screen " + quote(node) + " --baseline " + quote(with), dir.path());
  };
  expect_one_line_error(screen(kData + "/reports/fleet/results-cpu-node05-cpu.json", baseline), "screen",
                        "is a baseline for 'NVIDIA H100 80GB HBM3'");
  json hot = json::parse(read_text(nodes[0]));
  for (auto& r : hot.at("results")) r["mode"] = "hot";
  write_json(dir.path() / "hot.json", hot);
  expect_one_line_error(screen((dir.path() / "hot.json").string(), baseline), "screen", "has no result in common");
  // Malformed baselines: not JSON, a results file, a bad field.
  std::ofstream(dir.path() / "broken.json") << "{\"schema\": \"trainrate-baseline\",";
  expect_one_line_error(screen(nodes[0], (dir.path() / "broken.json").string()), "screen", "not a trainrate baseline");
  expect_one_line_error(screen(nodes[0], nodes[1]), "screen", "not a trainrate baseline (missing \"schema\"");
  json bad = json::parse(read_text(baseline));
  bad["models"][0]["rows"][0]["median_per_s"] = "fast";
  write_json(dir.path() / "bad.json", bad);
  expect_one_line_error(screen(nodes[0], (dir.path() / "bad.json").string()), "screen",
                        "models[0].rows[0].median_per_s: wrong type");
  expect_one_line_error(run_cli("screen " + quote(nodes[0]) + " --baseline " + quote(baseline) + " --floor -1",
                                dir.path()),
                        "screen", "--floor: must be between 0 and 10, got -1");
  expect_one_line_error(run_cli("baseline" + joined({nodes[0], nodes[0]}) + " -o b2.json", dir.path()), "baseline",
                        "is given twice");
  expect_one_line_error(run_cli("baseline " + quote(nodes[0]) + " --previous " + quote(nodes[1]) + " -o b2.json",
                                dir.path()),
                        "baseline", "not a trainrate baseline");
}

TEST(CliFleet, MergeAndBaselineWarnWhenTheFilesSettingsDiffer) {
  TempDir dir;
  const auto nodes = write_five_nodes(dir.path());
  json other = json::parse(read_text(nodes[1]));
  other["libraries"]["cudnn"] = "9.8.0";
  write_json(nodes[1], other);
  const std::string warning = "warning: files differ in libraries.cudnn: '9.10.0' in 4 files (";
  const CliRun merged = run_cli("merge" + joined(nodes) + " -o fleet", dir.path());
  EXPECT_THAT(merged.err, HasSubstr("trainrate merge: " + warning)) << merged.err;
  EXPECT_THAT(read_text(dir.path() / "fleet" / "fleet.md"), HasSubstr("## Settings that differ between the files"));
  const CliRun built = run_cli("baseline" + joined(nodes) + " -o b.json", dir.path());
  EXPECT_EQ(built.status, 0);
  EXPECT_THAT(built.err, HasSubstr("trainrate baseline: " + warning)) << built.err;
}

TEST(CliFleet, ExportWritesMetricsAtomicallyAndRunWritesThemDirectly) {
  TempDir dir;
  const auto nodes = write_five_nodes(dir.path());
  const fs::path prom = dir.path() / "textfile" / "trainrate.prom";
  fs::create_directories(prom.parent_path());
  const CliRun exported = run_cli("export --format openmetrics" + joined({nodes[0], nodes[1]}) + " -o " +
                                      quote(prom.string()),
                                  dir.path());
  ASSERT_EQ(exported.status, 0) << exported.err;
  const std::string text = read_text(prom);
  EXPECT_THAT(text, HasSubstr("# TYPE trainrate_rate_flops_per_second gauge\n"));
  EXPECT_THAT(text, HasSubstr("trainrate_rate_flops_per_second{host=\"node2\",device=\"cuda:0\""));
  EXPECT_TRUE(text.ends_with("# EOF\n"));
  EXPECT_EQ(fs::directory_iterator(prom.parent_path())->path(), prom);  // no temporary left beside it
  expect_one_line_error(run_cli("export" + joined({nodes[0], nodes[0]}), dir.path()), "export",
                        "their metrics would be the same series");
  expect_one_line_error(run_cli("export --format json " + quote(nodes[0]), dir.path()), "export", "--format");

  const fs::path metrics = dir.path() / "run.prom";
  const CliRun run = run_cli("run --suite smoke --kind gemm --backends openblas --budget-ms 10 -o r.json --metrics " +
                                 quote(metrics.string()),
                             dir.path());
  ASSERT_EQ(run.status, 0) << run.err;
  const std::string from_run = read_text(metrics);
  EXPECT_THAT(from_run, HasSubstr("trainrate_rate_flops_per_second{host="));
  EXPECT_THAT(from_run, HasSubstr("backend=\"openblas\",kind=\"gemm\""));
  EXPECT_THAT(from_run, HasSubstr("trainrate_run_timestamp_seconds{"));
}

}  // namespace
}  // namespace trainrate
