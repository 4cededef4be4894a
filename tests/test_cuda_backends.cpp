// The GPU backends (cublas, cudnn, custom-cuda and every ladder variant) against the reference.
//
// Only in CUDA builds (binary trainrate_cuda_tests). Without a usable GPU every test skips with
// the reason append_cuda_backends gives ("no CUDA device found", "CUDA driver ... older than runtime ...").
// On a GPU: odd shapes around the tile sizes, every transpose, strided batch, every conv pass and
// layout, every dtype a backend claims, and every memory-bound op and pass on cudnn and custom-cuda;
// outputs checked by the shared verifier (exhaustive for these sizes, sampled for the large ones),
// whose tolerance grows with dtype and sqrt(K).
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "backends/cuda/cuda_backends.hpp"
#include "cuda_conv_cases.hpp"
#include "cuda_memory_cases.hpp"
#include "problems/suite.hpp"
#include "verify/verify.hpp"

namespace trainrate {
namespace {

struct GpuBackends {
  std::vector<std::unique_ptr<Backend>> backends;
  std::string reason;  // empty when a GPU is usable
};

GpuBackends& gpu() {
  static GpuBackends g = [] {
    GpuBackends made;
    made.reason = append_cuda_backends(made.backends);
    return made;
  }();
  return g;
}

#define REQUIRE_GPU()                                      \
  do {                                                     \
    if (!gpu().reason.empty()) GTEST_SKIP() << gpu().reason; \
  } while (0)

Backend* backend_named(const std::string& name) {
  for (auto& b : gpu().backends)
    if (b->name() == name) return b.get();
  return nullptr;
}

constexpr Dtype kDtypes[] = {Dtype::fp32, Dtype::tf32, Dtype::fp16, Dtype::bf16};

// An optimizer step updates its state in place, so only its first run has the reference's answer.
bool steps_in_place(const Problem& p) {
  const auto* m = std::get_if<MemoryProblem>(&p);
  return m && (m->op == MemoryOp::sgd_momentum || m->op == MemoryOp::adamw);
}

// Runs `p` on `b` twice (a run must not accumulate into the output; an optimizer step runs once)
// and verifies it. Returns false when the backend declines the problem.
bool run_and_verify(Backend& b, const Problem& p) {
  if (b.unsupported_reason(p)) return false;
  const HostInputs inputs = make_inputs(p, 11);
  std::unique_ptr<PreparedProblem> prepared;
  try {
    prepared = b.prepare(p, inputs);
    prepared->run();
    if (!steps_in_place(p)) prepared->run();
    const std::vector<float> out = prepared->output();
    const Verification v = verify(p, inputs, out);
    EXPECT_TRUE(passed(v)) << b.name() << " [" << prepared->algorithm() << "] " << describe(p) << ": "
                           << v.mismatches << " of " << v.elements_checked << " wrong, max error " << v.max_error
                           << " (tolerance " << v.tolerance << "); first: " << v.first_mismatch;
  } catch (const std::exception& e) {
    ADD_FAILURE() << b.name() << " " << describe(p) << " threw: " << e.what();
  }
  return true;
}

TEST(CudaBackends, AppendGivesBackendsOrAReason) {
  if (!gpu().reason.empty()) {
    EXPECT_TRUE(gpu().backends.empty());
    GTEST_SKIP() << gpu().reason;
  }
  std::set<std::string> names;
  for (auto& b : gpu().backends) names.insert(b->name());
  for (const char* expected :
       {"cublas", "cudnn", "custom-cuda", "custom-cuda/sgemm-naive", "custom-cuda/sgemm-smem", "custom-cuda/sgemm-regtile",
        "custom-cuda/sgemm-warptile", "custom-cuda/sgemm-dbuf", "custom-cuda/hgemm-wmma", "custom-cuda/hgemm-mma",
        "custom-cuda/conv-implicit", "custom-cuda/conv-implicit-wmma"})
    EXPECT_TRUE(names.count(expected)) << expected;
  for (auto& b : gpu().backends) {
    EXPECT_EQ(b->role(), b->name().rfind("custom-cuda", 0) == 0 ? BackendRole::custom : BackendRole::vendor);
    EXPECT_EQ(b->device().kind(), "cuda");
  }
}

TEST(CudaBackends, DeviceInfoTimerAndFlush) {
  REQUIRE_GPU();
  Device& device = gpu().backends.front()->device();
  const DeviceInfo& info = device.info();
  EXPECT_EQ(info.kind, "cuda");
  EXPECT_FALSE(info.name.empty());
  for (const char* key : {"compute_capability", "sm_count", "sm_clock_max_mhz", "l2_cache_bytes", "driver_version",
                          "runtime_version", "cublas_version", "cudnn_version"})
    EXPECT_TRUE(info.properties.count(key)) << key;
  EXPECT_GT(info.peaks.measured_flops_per_s.count(Dtype::fp32), 0u) << "FMA ceiling not measured";
  EXPECT_TRUE(info.peaks.measured_bytes_per_s.has_value()) << "triad not measured";
  if (info.peaks.datasheet_flops_per_s.count(Dtype::fp32)) {
    const double ratio = info.peaks.measured_flops_per_s.at(Dtype::fp32) / info.peaks.datasheet_flops_per_s.at(Dtype::fp32);
    EXPECT_GT(ratio, 0.5) << "FMA ceiling far below the datasheet";
    EXPECT_LT(ratio, 1.1) << "FMA ceiling above the datasheet: table or FLOP count wrong";
  }
  // The mma.sync ceiling on sm_80+; below the datasheet tensor figure, which needs wgmma on sm_90+.
  if (std::stoi(info.properties.at("compute_capability")) >= 8) {
    ASSERT_TRUE(info.properties.count("mma_sync_fp16_ceiling_tflops")) << "mma.sync ceiling not measured";
    if (info.peaks.datasheet_flops_per_s.count(Dtype::fp16)) {
      const double ratio = std::stod(info.properties.at("mma_sync_fp16_ceiling_tflops")) * 1e12 /
                           info.peaks.datasheet_flops_per_s.at(Dtype::fp16);
      EXPECT_GT(ratio, 0.3) << "mma.sync ceiling far below the datasheet";
      EXPECT_LT(ratio, 1.1) << "mma.sync ceiling above the datasheet: FLOP count wrong";
    }
  } else {
    EXPECT_TRUE(info.properties.count("mma_sync_ceiling_skipped"));
  }
  if (info.peaks.datasheet_bytes_per_s) {
    const double ratio = *info.peaks.measured_bytes_per_s / *info.peaks.datasheet_bytes_per_s;
    EXPECT_GT(ratio, 0.4);
    EXPECT_LT(ratio, 1.05);
  }

  Backend* cublas = backend_named("cublas");
  ASSERT_NE(cublas, nullptr);
  const Problem p = GemmProblem{512, 512, 512, Op::N, Op::N, Dtype::fp32, 1};
  auto prepared = cublas->prepare(p, make_inputs(p, 3));
  auto timer = device.make_timer();
  device.flush_caches();
  timer->start();
  prepared->run();
  const double ms = timer->stop_ms();
  EXPECT_GT(ms, 0.0);
  EXPECT_LT(ms, 1000.0);
  // A GPU node has the driver's NVML: the state measure() records for throttling must be there.
  const std::optional<DeviceState> state = device.state();
  ASSERT_TRUE(state.has_value()) << "no NVML (libnvidia-ml.so.1) on a machine with a GPU";
  EXPECT_GT(state->sm_clock_mhz.value_or(0), 0);
  EXPECT_GT(state->temperature_c.value_or(0), 0);
  EXPECT_GT(state->power_w.value_or(0), 0);
}

TEST(CudaBackends, GemmOddShapesEveryTransposeEveryDtype) {
  REQUIRE_GPU();
  struct Shape {
    int64_t m, n, k, batch;
  };
  const Shape shapes[] = {{1, 1, 1, 1},     {37, 53, 71, 1},   {129, 65, 33, 1}, {128, 128, 128, 1},
                          {200, 136, 264, 1}, {67, 300, 520, 1}, {33, 45, 70, 3},  {64, 64, 40, 2}};
  std::set<std::string> exercised;
  for (const Shape& s : shapes)
    for (Op op_a : {Op::N, Op::T})
      for (Op op_b : {Op::N, Op::T})
        for (Dtype dtype : kDtypes) {
          const Problem p = GemmProblem{s.m, s.n, s.k, op_a, op_b, dtype, s.batch};
          for (auto& b : gpu().backends)
            if (run_and_verify(*b, p)) exercised.insert(b->name() + " " + std::string(to_string(dtype)));
        }
  // Every backend ran every dtype it should on any sm_80+ GPU (fewer on older ones).
  for (const char* must : {"cublas fp32", "cublas fp16", "custom-cuda fp32", "custom-cuda fp16",
                           "custom-cuda/sgemm-naive fp32", "custom-cuda/sgemm-dbuf fp32", "custom-cuda/hgemm-wmma fp16"})
    EXPECT_TRUE(exercised.count(must)) << must;
}

TEST(CudaBackends, GemmLargeUnalignedSampled) {
  REQUIRE_GPU();
  for (Dtype dtype : kDtypes)
    for (auto [op_a, op_b] : {std::pair{Op::N, Op::N}, {Op::T, Op::T}, {Op::N, Op::T}}) {
      const Problem p = GemmProblem{1000, 1030, 1100, op_a, op_b, dtype, 1};
      for (auto& b : gpu().backends) run_and_verify(*b, p);
    }
  // Aligned, multi-tile, where the vectorized/cp.async paths carry everything.
  for (Dtype dtype : kDtypes) {
    const Problem p = GemmProblem{1024, 512, 768, Op::T, Op::N, dtype, 1};
    for (auto& b : gpu().backends) run_and_verify(*b, p);
  }
}

TEST(CudaBackends, ConvEveryPassLayoutAndDtype) {
  REQUIRE_GPU();
  std::set<std::string> exercised;
  for (ConvProblem base : testing::cuda_conv_shapes())
    for (Layout layout : {Layout::NCHW, Layout::NHWC})
      for (ConvPass pass : {ConvPass::forward, ConvPass::backward_data, ConvPass::backward_filter})
        for (Dtype dtype : kDtypes) {
          ConvProblem cp = base;
          cp.layout = layout;
          cp.pass = pass;
          cp.dtype = dtype;
          for (auto& b : gpu().backends)
            if (run_and_verify(*b, cp)) exercised.insert(b->name() + " " + std::string(to_string(dtype)));
        }
  for (const char* must : {"cudnn fp32", "cudnn fp16", "custom-cuda fp32", "custom-cuda/conv-implicit fp32",
                           "custom-cuda/conv-implicit-wmma fp16"})
    EXPECT_TRUE(exercised.count(must)) << must;
}

TEST(CudaBackends, ConvResnetShapeSampled) {
  REQUIRE_GPU();
  ConvProblem cp;
  cp.n = 4, cp.c = 64, cp.h = 56, cp.w = 56, cp.k = 64, cp.r = 3, cp.s = 3, cp.pad_h = 1, cp.pad_w = 1;
  for (Layout layout : {Layout::NCHW, Layout::NHWC})
    for (ConvPass pass : {ConvPass::forward, ConvPass::backward_data, ConvPass::backward_filter})
      for (Dtype dtype : {Dtype::fp32, Dtype::fp16}) {
        cp.layout = layout;
        cp.pass = pass;
        cp.dtype = dtype;
        for (const char* name : {"cudnn", "custom-cuda"})
          if (Backend* b = backend_named(name)) run_and_verify(*b, cp);
      }
}

// The smoke suite's memory-bound problems and the odd shapes of cuda_memory_cases.hpp, which the
// host emulation also runs (cuda_host/) on custom-cuda's kernels.
std::vector<MemoryProblem> memory_cases() {
  std::vector<MemoryProblem> cases = testing::cuda_memory_cases();
  for (const Problem& p : load_suite("smoke", SuiteParams{.kinds = {"memory"}}).problems)
    cases.push_back(std::get<MemoryProblem>(p));
  return cases;
}

TEST(CudaBackends, MemoryBoundEveryOpPassAndDtype) {
  REQUIRE_GPU();
  std::set<std::string> exercised;
  for (MemoryProblem m : memory_cases())
    for (Dtype dtype : kDtypes) {
      m.dtype = dtype;
      for (const char* name : {"custom-cuda", "cudnn"}) {
        Backend* b = backend_named(name);
        ASSERT_NE(b, nullptr) << name;
        if (run_and_verify(*b, m)) exercised.insert(std::string(name) + " " + kind_label(m) + " " + std::string(to_string(dtype)));
      }
    }
  // Everything the rules (memory_rules.hpp, pinned by test_cuda_memory_rules.cpp) admit ran.
  for (const char* kind : {"relu-fwd", "relu-bwd", "gelu-fwd", "gelu-bwd", "bn-fwd", "bn-bwd", "ln-fwd", "ln-bwd",
                           "maxpool-fwd", "maxpool-bwd", "avgpool-fwd", "avgpool-bwd", "softmax-fwd", "softmax-bwd",
                           "add", "bias-add", "xent-fwd", "xent-bwd", "embed-fwd", "embed-bwd", "sgd", "adamw",
                           "sgd-torch", "adamw-torch", "sgd-keras", "adamw-keras"})
    EXPECT_TRUE(exercised.count(std::string("custom-cuda ") + kind + " fp32")) << kind;
  for (const char* kind : {"relu-bwd", "gelu-fwd", "ln-bwd", "add", "bias-add", "softmax-fwd"})
    for (const char* dtype : {" fp16", " bf16"})
      EXPECT_TRUE(exercised.count(std::string("custom-cuda ") + kind + dtype)) << kind << dtype;
  for (const char* kind : {"relu-fwd", "relu-bwd", "bn-fwd", "bn-bwd", "maxpool-fwd", "maxpool-bwd", "avgpool-fwd",
                           "avgpool-bwd", "softmax-fwd", "softmax-bwd", "add", "bias-add"})
    EXPECT_TRUE(exercised.count(std::string("cudnn ") + kind + " fp32")) << kind;
  for (const char* kind : {"relu-bwd", "softmax-bwd", "bias-add"})
    EXPECT_TRUE(exercised.count(std::string("cudnn ") + kind + " fp16")) << kind;
}

TEST(CudaBackends, UnsupportedReasonsAreSpecific) {
  REQUIRE_GPU();
  const Problem tf32 = GemmProblem{64, 64, 64, Op::N, Op::N, Dtype::tf32, 1};
  EXPECT_EQ(backend_named("custom-cuda")->unsupported_reason(tf32).value_or(""), "tf32 not implemented in custom-cuda");
  const Problem conv = ConvProblem{};
  EXPECT_TRUE(backend_named("cublas")->unsupported_reason(conv).has_value());
  EXPECT_TRUE(backend_named("custom-cuda/sgemm-dbuf")->unsupported_reason(conv).has_value());
  const Problem gemm = GemmProblem{};
  EXPECT_TRUE(backend_named("cudnn")->unsupported_reason(gemm).has_value());
  const Problem half = GemmProblem{64, 64, 64, Op::N, Op::N, Dtype::fp16, 1};
  EXPECT_EQ(backend_named("custom-cuda/sgemm-naive")->unsupported_reason(half).value_or(""),
            "sgemm-naive runs fp32 only");
  // Memory-bound layers: the family backend only, and cudnn with the reason its rule gives.
  const Problem relu = MemoryProblem{.op = MemoryOp::relu, .elements = 10};
  EXPECT_EQ(backend_named("custom-cuda")->unsupported_reason(relu), std::nullopt);
  EXPECT_EQ(backend_named("cudnn")->unsupported_reason(relu), std::nullopt);
  EXPECT_EQ(backend_named("custom-cuda/conv-implicit")->unsupported_reason(relu).value_or(""),
            "custom-cuda/conv-implicit has no memory-bound layers");
  EXPECT_EQ(backend_named("cublas")->unsupported_reason(relu).value_or(""), "cublas has no memory-bound layers");
  const Problem layernorm = MemoryProblem{.op = MemoryOp::layernorm};
  EXPECT_EQ(backend_named("cudnn")->unsupported_reason(layernorm).value_or(""), "cuDNN's legacy API has no layer norm");
}

}  // namespace
}  // namespace trainrate
