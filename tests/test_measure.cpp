// The measurement path: summary statistics on known samples, the stopping criterion's reasons,
// measure() driven by a fake device whose timer returns scripted durations (warm-up, hot batching,
// cold flushes, each stop reason, interruption), and the runner's statuses with a fake backend.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <deque>
#include <stdexcept>

#include "measure/measure.hpp"
#include "run/runner.hpp"
#include "results/statistics.hpp"
#include "measure/stopping.hpp"
#include "verify/reference.hpp"

namespace trainrate {
namespace {

using ::testing::HasSubstr;

// ---------------------------------------------------------------------------------------------
// summarize()

TEST(Statistics, OddCount) {
  const SampleStats s = summarize({3.0, 1.0, 2.0});
  EXPECT_EQ(s.samples, 3);
  EXPECT_EQ(s.min_ms, 1.0);
  EXPECT_EQ(s.max_ms, 3.0);
  EXPECT_EQ(s.median_ms, 2.0);
  EXPECT_EQ(s.mean_ms, 2.0);
  EXPECT_EQ(s.stddev_ms, 1.0);  // sqrt((1 + 0 + 1) / (3 − 1))
  EXPECT_EQ(s.relative_noise, 0.5);
}

TEST(Statistics, EvenCountMedianAveragesTheMiddlePair) {
  const SampleStats s = summarize({4.0, 1.0, 3.0, 2.0});
  EXPECT_EQ(s.samples, 4);
  EXPECT_EQ(s.median_ms, 2.5);
  EXPECT_EQ(s.mean_ms, 2.5);
  EXPECT_DOUBLE_EQ(s.stddev_ms, std::sqrt(5.0 / 3.0));  // (2.25 + 0.25 + 0.25 + 2.25) / (4 − 1)
  EXPECT_DOUBLE_EQ(s.relative_noise, std::sqrt(5.0 / 3.0) / 2.5);
}

TEST(Statistics, MedianResistsAnOutlier) {
  const SampleStats s = summarize({1.0, 1.0, 100.0, 1.0, 1.0});
  EXPECT_EQ(s.median_ms, 1.0);
  EXPECT_EQ(s.mean_ms, 20.8);
  EXPECT_EQ(s.max_ms, 100.0);
}

TEST(Statistics, SingleAndEmpty) {
  const SampleStats one = summarize({5.0});
  EXPECT_EQ(one.samples, 1);
  EXPECT_EQ(one.min_ms, 5.0);
  EXPECT_EQ(one.median_ms, 5.0);
  EXPECT_EQ(one.mean_ms, 5.0);
  EXPECT_EQ(one.max_ms, 5.0);
  EXPECT_EQ(one.stddev_ms, 0.0);
  EXPECT_EQ(one.relative_noise, 0.0);
  const SampleStats none = summarize({});
  EXPECT_EQ(none.samples, 0);
  EXPECT_EQ(none.median_ms, 0.0);
  EXPECT_EQ(none.relative_noise, 0.0);
}

TEST(Statistics, ConstantSamplesHaveNoNoise) {
  const SampleStats s = summarize(std::vector<double>(7, 0.125));
  EXPECT_EQ(s.stddev_ms, 0.0);
  EXPECT_EQ(s.relative_noise, 0.0);
  EXPECT_EQ(s.median_ms, 0.125);
}

// ---------------------------------------------------------------------------------------------
// StoppingCriterion

TEST(Stopping, Reasons) {
  const StoppingCriterion c{.min_samples = 5, .max_samples = 20, .target_relative_noise = 0.01, .min_time_ms = 10,
                            .budget_ms = 100};
  EXPECT_EQ(c.reason_to_stop(4, 0.0, 50), "");                // too few samples for the noise target
  EXPECT_EQ(c.reason_to_stop(5, 0.0, 9.9), "");               // too little time for the noise target
  EXPECT_EQ(c.reason_to_stop(5, 0.0101, 50), "");             // too noisy
  EXPECT_EQ(c.reason_to_stop(5, 0.01, 10), "noise-target");   // boundaries inclusive
  EXPECT_EQ(c.reason_to_stop(6, 0.005, 50), "noise-target");
  EXPECT_EQ(c.reason_to_stop(6, 0.5, 100), "time-budget");
  EXPECT_EQ(c.reason_to_stop(1, 0.0, 250), "time-budget");    // the budget overrides min_samples
  EXPECT_EQ(c.reason_to_stop(0, 0.0, 250), "");               // but one sample is always taken
  EXPECT_EQ(c.reason_to_stop(20, 0.5, 1), "max-samples");
  EXPECT_EQ(c.reason_to_stop(20, 0.0, 500), "max-samples");   // max-samples reported first
  EXPECT_EQ(c.reason_to_stop(19, 0.5, 99.9), "");
}

TEST(Stopping, Defaults) {
  const StoppingCriterion c;
  EXPECT_EQ(c.min_samples, 10);
  EXPECT_EQ(c.max_samples, 1000);
  EXPECT_EQ(c.target_relative_noise, 0.01);
  EXPECT_EQ(c.min_time_ms, 50);
  EXPECT_EQ(c.budget_ms, 2000);
}

// ---------------------------------------------------------------------------------------------
// measure() with a scripted device

struct Script {
  std::deque<double> durations_ms;  // what successive stop_ms() calls return
  double repeat_ms = -1;            // returned once the script runs out (< 0: fail the test)
  int starts = 0, stops = 0, flushes = 0, runs = 0;
  std::vector<int> runs_at_stop;    // run count at each stop_ms()
  std::deque<DeviceState> states;   // what successive state() calls return; then a clean 1410 MHz
};

class ScriptedTimer final : public Timer {
 public:
  explicit ScriptedTimer(Script& s) : s_(s) {}
  void start() override { ++s_.starts; }
  double stop_ms() override {
    ++s_.stops;
    s_.runs_at_stop.push_back(s_.runs);
    if (s_.durations_ms.empty()) {
      if (s_.repeat_ms < 0) {
        ADD_FAILURE() << "timer script exhausted";
        return 1.0;
      }
      return s_.repeat_ms;
    }
    const double d = s_.durations_ms.front();
    s_.durations_ms.pop_front();
    return d;
  }

