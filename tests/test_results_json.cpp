// The results file: a round trip of every field and status, reading a hand-written file, errors
// that name the path (and where inside it), atomic writes, and the environment a new file records.
#include "temp_dir.hpp"
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <set>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "problems/problem_json.hpp"
#include "run/environment.hpp"
#include "results/results_json.hpp"
#include "verify/verify.hpp"

namespace trainrate {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::StartsWith;

const std::string kResults = std::string(TRAINRATE_TEST_DATA_DIR) + "/results/";

using trainrate::testing::TempDir;

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// ---------------------------------------------------------------------------------------------
// A file with every status and every optional field both set and unset

ResultsFile sample_file() {
  ResultsFile file;
  file.schema_version = kResultsSchemaVersion;
  file.tool_version = "9.8.7";
  file.created_utc = "2026-11-24T23:59:59Z";
  file.host = "bench-host-01";
  file.suite = "smoke";
  file.build = {{"compiler", "GNU 12.2.0"}, {"build_type", "Release"}, {"cuda", "off"}, {"commit", "0123abc"}};
  file.system = {{"os", "Debian GNU/Linux 12 (bookworm)"}, {"kernel", "6.1.0-26-amd64 #1 SMP"}, {"arch", "x86_64"}};
  file.libraries = {{"openblas", "OpenBLAS 0.3.21 DYNAMIC_ARCH"}, {"onednn", "2.7.3 (OpenMP)"}};
  file.options = {{"mode", "hot"}, {"budget_ms", "2000"}};
  file.complete = true;

  DeviceInfo cpu;
  cpu.id = "cpu";
  cpu.kind = "cpu";
  cpu.name = "AMD EPYC 7B12";
  cpu.properties = {{"threads_used", "2"}, {"l3_cache", "32 MiB"}};
  cpu.peaks.measured_flops_per_s = {{Dtype::fp32, 1.2345678901234e11}};
  cpu.peaks.measured_bytes_per_s = 1.9e10;
  DeviceInfo gpu;
  gpu.id = "cuda:0";
  gpu.kind = "cuda";
  gpu.name = "NVIDIA H100 80GB HBM3";
  gpu.peaks.datasheet_flops_per_s = {{Dtype::fp16, 989.4e12}, {Dtype::tf32, 494.7e12}, {Dtype::bf16, 989.4e12}};
  gpu.peaks.datasheet_bytes_per_s = 3.35e12;
  file.devices = {cpu, gpu};

  Result ok;
  ok.problem = GemmProblem{.m = 96, .n = 64, .k = 80, .op_a = Op::T, .batch = 3};
  ok.backend = "custom-cpu/avx2";
  ok.role = "custom";
  ok.device = "cpu";
  ok.device_kind = "cpu";
  ok.compared_with = {"openblas", "onednn"};
  ok.status = ResultStatus::ok;
  ok.verification = Verification{.sampled = true, .elements_checked = 512, .mismatches = 0,
                                 .max_error = 3.0517578125e-07, .tolerance = 1e-4, .first_mismatch = ""};
  ok.measurement = Measurement{.stats = SampleStats{.samples = 17, .min_ms = 0.101, .median_ms = 0.1034567,
                                                    .mean_ms = 0.104, .max_ms = 0.2, .stddev_ms = 0.0011,
                                                    .relative_noise = 0.0105769230769},
                               .samples_ms = {0.101, 0.1034567, 0.2, 0.1000000000000001},
                               .runs_per_sample = 12, .stop_reason = "noise-target"};
  ok.mode = "hot";
  ok.flops = 2.0 * 96 * 64 * 80 * 3;
  ok.rate_flops_per_s = ok.flops / (0.1034567e-3);
  ok.peak_flops_per_s = 1.2345678901234e11;
  ok.percent_of_peak = 100.0 * ok.rate_flops_per_s / 1.2345678901234e11;
  ok.algorithm = "packed gemm, micro-kernel avx2";
  ok.workspace_bytes = 0;
  ok.threads = 2;

  Result gpu_ok = ok;
  gpu_ok.problem = ConvProblem{.n = 2, .c = 6, .h = 11, .w = 13, .k = 10, .r = 3, .s = 3, .pad_h = 1, .pad_w = 1,
                               .stride_h = 2, .stride_w = 2, .layout = Layout::NHWC,
                               .pass = ConvPass::backward_filter, .dtype = Dtype::fp16};
  gpu_ok.backend = "cudnn";
  gpu_ok.role = "vendor";
  gpu_ok.device = "cuda:0";
  gpu_ok.device_kind = "cuda";
  gpu_ok.compared_with = {};
  gpu_ok.mode = "cold";
  gpu_ok.measurement->state_before = DeviceState{.sm_clock_mhz = 1755.0, .temperature_c = 61, .power_w = 412.5};
  gpu_ok.measurement->state_after =
      DeviceState{.sm_clock_mhz = 1410.0, .temperature_c = 87, .power_w = 699.75, .slowdowns = {"sw-power-cap", "hw-thermal"}};
  gpu_ok.measurement->retakes = 2;
  gpu_ok.measurement->stop_reason = "time-budget";
  gpu_ok.algorithm = "CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1";
  gpu_ok.workspace_bytes = int64_t{1} << 33;
  gpu_ok.threads = 0;
  gpu_ok.peak_flops_per_s = 989.4e12;

  Result invalid;
  invalid.problem = ConvProblem{.n = 1, .c = 3, .h = 9, .w = 9, .k = 4, .r = 3, .s = 3, .pass = ConvPass::forward};
  invalid.backend = "custom-cpu";
  invalid.role = "custom";
  invalid.device = "cpu";
  invalid.device_kind = "cpu";
  invalid.status = ResultStatus::invalid;
  invalid.reason = "output[5] = nan but reference = 0.25";
  invalid.verification = Verification{.sampled = false, .elements_checked = 196, .mismatches = 7,
                                      .max_error = std::numeric_limits<double>::max(), .tolerance = 1e-4,
                                      .first_mismatch = "output[5] = nan but reference = 0.25"};
  invalid.mode = "hot";
  invalid.flops = 2.0 * 4 * 7 * 7 * 3 * 9;
  invalid.threads = 2;

  Result skipped;
  skipped.problem = ConvProblem{.pass = ConvPass::backward_data};
  skipped.backend = "openblas";
  skipped.role = "vendor";
  skipped.device = "cpu";
  skipped.device_kind = "cpu";
  skipped.status = ResultStatus::skipped;
  skipped.reason = "openblas has no convolution";
  skipped.mode = "hot";
  skipped.flops = 2;

  Result failed = skipped;
  failed.problem = GemmProblem{.m = 1, .n = 1, .k = 1, .dtype = Dtype::bf16};
  failed.backend = "onednn";
  failed.status = ResultStatus::failed;
  failed.reason = "oneDNN: could not create a primitive \"matmul\" (status 3)\nsecond line";

  failed.view = RateView::vendor_best;

  Result plain = ok;
  plain.problem = ConvProblem{.n = 1, .c = 3, .h = 9, .w = 9, .k = 4, .r = 3, .s = 3, .layout = Layout::NHWC};
  plain.backend = "onednn-plain";
  plain.role = "vendor";
  plain.compared_with = {};
  plain.view = RateView::framework;
  plain.framework_view_of = "onednn";
  plain.algorithm = "onednn jit:avx2; timed reorders of src, weights, dst";

  file.results = {ok, gpu_ok, invalid, skipped, failed, plain};
  return file;
}

void expect_same_device(const DeviceInfo& a, const DeviceInfo& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.kind, b.kind);
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.properties, b.properties);
  EXPECT_EQ(a.peaks.datasheet_flops_per_s, b.peaks.datasheet_flops_per_s);
  EXPECT_EQ(a.peaks.measured_flops_per_s, b.peaks.measured_flops_per_s);
  EXPECT_EQ(a.peaks.datasheet_bytes_per_s, b.peaks.datasheet_bytes_per_s);
  EXPECT_EQ(a.peaks.measured_bytes_per_s, b.peaks.measured_bytes_per_s);
}

