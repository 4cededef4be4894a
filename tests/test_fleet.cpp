// Fleet merge: the robust z-score on hand-computed values, the flagging rules, and the exit status
// of `trainrate merge` that a cluster health check relies on; the settings merge warns about; the
// fleet baseline (outlier nodes left out) and screening one node against it.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>

#include "fleet_nodes.hpp"
#include "problems/problem_json.hpp"
#include "reports/baseline.hpp"
#include "reports/fleet.hpp"
#include "reports/screen.hpp"
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

// ---- settings that differ between files -------------------------------------------------------

TEST(FleetSettings, EveryDifferingKeyIsListedWithItsFiles) {
  const ResultsFile seed = read_results_file(testing::kFleetSeed);
  ResultsFile other = testing::scaled_node(seed, "node3", 1.0);
  other.libraries["cudnn"] = "9.8.0";
  other.tool_version = "0.2.0";
  other.options["noise"] = "0.01";  // absent in the seed
  const std::vector<FleetNode> nodes{
      {"a.json", seed}, {"b.json", testing::scaled_node(seed, "node2", 1.0)}, {"c.json", other}};
  const auto lines = setting_differences(nodes);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "libraries.cudnn: '9.10.0' in 2 files (a.json, b.json); '9.8.0' in 1 file (c.json)");
  EXPECT_EQ(lines[1], "options.noise: '0.01' in 1 file (c.json); (absent) in 2 files (a.json, b.json)");
  EXPECT_EQ(lines[2], "tool_version: '0.1.0' in 2 files (a.json, b.json); '0.2.0' in 1 file (c.json)");
  EXPECT_TRUE(setting_differences({{"a.json", seed}, {"b.json", seed}}).empty());
  // The threads of the results count too: a CPU run with 2 threads is not comparable with one with 4.
  ResultsFile four_threads = seed;
  for (Result& r : four_threads.results) r.threads = 4;
  EXPECT_EQ(setting_differences({{"a.json", seed}, {"d.json", four_threads}}),
            std::vector<std::string>{"threads: '0' in 1 file (a.json); '4' in 1 file (d.json)"});
  // merge's report says it, too.
  const FleetReport fleet = build_fleet(nodes, FleetOptions{});
  EXPECT_EQ(fleet.differences, lines);
  EXPECT_NE(render_fleet_markdown(fleet).find("## Settings that differ between the files"), std::string::npos);
}

// ---- baseline ---------------------------------------------------------------------------------

std::vector<FleetNode> five_nodes() {
  const ResultsFile seed = read_results_file(testing::kFleetSeed);
  std::vector<FleetNode> nodes;
  for (const auto& [host, scale] : testing::kFiveNodes) {
    nodes.push_back({host + ".json", testing::scaled_node(seed, host, scale)});
  }
  return nodes;
}

