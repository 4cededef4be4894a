// trainrate-bench end to end: its own flags (threads, budget) are parsed before Google Benchmark's
// and listed in --help, and a busy machine is said in the output and in the JSON it writes.
#include "temp_dir.hpp"
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdlib.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "devices/cpu_device.hpp"

namespace trainrate {
namespace {

using ::testing::HasSubstr;
using trainrate::testing::TempDir;

struct BenchRun {
  int status = -1;
  std::string out, err;
};

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

BenchRun run_bench(const std::string& args, const TempDir& dir) {
  const auto out = dir.path() / "out.txt", err = dir.path() / "err.txt";
  const std::string command = std::string("'") + TRAINRATE_BENCH_PATH + "' " + args + " >'" + out.string() + "' 2>'" +
                              err.string() + "' </dev/null";
  const int raw = std::system(command.c_str());
  return {WIFEXITED(raw) ? WEXITSTATUS(raw) : 1000 + raw, read_text(out), read_text(err)};
}

TEST(Bench, HelpListsTheTrainrateFlags) {
  TempDir dir;
  const BenchRun r = run_bench("--help", dir);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out + r.err, HasSubstr("--trainrate_threads=N"));
  EXPECT_THAT(r.out + r.err, HasSubstr("--trainrate_budget_ms=MS"));
  EXPECT_THAT(r.out + r.err, HasSubstr("--benchmark_filter")) << "Google Benchmark's own help follows";
}

TEST(Bench, ThreadsAndBudgetReachTheRunAndTheJson) {
  TempDir dir;
  const BenchRun r = run_bench("--trainrate_threads=1 --trainrate_budget_ms=5 '--benchmark_filter=^smoke/custom-cpu/gemm 96x64x80' "
                               "--benchmark_format=json", dir);
  ASSERT_EQ(r.status, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j.at("context").at("trainrate_threads"), "1");
  EXPECT_EQ(j.at("context").at("trainrate_budget_ms"), "5");
  ASSERT_EQ(j.at("benchmarks").size(), 1u);
  const nlohmann::json& row = j.at("benchmarks").at(0);
  EXPECT_TRUE(row.contains("busy"));
  // Whether this machine is busy now is not ours to choose: the warning, the context and the
  // row's mark must agree with each other either way.
  if (j.at("context").contains("machine_busy")) {
    EXPECT_THAT(r.err, HasSubstr("warning: this machine is busy"));
    EXPECT_EQ(row.at("busy").get<double>(), 1.0);
  } else {
    EXPECT_THAT(r.err, ::testing::Not(HasSubstr("this machine is busy")));
  }
}

TEST(Bench, BadOwnFlagsExitTwo) {
  TempDir dir;
  for (const char* flag : {"--trainrate_threads=many", "--trainrate_threads=-1", "--trainrate_budget_ms=0",
                           "--trainrate_budget_ms=1e400"}) {
    const BenchRun r = run_bench(flag, dir);
    EXPECT_EQ(r.status, 2) << flag;
    EXPECT_THAT(r.err, HasSubstr("trainrate-bench: error:")) << flag;
  }
}

}  // namespace
}  // namespace trainrate