void expect_same_result(const Result& a, const Result& b) {
  SCOPED_TRACE(a.backend + " " + describe(a.problem));
  EXPECT_TRUE(a.problem == b.problem) << describe(b.problem);
  EXPECT_EQ(a.backend, b.backend);
  EXPECT_EQ(a.role, b.role);
  EXPECT_EQ(a.device, b.device);
  EXPECT_EQ(a.view, b.view);
  EXPECT_EQ(a.framework_view_of, b.framework_view_of);
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(a.reason, b.reason);
  EXPECT_EQ(a.verification.sampled, b.verification.sampled);
  EXPECT_EQ(a.verification.elements_checked, b.verification.elements_checked);
  EXPECT_EQ(a.verification.mismatches, b.verification.mismatches);
  EXPECT_EQ(a.verification.max_error, b.verification.max_error);
  EXPECT_EQ(a.verification.tolerance, b.verification.tolerance);
  EXPECT_EQ(a.verification.first_mismatch, b.verification.first_mismatch);
  ASSERT_EQ(a.measurement.has_value(), b.measurement.has_value());
  if (a.measurement) {
    const SampleStats &s = a.measurement->stats, &t = b.measurement->stats;
    EXPECT_EQ(s.samples, t.samples);
    EXPECT_EQ(s.min_ms, t.min_ms);
    EXPECT_EQ(s.median_ms, t.median_ms);
    EXPECT_EQ(s.mean_ms, t.mean_ms);
    EXPECT_EQ(s.max_ms, t.max_ms);
    EXPECT_EQ(s.stddev_ms, t.stddev_ms);
    EXPECT_EQ(s.relative_noise, t.relative_noise);
    EXPECT_EQ(a.measurement->samples_ms, b.measurement->samples_ms);
    EXPECT_EQ(a.measurement->runs_per_sample, b.measurement->runs_per_sample);
    EXPECT_EQ(a.measurement->stop_reason, b.measurement->stop_reason);
    EXPECT_EQ(a.measurement->state_before, b.measurement->state_before);
    EXPECT_EQ(a.measurement->state_after, b.measurement->state_after);
    EXPECT_EQ(a.measurement->retakes, b.measurement->retakes);
  }
  EXPECT_EQ(a.mode, b.mode);
  EXPECT_EQ(a.flops, b.flops);
  EXPECT_EQ(a.rate_flops_per_s, b.rate_flops_per_s);
  EXPECT_EQ(a.peak_flops_per_s, b.peak_flops_per_s);
  EXPECT_EQ(a.percent_of_peak, b.percent_of_peak);
  EXPECT_EQ(a.algorithm, b.algorithm);
  EXPECT_EQ(a.workspace_bytes, b.workspace_bytes);
  EXPECT_EQ(a.threads, b.threads);
}

