// Fleet merge: the robust z-score on hand-computed values, the flagging rules, and the exit status
// of `trainrate merge` that a cluster health check relies on.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "problems/problem_json.hpp"
#include "reports/fleet.hpp"
#include "results/results_json.hpp"

namespace trainrate::reports {
namespace {

const std::filesystem::path kFleetData = std::filesystem::path(TRAINRATE_TEST_DATA_DIR) / "reports" / "fleet";

TEST(FleetZScore, HandComputedValues) {
  // median 100; |x − 100| = 0, 2, 2, 1, 40 → MAD 2 (above the 1% floor of 1).
  const auto z = robust_z_scores({100, 102, 98, 101, 60}, FleetOptions{});
  ASSERT_EQ(z.size(), 5u);
  EXPECT_NEAR(z[0], 0.0, 1e-12);
  EXPECT_NEAR(z[1], 0.6745 * 2 / 2, 1e-12);
  EXPECT_NEAR(z[2], -0.6745, 1e-12);
  EXPECT_NEAR(z[3], 0.6745 / 2, 1e-12);
  EXPECT_NEAR(z[4], 0.6745 * -40 / 2, 1e-12);  // −13.49: far below −3.5
}

TEST(FleetZScore, EvenCountUsesTheMeanOfTheMiddleTwo) {
  // median (59.8 + 60.1)/2 = 59.95; deviations 0.15, 0.15, 17.95, 0.55 → MAD (0.15 + 0.55)/2 = 0.35,
  // below the floor 0.01·59.95 = 0.5995, so the floor is used.
  const auto z = robust_z_scores({60.1, 59.8, 42.0, 60.5}, FleetOptions{});
  ASSERT_EQ(z.size(), 4u);
  EXPECT_NEAR(z[2], 0.6745 * (42.0 - 59.95) / 0.5995, 1e-9);
  EXPECT_NEAR(z[3], 0.6745 * (60.5 - 59.95) / 0.5995, 1e-9);
}

TEST(FleetZScore, MadOfZeroFallsBackToTheRelativeFloor) {
  // Three identical devices and one 10% slower: MAD = 0, floor = 1% of 100 = 1.
  const auto z = robust_z_scores({100, 100, 100, 90}, FleetOptions{});
  ASSERT_EQ(z.size(), 4u);
  EXPECT_NEAR(z[0], 0.0, 1e-12);
  EXPECT_NEAR(z[3], 0.6745 * -10 / 1, 1e-12);
  // With no floor and everything equal, every z is 0 rather than a division by zero.
  FleetOptions no_floor;
  no_floor.min_relative_spread = 0;
  for (const double v : robust_z_scores({50, 50, 50}, no_floor)) EXPECT_EQ(v, 0.0);
}

TEST(FleetZScore, FloorKeepsNoiseFromFlagging) {
  // A very uniform fleet (MAD 0.05%) and one device 2% slower: without the floor z = −27, with it −1.35.
  const auto z = robust_z_scores({100.0, 100.05, 99.95, 100.0, 98.0}, FleetOptions{});
  EXPECT_NEAR(z[4], 0.6745 * -2 / 1, 1e-9);
  EXPECT_GT(z[4], -3.5);
}

TEST(FleetZScore, FewerThanThreeDevicesAreNotScored) {
  EXPECT_TRUE(robust_z_scores({100, 50}, FleetOptions{}).empty());
  EXPECT_TRUE(robust_z_scores({}, FleetOptions{}).empty());
  EXPECT_EQ(robust_z_scores({1, 2, 3}, FleetOptions{}).size(), 3u);
}

std::vector<FleetNode> gpu_nodes() {
  std::vector<FleetNode> nodes;
  for (const char* name : {"results-gpu-node01-gpu0.json", "results-gpu-node02-gpu0.json",
                           "results-gpu-node03-gpu0.json", "results-gpu-node04-gpu0.json"}) {
    nodes.push_back({name, read_results_file(kFleetData / name)});
  }
  return nodes;
}

const FleetDevice& device_on(const FleetReport& fleet, const std::string& host) {
  for (const FleetDevice& d : fleet.devices) {
    if (d.host == host) return d;
  }
  throw std::runtime_error("no device on " + host);
}

TEST(FleetReport, FlagsTheSlowDeviceAndTheOneWithInvalidResults) {
  const FleetReport fleet = build_fleet(gpu_nodes(), FleetOptions{});
  ASSERT_EQ(fleet.devices.size(), 4u);
  const FleetDevice& slow = device_on(fleet, "gpu-node03");
  EXPECT_TRUE(slow.slow);
  EXPECT_TRUE(slow.flagged);
  EXPECT_EQ(slow.scored, 6);
  EXPECT_LT(*slow.score, -3.5);
  EXPECT_NEAR(*slow.relative_rate, 0.708, 0.005);
  const FleetDevice& invalid = device_on(fleet, "gpu-node04");
  EXPECT_FALSE(invalid.slow);
  EXPECT_EQ(invalid.errors, 1);
  EXPECT_TRUE(invalid.flagged);
  EXPECT_FALSE(device_on(fleet, "gpu-node01").flagged);
  EXPECT_FALSE(device_on(fleet, "gpu-node02").flagged);
  EXPECT_TRUE(fleet.any_flagged());
}

TEST(FleetReport, ThresholdIsConfigurable) {
  FleetOptions lenient;
  lenient.threshold = 25;  // node03 scores about −19.7
  const FleetReport fleet = build_fleet(gpu_nodes(), lenient);
  EXPECT_FALSE(device_on(fleet, "gpu-node03").slow);
}

TEST(FleetReport, DevicesOfAnotherModelAreComparedOnlyWithTheirPeers) {
  auto nodes = gpu_nodes();
  nodes.push_back({"cpu.json", read_results_file(kFleetData / "results-cpu-node05-cpu.json")});
  const FleetReport fleet = build_fleet(nodes, FleetOptions{});
  const FleetDevice& cpu = device_on(fleet, "cpu-node05");
  EXPECT_EQ(cpu.scored, 0);
  EXPECT_FALSE(cpu.flagged);
  EXPECT_NE(cpu.verdict.find("not scored"), std::string::npos);
}

TEST(FleetReport, SameHostAndDeviceTwiceIsBadInput) {
  auto nodes = gpu_nodes();
  nodes.push_back(nodes.front());
  EXPECT_THROW(build_fleet(nodes, FleetOptions{}), InputError);
  EXPECT_THROW(build_fleet({}, FleetOptions{}), InputError);
}

// ---- exit status of `trainrate merge` --------------------------------------------------------

int merge(const std::vector<std::string>& files, const std::filesystem::path& out, const std::string& extra = "") {
  std::string command = std::string(TRAINRATE_CLI_PATH) + " merge";
  for (const auto& file : files) command += " " + file;
  command += " -o " + out.string() + " " + extra + " >/dev/null 2>&1";
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string node(const char* name) { return (kFleetData / name).string(); }

TEST(FleetCli, ExitStatusSaysWhetherADeviceWasFlagged) {
  const auto out = std::filesystem::temp_directory_path() / ("trainrate-test-merge-" + std::to_string(::getpid()));
  std::filesystem::remove_all(out);
  // Healthy: node01, node02 and the CPU node (alone of its model, so not scored).
  EXPECT_EQ(merge({node("results-gpu-node01-gpu0.json"), node("results-gpu-node02-gpu0.json"),
                   node("results-cpu-node05-cpu.json")},
                  out),
            0);
  EXPECT_TRUE(std::filesystem::exists(out / "fleet.md"));
  EXPECT_TRUE(std::filesystem::exists(out / "fleet.csv"));
  EXPECT_TRUE(std::filesystem::exists(out / "fleet.html"));
  // node03 is 30% slow: flagged.
  const std::vector<std::string> with_slow{node("results-gpu-node01-gpu0.json"), node("results-gpu-node02-gpu0.json"),
                                           node("results-gpu-node03-gpu0.json")};
  EXPECT_EQ(merge(with_slow, out), 1);
  EXPECT_EQ(merge(with_slow, out, "--threshold 30"), 0);
  // Bad input: a missing file, a broken file, a bad threshold, a duplicate node.
  EXPECT_EQ(merge({node("results-gpu-node01-gpu0.json"), "/nonexistent.json"}, out), 2);
  const auto broken = out / "broken.json";
  std::ofstream(broken) << "{\"schema\": \"trainrate-results\", ";
  EXPECT_EQ(merge({broken.string()}, out), 2);
  EXPECT_EQ(merge(with_slow, out, "--threshold -1"), 2);
  EXPECT_EQ(merge({node("results-gpu-node01-gpu0.json"), node("results-gpu-node01-gpu0.json")}, out), 2);
  std::filesystem::remove_all(out);
}

}  // namespace
}  // namespace trainrate::reports
