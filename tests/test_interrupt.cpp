// Nothing measured is lost: a run stopped by SIGTERM, SIGINT or SIGKILL keeps every finished result
// in a valid file, and --resume completes it with every (problem, backend) pair exactly once.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "problems/suite.hpp"
#include "results/results_json.hpp"

extern char** environ;

namespace trainrate {
namespace {

namespace fs = std::filesystem;

const std::string kBackends = "openblas,custom-cpu";

std::vector<std::string> run_args(const fs::path& output, const std::string& extra_flag = "") {
  std::vector<std::string> args{TRAINRATE_CLI_PATH, "run", "--suite", "smoke", "--backends", kBackends,
                                "--budget-ms", "150", "--min-time-ms", "100", "--noise", "0.000001",
                                "-q", "-o", output.string()};
  if (!extra_flag.empty()) args.push_back(extra_flag);
  return args;
}

pid_t spawn(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  EXPECT_EQ(posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ), 0);
  return pid;
}

int wait_exit_status(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

size_t results_in(const fs::path& path) {
  try {
    return read_results_file(path).results.size();
  } catch (const std::exception&) {
    return 0;  // not written yet
  }
}

// Starts a run, waits until `finished` results are on disk, then sends `signal`.
int interrupt_after(const fs::path& output, size_t finished, int signal) {
  const pid_t pid = spawn(run_args(output));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (results_in(output) < finished && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(pid, signal);
  return wait_exit_status(pid);
}

size_t expected_pairs() { return load_suite("smoke").problems.size() * 2; }

void expect_each_pair_once(const ResultsFile& file) {
  std::set<std::string> seen;
  for (const Result& r : file.results) {
    EXPECT_TRUE(seen.insert(r.backend + " | " + describe(r.problem)).second) << "duplicate: " << describe(r.problem);
  }
  EXPECT_EQ(seen.size(), expected_pairs());
}

class InterruptTest : public ::testing::TestWithParam<std::pair<int, size_t>> {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("trainrate-interrupt-" + std::to_string(getpid()) + "-" +
                                        std::to_string(GetParam().first) + "-" + std::to_string(GetParam().second));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_P(InterruptTest, KeepsFinishedResultsAndResumesToACompleteFile) {
  const auto [signal, finished] = GetParam();
  const fs::path output = dir_ / "run.json";
  const int status = interrupt_after(output, finished, signal);
  EXPECT_EQ(status, 128 + signal);

  const ResultsFile partial = read_results_file(output);  // still valid JSON: atomic rewrites
  EXPECT_FALSE(partial.complete);
  EXPECT_GE(partial.results.size(), finished);
  EXPECT_LT(partial.results.size(), expected_pairs());
  EXPECT_FALSE(fs::exists(output.string() + ".tmp") && signal != SIGKILL);

  // The run's own options come from the file; giving one that differs would be refused.
  const pid_t resumed = spawn({TRAINRATE_CLI_PATH, "run", "--resume", output.string(), "-q"});
  EXPECT_EQ(wait_exit_status(resumed), 0);
  const ResultsFile complete = read_results_file(output);
  EXPECT_TRUE(complete.complete);
  expect_each_pair_once(complete);
  // What was measured before the interruption is kept as it was, not measured again.
  for (size_t i = 0; i < partial.results.size(); ++i) {
    EXPECT_EQ(complete.results[i].backend, partial.results[i].backend);
    EXPECT_EQ(complete.results[i].rate_flops_per_s, partial.results[i].rate_flops_per_s);
  }
}

INSTANTIATE_TEST_SUITE_P(Signals, InterruptTest,
                         ::testing::Values(std::pair{SIGTERM, size_t{1}}, std::pair{SIGTERM, size_t{7}},
                                           std::pair{SIGINT, size_t{3}}, std::pair{SIGKILL, size_t{2}},
                                           std::pair{SIGKILL, size_t{9}}));

}  // namespace
}  // namespace trainrate