void expect_same_file(const ResultsFile& a, const ResultsFile& b) {
  EXPECT_EQ(a.schema_version, b.schema_version);
  EXPECT_EQ(a.tool_version, b.tool_version);
  EXPECT_EQ(a.created_utc, b.created_utc);
  EXPECT_EQ(a.host, b.host);
  EXPECT_EQ(a.suite, b.suite);
  EXPECT_EQ(a.build, b.build);
  EXPECT_EQ(a.system, b.system);
  EXPECT_EQ(a.libraries, b.libraries);
  EXPECT_EQ(a.options, b.options);
  EXPECT_EQ(a.complete, b.complete);
  ASSERT_EQ(a.devices.size(), b.devices.size());
  for (size_t i = 0; i < a.devices.size(); ++i) expect_same_device(a.devices[i], b.devices[i]);
  ASSERT_EQ(a.results.size(), b.results.size());
  for (size_t i = 0; i < a.results.size(); ++i) expect_same_result(a.results[i], b.results[i]);
}

TEST(ResultsJson, StatusText) {
  EXPECT_EQ(to_string(ResultStatus::ok), "ok");
  EXPECT_EQ(to_string(ResultStatus::invalid), "INVALID");
  EXPECT_EQ(to_string(ResultStatus::skipped), "skipped");
  EXPECT_EQ(to_string(ResultStatus::failed), "FAILED");
  for (auto s : {ResultStatus::ok, ResultStatus::invalid, ResultStatus::skipped, ResultStatus::failed}) {
    EXPECT_EQ(parse_status(to_string(s)), s);
  }
  EXPECT_EQ(parse_status("invalid"), std::nullopt);
  EXPECT_EQ(parse_status(""), std::nullopt);
}

