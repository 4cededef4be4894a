// Collectives: the problem kind (validation naming the field, describe, JSON), the closed-form fill
// and expected values every rank checks against, nccl-tests' bus-bandwidth factors, the α-β fit
// (exact on a line, and a hand-solved weighted case), its ring link, and the bucketed all-reduce.
#include <gtest/gtest.h>
#include <gmock/gmock.h>

#include <cmath>
#include <stdexcept>

#include "models/collective_fit.hpp"
#include "models/scaling.hpp"
#include "problems/collective.hpp"
#include "problems/problem_json.hpp"
#include "problems/suite.hpp"
#include "verify/verify.hpp"

namespace trainrate {
namespace {

using ::testing::HasSubstr;

CollectiveProblem collective(CollectiveOp op, int64_t bytes, int64_t ranks, Dtype dtype = Dtype::fp32) {
  return {op, bytes, ranks, dtype};
}

TEST(CollectiveProblem, ValidationNamesTheField) {
  EXPECT_FALSE(validate(collective(CollectiveOp::all_reduce, 4096, 2)));
  EXPECT_THAT(*validate(collective(CollectiveOp::all_reduce, 0, 2)), HasSubstr("bytes must be >= 1"));
  EXPECT_THAT(*validate(collective(CollectiveOp::all_reduce, 4096, 0)), HasSubstr("ranks must be >= 1 (got 0)"));
  EXPECT_THAT(*validate(collective(CollectiveOp::all_reduce, 4098, 2)),
              HasSubstr("bytes 4098 must be a multiple of the 4-byte element"));
  // 4100 bytes = 1025 fp32, which two ranks cannot split evenly.
  EXPECT_THAT(*validate(collective(CollectiveOp::reduce_scatter, 4100, 2)),
              HasSubstr("bytes 4100 must be a multiple of ranks × 4-byte elements (8) for reduce-scatter"));
  EXPECT_FALSE(validate(collective(CollectiveOp::all_gather, 4100, 2, Dtype::bf16)));  // 2050 bf16, 1025 each
  EXPECT_THAT(*validate(collective(CollectiveOp::broadcast, 4096, 2, Dtype::tf32)), HasSubstr("dtype tf32"));
}

TEST(CollectiveProblem, DescribeKindAndFamily) {
  EXPECT_EQ(describe(collective(CollectiveOp::all_reduce, 4096, 2)), "all-reduce 4 KiB fp32 2 ranks");
  EXPECT_EQ(describe(collective(CollectiveOp::all_gather, int64_t(1) << 30, 8, Dtype::bf16)),
            "all-gather 1 GiB bf16 8 ranks");
  EXPECT_EQ(describe(collective(CollectiveOp::reduce_scatter, 4092, 3)), "reduce-scatter 4092 B fp32 3 ranks");
  EXPECT_EQ(kind_label(collective(CollectiveOp::broadcast, 4096, 2)), "broadcast");
  EXPECT_EQ(family_of(collective(CollectiveOp::broadcast, 4096, 2)), "collective");
  EXPECT_TRUE(rated_in_bytes(collective(CollectiveOp::broadcast, 4096, 2)));
  EXPECT_EQ(flops(collective(CollectiveOp::all_reduce, 4096, 2)), 0.0);
  EXPECT_EQ(min_bytes(collective(CollectiveOp::all_reduce, 4096, 2)), 4096.0);
}

TEST(CollectiveProblem, OperandsSplitIntoOneBlockPerRank) {
  const OperandSizes rs = operand_elements(collective(CollectiveOp::reduce_scatter, 4096, 4));
  EXPECT_EQ(rs.input0, 1024);
  EXPECT_EQ(rs.output, 256);
  const OperandSizes ag = operand_elements(collective(CollectiveOp::all_gather, 4096, 4, Dtype::bf16));
  EXPECT_EQ(ag.input0, 512);
  EXPECT_EQ(ag.output, 2048);
}

TEST(CollectiveProblem, JsonRoundTripAndErrors) {
  const Problem p = collective(CollectiveOp::reduce_scatter, 8192, 4, Dtype::bf16);
  EXPECT_EQ(problem_from_json(to_json(p), "where"), p);
  const auto error = [](const std::string& text) {
    try {
      problem_from_json(nlohmann::json::parse(text), "where");
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(error(R"({"kind": "collective", "op": "allreduce", "bytes": 4096, "ranks": 2})"),
            "where.op: 'allreduce' is not one of all-reduce, reduce-scatter, all-gather, broadcast");
  EXPECT_EQ(error(R"({"kind": "collective", "op": "all-reduce", "bytes": 4096})"),
            "where: missing required field 'ranks'");
  EXPECT_EQ(error(R"({"kind": "collective", "op": "all-reduce", "bytes": 4096, "ranks": 2, "root": 1})"),
            "where: unknown field 'root'");
  EXPECT_THAT(error(R"({"kind": "collective", "op": "all-reduce", "bytes": 6, "ranks": 2})"),
              HasSubstr("where: bytes 6 must be a multiple of the 4-byte element"));
}

TEST(CollectiveSuite, DoublesFromMinToMaxAndRoundsSplitSizes) {
  SuiteParams params;
  params.min_size = 4096;
  params.max_size = 16384;
  params.ranks = 3;
  const Suite suite = load_suite("collectives", params);
  EXPECT_EQ(suite.problems.size(), 4u * 2u * 3u);  // 4 collectives × fp32, bf16 × 4, 8, 16 KiB
  EXPECT_EQ(suite.problems.front(), Problem(collective(CollectiveOp::all_reduce, 4096, 3)));
  // Reduce-scatter fp32 over 3 ranks: whole 12-byte blocks, 4096 rounded down to 4092.
  EXPECT_EQ(suite.problems[6], Problem(collective(CollectiveOp::reduce_scatter, 4092, 3)));
  params.max_size = 2;
  EXPECT_THROW(load_suite("collectives", params), InputError);
}

TEST(CollectiveValues, ClosedFormPerRank) {
  EXPECT_EQ(collective_input_value(0, 0), 1.0);
  EXPECT_EQ(collective_input_value(2, 14), 4.0);  // 3 + 14 mod 13
  // all-reduce over 3 ranks: (1 + 2 + 3) + 3 · (14 mod 13) = 9.
  EXPECT_EQ(collective_expected_value(collective(CollectiveOp::all_reduce, 64, 3), 0, 14), 9.0);
  // reduce-scatter of 8 fp32 over 2 ranks: rank 1 holds elements 4..7; its element 2 is 6: 3 + 2·6.
  EXPECT_EQ(collective_expected_value(collective(CollectiveOp::reduce_scatter, 32, 2), 1, 2), 15.0);
  // all-gather of 8 fp32 over 2 ranks: element 5 is rank 1's element 1: 2 + 1.
  EXPECT_EQ(collective_expected_value(collective(CollectiveOp::all_gather, 32, 2), 0, 5), 3.0);
  // broadcast: the root's element 20: 1 + 7.
  EXPECT_EQ(collective_expected_value(collective(CollectiveOp::broadcast, 128, 2), 1, 20), 8.0);
}

TEST(CollectiveVerify, EveryElementAgainstTheRanksExpectedValues) {
  const CollectiveProblem rs = collective(CollectiveOp::reduce_scatter, 32, 2);
  std::vector<float> rank1{3 + 2 * 4, 3 + 2 * 5, 3 + 2 * 6, 3 + 2 * 7};
  EXPECT_TRUE(passed(verify_collective(rs, 1, rank1)));
  // The same values are wrong on rank 0, whose block is elements 0..3.
  const Verification as_rank0 = verify_collective(rs, 0, rank1);
  EXPECT_EQ(as_rank0.mismatches, 4);
  EXPECT_EQ(as_rank0.first_mismatch, "rank 0: output[0] = 11 but expected 3");
  rank1[3] = 0;
  EXPECT_EQ(verify_collective(rs, 1, rank1).mismatches, 1);
  EXPECT_EQ(verify_collective(rs, 1, {1, 2}).first_mismatch, "output has 2 elements, expected 4");
}

TEST(CollectiveBusBandwidth, NcclTestsFactors) {
  EXPECT_DOUBLE_EQ(bus_bandwidth_factor(CollectiveOp::all_reduce, 2), 1.0);
  EXPECT_DOUBLE_EQ(bus_bandwidth_factor(CollectiveOp::all_reduce, 8), 1.75);
  EXPECT_DOUBLE_EQ(bus_bandwidth_factor(CollectiveOp::reduce_scatter, 4), 0.75);
  EXPECT_DOUBLE_EQ(bus_bandwidth_factor(CollectiveOp::all_gather, 4), 0.75);
  EXPECT_DOUBLE_EQ(bus_bandwidth_factor(CollectiveOp::broadcast, 4), 1.0);
  EXPECT_DOUBLE_EQ(bus_bandwidth_factor(CollectiveOp::all_reduce, 1), 0.0);
  EXPECT_THROW(bus_bandwidth_factor(CollectiveOp::all_reduce, 0), std::invalid_argument);
}

TEST(AlphaBetaFit, ExactOnALine) {
  // α = 10 us, β = 1e-10 s/byte (10 GB/s).
  std::vector<std::pair<double, double>> points;
  for (double bytes : {1e3, 1e4, 1e6, 1e8}) points.emplace_back(bytes, 10e-6 + bytes * 1e-10);
  const AlphaBetaFit fit = fit_alpha_beta(points);
  EXPECT_NEAR(fit.alpha_s, 10e-6, 1e-15);
  EXPECT_NEAR(fit.beta_s_per_byte, 1e-10, 1e-20);
  EXPECT_NEAR(fit.max_relative_residual, 0, 1e-9);
}

TEST(AlphaBetaFit, WeighsResidualsRelativeToTheMeasuredTime) {
  // Points (1, 1), (2, 2), (3, 2) with weights 1/t² = 1, 1/4, 1/4: the normal equations give
  // α = 10/21 and β = 4/7 (unweighted least squares would give 2/3 and 1/2); relative residuals
  // -1/21, 4/21, -2/21, rms sqrt(1/63).
  const AlphaBetaFit fit = fit_alpha_beta({{1, 1}, {2, 2}, {3, 2}});
  EXPECT_NEAR(fit.alpha_s, 10.0 / 21, 1e-12);
  EXPECT_NEAR(fit.beta_s_per_byte, 4.0 / 7, 1e-12);
  EXPECT_NEAR(fit.points[0].relative_residual(), -1.0 / 21, 1e-12);
  EXPECT_NEAR(fit.max_relative_residual, 4.0 / 21, 1e-12);
  EXPECT_NEAR(fit.rms_relative_residual, std::sqrt(1.0 / 63), 1e-12);
  EXPECT_THROW(fit_alpha_beta({{1, 1}, {1, 2}}), std::invalid_argument);  // one size only
  EXPECT_THROW(fit_alpha_beta({{1, 1}, {2, 0}}), std::invalid_argument);
}

Result allreduce_result(int64_t bytes, double median_ms, Dtype dtype = Dtype::fp32) {
  Result r;
  r.problem = collective(CollectiveOp::all_reduce, bytes, 2, dtype);
  r.backend = "mpi";
  r.measurement = Measurement{};
  r.measurement->stats.median_ms = median_ms;
  return r;
}

TEST(AlphaBetaFit, FromResultsToTheRingLink) {
  // 2 ranks, α = 10 us, β = 1e-10 s/byte: per ring step α/2(n−1) = 5 us, B = 2(n−1)/(n·β) = 10 GB/s.
  const std::vector<Result> results{allreduce_result(4096, (10e-6 + 4096e-10) * 1e3),
                                    allreduce_result(1 << 20, (10e-6 + (1 << 20) * 1e-10) * 1e3),
                                    allreduce_result(4096, 1.0, Dtype::bf16)};  // one size: no fit
  const std::vector<CollectiveFit> fits = fit_collectives(results);
  ASSERT_EQ(fits.size(), 1u);
  const std::optional<CollectiveFit> gradients = gradient_allreduce_fit(fits);
  ASSERT_TRUE(gradients);
  const Interconnect link = link_from_allreduce_fit(*gradients);
  EXPECT_NEAR(link.bandwidth_bytes_per_s, 1e10, 1e-3);
  EXPECT_NEAR(link.latency_s, 5e-6, 1e-15);
  // The ring model with that link reproduces the fit at its own rank count.
  EXPECT_NEAR(ring_allreduce_time_s(1e6, 2, link), 10e-6 + 1e6 * 1e-10, 1e-15);
  // A floor above 4 KiB leaves one size: nothing to fit.
  EXPECT_TRUE(fit_collectives(results, 8192).empty());
  EXPECT_EQ(fit_collectives(results, 4096).size(), 1u);
  EXPECT_DOUBLE_EQ(gradient_fit_min_bytes(kDdpBucketBytes), 25.0 * 1024 * 1024 / 8);
}

TEST(BucketedAllreduce, PipelinesBucketsUnderTheBackwardPass) {
  // 100 bytes in buckets of 40, 40, 20 over 2 ranks at B = 10 bytes/s, α = 0.5 s per step:
  // 5 s, 5 s, 3 s. Backward takes 10 s and frees them at 4, 8 and 10 s, so with overlap they run
  // 4–9, 9–14 and 14–17 s: 7 s after backward; without, all 13 s follow it.
  const StepCompute step{.forward_s = 5, .backward_s = 10, .gradient_bytes = 100};
  const Interconnect link{.bandwidth_bytes_per_s = 10, .latency_s = 0.5, .bucket_bytes = 40};
  const ScalingPoint serial = scale_step(step, 2, link, false);
  EXPECT_DOUBLE_EQ(serial.allreduce_s, 13);
  EXPECT_DOUBLE_EQ(serial.step_s, 28);
  const ScalingPoint overlapped = scale_step(step, 2, link, true);
  EXPECT_DOUBLE_EQ(overlapped.exposed_comm_s, 7);
  EXPECT_DOUBLE_EQ(overlapped.step_s, 22);
}

}  // namespace
}  // namespace trainrate
