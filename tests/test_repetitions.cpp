// Runs pooled as repetitions of one run (results/repetitions.hpp): what `run --repetitions` writes
// and what `compare --old A1 A2 ...` reads, and how the results file keeps them.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "problems/problem_json.hpp"
#include "results/repetitions.hpp"
#include "results/results_json.hpp"
#include "results/statistics.hpp"
#include "two_runs.hpp"

namespace trainrate {
namespace {

using testing::repeated;
using testing::samples_around;
using testing::small_run;
using testing::timed_result;

TEST(PoolRepetitions, KeepsEachRepetitionsMedianAndSamplesAndRatesFromAll) {
  const ResultsFile pooled = repeated(small_run(), {1.0, 1.1, 0.9});
  ASSERT_EQ(pooled.results.size(), 6u);
  EXPECT_EQ(repetition_count(pooled), 3u);
  const Result& r = pooled.results[0];  // gemm A on openblas: 20 samples around 1 ms each
  ASSERT_TRUE(r.measurement);
  const std::vector<Repetition> reps = repetitions_of(*r.measurement);
  ASSERT_EQ(reps.size(), 3u);
  EXPECT_DOUBLE_EQ(reps[1].median_ms, 1.1);
  EXPECT_EQ(reps[1].samples_kept, 20u);
  // The second repetition's samples follow the first's.
  EXPECT_DOUBLE_EQ(r.measurement->samples_ms[20], 1.1 * samples_around(1.0)[0]);
  EXPECT_EQ(r.measurement->stats.samples, 60);
  EXPECT_DOUBLE_EQ(r.measurement->stats.median_ms, summarize(r.measurement->samples_ms).median_ms);
  EXPECT_DOUBLE_EQ(r.rate_flops_per_s, r.flops / (r.measurement->stats.median_ms * 1e-3));
  EXPECT_EQ(pooled.suite, "smoke");
  EXPECT_TRUE(pooled.complete);
}

TEST(PoolRepetitions, ThinsEachRepetitionEvenlyToFitTheCap) {
  ResultsFile run = small_run();
  run.results = {timed_result(testing::kRunGemmA, "openblas", samples_around(1.0, 900))};
  const ResultsFile pooled = repeated(run, {1.0, 1.0, 1.0});
  const Measurement& m = *pooled.results[0].measurement;
  EXPECT_EQ(m.samples_ms.size(), 999u);  // 333 of each repetition's 900
  for (const Repetition& rep : repetitions_of(m)) EXPECT_EQ(rep.samples_kept, 333u);
  EXPECT_EQ(m.stats.samples, 2700);
}

TEST(PoolRepetitions, AResultNotOkInOneRepetitionIsThatResultNamingIt) {
  ResultsFile broken = small_run();
  broken.results[1].status = ResultStatus::failed;
  broken.results[1].reason = "out of memory";
  broken.results[1].measurement.reset();
  const ResultsFile pooled = pool_repetitions({small_run(), broken}, {"a.json", "b.json"});
  EXPECT_EQ(pooled.results[1].status, ResultStatus::failed);
  EXPECT_EQ(pooled.results[1].reason, "repetition 2: out of memory");
  EXPECT_EQ(repetitions_of(*pooled.results[0].measurement).size(), 2u);
}

TEST(PoolRepetitions, RunsOfDifferentSuitesAreRefused) {
  ResultsFile quick = small_run();
  quick.suite = "quick";
  try {
    pool_repetitions({small_run(), quick}, {"a.json", "b.json"});
    FAIL() << "pooled runs of two suites";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()),
              "a.json ran suite 'smoke' but b.json ran suite 'quick'; only runs of one suite are pooled");
  }
}

TEST(RepetitionsJson, RoundTripAndOlderFilesAreOneRepetition) {
  const ResultsFile pooled = repeated(small_run(), {1.0, 1.1});
  const nlohmann::json j = to_json(pooled);
  EXPECT_EQ(j.at("results").at(0).at("measurement").at("repetitions").size(), 2u);
  const ResultsFile back = results_from_json(j, "r.json");
  EXPECT_EQ(repetitions_of(*back.results[0].measurement).size(), 2u);
  EXPECT_DOUBLE_EQ(repetitions_of(*back.results[0].measurement)[1].median_ms, 1.1);
  // A version 3 file lists none: its measurement is its one repetition.
  nlohmann::json v3 = to_json(small_run());
  v3["schema_version"] = 3;
  v3["results"][0]["measurement"].erase("repetitions");
  const ResultsFile old = results_from_json(v3, "v3.json");
  ASSERT_EQ(repetitions_of(*old.results[0].measurement).size(), 1u);
  EXPECT_DOUBLE_EQ(repetitions_of(*old.results[0].measurement)[0].median_ms, 1.0);
  EXPECT_EQ(repetition_count(old), 1u);
}

TEST(RepetitionsJson, KeptSamplesThatDoNotAddUpNameTheField) {
  nlohmann::json j = to_json(repeated(small_run(), {1.0, 1.1}));
  j["results"][0]["measurement"]["repetitions"][1]["samples_kept"] = 19;
  try {
    results_from_json(j, "r.json");
    FAIL() << "read repetitions that keep 39 of 40 samples";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()),
              "r.json: results[0].measurement.repetitions: they keep 39 samples in all but samples_ms has 40");
  }
}

}  // namespace
}  // namespace trainrate