TEST(ResultsJson, RoundTripsEveryFieldAndStatusThroughText) {
  const ResultsFile original = sample_file();
  const std::string text = to_json(original).dump(2);
  const ResultsFile back = results_from_json(nlohmann::json::parse(text), "memory");
  expect_same_file(original, back);
  // And the re-encoding is identical: nothing is lost or invented on the way.
  EXPECT_EQ(to_json(back).dump(2), text);
}

TEST(ResultsJson, RoundTripsThroughAFile) {
  TempDir dir;
  const fs::path path = dir.path() / "run.json";
  const ResultsFile original = sample_file();
  write_results_file(path, original);
  expect_same_file(original, read_results_file(path));
}

// verify() reports max_error = inf when an output is NaN or infinite (the usual way a broken
// kernel fails). That INVALID result must survive the results file like any other.
TEST(ResultsJson, InvalidResultWithNonFiniteOutputRoundTrips) {
  const GemmProblem g{.m = 2, .n = 2, .k = 2};
  const HostInputs inputs = make_inputs(g, 1);
  const std::vector<float> nan_output(4, std::numeric_limits<float>::quiet_NaN());
  ResultsFile file = sample_file();
  Result& invalid = file.results[2];
  invalid.problem = g;
  invalid.verification = verify(g, inputs, nan_output);
  ASSERT_FALSE(passed(invalid.verification));
  ASSERT_TRUE(std::isinf(invalid.verification.max_error));
  TempDir dir;
  const fs::path path = dir.path() / "nan.json";
  write_results_file(path, file);
  ResultsFile back;
  ASSERT_NO_THROW(back = read_results_file(path)) << "a results file holding a NaN-producing kernel cannot be read";
  ASSERT_EQ(back.results.size(), file.results.size());
  EXPECT_EQ(back.results[2].status, ResultStatus::invalid);
  EXPECT_EQ(back.results[2].verification.mismatches, 4);
  EXPECT_GT(back.results[2].verification.max_error, back.results[2].verification.tolerance);
}

TEST(ResultsJson, TopLevelShape) {
  const nlohmann::json j = to_json(sample_file());
  EXPECT_EQ(j.at("schema"), "trainrate-results");
  EXPECT_EQ(j.at("schema_version"), 4);
  EXPECT_EQ(kResultsSchemaVersion, 4);
  std::set<std::string> keys;
  for (const auto& [key, value] : j.items()) keys.insert(key);
  EXPECT_EQ(keys, (std::set<std::string>{"schema", "schema_version", "tool_version", "created_utc", "host", "suite",
                                         "complete", "build", "system", "libraries", "options", "devices",
                                         "results"}));
  EXPECT_EQ(j.at("results").at(0).at("measurement").at("samples_ms"),
            nlohmann::json({0.101, 0.1034567, 0.2, 0.1000000000000001}));
  const nlohmann::json& r = j.at("results").at(0);
  EXPECT_EQ(r.at("name"), describe(sample_file().results[0].problem));
  EXPECT_EQ(r.at("status"), "ok");
  EXPECT_TRUE(j.at("results").at(2).at("measurement").is_null());
  EXPECT_TRUE(j.at("results").at(2).at("percent_of_peak").is_null());
  EXPECT_EQ(j.at("results").at(2).at("status"), "INVALID");
  EXPECT_EQ(j.at("results").at(4).at("status"), "FAILED");
  EXPECT_TRUE(j.at("devices").at(0).at("peaks").at("datasheet_bytes_per_s").is_null());
  EXPECT_EQ(j.at("devices").at(1).at("peaks").at("datasheet_flops_per_s").at("fp16"), 989.4e12);
}

