// custom-cpu: our hand-written kernels (kernels/cpu), the packed GEMM and the convolutions
// built on it. "custom-cpu" lets the kernels pick the best micro-kernel for this CPU;
// "custom-cpu/<micro-kernel>" forces one, so users and tests can see what each buys.
#include <fmt/format.h>

#include <memory>

#include "backends/cpu/cpu_backends.hpp"
#include "backends/cpu/cpu_prepared.hpp"
#include "devices/cpu_device.hpp"
#include "kernels/cpu/conv.hpp"
#include "kernels/cpu/gemm.hpp"

namespace trainrate {

namespace {

namespace kc = kernels::cpu;

class CustomCpuBackend final : public Backend {
 public:
  explicit CustomCpuBackend(std::optional<kc::MicroKernel> forced) : forced_(forced) {}

  std::string name() const override {
    return forced_ ? fmt::format("custom-cpu/{}", kc::to_string(*forced_)) : "custom-cpu";
  }
  BackendRole role() const override { return BackendRole::custom; }
  Device& device() const override { return CpuDevice::instance(); }

  std::optional<std::string> unsupported_reason(const Problem& problem) const override {
    return cpu_dtype_unsupported(problem);
  }

  std::unique_ptr<PreparedProblem> prepare(const Problem& problem, const HostInputs& inputs) override {
    const kc::GemmOptions options{CpuDevice::instance().threads(), forced_};
    const std::string algorithm =
        fmt::format("packed gemm, micro-kernel {}", kc::to_string(forced_.value_or(kc::best_micro_kernel())));
    if (const auto* gemm = std::get_if<GemmProblem>(&problem)) {
      const GemmProblem g = *gemm;
      auto kernel = [g, options](const float* a, const float* b, float* c) {
        for (int64_t i = 0; i < g.batch; ++i) {
          kc::sgemm(g.op_a, g.op_b, g.m, g.n, g.k, 1.0f, a + i * g.a_elements(), g.lda(), b + i * g.b_elements(),
                    g.ldb(), 0.0f, c + i * g.c_elements(), g.ldc(), options);
        }
      };
      return std::make_unique<CpuPrepared>(problem, inputs, kernel, algorithm);
    }
    const ConvProblem conv = std::get<ConvProblem>(problem);
    // The filters are packed into the GEMM's panels here, once, outside the timed runs: the same
    // treatment the onednn backend gives oneDNN, whose weights are reordered into its blocked
    // layout in prepare().
    auto filters = std::make_shared<const kc::PackedFilters>(conv, inputs.in1.data(), options);
    auto kernel = [conv, options, filters](const float* in0, const float* in1, float* out) {
      kc::conv2d(conv, in0, in1, out, options, filters.get());
    };
    const bool reads_filters = conv.pass != ConvPass::backward_filter;
    return std::make_unique<CpuPrepared>(problem, inputs, kernel,
                                         reads_filters ? algorithm + ", filters packed in prepare" : algorithm);
  }

 private:
  std::optional<kc::MicroKernel> forced_;
};

}  // namespace

std::vector<std::unique_ptr<Backend>> make_custom_cpu_backends() {
  std::vector<std::unique_ptr<Backend>> backends;
  backends.push_back(std::make_unique<CustomCpuBackend>(std::nullopt));
  for (kc::MicroKernel micro_kernel : kc::available_micro_kernels()) {
    backends.push_back(std::make_unique<CustomCpuBackend>(micro_kernel));
  }
  return backends;
}

}  // namespace trainrate