 private:
  Script& s_;
};

class FakeDevice final : public Device {
 public:
  explicit FakeDevice(Script& s) : s_(s) {
    info_.id = "fake:0";
    info_.kind = "fake";
    info_.name = "scripted device";
    info_.peaks.measured_flops_per_s[Dtype::fp32] = 1e9;
  }
  std::string_view kind() const override { return "fake"; }
  const DeviceInfo& info() override { return info_; }
  std::unique_ptr<Timer> make_timer() override { return std::make_unique<ScriptedTimer>(s_); }
  MeasureDefaults measure_defaults() const override { return {true, 0.02}; }
  void flush_caches() override { ++s_.flushes; }
  std::optional<DeviceState> state() override {
    if (s_.states.empty()) return DeviceState{.sm_clock_mhz = 1410.0};
    DeviceState next = s_.states.front();
    s_.states.pop_front();
    return next;
  }
  std::optional<std::string> fatal_error() override { return fatal; }
  std::optional<std::string> fatal;  // set by a test to play a sticky error
  std::optional<int64_t> free_device_memory_bytes() override { return free_bytes; }
  std::optional<int64_t> free_bytes;  // set by a test to play a device with its own memory

 private:
  Script& s_;
  DeviceInfo info_;
};

MeasureOptions options(CacheMode mode, StoppingCriterion stopping, int64_t warmup = 1, double min_sample_ms = 1.0) {
  return MeasureOptions{.mode = mode, .warmup_runs = warmup, .min_sample_ms = min_sample_ms, .stopping = stopping};
}

// Lets the noise target stop sampling as soon as min_samples are in.
StoppingCriterion quick_noise(int64_t min_samples) {
  return StoppingCriterion{.min_samples = min_samples, .max_samples = 1000, .target_relative_noise = 0.01,
                           .min_time_ms = 0, .budget_ms = 1e9};
}

TEST(Measure, HotModeBatchesRunsToFillASample) {
  Script s;
  // Warm-up: one run of 0.25 ms → ceil(1.0 / 0.25) = 4 runs per sample; then three samples of 4 runs.
  s.durations_ms = {0.25, 1.0, 1.0, 1.0};
  FakeDevice device(s);
  const Measurement m = measure(device, [&] { ++s.runs; }, options(CacheMode::hot, quick_noise(3)));
  EXPECT_EQ(m.runs_per_sample, 4);
  EXPECT_EQ(m.stop_reason, "noise-target");
  EXPECT_EQ(m.stats.samples, 3);
  EXPECT_EQ(m.stats.median_ms, 0.25);  // per single run
  EXPECT_EQ(m.stats.relative_noise, 0.0);
  EXPECT_EQ(s.runs, 1 + 3 * 4);
  EXPECT_EQ(s.runs_at_stop, (std::vector<int>{1, 5, 9, 13}));  // the timer brackets exactly the runs
  EXPECT_EQ(s.starts, s.stops);
  EXPECT_EQ(s.flushes, 0);
  EXPECT_EQ(m.state_before->sm_clock_mhz, 1410.0);
  EXPECT_EQ(m.state_after->sm_clock_mhz, 1410.0);
  EXPECT_EQ(m.retakes, 0);
  EXPECT_TRUE(s.durations_ms.empty());
}

DeviceState slowed(std::vector<std::string> slowdowns) { return DeviceState{.slowdowns = std::move(slowdowns)}; }

MeasureOptions with_short_rest(MeasureOptions o) {
  o.max_rest_ms = 1;
  return o;
}

TEST(Measure, HeatAtEitherEndRetakesTheMeasurementAfterARest) {
  for (const bool at_start : {true, false}) {
    Script s;
    // Measurement 1: warm-up 1 ms, one sample of 5 ms; the heat was on; measurement 2 is clean.
    s.durations_ms = {1.0, 5.0, 1.0, 2.0};
    s.states = at_start ? std::deque<DeviceState>{slowed({"sw-thermal"}), {}, {}} :
                          std::deque<DeviceState>{{}, slowed({"hw-thermal", "sw-power-cap"}), {}};
    FakeDevice device(s);
    const Measurement m =
        measure(device, [&] { ++s.runs; }, with_short_rest(options(CacheMode::hot, quick_noise(1))));
    EXPECT_EQ(m.retakes, 1);
    EXPECT_EQ(m.stats.median_ms, 2.0);  // the second measurement's sample, not the slowed one
    EXPECT_TRUE(slowdowns_seen(m).empty());
    EXPECT_TRUE(s.durations_ms.empty());
  }
}

TEST(Measure, PowerCapIsKeptAndNamedNotRetaken) {
  Script s;
  s.durations_ms = {1.0, 3.0};
  s.states = {slowed({"sw-power-cap"}), slowed({"sw-power-cap"})};
  FakeDevice device(s);
  const Measurement m = measure(device, [&] { ++s.runs; }, with_short_rest(options(CacheMode::hot, quick_noise(1))));
  EXPECT_EQ(m.retakes, 0);
  EXPECT_EQ(slowdowns_seen(m), std::vector<std::string>{"sw-power-cap"});
  EXPECT_EQ(m.stats.median_ms, 3.0);
}

TEST(Measure, HeatThatStaysIsRetakenAtMostMaxRetakesTimesAndNamed) {
  Script s;
  s.repeat_ms = 1.0;
  for (int i = 0; i < 100; ++i) s.states.push_back(slowed({"hw-slowdown"}));
  FakeDevice device(s);
  MeasureOptions o = with_short_rest(options(CacheMode::hot, quick_noise(1)));
  o.max_retakes = 2;
  const Measurement m = measure(device, [&] { ++s.runs; }, o);
  EXPECT_EQ(m.retakes, 2);
  EXPECT_EQ(s.stops, 3 * 2);  // three measurements of one warm-up and one sample
  EXPECT_EQ(slowdowns_seen(m), std::vector<std::string>{"hw-slowdown"});
}

TEST(DeviceState, NvmlReasonBitsNameOnlyTheSlowdowns) {
  // idle (0x1), application clocks (0x2), sync boost (0x10), display clock (0x100) are not slowdowns.
  EXPECT_TRUE(slowdown_names(0x1 | 0x2 | 0x10 | 0x100).empty());
  EXPECT_EQ(slowdown_names(0x04 | 0x08 | 0x20 | 0x40 | 0x80),
            (std::vector<std::string>{"sw-power-cap", "hw-slowdown", "sw-thermal", "hw-thermal", "hw-power-brake"}));
  EXPECT_FALSE(passes_with_rest("sw-power-cap"));
  EXPECT_TRUE(passes_with_rest("sw-thermal"));
  EXPECT_FALSE(passes_with_rest("gpu-idle"));
}

TEST(Measure, HotModeRunsPerSampleIsClamped) {
  {
    Script s;
    s.durations_ms = {30.0, 30.0};  // a slow problem: one run per sample
    FakeDevice device(s);
    const Measurement m = measure(device, [&] { ++s.runs; }, options(CacheMode::hot, quick_noise(1)));
    EXPECT_EQ(m.runs_per_sample, 1);
    EXPECT_EQ(s.runs, 2);
  }
  {
    Script s;
    s.durations_ms = {1e-6, 1.0};  // a tiny one: at most 1000 runs per sample
    FakeDevice device(s);
    const Measurement m = measure(device, [&] { ++s.runs; }, options(CacheMode::hot, quick_noise(1)));
    EXPECT_EQ(m.runs_per_sample, 1000);
    EXPECT_EQ(s.runs, 1001);
    EXPECT_EQ(m.stats.median_ms, 1.0 / 1000);
  }
  {
    Script s;
    s.durations_ms = {0.3, 4.0};  // ceil(2.0 / 0.3) = 7 with a 2 ms sample target
    FakeDevice device(s);
    const Measurement m = measure(device, [&] { ++s.runs; }, options(CacheMode::hot, quick_noise(1), 1, 2.0));
    EXPECT_EQ(m.runs_per_sample, 7);
  }
}

TEST(Measure, WarmupRunsAreNotSampled) {
  Script s;
  // Three warm-up runs (the first one slow: page faults, JIT), the last one sets the batch size.
  s.durations_ms = {50.0, 2.0, 2.0, 2.0, 2.0};
  FakeDevice device(s);
  const Measurement m = measure(device, [&] { ++s.runs; }, options(CacheMode::hot, quick_noise(2), 3));
  EXPECT_EQ(m.runs_per_sample, 1);
  EXPECT_EQ(m.stats.samples, 2);
  EXPECT_EQ(m.stats.max_ms, 2.0);
  EXPECT_EQ(s.runs, 5);
}

TEST(Measure, ColdModeFlushesBeforeEverySampleAndRunsOnce) {
  Script s;
  s.durations_ms = {0.01, 0.5, 0.5, 0.5, 0.5};  // a fast warm-up does not batch in cold mode
  FakeDevice device(s);
  const Measurement m = measure(device, [&] { ++s.runs; }, options(CacheMode::cold, quick_noise(4)));
  EXPECT_EQ(m.runs_per_sample, 1);
  EXPECT_EQ(m.stats.samples, 4);
  EXPECT_EQ(s.flushes, 4);
  EXPECT_EQ(s.runs, 5);
  EXPECT_EQ(m.stats.median_ms, 0.5);
  EXPECT_EQ(m.stop_reason, "noise-target");
}

TEST(Measure, NoisySamplesStopOnTheTimeBudget) {
  Script s;
  s.durations_ms = {5.0, 1.0, 2.0, 1.0, 2.0, 1.0, 2.0, 1.0, 2.0, 1.0, 2.0};
  FakeDevice device(s);
  // Budget 10 ms of measured time: 1 + 2 + 1 + 2 + 1 + 2 + 1 = 10 after the seventh sample.
  const StoppingCriterion stop{.min_samples = 3, .max_samples = 100, .target_relative_noise = 0.01,
                               .min_time_ms = 0, .budget_ms = 10};
  const Measurement m = measure(device, [&] { ++s.runs; }, options(CacheMode::cold, stop));
  EXPECT_EQ(m.stop_reason, "time-budget");
  EXPECT_EQ(m.stats.samples, 7);
  EXPECT_EQ(m.stats.min_ms, 1.0);
  EXPECT_EQ(m.stats.max_ms, 2.0);
  EXPECT_EQ(m.stats.median_ms, 1.0);
  EXPECT_GT(m.stats.relative_noise, 0.01);
}

TEST(Measure, TimeBudgetCountsWholeSamplesNotPerRunTimes) {
  Script s;
  // 0.125 ms warm-up → 8 runs per sample of about 1 ms each: a 3 ms budget ends after 3 samples.
  s.durations_ms = {0.125, 1.0, 1.1, 1.0, 1.1, 1.0};
  FakeDevice device(s);
  const StoppingCriterion stop{.min_samples = 100, .max_samples = 1000, .target_relative_noise = 0.01,
                               .min_time_ms = 0, .budget_ms = 3};
  const Measurement m = measure(device, [&] { ++s.runs; }, options(CacheMode::hot, stop));
  EXPECT_EQ(m.runs_per_sample, 8);
  EXPECT_EQ(m.stop_reason, "time-budget");
  EXPECT_EQ(m.stats.samples, 3);
  EXPECT_EQ(m.stats.median_ms, 0.125);
}

TEST(Measure, NoisySamplesStopAtMaxSamples) {
  Script s;
  s.durations_ms = {1.0, 1.0, 3.0, 1.0, 3.0, 1.0};
  FakeDevice device(s);
  const StoppingCriterion stop{.min_samples = 2, .max_samples = 5, .target_relative_noise = 0.01,
                               .min_time_ms = 0, .budget_ms = 1e9};
  const Measurement m = measure(device, [&] { ++s.runs; }, options(CacheMode::cold, stop));
  EXPECT_EQ(m.stop_reason, "max-samples");
  EXPECT_EQ(m.stats.samples, 5);
  EXPECT_EQ(m.stats.median_ms, 1.0);
  EXPECT_EQ(m.stats.mean_ms, 1.8);
}

TEST(Measure, KeepsEverySamplePerRunInOrder) {
  Script s;
  // Warm-up 0.5 ms → 2 runs per sample; samples of 2 runs: 1.0, 1.2, 1.0 ms → 0.5, 0.6, 0.5 per run.
  s.durations_ms = {0.5, 1.0, 1.2, 1.0};
  FakeDevice device(s);
  const StoppingCriterion stop{.min_samples = 3, .max_samples = 3, .target_relative_noise = 0.0,
                               .min_time_ms = 0, .budget_ms = 1e9};
  const Measurement m = measure(device, [&] { ++s.runs; }, options(CacheMode::hot, stop));
  EXPECT_EQ(m.samples_ms, (std::vector<double>{0.5, 0.6, 0.5}));
}

TEST(Measure, KeepsAtMostTheCapEvenlySpaced) {
  Script s;
  // 2001 cold samples of 1, 2, ..., 2001 ms: 1000 kept, every (2000/999)-th, first and last included.
  for (int i = 1; i <= 2001; ++i) s.durations_ms.push_back(double(i));
  s.durations_ms.push_front(1.0);  // warm-up
  FakeDevice device(s);
  const StoppingCriterion stop{.min_samples = 2001, .max_samples = 2001, .target_relative_noise = 0.0,
                               .min_time_ms = 0, .budget_ms = 1e12};
  const Measurement m = measure(device, [&] { ++s.runs; }, options(CacheMode::cold, stop));
  EXPECT_EQ(m.stats.samples, 2001);
  EXPECT_EQ(m.stats.median_ms, 1001.0);  // the statistics cover every sample, not only those kept
  ASSERT_EQ(m.samples_ms.size(), kMaxKeptSamples);
  EXPECT_EQ(m.samples_ms.front(), 1.0);
  EXPECT_EQ(m.samples_ms[1], 3.0);  // index 1·2000/999 = 2
  EXPECT_EQ(m.samples_ms.back(), 2001.0);
}

TEST(Measure, NoiseTargetWaitsForMinTime) {
  Script s;
  s.repeat_ms = 2.0;
  FakeDevice device(s);
  // Quiet from the start, but 9 ms of samples must be measured first: 5 samples of 2 ms.
  const StoppingCriterion stop{.min_samples = 2, .max_samples = 1000, .target_relative_noise = 0.01,
                               .min_time_ms = 9, .budget_ms = 1e9};
  const Measurement m = measure(device, [&] { ++s.runs; }, options(CacheMode::cold, stop));
  EXPECT_EQ(m.stop_reason, "noise-target");
  EXPECT_EQ(m.stats.samples, 5);
}

struct StopFlagGuard {
  StopFlagGuard() { g_stop_requested.store(false); }
  ~StopFlagGuard() { g_stop_requested.store(false); }
};

TEST(Measure, StopRequestEndsAfterTheSampleInFlight) {
  StopFlagGuard guard;
  Script s;
  s.repeat_ms = 1.0;
  FakeDevice device(s);
  // Runs 1 (warm-up), 2, 3, 4: the request arrives during the fourth run, i.e. the third sample.
  auto run = [&] {
    if (++s.runs == 4) g_stop_requested.store(true);
  };
  const StoppingCriterion stop{.min_samples = 100, .max_samples = 1000, .target_relative_noise = 0.0,
                               .min_time_ms = 0, .budget_ms = 1e9};
  const Measurement m = measure(device, run, options(CacheMode::cold, stop));
  EXPECT_EQ(m.stop_reason, "interrupted");
  EXPECT_EQ(m.stats.samples, 3);
  EXPECT_EQ(s.runs, 4);
}

TEST(Measure, StopRequestedBeforehandStillTakesOneSample) {
  StopFlagGuard guard;
  g_stop_requested.store(true);
  Script s;
  s.repeat_ms = 1.0;
  FakeDevice device(s);
  const Measurement m = measure(device, [&] { ++s.runs; }, options(CacheMode::hot, quick_noise(50)));
  EXPECT_EQ(m.stop_reason, "interrupted");
  EXPECT_EQ(m.stats.samples, 1);
}

TEST(Measure, CacheModeText) {
  EXPECT_EQ(to_string(CacheMode::cold), "cold");
  EXPECT_EQ(to_string(CacheMode::hot), "hot");
}

// ---------------------------------------------------------------------------------------------
// The runner with a fake backend

enum class Behaviour { correct, wrong, throws_in_prepare, throws_in_run };

class FakePrepared final : public PreparedProblem {
 public:
  FakePrepared(const Problem& p, const HostInputs& in, Behaviour b, int& runs) : p_(p), in_(in), b_(b), runs_(runs) {}
  void run() override {
    ++runs_;
    if (b_ == Behaviour::throws_in_run) throw std::runtime_error("kernel launch failed: out of fake memory");
  }
  std::vector<float> output() override {
    std::vector<float> out(size_t(operand_elements(p_).output));
    reference::compute(p_, in_.in0.data(), in_.in1.data(), out.data());
    if (b_ == Behaviour::wrong) out[1] += 10.0f;
    return out;
  }
  std::string algorithm() const override { return "fake-algo"; }
  int64_t workspace_bytes() const override { return 4096; }