// A version 1 file (good.json) reads with no samples, and is written back as the current version.
TEST(ResultsJson, ReadsVersionOneWithoutSamplesAndWritesTheCurrentVersion) {
  const ResultsFile file = read_results_file(kResults + "good.json");
  EXPECT_EQ(file.schema_version, 1);
  ASSERT_TRUE(file.results[0].measurement.has_value());
  EXPECT_TRUE(file.results[0].measurement->samples_ms.empty());
  EXPECT_TRUE(file.system.empty());
  EXPECT_EQ(to_json(file).at("schema_version"), 4);
}

// Versions 1 and 2 kept only the SM clock after sampling: it reads as the state after.
TEST(ResultsJson, ReadsTheClockOfVersionTwoAsTheStateAfter) {
  nlohmann::json j = to_json(sample_file());
  j["schema_version"] = 2;
  nlohmann::json& measurement = j.at("results").at(0).at("measurement");
  measurement.erase("state_before");
  measurement.erase("state_after");
  measurement.erase("retakes");
  measurement["clock_mhz"] = 1500.0;
  const Measurement m = *results_from_json(j, "v2.json").results[0].measurement;
  EXPECT_EQ(m.state_before, std::nullopt);
  EXPECT_EQ(m.state_after, DeviceState{.sm_clock_mhz = 1500.0});
  EXPECT_EQ(m.retakes, 0);
  measurement["clock_mhz"] = nullptr;
  EXPECT_EQ(results_from_json(j, "v2.json").results[0].measurement->state_after, std::nullopt);
  measurement["state_after"] = "hot";
  EXPECT_THROW(results_from_json(j, "v2.json"), InputError);
}

