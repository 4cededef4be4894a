// Replay on real CPU backends with a tiny network: the prediction is exactly the sum of each
// problem's count × work / R alone, the error is (predicted − measured) / measured, the per-call
// profile covers every problem that ran, and a GEMM-only backend hands convs to the vendor.
#include <gtest/gtest.h>

#include <stdexcept>

#include "backends/registry.hpp"
#include "devices/cpu_device.hpp"
#include "problems/network.hpp"
#include "run/replay.hpp"

namespace trainrate {
namespace {

// One conv in all three passes, its ReLU (both passes), one linear layer (three GEMMs and its bias
// add) and the SGD step: small enough for milliseconds.
const char* kTinyNetwork = R"({"name": "replay-tiny", "layers": [
  {"name": "conv", "kind": "conv", "c": 4, "h": 9, "w": 7, "k": 6, "r": 3, "pad": 1},
  {"name": "relu", "kind": "memory", "op": "relu", "elements": 378},
  {"name": "fc", "kind": "linear", "in": 378, "out": 5, "repeat": 2}
]})";

ReplayOptions quick_options(const std::string& backend) {
  ReplayOptions o;
  o.backend = backend;
  o.per_problem.measure.stopping.budget_ms = 20;
  o.iteration.stopping.min_samples = 3;
  o.iteration.stopping.budget_ms = 50;
  o.profile_passes = 2;
  return o;
}

class Replay : public ::testing::Test {
 protected:
  void SetUp() override { CpuDevice::instance().set_threads(1); }
  const Network network_ = network_from_json_text(kTinyNetwork, "test", 2);
  const BackendSet backends_ = make_available_backends();
};

TEST_F(Replay, PredictionIsTheSumOfEachProblemsShareAndTheErrorIsRelativeToTheMeasurement) {
  const ReplayReport report = replay(network_, quick_options("custom-cpu"), backends_);
  ASSERT_EQ(report.problems.size(), 10u);  // 3 conv passes, 2 ReLU passes, 3 GEMMs, the bias add, SGD
  double sum_s = 0;
  for (const ReplayProblem& p : report.problems) {
    ASSERT_TRUE(p.in_iteration) << describe(p.problem) << ": " << p.alone.reason;
    EXPECT_EQ(p.backend, "custom-cpu");
    EXPECT_DOUBLE_EQ(p.predicted_s, double(p.count) * work(p.problem) / work_rate_per_s(p.alone));
    EXPECT_GT(p.in_iteration_s, 0) << describe(p.problem);
    sum_s += p.predicted_s;
  }
  EXPECT_NEAR(report.predicted_s, sum_s, 1e-12 * sum_s);
  EXPECT_GT(report.measured_s, 0);
  EXPECT_GE(report.measured.stats.samples, 3);
  EXPECT_DOUBLE_EQ(report.relative_error, (report.predicted_s - report.measured_s) / report.measured_s);
  EXPECT_EQ(report.profile_passes, 2);
}

TEST_F(Replay, RepeatedLayersCountTheirCalls) {
  const ReplayReport report = replay(network_, quick_options("custom-cpu"), backends_);
  for (const ReplayProblem& p : report.problems) {
    const bool fc = std::holds_alternative<GemmProblem>(p.problem) || kind_label(p.problem) == "bias-add";
    EXPECT_EQ(p.count, fc ? 2 : 1) << describe(p.problem);
  }
}

TEST_F(Replay, NoProfilePassesLeaveTheInIterationTimesEmpty) {
  ReplayOptions options = quick_options("custom-cpu");
  options.profile_passes = 0;
  const ReplayReport report = replay(network_, options, backends_);
  for (const ReplayProblem& p : report.problems) EXPECT_EQ(p.in_iteration_s, 0) << describe(p.problem);
}

// What the requested backend cannot run goes to the vendor beside it, and what no vendor has (the
// optimizer step) to our own kernels.
TEST_F(Replay, GemmOnlyBackendHandsTheRestToTheVendorThenToCustom) {
  const ReplayReport report = replay(network_, quick_options("openblas"), backends_);
  for (const ReplayProblem& p : report.problems) {
    EXPECT_TRUE(p.in_iteration) << describe(p.problem);
    const std::string expected = std::holds_alternative<GemmProblem>(p.problem) ? "openblas"
                                 : kind_label(p.problem) == "sgd"               ? "custom-cpu"
                                                                                : "onednn";
    EXPECT_EQ(p.backend, expected) << describe(p.problem);
  }
}

TEST_F(Replay, UnknownBackendIsAnInvalidArgument) {
  EXPECT_THROW(replay(network_, quick_options("no-such-backend"), backends_), std::invalid_argument);
}

}  // namespace
}  // namespace trainrate
