// Models: every formula against hand-computed values (exact where the arithmetic is exact), the
// original design's seed example with its corrected values, Daly's published examples, the
// nccl-tests bus-bandwidth factor, rate look-up and the prediction JSON's stable keys.
#include <gtest/gtest.h>

#include <cmath>

#include "models/prediction.hpp"
#include "models/rates.hpp"
#include "models/reliability.hpp"
#include "models/scaling.hpp"
#include "models/speedup.hpp"
#include "models/training_time.hpp"

namespace trainrate {
namespace {

// ---- the original design's seed example -----------------------------------------------------

TEST(SeedExample, SimpleModelGivesFiveTimesTenToTheEight) {
  // T = N·S/R = 1e6 · 1000 / 2. The design printed "100 s"; its formula gives 5e8.
  EXPECT_DOUBLE_EQ(simple_training_time_s(1e6, 1000, 2), 5e8);
  EXPECT_THROW(simple_training_time_s(1, 1, 0), std::invalid_argument);
}

TEST(SeedExample, SpeedupIsReportedBothWays) {
  // Times 2 and 1.5: the design printed 0.50; (2 − 1.5)/2 = 0.25 and 2/1.5 = 1.333...
  const Speedup s = speedup(2, 1.5);
  EXPECT_DOUBLE_EQ(s.time_reduction, 0.25);
  EXPECT_DOUBLE_EQ(s.ratio, 4.0 / 3.0);
  EXPECT_EQ(describe(s), "time reduction 25.0% [(T_old-T_new)/T_old], speed-up 1.33x [T_old/T_new]");
}

TEST(SeedExample, ReliabilityGainHasTheRightSign) {
  // (p − p')/p = (0.01 − 0.001)/0.01 = 0.9; the design's (p' − p)/p' gives −9.
  EXPECT_NEAR(relative_failure_reduction(0.01, 0.001), 0.9, 1e-15);
  EXPECT_NEAR((0.001 - 0.01) / 0.001, -9, 1e-12);  // what the design wrote
}

// ---- speed-up ------------------------------------------------------------------------------

TEST(Speedup, SeventyFivePercentLessTimeIsFourTimesFaster) {
  const Speedup s = speedup(8, 2);
  EXPECT_DOUBLE_EQ(s.time_reduction, 0.75);
  EXPECT_DOUBLE_EQ(s.ratio, 4);
  EXPECT_DOUBLE_EQ(s.time_reduction, 1 - 1 / s.ratio);
  EXPECT_THROW(speedup(0, 1), std::invalid_argument);
}

TEST(Speedup, PerLayerMatchesByName) {
  IterationPrediction old_p, new_p;
  const LayerPass a{"a", "fwd", Phase::forward, GemmProblem{}, 1}, b{"b", "fwd", Phase::forward, GemmProblem{}, 1};
  old_p.passes = {{a, {}, 1, 1, 4.0}, {b, {}, 1, 1, 1.0}};
  new_p.passes = {{a, {}, 1, 1, 1.0}, {b, {}, 1, 1, 2.0}};
  const auto rows = layer_speedups(old_p, new_p);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_DOUBLE_EQ(rows[0].speedup.ratio, 4);
  EXPECT_DOUBLE_EQ(rows[0].speedup.time_reduction, 0.75);
  EXPECT_DOUBLE_EQ(rows[1].speedup.ratio, 0.5);  // a slow-down shows as ratio < 1 and a negative reduction
  EXPECT_DOUBLE_EQ(rows[1].speedup.time_reduction, -1);
}

// ---- training time ---------------------------------------------------------------------------

TEST(TrainingTime, SixNDRule) {
  EXPECT_DOUBLE_EQ(six_nd_flops(124e6, 1e9), 7.44e17);
  EXPECT_DOUBLE_EQ(six_nd_time_s(1e6, 1e3, 6e9), 1.0);
}

// 6·N·D counts every parameter once per token: a conv weight is used at every output pixel.
TEST(TrainingTime, SixNDAppliesOnlyWithoutConvolutions) {
  EXPECT_TRUE(six_nd_applies(bert_base(1, 16)));
  EXPECT_FALSE(six_nd_applies(resnet50(1, 64)));
  EXPECT_FALSE(six_nd_applies(vgg16(1, 64)));
}

TEST(TrainingTime, EpochAndTotalFromDatasetAndEpochs) {
  // ImageNet-1k at a global batch of 8 × 64 = 512: ceil(1,281,167 / 512) = 2503 iterations.
  const TrainingTime t = training_time(0.5, 1'281'167, 512, 90);
  EXPECT_EQ(t.iterations_per_epoch, 2503);
  EXPECT_DOUBLE_EQ(t.epoch_time_s, 1251.5);
  EXPECT_DOUBLE_EQ(t.total_time_s, 112'635);
  EXPECT_EQ(training_time(1, 1024, 512, 1).iterations_per_epoch, 2);
}

TEST(LayerModel, SumsFlopsOverRatePerPass) {
  const GemmProblem g{100, 100, 100};  // 2e6 FLOPs
  const std::vector<LayerPass> passes{{"l", "fwd", Phase::forward, g, 3}, {"l", "bwd-data", Phase::backward, g, 1}};
  const auto p = predict_iteration(passes, [](const Problem&) {
    return RateLookup{1e9, RateOrigin::measured, "x", {}};
  });
  EXPECT_DOUBLE_EQ(p.forward_time_s, 6e-3);
  EXPECT_DOUBLE_EQ(p.backward_time_s, 2e-3);
  EXPECT_DOUBLE_EQ(p.iteration_time_s, 8e-3);
  EXPECT_DOUBLE_EQ(p.flops, 8e6);
}

// A memory-bound pass costs its bytes over its bytes/s; the optimizer step is its own phase.
TEST(LayerModel, MemoryBoundPassesCostBytesOverBandwidth) {
  const MemoryProblem relu{.op = MemoryOp::relu, .elements = 1000};  // reads and writes 4000 bytes: 8000
  const MemoryProblem sgd{.op = MemoryOp::sgd_momentum, .elements = 500};  // w, g, v read; w, v written: 10000
  const GemmProblem g{100, 100, 100};                                 // 2e6 FLOPs
  const std::vector<LayerPass> passes{{"r", "fwd", Phase::forward, relu, 2}, {"g", "fwd", Phase::forward, g, 1},
                                      {"optimizer", "step", Phase::update, sgd, 1}};
  const auto p = predict_iteration(passes, [](const Problem& q) {
    return RateLookup{is_memory_bound(q) ? 1e6 : 1e9, RateOrigin::measured, "x", {}};  // 1 MB/s, 1 GFLOP/s
  });
  EXPECT_DOUBLE_EQ(p.memory_time_s, 2 * 8000 / 1e6 + 10000 / 1e6);
  EXPECT_DOUBLE_EQ(p.compute_time_s, 2e6 / 1e9);
  EXPECT_DOUBLE_EQ(p.update_time_s, 10000 / 1e6);
  EXPECT_DOUBLE_EQ(p.forward_time_s, 16000 / 1e6 + 2e-3);
  EXPECT_DOUBLE_EQ(p.iteration_time_s, p.compute_time_s + p.memory_time_s);
  EXPECT_DOUBLE_EQ(p.bytes, 26000);
  EXPECT_DOUBLE_EQ(p.flops, 2e6);  // GEMM/conv FLOPs only
}

// A prediction whose results lack the memory-bound kinds says so before any time, by bytes.
TEST(LayerModel, MissingMemoryBoundRatesAreCountedByBytes) {
  const Network net = resnet50(1, 64);
  RateTable table;
  for (const Problem& q : training_problems(net)) {
    if (!is_memory_bound(q)) table.add("onednn", q, 1e9);
  }
  const Prediction p = predict(net, table, "onednn", std::nullopt, PredictOptions{});
  const RateCoverage c = rate_coverage(p.iteration);
  EXPECT_DOUBLE_EQ(c.flops.measured, 1.0);
  EXPECT_DOUBLE_EQ(c.bytes.missing, 1.0);
  EXPECT_DOUBLE_EQ(p.iteration.memory_time_s, 0);
  EXPECT_NE(format_prediction(p).find("MISSING MEMORY-BOUND RATES: only 0.0% of the memory-bound bytes"),
            std::string::npos) << format_prediction(p);
}

TEST(Rates, NearestMemoryShapeIsTheClosestSizeOfTheSameKind) {
  const MemoryProblem small{.op = MemoryOp::gelu, .elements = 1000}, big{.op = MemoryOp::gelu, .elements = 1'000'000};
  EXPECT_DOUBLE_EQ(shape_distance(small, big), std::log(1000.0));
  RateTable table;
  table.add("onednn", small, 1e9);
  table.add("onednn", big, 5e9);
  table.add("onednn", MemoryProblem{.op = MemoryOp::relu, .elements = 900'000}, 9e9);  // another kind: never used
  const auto r = look_up_rate(table, "onednn", MemoryProblem{.op = MemoryOp::gelu, .elements = 800'000});
  EXPECT_EQ(r.origin, RateOrigin::estimated);
  EXPECT_DOUBLE_EQ(r.rate_per_s, 5e9);
}

// An op no vendor library has (the optimizer step on CPU) takes the custom backend's rate, named;
// a vendor's rate, where there is one, still comes first.
TEST(Rates, WhatNoVendorHasComesFromTheOtherBackendsBeside) {
  RateTable table;
  table.declare("onednn", "vendor", "cpu");
  table.declare("openblas", "vendor", "cpu");
  table.declare("custom-cpu", "custom", "cpu");
  table.declare("custom-cuda", "custom", "cuda");
  const MemoryProblem sgd{.op = MemoryOp::sgd_momentum, .elements = 1000};
  table.add("custom-cuda", sgd, 900e9);  // another device: never stands in
  table.add_unusable("onednn", sgd);
  table.add("custom-cpu", sgd, 8e9);
  auto r = look_up_rate(table, "onednn", sgd);
  EXPECT_EQ(r.backend, "custom-cpu");
  EXPECT_DOUBLE_EQ(r.rate_per_s, 8e9);
  const GemmProblem g{64, 64, 64};
  table.add("custom-cpu", g, 50e9);
  table.add("openblas", g, 20e9);
  EXPECT_EQ(look_up_rate(table, "onednn", g).backend, "openblas");
  EXPECT_EQ(table.others_beside("custom-cpu"), std::vector<std::string>{});
}

// The same on a GPU: what cuDNN lacks (layer norm, the loss) takes custom-cuda's rate, never a CPU
// backend's; what it has comes from cudnn, also for a backend (cublas) that has no such kind.
TEST(Rates, WhatCudnnLacksComesFromCustomCudaBeside) {
  RateTable table;
  table.declare("cublas", "vendor", "cuda");
  table.declare("cudnn", "vendor", "cuda");
  table.declare("custom-cuda", "custom", "cuda");
  table.declare("custom-cpu", "custom", "cpu");
  const MemoryProblem ln{.op = MemoryOp::layernorm, .rows = 64, .cols = 768};
  const MemoryProblem relu{.op = MemoryOp::relu, .elements = 4096};
  table.add_unusable("cudnn", ln);
  table.add("custom-cpu", ln, 9000e9);  // another device: never stands in
  table.add("custom-cuda", ln, 2000e9);
  table.add("cudnn", relu, 1500e9);
  table.add("custom-cuda", relu, 1800e9);
  auto r = look_up_rate(table, "cudnn", ln);
  EXPECT_EQ(r.backend, "custom-cuda");
  EXPECT_DOUBLE_EQ(r.rate_per_s, 2000e9);
  r = look_up_rate(table, "cublas", relu);
  EXPECT_EQ(r.backend, "cudnn");
  EXPECT_DOUBLE_EQ(r.rate_per_s, 1500e9);
  EXPECT_EQ(look_up_rate(table, "cublas", ln).backend, "custom-cuda");
}

TEST(LayerModel, DominantClassAndItsRate) {
  const std::vector<LayerPass> passes{{"c", "fwd", Phase::forward, ConvProblem{.n = 8, .c = 64, .h = 32, .w = 32, .k = 64, .r = 3, .s = 3, .pad_h = 1, .pad_w = 1}, 1},
                                      {"f", "fwd", Phase::forward, GemmProblem{10, 10, 10}, 1}};
  const ProblemClass dominant = dominant_problem_class(passes);
  EXPECT_EQ(dominant.kind, "conv-fwd");
  EXPECT_GT(dominant.flops_share, 0.99);
  // Two GEMM rows: 2e6 FLOPs at 1 GFLOP/s and 16e6 at 4 GFLOP/s → 18e6 FLOPs in 6e-3 s.
  RateTable table;
  table.declare("openblas", "vendor", "cpu");
  table.add("openblas", GemmProblem{100, 100, 100}, 1e9);
  table.add("openblas", GemmProblem{200, 200, 200}, 4e9);
  EXPECT_DOUBLE_EQ(*class_rate_flops_per_s(table, "openblas", "gemm", Dtype::fp32), 3e9);
  // custom-cpu has no GEMM rows: the vendor beside it (openblas) stands in.
  EXPECT_DOUBLE_EQ(*class_rate_flops_per_s(table, "custom-cpu", "gemm", Dtype::fp32), 3e9);
  EXPECT_FALSE(class_rate_flops_per_s(table, "openblas", "conv-fwd", Dtype::fp32).has_value());
}

// ---- rate look-up ---------------------------------------------------------------------------

TEST(Rates, ExactThenFamilyBestThenVendorThenNearest) {
  RateTable table;
  const GemmProblem g{512, 512, 512}, near{512, 512, 256}, far{64, 64, 64};
  const ConvProblem conv{.n = 1, .c = 8, .h = 8, .w = 8, .k = 8, .r = 3, .s = 3, .pad_h = 1, .pad_w = 1};
  table.declare("custom-cpu/avx2", "custom", "cpu");
  table.declare("custom-cpu/portable", "custom", "cpu");
  table.declare("onednn", "vendor", "cpu");
  table.declare("openblas", "vendor", "cpu");
  table.declare("cudnn", "vendor", "cuda");  // another device's vendor never stands in
  table.add("cudnn", conv, 70e9);
  table.add("custom-cpu/avx2", g, 30e9);
  table.add("custom-cpu/portable", g, 5e9);
  table.add("custom-cpu/avx2", far, 1e9);
  table.add("onednn", conv, 7e9);

  auto r = look_up_rate(table, "custom-cpu", g);
  EXPECT_EQ(r.origin, RateOrigin::measured);
  EXPECT_DOUBLE_EQ(r.rate_per_s, 30e9);  // the family's best variant

  r = look_up_rate(table, "custom-cpu", near);  // nearest in (ln FLOPs, ln intensity): g, not far
  EXPECT_EQ(r.origin, RateOrigin::estimated);
  EXPECT_DOUBLE_EQ(r.rate_per_s, 30e9);
  EXPECT_EQ(r.estimated_from, describe(Problem{g}));

  r = look_up_rate(table, "custom-cpu", conv);  // custom-cpu has no convs: onednn's rate
  EXPECT_EQ(r.origin, RateOrigin::measured);
  EXPECT_EQ(r.backend, "onednn");

  r = look_up_rate(table, "openblas", conv);  // the other vendor beside a GEMM-only one, too
  EXPECT_EQ(r.backend, "onednn");

  const ConvProblem bwd = [&] { auto c = conv; c.pass = ConvPass::backward_data; return c; }();
  EXPECT_EQ(look_up_rate(table, "onednn", bwd).origin, RateOrigin::missing);  // no conv-bwd-data rows at all
}

TEST(Rates, UnusableRowsFallBackToVendorAndMeasureMissingIsUsed) {
  RateTable table;
  const GemmProblem g{256, 256, 256};
  table.declare("custom-cpu", "custom", "cpu");
  table.declare("openblas", "vendor", "cpu");
  table.declare("onednn", "vendor", "cpu");
  table.add_unusable("custom-cpu", g);
  table.add("onednn", g, 15e9);
  table.add("openblas", g, 20e9);  // the faster vendor stands in
  EXPECT_EQ(look_up_rate(table, "custom-cpu", g).backend, "openblas");

  const GemmProblem fresh{128, 128, 128};
  int calls = 0;
  const MeasureMissing measure = [&](const std::string& backend, const Problem&) -> std::optional<double> {
    ++calls;
    if (backend == "custom-cpu") return 9e9;
    return std::nullopt;
  };
  auto r = look_up_rate(table, "custom-cpu", fresh, measure);
  EXPECT_EQ(r.origin, RateOrigin::measured_now);
  EXPECT_DOUBLE_EQ(r.rate_per_s, 9e9);
  r = look_up_rate(table, "custom-cpu", fresh, measure);  // now in the table
  EXPECT_EQ(r.origin, RateOrigin::measured);
  EXPECT_EQ(calls, 1);
}

TEST(Rates, ShapeDistanceIsLogarithmic) {
  const GemmProblem a{100, 100, 100}, b{200, 200, 200};
  EXPECT_DOUBLE_EQ(shape_distance(a, a), 0);
  // FLOPs ×8 and intensity ×2 (intensity of an n³ GEMM is 2n³/(3n²·4) = n/6).
  EXPECT_NEAR(shape_distance(a, b), std::hypot(std::log(8.0), std::log(2.0)), 1e-12);
}

TEST(Rates, TableFromResultsKeepsOkRatesOnly) {
  ResultsFile file;
  Result ok, skipped;
  ok.problem = GemmProblem{64, 64, 64}, ok.backend = "openblas", ok.rate_flops_per_s = 1e9;
  skipped.problem = GemmProblem{64, 64, 32}, skipped.backend = "openblas", skipped.status = ResultStatus::skipped;
  file.results = {ok, skipped};
  const RateTable table(file);
  EXPECT_TRUE(table.exact("openblas", GemmProblem{64, 64, 64}).has_value());
  EXPECT_TRUE(table.unusable("openblas", GemmProblem{64, 64, 32}));
  EXPECT_EQ(table.backends(), std::vector<std::string>{"openblas"});
}

// oneDNN's two views: onednn-plain (framework) for the convs it measured, onednn (vendor-best) for
// the rest; --vendor-best turns the preference round; a custom backend without convs borrows the
// view the table prefers, never the other one because it is faster.
TEST(Rates, FrameworkViewIsPreferredForTheKindsItHas) {
  const ConvProblem conv{.n = 2, .c = 16, .h = 8, .w = 8, .k = 16, .r = 3, .s = 3, .pad_h = 1, .pad_w = 1};
  const ConvProblem other_shape{.n = 4, .c = 16, .h = 8, .w = 8, .k = 16, .r = 3, .s = 3, .pad_h = 1, .pad_w = 1};
  const GemmProblem gemm{64, 64, 64};
  RateTable table;
  table.declare("custom-cpu", "custom", "cpu");
  table.declare("onednn", "vendor", "cpu", RateView::vendor_best);
  table.declare("onednn-plain", "vendor", "cpu", RateView::framework, "onednn");
  table.add("onednn", conv, 30e9);
  table.add("onednn", other_shape, 30e9);
  table.add("onednn", gemm, 20e9);
  table.add("onednn-plain", conv, 10e9);
  table.add("custom-cpu", gemm, 25e9);

  EXPECT_EQ(look_up_rate(table, "onednn", conv).backend, "onednn-plain");
  EXPECT_EQ(look_up_rate(table, "onednn", gemm).backend, "onednn");  // the view has no GEMM rates
  // A kind the view covers takes its rates there, exact or nearest, as a backend's own kinds do.
  const RateLookup near = look_up_rate(table, "onednn", other_shape);
  EXPECT_EQ(near.backend, "onednn-plain");
  EXPECT_EQ(near.origin, RateOrigin::estimated);
  EXPECT_EQ(look_up_rate(table, "custom-cpu", conv).backend, "onednn-plain");
  EXPECT_EQ(table.vendors_beside("custom-cpu"), std::vector<std::string>{"onednn"});

  table.prefer(RateView::vendor_best);
  EXPECT_EQ(look_up_rate(table, "onednn", conv).backend, "onednn");
  EXPECT_EQ(look_up_rate(table, "custom-cpu", conv).backend, "onednn");
  EXPECT_DOUBLE_EQ(look_up_rate(table, "onednn", conv).rate_per_s, 30e9);
}

// With one view only in the results that view is used, whichever is preferred.
TEST(Rates, TheOnlyViewPresentIsUsed) {
  const ConvProblem conv{.n = 2, .c = 16, .h = 8, .w = 8, .k = 16, .r = 3, .s = 3, .pad_h = 1, .pad_w = 1};
  for (RateView preferred : {RateView::framework, RateView::vendor_best}) {
    RateTable plain_only;
    plain_only.prefer(preferred);
    plain_only.declare("custom-cpu", "custom", "cpu");
    plain_only.declare("onednn-plain", "vendor", "cpu", RateView::framework, "onednn");
    plain_only.add("onednn-plain", conv, 10e9);
    EXPECT_EQ(look_up_rate(plain_only, "custom-cpu", conv).backend, "onednn-plain");

    RateTable best_only;
    best_only.prefer(preferred);
    best_only.declare("onednn", "vendor", "cpu", RateView::vendor_best);
    best_only.add("onednn", conv, 30e9);
    EXPECT_EQ(look_up_rate(best_only, "onednn", conv).backend, "onednn");
  }
}

// ---- scaling ---------------------------------------------------------------------------------

TEST(Scaling, RingAllReduceFormula) {
  const Interconnect link{.bandwidth_bytes_per_s = 100e9, .latency_s = 5e-6};
  // 8 devices, 100 MB: 2·7/8 · 1e8/1e11 + 14 · 5e-6 = 1.75e-3 + 7e-5.
  EXPECT_NEAR(ring_allreduce_time_s(100e6, 8, link), 1.82e-3, 1e-15);
  EXPECT_DOUBLE_EQ(ring_allreduce_time_s(100e6, 1, link), 0);
  EXPECT_THROW(ring_allreduce_time_s(1, 0, link), std::invalid_argument);
}

TEST(Scaling, NcclTestsBusBandwidthFactor) {
  EXPECT_DOUBLE_EQ(allreduce_busbw_factor(1), 0);
  EXPECT_DOUBLE_EQ(allreduce_busbw_factor(2), 1);
  EXPECT_DOUBLE_EQ(allreduce_busbw_factor(8), 1.75);
  // 1 GB in 10 ms on 8 ranks: algbw 100 GB/s, busbw 175 GB/s.
  EXPECT_DOUBLE_EQ(allreduce_bus_bandwidth(1e9, 1e-2, 8), 175e9);
  // With zero latency the ring's busbw equals the link bandwidth B: the factor undoes 2(G−1)/G.
  const Interconnect link{.bandwidth_bytes_per_s = 50e9, .latency_s = 0};
  EXPECT_NEAR(allreduce_bus_bandwidth(1e9, ring_allreduce_time_s(1e9, 16, link), 16), 50e9, 1);
}

// predict and replay --ranks build the scaled step from an iteration the same way: every part in its
// place (a positional initialiser once put the gradient bytes into the optimizer's seconds).
TEST(Scaling, StepComputeTakesEachPartOfTheIteration) {
  IterationPrediction iteration;
  iteration.forward_time_s = 0.1;
  iteration.backward_time_s = 0.2;
  iteration.update_time_s = 0.03;
  const StepCompute step = step_compute(iteration, 4e8);
  EXPECT_EQ(step.forward_s, 0.1);
  EXPECT_EQ(step.backward_s, 0.2);
  EXPECT_EQ(step.update_s, 0.03);
  EXPECT_EQ(step.gradient_bytes, 4e8);
  const Interconnect link{.bandwidth_bytes_per_s = 100e9, .latency_s = 0};
  const ScalingPoint two = scale_step(step, 2, link, false);  // ring: 2·(1/2)·0.4 GB / 100 GB/s = 4 ms
  EXPECT_NEAR(two.compute_s, 0.33, 1e-12);
  EXPECT_NEAR(two.allreduce_s, 0.004, 1e-12);
  EXPECT_NEAR(two.step_s, 0.334, 1e-12);
}

TEST(Scaling, EfficiencyWithAndWithoutOverlap) {
  const Interconnect link{.bandwidth_bytes_per_s = 100e9, .latency_s = 0};
  const StepCompute step{.forward_s = 0.1, .backward_s = 0.2, .gradient_bytes = 8e9};  // 8 GB → 0.14 s on 8
  const ScalingPoint serial = scale_step(step, 8, link, false);
  EXPECT_NEAR(serial.allreduce_s, 0.14, 1e-12);
  EXPECT_NEAR(serial.step_s, 0.44, 1e-12);
  EXPECT_NEAR(serial.efficiency, 0.3 / 0.44, 1e-12);
  EXPECT_NEAR(serial.throughput_speedup, 8 * 0.3 / 0.44, 1e-12);
  const ScalingPoint hidden = scale_step(step, 8, link, true);  // 0.14 s fits under 0.2 s of backward
  EXPECT_DOUBLE_EQ(hidden.exposed_comm_s, 0);
  EXPECT_DOUBLE_EQ(hidden.efficiency, 1);
  const auto table = scaling_table(step, 12, link, false);
  ASSERT_EQ(table.size(), 5u);  // 1, 2, 4, 8, 12
  EXPECT_EQ(table.back().devices, 12);
  EXPECT_DOUBLE_EQ(table.front().efficiency, 1);
}

// E[max] by hand: with F_d each device's empirical CDF, E[max] = min + Σ (gap to the next pooled
// value) · (1 − Π F_d at the lower end).
TEST(StragglerWait, ExpectedSlowestOfTwoDevicesByHand) {
  // A {1, 3}, B {2}: the max is 2 (A drew 1) or 3 (A drew 3), each half the time.
  EXPECT_DOUBLE_EQ(expected_slowest_s({{1, 3}, {2}}), 2.5);
  // Sample order and counts don't matter, only the distributions: A {3, 1, 1, 3} is A {1, 3}.
  EXPECT_DOUBLE_EQ(expected_slowest_s({{3, 1, 1, 3}, {2}}), 2.5);
}

TEST(StragglerWait, ExpectedSlowestOfThreeDevicesByHand) {
  // A {1, 4}, B {2, 3}, C {3}: pooled 1, 2, 3, 4. P(max > t) on [1, 2): 1; [2, 3): 1 − ½·½·0 = 1;
  // [3, 4): 1 − ½·1·1 = ½. E = 1 + 1 + 1 + ½ = 3.5, as the four equally likely draws of A and B
  // give: max(1, 2, 3) = 3, max(1, 3, 3) = 3, max(4, 2, 3) = 4, max(4, 3, 3) = 4.
  EXPECT_DOUBLE_EQ(expected_slowest_s({{1, 4}, {2, 3}, {3}}), 3.5);
  const StragglerWait w = straggler_wait({{1, 4}, {2, 3}, {3}});
  EXPECT_DOUBLE_EQ(w.mean_iteration_s, (2.5 + 2.5 + 3) / 3);
  EXPECT_DOUBLE_EQ(w.wait_s, 3.5 - 8.0 / 3);
}

TEST(StragglerWait, OneDeviceWaitsForNobody) {
  EXPECT_DOUBLE_EQ(expected_slowest_s({{1, 4, 2, 3}}), 2.5);  // its mean
  EXPECT_EQ(straggler_wait({{1, 4, 2, 3}}).wait_s, 0);
}

TEST(StragglerWait, DevicesThatNeverDifferWaitNothing) {
  const StragglerWait w = straggler_wait({{0.375, 0.375, 0.375}, {0.375}, {0.375, 0.375}});
  EXPECT_EQ(w.expected_slowest_s, 0.375);
  EXPECT_EQ(w.wait_s, 0);
  // Two devices with the same spread still wait: A {1, 3}, B {1, 3} → E[max] = (1 + 3 + 3 + 3) / 4.
  EXPECT_DOUBLE_EQ(straggler_wait({{1, 3}, {1, 3}}).wait_s, 2.5 - 2);
}

TEST(StragglerWait, NoSamplesIsAnError) {
  EXPECT_THROW(expected_slowest_s({}), std::invalid_argument);
  EXPECT_THROW(expected_slowest_s({{1}, {}}), std::invalid_argument);
}

// The step pays the wait between compute and the all-reduce: 0.33 s + 0.01 s + 4 ms.
TEST(StragglerWait, AddsToTheScaledStep) {
  const StepCompute step{.forward_s = 0.1, .backward_s = 0.2, .update_s = 0.03, .gradient_bytes = 4e8};
  const Interconnect link{.bandwidth_bytes_per_s = 100e9, .latency_s = 0};
  const ScalingPoint two = scale_step(step, 2, link, false, 0.01);
  EXPECT_DOUBLE_EQ(two.straggler_wait_s, 0.01);
  EXPECT_NEAR(two.step_s, 0.344, 1e-12);
  EXPECT_NEAR(two.efficiency, 0.33 / 0.344, 1e-12);
  EXPECT_DOUBLE_EQ(scale_step(step, 2, link, false).straggler_wait_s, 0);  // predict: no samples, no term
}

// ---- reliability -----------------------------------------------------------------------------

TEST(Reliability, Llama3DeviceMtbf) {
  // 16,384 × 54 × 24 / 419 = 50,677.0 GPU-hours; 16,384 GPUs → job MTBF ≈ 3.1 h.
  EXPECT_NEAR(llama3_device_mtbf_h(), 50'677.0, 0.1);
  EXPECT_NEAR(job_mtbf_s(llama3_device_mtbf_h() * 3600, 16384) / 3600, 3.09, 0.01);
}

TEST(Reliability, YoungInterval) {
  // √(2 · 5 min · 24 h) = √(2 · 300 · 86400) = 7200 s exactly.
  EXPECT_DOUBLE_EQ(young_interval_s(300, 86400), 7200);
}

TEST(Reliability, DalyPublishedExamples) {
  // Daly 2006: δ = 5 min; M = 24 h → ~117 min, 6 h → ~57 min, 15 min → 9.1 min.
  EXPECT_NEAR(daly_interval_s(300, 24 * 3600) / 60, 116.69, 0.01);
  EXPECT_NEAR(daly_interval_s(300, 6 * 3600) / 60, 56.71, 0.01);
  EXPECT_NEAR(daly_interval_s(300, 15 * 60) / 60, 9.14, 0.01);
  // δ >= 2M: checkpoint at the MTBF.
  EXPECT_DOUBLE_EQ(daly_interval_s(100, 50), 50);
}

TEST(Reliability, FirstOrderWallClock) {
  // T_s = 100 h, τ = 2 h, δ = 0.1 h, R = 0.4 h, M = 20 h:
  // T_w = 100·(1 + 0.05) / (1 − (0.4 + 1.05)/20) = 105 / 0.9275.
  EXPECT_NEAR(expected_wall_clock_s(100, 2, 0.1, 0.4, 20), 105 / 0.9275, 1e-12);
  EXPECT_TRUE(std::isinf(expected_wall_clock_s(100, 30, 1, 5, 10)));
  // No failures (M → ∞): only checkpoint cost remains.
  EXPECT_NEAR(expected_wall_clock_s(100, 10, 1, 5, 1e30), 110, 1e-9);
}

TEST(Reliability, FailureProbabilitiesAndSpares) {
  EXPECT_DOUBLE_EQ(probability_no_failure(0, 10), 1);
  EXPECT_NEAR(probability_no_failure(10, 10), std::exp(-1), 1e-15);
  // Poisson mean 2: P(F <= 0) = e^-2, P(F <= 2) = 5e^-2.
  EXPECT_NEAR(probability_at_most_failures(0, 20, 10), std::exp(-2), 1e-15);
  EXPECT_NEAR(probability_at_most_failures(2, 20, 10), 5 * std::exp(-2), 1e-15);
  // E[(F − 0)+] = mean; E[(F − 1)+] = mean − P(F >= 1) = 2 − (1 − e^-2).
  EXPECT_NEAR(expected_failures_beyond(0, 20, 10), 2, 1e-12);
  EXPECT_NEAR(expected_failures_beyond(1, 20, 10), 1 + std::exp(-2), 1e-12);
}

TEST(Reliability, AssessmentUsesDalyIntervalAndJobMtbf) {
  const ReliabilityOptions o{.device_mtbf_s = 8 * 86400, .checkpoint_s = 300, .restart_s = 600, .spares = 1};
  const auto r = assess_reliability(86400, 8, o);  // job MTBF 24 h
  EXPECT_DOUBLE_EQ(r.job_mtbf_s, 86400);
  EXPECT_NEAR(r.daly_interval_s / 60, 116.69, 0.01);
  EXPECT_DOUBLE_EQ(r.wall_clock_s, expected_wall_clock_s(86400, r.daly_interval_s, 300, 600, 86400));
  EXPECT_NEAR(r.p_no_failure, std::exp(-1), 1e-15);
  EXPECT_GT(r.p_spares_suffice, probability_no_failure(r.wall_clock_s, 86400));
}

// ---- whole prediction ------------------------------------------------------------------------

RateTable uniform_table(const Network& net, const std::string& backend, double rate) {
  RateTable table;
  for (const Problem& p : training_problems(net)) table.add(backend, p, rate);
  return table;
}

TEST(Prediction, JsonKeysAreStable) {
  const Network net = resnet50(2, 64);
  RateTable table = uniform_table(net, "onednn", 10e9);
  for (const Problem& p : training_problems(net)) table.add("custom-cpu", p, 20e9);
  PredictOptions options;
  options.dataset_samples = 1000, options.epochs = 2, options.devices = 4;
  const Prediction p = predict(net, table, "custom-cpu", std::string("onednn"), options);
  const auto j = to_json(p);
  for (const char* key : {"network", "iteration_time_s", "epoch_time_s", "total_time_s", "layers", "speedup",
                          "scaling", "reliability", "flop_rule", "backend"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_EQ(j["network"], "resnet50");
  double work_units = 0;  // FLOPs and bytes, every one at 20e9 per second here
  for (const LayerPass& pass : lower_training_step(net)) work_units += work(pass.problem) * double(pass.count);
  EXPECT_NEAR(j["iteration_time_s"].get<double>(), work_units / 20e9, 1e-12);
  EXPECT_NEAR(j["compute_time_s"].get<double>(), training_flops(net) / 20e9, 1e-12);
  EXPECT_GT(j["memory_time_s"].get<double>(), 0);
  EXPECT_GT(j["update_time_s"].get<double>(), 0);
  EXPECT_EQ(j["optimizer"], "sgd");
  EXPECT_EQ(j["speedup"]["old_backend"], "onednn");
  EXPECT_EQ(j["speedup"]["new_backend"], "custom-cpu");
  EXPECT_NEAR(j["speedup"]["compute_only"]["ratio"].get<double>(), 2, 1e-12);
  EXPECT_NEAR(j["speedup"]["compute_only"]["time_reduction"].get<double>(), 0.5, 1e-12);
  EXPECT_EQ(j["scaling"].size(), 3u);  // 1, 2, 4
  EXPECT_EQ(j["layers"][0]["name"], "conv1");
  EXPECT_NEAR(j["layers"][0]["ratio"].get<double>(), 2, 1e-12);
  EXPECT_EQ(j["iterations_per_epoch"], 125);  // 1000 / (2 · 4)
  EXPECT_FALSE(format_prediction(p).empty());
}

TEST(Prediction, ChoosesTheBackendCoveringMostProblems) {
  const Network net = bert_base(1, 16);
  RateTable table = uniform_table(net, "openblas", 1e9);
  table.add("custom-cpu", training_problems(net).front(), 2e9);
  EXPECT_EQ(choose_backend(table, training_problems(net)), "openblas");
}

// The rates of one prediction can come from several backends (a kind the requested backend lacks
// borrows its vendor's): each kind names who supplied its FLOPs' rates, and how much had none.
TEST(Prediction, NamesWhoSuppliedEachKindsRates) {
  const ConvProblem conv{.n = 1, .c = 10, .h = 100, .w = 100, .k = 10};  // 2·10·100·100·10 = 2e6 FLOPs
  const std::vector<LayerPass> passes{{"c", "fwd", Phase::forward, conv, 1},
                                      {"f", "fwd", Phase::forward, GemmProblem{100, 100, 100}, 1},        // 2e6
                                      {"f", "bwd-data", Phase::backward, GemmProblem{200, 200, 200}, 1}};  // 16e6
  const auto p = predict_iteration(passes, [](const Problem& q) {
    if (std::holds_alternative<ConvProblem>(q)) return RateLookup{1e9, RateOrigin::measured, "onednn", {}};
    if (flops(q) < 3e6) return RateLookup{1e9, RateOrigin::estimated, "openblas", "gemm 90x90x90 NN fp32"};
    return RateLookup{0, RateOrigin::missing, "openblas", {}};
  });
  const std::vector<RateSupplier> all = rate_sources(p, false);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].backend, "");  // no rate: 16e6 of 20e6
  EXPECT_DOUBLE_EQ(all[0].share, 0.8);
  EXPECT_EQ(all[1].backend, "onednn");
  EXPECT_DOUBLE_EQ(all[1].share, 0.1);
  EXPECT_EQ(all[2].backend, "openblas");
  EXPECT_DOUBLE_EQ(all[2].share, 0.1);
  const std::vector<RateSupplier> by_kind = rate_sources_by_kind(p);
  ASSERT_EQ(by_kind.size(), 3u);
  EXPECT_EQ(by_kind[0].kind, "conv-fwd");
  EXPECT_EQ(by_kind[0].backend, "onednn");
  EXPECT_DOUBLE_EQ(by_kind[0].share, 1.0);
  EXPECT_EQ(by_kind[1].kind, "gemm");
  EXPECT_EQ(by_kind[1].backend, "");
  EXPECT_DOUBLE_EQ(by_kind[1].share, 16.0 / 18);
  EXPECT_EQ(by_kind[2].backend, "openblas");
  EXPECT_DOUBLE_EQ(by_kind[2].share, 2.0 / 18);
  // Measured, estimated and missing shares of the FLOPs; layers with any pass not measured.
  const RateCoverage c = rate_coverage(p);
  EXPECT_DOUBLE_EQ(c.flops.measured, 0.1);
  EXPECT_DOUBLE_EQ(c.flops.estimated, 0.1);
  EXPECT_DOUBLE_EQ(c.flops.missing, 0.8);
  EXPECT_EQ(c.layers, 2);
  EXPECT_EQ(c.layers_not_measured, 1);
}

TEST(Prediction, HumanDurations) {
  EXPECT_EQ(human_duration(0.5), "500.00 ms");
  EXPECT_EQ(human_duration(90), "90.00 s");
  EXPECT_EQ(human_duration(3600), "60.0 min");
  EXPECT_EQ(human_duration(3 * 86400), "3.0 days");
}

}  // namespace
}  // namespace trainrate