TEST(ResultsJsonErrors, BadSamplesNameTheField) {
  nlohmann::json j = to_json(sample_file());
  nlohmann::json& measurement = j.at("results").at(0).at("measurement");
  const auto error_for = [&](const nlohmann::json& samples) {
    measurement["samples_ms"] = samples;
    try {
      results_from_json(j, "f.json");
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("<no error>");
  };
  EXPECT_EQ(error_for({0.1, -2.0}),
            "f.json: results[0].measurement.samples_ms[1]: expected a time in ms, 0 or more, got -2.0");
  EXPECT_EQ(error_for({0.1, "fast"}),
            "f.json: results[0].measurement.samples_ms[1]: expected a time in ms, 0 or more, got \"fast\"");
  EXPECT_EQ(error_for(3), "f.json: results[0].measurement.samples_ms: expected an array, got 3");
  // stats.samples is 17: a file cannot keep more samples than it took.
  EXPECT_EQ(error_for(nlohmann::json(std::vector<double>(18, 0.1))),
            "f.json: results[0].measurement.samples_ms: 18 samples kept but stats.samples says 17 were taken");
  EXPECT_EQ(error_for(nlohmann::json(std::vector<double>(kMaxKeptSamples + 1, 0.1))),
            "f.json: results[0].measurement.samples_ms: 1001 samples, more than the 1000 a results file keeps");
}

TEST(ResultsJson, ReadsAHandWrittenFile) {
  const ResultsFile file = read_results_file(kResults + "good.json");
  EXPECT_EQ(file.host, "testhost");
  EXPECT_EQ(file.suite, "hand-written");
  EXPECT_EQ(file.created_utc, "2026-01-02T03:04:05Z");
  EXPECT_TRUE(file.complete);
  EXPECT_EQ(file.libraries.at("openblas"), "OpenBLAS 0.3.21");
  ASSERT_EQ(file.devices.size(), 1u);
  EXPECT_EQ(file.devices[0].peaks.flops_per_s(Dtype::fp32), 1e11);
  EXPECT_EQ(file.devices[0].peaks.bytes_per_s(), 2e10);
  EXPECT_EQ(file.devices[0].peaks.datasheet_bytes_per_s, std::nullopt);
  ASSERT_EQ(file.results.size(), 13u);
  const Result& first = file.results[0];
  EXPECT_TRUE(first.problem == Problem(GemmProblem{.m = 64, .n = 64, .k = 64}));
  EXPECT_EQ(first.backend, "openblas");
  EXPECT_EQ(first.status, ResultStatus::ok);
  EXPECT_EQ(first.rate_flops_per_s, 2e10);
  ASSERT_TRUE(first.measurement.has_value());
  EXPECT_EQ(first.measurement->stats.samples, 10);
  EXPECT_EQ(first.measurement->state_after, std::nullopt);
  const Result& invalid = file.results[5];
  EXPECT_EQ(invalid.status, ResultStatus::invalid);
  EXPECT_EQ(invalid.verification.mismatches, 1);
  EXPECT_FALSE(invalid.measurement.has_value());
  EXPECT_EQ(invalid.percent_of_peak, std::nullopt);
  EXPECT_EQ(file.results[6].status, ResultStatus::skipped);
  EXPECT_EQ(file.results[6].reason, "openblas has no convolution");
  EXPECT_EQ(file.results[9].status, ResultStatus::failed);
}

// ---------------------------------------------------------------------------------------------
// Errors name the path

std::string read_error(const std::string& path) {
  try {
    read_results_file(path);
  } catch (const InputError& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("<not an InputError> ") + e.what();
  }
  return "<no error>";
}

TEST(ResultsJsonErrors, MissingFile) {
  const std::string path = kResults + "no_such_file.json";
  EXPECT_EQ(read_error(path), path + ": cannot open (No such file or directory)");
}

TEST(ResultsJsonErrors, BrokenJson) {
  const std::string path = kResults + "broken.json";
  EXPECT_THAT(read_error(path), StartsWith(path + ": not a trainrate results file (not valid JSON: parse error at line "));
}

TEST(ResultsJsonErrors, NotAResultsFile) {
  for (const char* name : {"not_results.json", "array.json"}) {
    const std::string path = kResults + name;
    EXPECT_EQ(read_error(path), path + R"(: not a trainrate results file (missing "schema": "trainrate-results"))");
  }
}

TEST(ResultsJsonErrors, WrongSchemaVersion) {
  const std::string path = kResults + "bad_schema_version.json";
  EXPECT_EQ(read_error(path), path + ": schema_version 5 is not supported (this build reads 1 to 4)");
}

TEST(ResultsJsonErrors, UnknownStatusNamesTheResult) {
  const std::string path = kResults + "bad_status.json";
  const std::string error = read_error(path);
  EXPECT_THAT(error, StartsWith(path + ": results[2].status: unknown status"));
  EXPECT_THAT(error, HasSubstr("great"));
}

// A file from before results said their view reads as "sole"; a view no build writes is refused.
TEST(ResultsJson, ViewIsReadOrDefaultedAndCheckedByName) {
  nlohmann::json j = to_json(sample_file());
  j["results"][5].erase("view");
  j["results"][5].erase("framework_view_of");
  const ResultsFile old = results_from_json(j, "old.json");
  EXPECT_EQ(old.results[5].view, RateView::sole);
  EXPECT_EQ(old.results[5].framework_view_of, "");
  j["results"][5]["view"] = "blocked";
  try {
    results_from_json(j, "odd.json");
    ADD_FAILURE() << "an unknown view was accepted";
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "odd.json: results[5].view: 'blocked' is not sole, vendor-best or framework");
  }
}