TEST(Baseline, LeavesTheDoctoredNodeOutAndListsIt) {
  const Baseline baseline = build_baseline(five_nodes(), std::nullopt, FleetOptions{});
  ASSERT_EQ(baseline.models.size(), 1u);
  const BaselineModel& model = baseline.models.front();
  EXPECT_EQ(model.device_model, "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(model.device_kind, "cuda");
  ASSERT_EQ(model.nodes.size(), 4u);
  EXPECT_EQ(model.nodes[1].node, "node2 cuda:0");
  EXPECT_NEAR(*model.nodes[1].relative_speed, 1.01, 1e-12);
  ASSERT_EQ(model.excluded.size(), 1u);
  EXPECT_EQ(model.excluded[0].node.node, "node5 cuda:0");
  EXPECT_EQ(model.excluded[0].node.source, "node5.json");
  // z = 0.6745 · (0.85 − 1) / 0.01 = −10.1
  EXPECT_EQ(model.excluded[0].reason, "slow: geomean 0.850 of the per-row median (robust z -10.1, beyond ±3.5)");
  const ResultsFile seed = read_results_file(testing::kFleetSeed);
  ASSERT_EQ(model.rows.size(), seed.results.size());
  for (size_t i = 0; i < model.rows.size(); ++i) {
    const double rate = work_rate_per_s(seed.results[i]);
    EXPECT_EQ(model.rows[i].identity.backend, seed.results[i].backend);
    EXPECT_EQ(model.rows[i].rate_by_node.size(), 4u);
    // Kept: 1.0, 1.01, 0.99, 1.005 → median 1.0025; |deviations| .0025 .0075 .0125 .0025 → MAD .005.
    EXPECT_NEAR(model.rows[i].median_per_s, 1.0025 * rate, 1e-12 * rate);
    EXPECT_NEAR(model.rows[i].spread_per_s, 1.4826 * 0.005 * rate, 1e-9 * rate);
  }
}

TEST(Baseline, ANodeWithInvalidResultsIsLeftOutWhateverItsSpeed) {
  auto nodes = five_nodes();
  nodes[1].file.results[2].status = ResultStatus::invalid;
  nodes[1].file.results[2].reason = "3 mismatches";
  const Baseline baseline = build_baseline(nodes, std::nullopt, FleetOptions{});
  const auto& excluded = baseline.models.front().excluded;
  ASSERT_EQ(excluded.size(), 2u);
  EXPECT_EQ(excluded[0].node.node, "node2 cuda:0");
  EXPECT_EQ(excluded[0].reason, "1 INVALID/FAILED result (first: cublas gemm 4096x4096x4096 NN fp16 INVALID: 3 mismatches)");
  EXPECT_EQ(excluded[1].node.node, "node5 cuda:0");
}

TEST(Baseline, TooFewNodesToFindOutliersKeepsThemAllAndSaysSo) {
  auto nodes = five_nodes();
  nodes.erase(nodes.begin() + 1, nodes.begin() + 4);  // node1 and node5 only
  const Baseline baseline = build_baseline(nodes, std::nullopt, FleetOptions{});
  EXPECT_EQ(baseline.models.front().nodes.size(), 2u);
  EXPECT_TRUE(baseline.models.front().excluded.empty());
  ASSERT_EQ(baseline.notes.size(), 1u);
  EXPECT_EQ(baseline.notes[0],
            "'NVIDIA H100 80GB HBM3': 2 nodes; at least 3 are needed to tell an outlier, so none was left out.");
}

TEST(Baseline, FoldsInAPreviousBaselineAndANewMeasurementReplacesItsNode) {
  auto nodes = five_nodes();
  const Baseline previous = build_baseline({nodes[0], nodes[1], nodes[2]}, std::nullopt, FleetOptions{});
  const ResultsFile seed = read_results_file(testing::kFleetSeed);
  const std::vector<FleetNode> now{{"node1-again.json", testing::scaled_node(seed, "node1", 1.02)}, nodes[3]};
  const Baseline folded = build_baseline(now, previous, FleetOptions{});
  const BaselineModel& model = folded.models.front();
  ASSERT_EQ(model.nodes.size(), 4u);
  EXPECT_EQ(model.nodes[0].source, "node1-again.json");
  EXPECT_EQ(model.nodes[1].source, "node2.json");
  // Nodes 1.02 (new), 1.01, 0.99 (previous), 1.005 (new): median (1.005 + 1.01) / 2 = 1.0075.
  const double rate = work_rate_per_s(seed.results[0]);
  EXPECT_NEAR(model.rows[0].median_per_s, 1.0075 * rate, 1e-12 * rate);
  EXPECT_EQ(folded.notes.front(), "Folded in 2 nodes of the previous baseline.");
}

TEST(Baseline, NothingToBuildFromAndTheSameNodeTwiceAreBadInput) {
  auto nodes = five_nodes();
  EXPECT_THROW(build_baseline({nodes[0], nodes[0]}, std::nullopt, FleetOptions{}), InputError);
  EXPECT_THROW(build_baseline({}, std::nullopt, FleetOptions{}), InputError);
  for (Result& r : nodes[0].file.results) r.status = ResultStatus::skipped;
  EXPECT_THROW(build_baseline({nodes[0]}, std::nullopt, FleetOptions{}), InputError);
}

TEST(BaselineJson, RoundTripsEveryField) {
  const Baseline built = build_baseline(five_nodes(), std::nullopt, FleetOptions{});
  const nlohmann::json json = to_json(built);
  EXPECT_EQ(json.at("schema"), "trainrate-baseline");
  EXPECT_EQ(json.at("schema_version"), kBaselineSchemaVersion);
  const Baseline read = baseline_from_json(json, "b.json");
  EXPECT_EQ(to_json(read), json);
  EXPECT_EQ(json.at("models")[0].at("rows")[4].at("kind"), "conv-fwd");
  EXPECT_EQ(json.at("models")[0].at("rows")[0].at("unit"), "FLOP/s");
}

std::string baseline_error(const std::function<void(nlohmann::json&)>& damage) {
  nlohmann::json json = to_json(build_baseline(five_nodes(), std::nullopt, FleetOptions{}));
  damage(json);
  try {
    baseline_from_json(json, "b.json");
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

TEST(BaselineJson, MalformedBaselinesAreOneLineErrorsNamingTheField) {
  EXPECT_EQ(baseline_error([](nlohmann::json& j) { j.erase("schema"); }),
            "b.json: not a trainrate baseline (missing \"schema\": \"trainrate-baseline\")");
  EXPECT_EQ(baseline_error([](nlohmann::json& j) { j["schema_version"] = 2; }),
            "b.json: baseline schema_version 2 is not supported (this build reads 1)");
  EXPECT_EQ(baseline_error([](nlohmann::json& j) { j.erase("models"); }), "b.json: missing field 'models'");
  EXPECT_EQ(baseline_error([](nlohmann::json& j) { j["models"] = 3; }), "b.json.models: expected an array");
  EXPECT_EQ(baseline_error([](nlohmann::json& j) { j["models"][0]["rows"][1]["median_per_s"] = -1; }),
            "b.json.models[0].rows[1].median_per_s: must be a positive rate, got -1");
  EXPECT_EQ(baseline_error([](nlohmann::json& j) { j["models"][0]["rows"][1].erase("backend"); }),
            "b.json.models[0].rows[1]: missing field 'backend'");
  EXPECT_EQ(baseline_error([](nlohmann::json& j) { j["models"][0]["rows"][1] = j["models"][0]["rows"][0]; }),
            "b.json.models[0]: row 'cublas gemm 4096x4096x4096 NN fp32' appears twice");
}

// ---- screen -----------------------------------------------------------------------------------

const ScreenDevice& screen_one(const ResultsFile& node, const Baseline& baseline, const ScreenOptions& options = {}) {
  static ScreenReport report;
  report = screen_node(node, node.host + ".json", baseline, "baseline.json", options);
  return report.devices.at(0);
}

TEST(Screen, RejectsTheDoctoredNodeAndAcceptsTheOthers) {
  const auto nodes = five_nodes();
  const Baseline baseline = build_baseline(nodes, std::nullopt, FleetOptions{});
  for (size_t i = 0; i < 4; ++i) {
    const ScreenDevice& d = screen_one(nodes[i].file, baseline);
    EXPECT_TRUE(d.accepted()) << nodes[i].path << ": " << (d.fired.empty() ? "" : d.fired[0]);
    EXPECT_EQ(d.groups.size(), 4u);
  }
  const ScreenDevice& slow = screen_one(nodes[4].file, baseline);
  EXPECT_FALSE(slow.accepted());
  // Every row at 0.85 / 1.0025 = 0.8479 of the baseline: each kind on each backend is below 0.90,
  // no row below the 0.75 floor.
  ASSERT_EQ(slow.fired.size(), 4u);
  EXPECT_EQ(slow.fired[0], "kind: conv-fwd on cudnn: geomean 0.848 of the baseline over 1 row, below 0.9");
  EXPECT_EQ(slow.fired[3], "kind: gemm on custom-cuda: geomean 0.848 of the baseline over 2 rows, below 0.9");
  for (const ScreenRow& row : slow.rows) EXPECT_NEAR(*row.ratio, 0.85 / 1.0025, 1e-12);
  EXPECT_EQ(slow.not_in_baseline, 0);
  EXPECT_EQ(slow.baseline_rows_missing, 0);
  // The threshold is an option: at 0.80 the doctored node passes.
  EXPECT_TRUE(screen_one(nodes[4].file, baseline, {0.80, 0.75}).accepted());
}

TEST(Screen, OneRowBelowTheFloorRejects) {
  const auto nodes = five_nodes();
  const Baseline baseline = build_baseline(nodes, std::nullopt, FleetOptions{});
  ResultsFile node = nodes[0].file;
  node.results[0].rate_flops_per_s *= 0.7;
  // 0.7 / 1.0025 = 0.698; the kind rule is turned off (threshold 0) to see the floor alone.
  const ScreenDevice& d = screen_one(node, baseline, {0, 0.75});
  ASSERT_EQ(d.fired.size(), 1u);
  EXPECT_EQ(d.fired[0], "floor: cublas gemm 4096x4096x4096 NN fp32: 0.698 of the baseline, below 0.75");
  EXPECT_TRUE(screen_one(node, baseline, {0, 0.65}).accepted());
}

TEST(Screen, InvalidOrFailedResultsReject) {
  const auto nodes = five_nodes();
  const Baseline baseline = build_baseline(nodes, std::nullopt, FleetOptions{});
  ResultsFile node = nodes[0].file;
  node.results[5].status = ResultStatus::failed;
  node.results[5].reason = "out of memory";
  const ScreenDevice& d = screen_one(node, baseline);
  ASSERT_EQ(d.fired.size(), 1u);
  EXPECT_EQ(d.fired[0], "errors: 1 INVALID/FAILED result: custom-cuda " + describe(node.results[5].problem) +
                            " FAILED (out of memory)");
}

std::string screen_error(const ResultsFile& node, const Baseline& baseline) {
  try {
    screen_node(node, "node.json", baseline, "baseline.json", {});
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

TEST(Screen, AnotherModelOrNoRowInCommonIsBadInput) {
  const Baseline baseline = build_baseline(five_nodes(), std::nullopt, FleetOptions{});
  const ResultsFile cpu = read_results_file(kFleetData / "results-cpu-node05-cpu.json");
  EXPECT_EQ(screen_error(cpu, baseline), "node.json: device cpu is a '" + cpu.devices[0].name +
                                             "', but baseline.json is a baseline for 'NVIDIA H100 80GB HBM3'");
  ResultsFile hot = read_results_file(testing::kFleetSeed);
  for (Result& r : hot.results) r.mode = "hot";
  EXPECT_EQ(screen_error(hot, baseline),
            "node.json: device cuda:0 ('NVIDIA H100 80GB HBM3') has no result in common with baseline.json (rows "
            "match on problem, backend, mode and threads: run the baseline's suite with its options)");
  ResultsFile skipped = hot;
  for (Result& r : skipped.results) r.status = ResultStatus::skipped;
  EXPECT_EQ(screen_error(skipped, baseline), "node.json: no result that ran (all skipped, or none): nothing to screen");
}

}  // namespace
}  // namespace trainrate::reports
