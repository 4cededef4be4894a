// custom-cpu: our hand-written kernels (kernels/cpu), the packed GEMM and the convolutions
// built on it, fp32 throughout and bf16 GEMM where the CPU has AVX512-BF16 or AMX-BF16. "custom-cpu" lets the
// kernels pick the best micro-kernel for this CPU and dtype; "custom-cpu/<micro-kernel>" forces
// one, so users and tests can see what each buys.
#include <fmt/format.h>

#include <memory>

#include "backends/cpu/cpu_backends.hpp"
#include "backends/cpu/cpu_prepared.hpp"
#include "backends/cpu/custom_cpu_memory.hpp"
#include "devices/cpu_device.hpp"
#include "kernels/cpu/conv.hpp"
#include "kernels/cpu/gemm.hpp"

namespace trainrate {

namespace {

namespace kc = kernels::cpu;

// A forced micro-kernel is a GEMM choice: its variants time GEMM and conv, and the family backend
// also runs the memory-bound layers.
std::vector<std::string> families(const std::optional<kc::MicroKernel>& forced) {
  if (forced) return {"gemm", "conv"};
  return {"gemm", "conv", "memory"};
}

class CustomCpuBackend final : public Backend {
 public:
  explicit CustomCpuBackend(std::optional<kc::MicroKernel> forced)
      : Backend({forced ? fmt::format("custom-cpu/{}", kc::to_string(*forced)) : "custom-cpu", BackendRole::custom,
                 "cpu", {"openblas", "onednn"}, families(forced), {Dtype::fp32, Dtype::bf16}}),
        forced_(forced) {}
  Device& device() const override { return CpuDevice::instance(); }

  std::optional<std::string> reason_beyond_facts(const Problem& problem) const override {
    const Dtype dtype = dtype_of(problem);
    if (auto reason = cpu_dtype_unsupported(problem, name(), true)) return reason;
    if (forced_ && kc::input_dtype(*forced_) != dtype) {
      return fmt::format("micro-kernel {} multiplies {}, not {}", kc::to_string(*forced_),
                         to_string(kc::input_dtype(*forced_)), to_string(dtype));
    }
    if (dtype == Dtype::bf16 && !forced_ && !kc::best_bf16_micro_kernel()) {
      return std::string("bf16 GEMM needs AVX512-BF16 or AMX-BF16, which this CPU (or its OS) does not offer");
    }
    return std::nullopt;
  }

  std::unique_ptr<PreparedProblem> prepare(const Problem& problem, const HostInputs& inputs) override {
    if (const auto* memory = std::get_if<MemoryProblem>(&problem)) return prepare_custom_memory(*memory, inputs);
    const kc::GemmOptions options{CpuDevice::instance().threads(), forced_};
    if (const auto* gemm = std::get_if<GemmProblem>(&problem)) return prepare_gemm(*gemm, inputs, options);
    const ConvProblem conv = std::get<ConvProblem>(problem);
    // The filters are packed into the GEMM's panels here, once, outside the timed runs: the same
    // treatment the onednn backend gives oneDNN, whose weights are reordered into its blocked
    // layout in prepare().
    auto filters = std::make_shared<const kc::PackedFilters>(conv, inputs.in1.data(), options);
    auto kernel = [conv, options, filters, in0 = inputs.in0, in1 = inputs.in1](float* out) {
      kc::conv2d(conv, in0.data(), in1.data(), out, options, filters.get());
    };
    const bool reads_filters = conv.pass != ConvPass::backward_filter;
    const std::string algorithm = describe(forced_.value_or(kc::best_micro_kernel()));
    return std::make_unique<CpuPrepared>(problem, std::move(kernel),
                                         reads_filters ? algorithm + ", filters packed in prepare" : algorithm);
  }

 private:
  static std::string describe(kc::MicroKernel micro_kernel) {
    return fmt::format("packed gemm, micro-kernel {}", kc::to_string(micro_kernel));
  }

  // bf16 A and B are converted once here, outside the timed runs, as the onednn backend does;
  // the GEMM then reads them as bf16 and writes C in fp32.
  std::unique_ptr<PreparedProblem> prepare_gemm(const GemmProblem& g, const HostInputs& inputs,
                                                const kc::GemmOptions& options) const {
    if (g.dtype == Dtype::bf16) {
      auto kernel = [g, options, a = to_bf16_bits(inputs.in0), b = to_bf16_bits(inputs.in1)](float* c) {
        for (int64_t i = 0; i < g.batch; ++i) {
          kc::gemm_bf16(g.op_a, g.op_b, g.m, g.n, g.k, 1.0f, a.data() + i * g.a_elements(), g.lda(),
                        b.data() + i * g.b_elements(), g.ldb(), 0.0f, c + i * g.c_elements(), g.ldc(), options);
        }
      };
      const kc::MicroKernel used = forced_ ? *forced_ : *kc::best_bf16_micro_kernel();
      return std::make_unique<CpuPrepared>(Problem{g}, std::move(kernel), describe(used) + ", bf16 in, fp32 out");
    }
    auto kernel = [g, options, a = inputs.in0, b = inputs.in1](float* c) {
      for (int64_t i = 0; i < g.batch; ++i) {
        kc::sgemm(g.op_a, g.op_b, g.m, g.n, g.k, 1.0f, a.data() + i * g.a_elements(), g.lda(),
                  b.data() + i * g.b_elements(), g.ldb(), 0.0f, c + i * g.c_elements(), g.ldc(), options);
      }
    };
    return std::make_unique<CpuPrepared>(Problem{g}, std::move(kernel), describe(forced_.value_or(kc::best_micro_kernel())));
  }

  std::optional<kc::MicroKernel> forced_;
};

}  // namespace

std::vector<std::unique_ptr<Backend>> make_custom_cpu_backends() {
  std::vector<std::unique_ptr<Backend>> backends;
  backends.push_back(std::make_unique<CustomCpuBackend>(std::nullopt));
  for (Dtype input : {Dtype::fp32, Dtype::bf16}) {
    for (kc::MicroKernel micro_kernel : kc::available_micro_kernels(input)) {
      backends.push_back(std::make_unique<CustomCpuBackend>(micro_kernel));
    }
  }
  return backends;
}

}  // namespace trainrate