TEST(ResultsJsonErrors, InvalidProblemNamesTheResult) {
  const std::string path = kResults + "bad_problem.json";
  EXPECT_EQ(read_error(path), path + ": results[4].problem: m must be >= 1 (got 0)");
}

TEST(ResultsJsonErrors, MissingFieldNamesIt) {
  const std::string path = kResults + "bad_missing_results.json";
  const std::string error = read_error(path);
  EXPECT_THAT(error, StartsWith(path + ": "));
  EXPECT_THAT(error, HasSubstr("'results'"));
}

// results_json.hpp promises errors naming `where` and the offending field, for a wrong type as for
// a missing one.
TEST(ResultsJsonErrors, BadFieldTypeNamesPathResultAndField) {
  const std::string path = kResults + "bad_field_type.json";  // results[1].flops = "lots"
  EXPECT_EQ(read_error(path), path + ": results[1].flops: wrong type (\"lots\")");
}

TEST(ResultsJsonErrors, BadDeviceFieldNamesTheDeviceAndField) {
  const std::string path = kResults + "bad_device_type.json";  // devices[0].name = 7
  const std::string error = read_error(path);
  EXPECT_THAT(error, StartsWith(path + ": "));
  EXPECT_THAT(error, HasSubstr("devices[0]"));
  EXPECT_THAT(error, HasSubstr("name"));
}

// ---------------------------------------------------------------------------------------------
// Atomic writes

TEST(ResultsJsonWrite, ReplacesTheFileAndLeavesNoTemporary) {
  TempDir dir;
  const fs::path path = dir.path() / "results.json";
  ResultsFile file = sample_file();
  file.complete = false;
  write_results_file(path, file);
  EXPECT_EQ(dir.entries(), (std::vector<std::string>{"results.json"}));
  EXPECT_FALSE(read_results_file(path).complete);
  const std::string first_text = read_text(path);
  EXPECT_EQ(first_text, to_json(file).dump(2) + "\n");

  file.complete = true;
  file.results.resize(1);
  write_results_file(path, file);
  EXPECT_EQ(dir.entries(), (std::vector<std::string>{"results.json"}));
  const ResultsFile back = read_results_file(path);
  EXPECT_TRUE(back.complete);
  EXPECT_EQ(back.results.size(), 1u);
  EXPECT_LT(read_text(path).size(), first_text.size());  // truncated, not overwritten in place
}

TEST(ResultsJsonWrite, ReplacesByRenameNotInPlace) {
  // A reader holding the old file keeps seeing the old complete text: the new file is a new inode.
  TempDir dir;
  const fs::path path = dir.path() / "r.json";
  write_file_atomically(path, "old text\n");
  struct stat before {};
  ASSERT_EQ(::stat(path.c_str(), &before), 0);
  std::ifstream old_reader(path);
  write_file_atomically(path, "new text\n");
  struct stat after {};
  ASSERT_EQ(::stat(path.c_str(), &after), 0);
  EXPECT_NE(before.st_ino, after.st_ino);
  std::string line;
  std::getline(old_reader, line);
  EXPECT_EQ(line, "old text");
  EXPECT_EQ(read_text(path), "new text\n");
  EXPECT_EQ(dir.entries(), (std::vector<std::string>{"r.json"}));
}

TEST(ResultsJsonWrite, MissingFolderThrowsAndCreatesNothing) {
  TempDir dir;
  const fs::path path = dir.path() / "no" / "such" / "folder" / "r.json";
  EXPECT_THROW(write_results_file(path, sample_file()), std::runtime_error);
  EXPECT_TRUE(dir.entries().empty());
}

TEST(ResultsJsonWrite, FailedRenameLeavesNoTemporary) {
  // The target is a non-empty folder, so the final rename fails: the old target must survive
  // and the half-step (path + ".tmp") must not be left behind.
  TempDir dir;
  const fs::path path = dir.path() / "occupied";
  fs::create_directory(path);
  std::ofstream(path / "keep").put('x');
  EXPECT_ANY_THROW(write_results_file(path, sample_file()));
  EXPECT_TRUE(fs::is_directory(path));
  EXPECT_EQ(dir.entries(), (std::vector<std::string>{"occupied"}));
}