 private:
  Problem p_;
  HostInputs in_;
  Behaviour b_;
  int& runs_;
};

class FakeBackend final : public Backend {
 public:
  FakeBackend(Device& device, Behaviour b, std::string name = "fake-custom")
      : Backend({name, BackendRole::custom, std::string(device.kind()), {}, {"gemm", "conv"}, {Dtype::fp32}}),
        device_(device),
        b_(b) {}
  Device& device() const override { return device_; }
  std::optional<std::string> reason_beyond_facts(const Problem& problem) const override {
    if (std::holds_alternative<ConvProblem>(problem)) return "fake has no convolution";
    return std::nullopt;
  }
  std::unique_ptr<PreparedProblem> prepare(const Problem& problem, const HostInputs& inputs) override {
    ++prepares;
    if (b_ == Behaviour::throws_in_prepare) throw std::runtime_error("cannot allocate 12 bytes");
    return std::make_unique<FakePrepared>(problem, inputs, b_, runs);
  }
  int prepares = 0, runs = 0;

 private:
  Device& device_;
  Behaviour b_;
};

RunOptions scripted_run_options() {
  RunOptions o;
  o.measure = options(CacheMode::hot, quick_noise(3));
  return o;
}

const GemmProblem kGemm{.m = 4, .n = 3, .k = 5};  // 120 FLOP

TEST(Runner, OkResultIsVerifiedTimedAndRated) {
  Script s;
  s.durations_ms = {2.0, 2.0, 2.0, 2.0};  // one run per sample, 2 ms each
  FakeDevice device(s);
  FakeBackend backend(device, Behaviour::correct);
  const Result r = run_one(backend, kGemm, scripted_run_options());
  EXPECT_EQ(r.status, ResultStatus::ok);
  EXPECT_EQ(r.backend, "fake-custom");
  EXPECT_EQ(r.role, "custom");
  EXPECT_EQ(r.device, "fake:0");
  EXPECT_EQ(r.mode, "hot");
  EXPECT_EQ(r.flops, 120.0);
  EXPECT_EQ(r.algorithm, "fake-algo");
  EXPECT_EQ(r.workspace_bytes, 4096);
  EXPECT_EQ(r.threads, 0);  // not a CPU
  EXPECT_TRUE(passed(r.verification));
  EXPECT_EQ(r.verification.elements_checked, 12);
  ASSERT_TRUE(r.measurement.has_value());
  EXPECT_EQ(r.measurement->stats.median_ms, 2.0);
  EXPECT_DOUBLE_EQ(r.rate_flops_per_s, 120.0 / 2e-3);  // R = FLOP / median time
  ASSERT_TRUE(r.peak_flops_per_s.has_value());
  EXPECT_EQ(*r.peak_flops_per_s, 1e9);
  ASSERT_TRUE(r.percent_of_peak.has_value());
  EXPECT_DOUBLE_EQ(*r.percent_of_peak, 100.0 * 60000.0 / 1e9);
  EXPECT_EQ(backend.runs, 1 + 1 + 3);  // verification run, warm-up, three samples
}

TEST(Runner, StampPeakFollowsTheDevicesPeakForTheProblemsDtype) {
  // A rate of 3·10⁹ FLOP/s against measured ceilings of 4·10⁹ (fp32) and 6·10⁹ (fp16).
  Result r;
  r.problem = kGemm;  // fp32
  r.rate_flops_per_s = 3e9;
  Peaks peaks;
  peaks.measured_flops_per_s = {{Dtype::fp32, 4e9}, {Dtype::fp16, 6e9}};
  stamp_peak(r, peaks);
  ASSERT_TRUE(r.peak_flops_per_s.has_value());
  EXPECT_EQ(*r.peak_flops_per_s, 4e9);
  ASSERT_TRUE(r.percent_of_peak.has_value());
  EXPECT_DOUBLE_EQ(*r.percent_of_peak, 75.0);
  // A better ceiling measured later lowers the percentage; no ceiling for the dtype clears it.
  peaks.measured_flops_per_s[Dtype::fp32] = 5e9;
  stamp_peak(r, peaks);
  EXPECT_DOUBLE_EQ(*r.percent_of_peak, 60.0);
  peaks.measured_flops_per_s.erase(Dtype::fp32);
  stamp_peak(r, peaks);
  EXPECT_FALSE(r.peak_flops_per_s.has_value());
  EXPECT_FALSE(r.percent_of_peak.has_value());
}

TEST(Runner, WrongOutputIsInvalidAndNeverTimed) {
  Script s;  // an empty script: any timing fails the test
  FakeDevice device(s);
  FakeBackend backend(device, Behaviour::wrong);
  const Result r = run_one(backend, kGemm, scripted_run_options());
  EXPECT_EQ(r.status, ResultStatus::invalid);
  EXPECT_FALSE(r.measurement.has_value());
  EXPECT_EQ(r.rate_flops_per_s, 0.0);
  EXPECT_FALSE(r.percent_of_peak.has_value());
  EXPECT_EQ(r.verification.mismatches, 1);
  EXPECT_THAT(r.reason, ::testing::StartsWith("output[1] = "));
  EXPECT_EQ(s.stops, 0);
  EXPECT_EQ(backend.runs, 1);
}

TEST(Runner, UnsupportedIsSkippedWithTheReason) {
  Script s;
  FakeDevice device(s);
  FakeBackend backend(device, Behaviour::correct);
  const Result r = run_one(backend, ConvProblem{}, scripted_run_options());
  EXPECT_EQ(r.status, ResultStatus::skipped);
  EXPECT_EQ(r.reason, "fake has no convolution");
  EXPECT_EQ(backend.prepares, 0);
  EXPECT_FALSE(r.measurement.has_value());
  EXPECT_EQ(r.flops, 2.0);  // the problem is still described
}

TEST(Runner, ExceptionsBecomeFailedWithTheMessage) {
  for (Behaviour b : {Behaviour::throws_in_prepare, Behaviour::throws_in_run}) {
    Script s;
    FakeDevice device(s);
    FakeBackend backend(device, b);
    const Result r = run_one(backend, kGemm, scripted_run_options());
    EXPECT_EQ(r.status, ResultStatus::failed);
    EXPECT_THAT(r.reason, HasSubstr(b == Behaviour::throws_in_prepare ? "cannot allocate" : "out of fake memory"));
    EXPECT_FALSE(r.measurement.has_value());
    EXPECT_EQ(r.rate_flops_per_s, 0.0);
  }
}

TEST(Runner, RunAllIsProblemMajorSkipsDoneAndReportsProgress) {
  Script s;
  s.repeat_ms = 1.0;
  FakeDevice device(s);
  FakeBackend a(device, Behaviour::correct, "fake-a"), b(device, Behaviour::wrong, "fake-b");
  const std::vector<Problem> problems{GemmProblem{.m = 2, .n = 2, .k = 2}, GemmProblem{.m = 3, .n = 3, .k = 3},
                                      ConvProblem{}};
  std::vector<std::string> started, finished;
  RunObserver observer;
  observer.on_start = [&](size_t i, size_t total, const Problem& p, const Backend& be) {
    EXPECT_EQ(total, 6u);
    started.push_back(std::to_string(i) + " " + be.name() + " " + describe(p));
  };
  observer.on_result = [&](size_t i, size_t total, const Result& r) {
    EXPECT_EQ(total, 6u);
    finished.push_back(std::to_string(i) + " " + r.backend + " " + std::string(to_string(r.status)));
  };
  auto done = [](const Problem& p, const Backend& be) {
    return be.name() == "fake-a" && p == Problem(GemmProblem{.m = 3, .n = 3, .k = 3});
  };
  const std::vector<Result> results = run_all(problems, {&a, &b}, scripted_run_options(), observer, done);
  ASSERT_EQ(results.size(), 5u);
  EXPECT_EQ(finished, (std::vector<std::string>{"0 fake-a ok", "1 fake-b INVALID", "3 fake-b INVALID",
                                                "4 fake-a skipped", "5 fake-b skipped"}));
  EXPECT_EQ(started.size(), 5u);
  EXPECT_EQ(started[2], "3 fake-b gemm 3x3x3 NN fp32");
}

// A sticky error (illegal address) poisons a GPU context: the rest of that device's work becomes
// FAILED rows without running, while other devices go on.
TEST(Runner, StickyErrorEndsThatDevicesWorkOnly) {
  Script s;
  s.repeat_ms = 1.0;
  FakeDevice gpu(s), other(s);
  gpu.fatal = "CUDA context unusable after cudaErrorIllegalAddress";
  FakeBackend crashing(gpu, Behaviour::throws_in_run, "gpu-a"), healthy(gpu, Behaviour::correct, "gpu-b");
  FakeBackend elsewhere(other, Behaviour::correct, "cpu-c");
  const std::vector<Problem> problems{GemmProblem{.m = 2, .n = 2, .k = 2}, GemmProblem{.m = 3, .n = 3, .k = 3}};
  const std::vector<Result> results =
      run_all(problems, {&crashing, &healthy, &elsewhere}, scripted_run_options(), RunObserver{});
  ASSERT_EQ(results.size(), 6u);
  EXPECT_EQ(results[0].status, ResultStatus::failed);
  EXPECT_THAT(results[0].reason, HasSubstr("out of fake memory"));
  for (size_t i : {1u, 3u, 4u}) {
    EXPECT_EQ(results[i].status, ResultStatus::failed) << i;
    EXPECT_EQ(results[i].reason, "not run: CUDA context unusable after cudaErrorIllegalAddress") << i;
  }
  EXPECT_EQ(healthy.prepares, 0);
  EXPECT_EQ(crashing.prepares, 1);
  EXPECT_EQ(results[2].status, ResultStatus::ok);
  EXPECT_EQ(results[5].status, ResultStatus::ok);
}

TEST(Runner, ProblemLargerThanFreeDeviceMemoryIsSkippedBeforeAllocating) {
  Script s;
  FakeDevice device(s);
  device.free_bytes = 1 << 20;  // 1 MiB free
  FakeBackend backend(device, Behaviour::correct);
  // 3 operands of 512×512 fp32 = 3 MiB.
  const Result r = run_one(backend, GemmProblem{.m = 512, .n = 512, .k = 512}, scripted_run_options());
  EXPECT_EQ(r.status, ResultStatus::skipped);
  EXPECT_EQ(r.reason, "needs 3.0 MiB of device memory, 1.0 MiB free");
  EXPECT_EQ(backend.prepares, 0);
}

TEST(Runner, RunAllDropsAnInterruptedResultAndStops) {
  StopFlagGuard guard;
  Script s;
  s.repeat_ms = 1.0;
  FakeDevice device(s);
  FakeBackend a(device, Behaviour::correct, "fake-a");
  const std::vector<Problem> problems{GemmProblem{.m = 2, .n = 2, .k = 2}, GemmProblem{.m = 3, .n = 3, .k = 3},
                                      GemmProblem{.m = 4, .n = 4, .k = 4}};
  int results_seen = 0;
  RunObserver observer;
  observer.on_result = [&](size_t, size_t, const Result&) { ++results_seen; };
  // The request arrives as the second problem starts, so its measurement is interrupted.
  observer.on_start = [&](size_t i, size_t, const Problem&, const Backend&) {
    if (i == 1) g_stop_requested.store(true);
  };
  RunOptions o = scripted_run_options();
  // The first problem ends by sample count (the noise target needs 1000 samples).
  o.measure.stopping = StoppingCriterion{.min_samples = 1000, .max_samples = 3, .target_relative_noise = 0.0,
                                         .min_time_ms = 0, .budget_ms = 1e9};
  auto run_with_interrupt = [&] { return run_all(problems, {&a}, o, observer); };
  const std::vector<Result> results = run_with_interrupt();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_TRUE(results[0].problem == Problem(GemmProblem{.m = 2, .n = 2, .k = 2}));
  EXPECT_EQ(results_seen, 1);  // the interrupted one is not reported either
}

}  // namespace
}  // namespace trainrate