// ---------------------------------------------------------------------------------------------
// Environment and peaks

TEST(ResultsEnvironment, NewFileDescribesTheBuild) {
  const ResultsFile file = new_results_file("smoke");
  EXPECT_EQ(file.schema_version, kResultsSchemaVersion);
  EXPECT_EQ(file.suite, "smoke");
  EXPECT_FALSE(file.complete);
  EXPECT_TRUE(file.results.empty());
  EXPECT_FALSE(file.host.empty());
  EXPECT_FALSE(file.tool_version.empty());
  EXPECT_TRUE(std::regex_match(file.created_utc, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)"))) << file.created_utc;
  EXPECT_TRUE(file.libraries.contains("openblas"));
  EXPECT_TRUE(file.libraries.contains("onednn"));
  EXPECT_TRUE(file.build.contains("compiler"));
  EXPECT_TRUE(file.build.contains("build_type"));
  EXPECT_FALSE(file.build.at("cxx_flags").empty());  // every build type adds some (-O3, -g, ...)
  // A git checkout gives its 40-hex-digit commit, "-dirty" while edits are uncommitted; a tarball "unknown".
  const std::string commit = file.build.at("commit");
  if (fs::exists(fs::path(TRAINRATE_SOURCE_DIR) / ".git")) {
    EXPECT_TRUE(std::regex_match(commit, std::regex("[0-9a-f]{40}(-dirty)?"))) << commit;
  } else {
    EXPECT_EQ(commit, "unknown");
  }
  EXPECT_EQ(file.system.at("arch"), "x86_64");
  EXPECT_THAT(file.system.at("kernel"), HasSubstr("."));
  EXPECT_NE(file.system.at("os"), "unavailable");
#ifdef TRAINRATE_HAVE_CUDA
  EXPECT_EQ(file.build.at("cuda"), "on");
#else
  EXPECT_EQ(file.build.at("cuda"), "off");
#endif
}

TEST(ResultsEnvironment, SanitizeForFilename) {
  EXPECT_EQ(sanitize_for_filename("host-01.example_net"), "host-01.example_net");
  EXPECT_EQ(sanitize_for_filename("a b/c\\d:e"), "a_b_c_d_e");
  EXPECT_EQ(sanitize_for_filename("../../etc"), ".._.._etc");
  EXPECT_EQ(sanitize_for_filename(".."), "unnamed..");
  EXPECT_EQ(sanitize_for_filename("."), "unnamed.");
  EXPECT_EQ(sanitize_for_filename(""), "unnamed");
  EXPECT_EQ(sanitize_for_filename("NVIDIA H100 80GB HBM3"), "NVIDIA_H100_80GB_HBM3");
}

TEST(DevicePeaks, DatasheetFirstThenMeasured) {
  Peaks peaks;
  EXPECT_EQ(peaks.flops_per_s(Dtype::fp32), std::nullopt);
  EXPECT_EQ(peaks.bytes_per_s(), std::nullopt);
  peaks.measured_flops_per_s[Dtype::fp32] = 1e11;
  peaks.measured_bytes_per_s = 2e10;
  EXPECT_EQ(peaks.flops_per_s(Dtype::fp32), 1e11);
  EXPECT_EQ(peaks.flops_per_s(Dtype::fp16), std::nullopt);
  EXPECT_EQ(peaks.bytes_per_s(), 2e10);
  peaks.datasheet_flops_per_s[Dtype::fp32] = 3e11;
  peaks.datasheet_bytes_per_s = 5e10;
  EXPECT_EQ(peaks.flops_per_s(Dtype::fp32), 3e11);
  EXPECT_EQ(peaks.bytes_per_s(), 5e10);
}

}  // namespace
}  // namespace trainrate
