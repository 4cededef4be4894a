// openblas: the vendor GEMM on CPU (cblas_sgemm, column-major, one call per batch entry).
#include <cblas.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <string_view>

#include "backends/cpu/cpu_backends.hpp"
#include "backends/cpu/cpu_prepared.hpp"
#include "devices/cpu_device.hpp"

namespace trainrate {

namespace {

CBLAS_TRANSPOSE to_cblas(Op op) { return op == Op::N ? CblasNoTrans : CblasTrans; }

class OpenblasBackend final : public Backend {
 public:
  std::string name() const override { return "openblas"; }
  BackendRole role() const override { return BackendRole::vendor; }
  Device& device() const override { return CpuDevice::instance(); }

  std::optional<std::string> unsupported_reason(const Problem& problem) const override {
    if (!std::holds_alternative<GemmProblem>(problem)) return "openblas has no convolution";
    return cpu_dtype_unsupported(problem, "openblas (this build has no sbgemm)", false);
  }

  std::unique_ptr<PreparedProblem> prepare(const Problem& problem, const HostInputs& inputs) override {
    const GemmProblem g = std::get<GemmProblem>(problem);
    openblas_set_num_threads(CpuDevice::instance().threads());
    auto kernel = [g, a_host = inputs.in0, b_host = inputs.in1](float* c) {
      const float* a = a_host.data();
      const float* b = b_host.data();
      for (int64_t i = 0; i < g.batch; ++i) {
        cblas_sgemm(CblasColMajor, to_cblas(g.op_a), to_cblas(g.op_b), blasint(g.m), blasint(g.n), blasint(g.k), 1.0f,
                    a + i * g.a_elements(), blasint(g.lda()), b + i * g.b_elements(), blasint(g.ldb()), 0.0f,
                    c + i * g.c_elements(), blasint(g.ldc()));
      }
    };
    return std::make_unique<CpuPrepared>(problem, std::move(kernel), openblas_get_config());
  }
};

// Set for the restarted process (see use_openblas_kernels_for_this_cpu): the core OpenBLAS had
// picked by itself, so the results can say that the choice was ours.
constexpr const char* kDetectedCoreVariable = "TRAINRATE_OPENBLAS_DETECTED_CORE";

// OpenBLAS's x86 cores without AVX2: on a CPU with AVX2 one of these is a CPU that the library
// did not recognise (0.3.21 falls back to Prescott for any Intel model newer than it).
bool is_pre_avx2_core(std::string_view core) {
  constexpr std::array<std::string_view, 16> cores{
      "Katmai", "Coppermine", "Northwood", "Prescott", "Banias", "Atom", "Core2", "Penryn",
      "Dunnington", "Nehalem", "Sandybridge", "Athlon", "Opteron", "Opteron_SSE3", "Barcelona", "Nano"};
  for (std::string_view known : cores) {
    if (core == known) return true;
  }
  return false;
}

// The OPENBLAS_CORETYPE whose kernels use what this CPU has, for a build that knows every one of
// these names (0.3.10 and later); empty when the CPU has no AVX2 and nothing is to be gained.
std::string_view best_core_for_this_cpu() {
#if defined(__x86_64__)
  if (__builtin_cpu_supports("avx512bf16")) return "Cooperlake";  // SkylakeX's SGEMM plus bf16
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")) {
    return "SkylakeX";
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    return __builtin_cpu_is("amd") ? "Zen" : "Haswell";
  }
#endif
  return {};
}

}  // namespace

void use_openblas_kernels_for_this_cpu(char** argv) {
  // The user's choice stands; so does the restarted process's (it has the variable set).
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr) return;
  const std::string detected = openblas_get_corename();
  const std::string_view best = best_core_for_this_cpu();
  if (best.empty() || !is_pre_avx2_core(detected)) return;
  // DYNAMIC_ARCH reads OPENBLAS_CORETYPE once, while the library loads, so only a new process
  // can change the kernels: exec this program again with the variable set.
  setenv("OPENBLAS_CORETYPE", std::string(best).c_str(), 1);
  setenv(kDetectedCoreVariable, detected.c_str(), 1);
  execv("/proc/self/exe", argv);
  // exec failed: carry on with the detected kernels; openblas_version() says which they are.
  unsetenv("OPENBLAS_CORETYPE");
  unsetenv(kDetectedCoreVariable);
}

std::unique_ptr<Backend> make_openblas_backend() { return std::make_unique<OpenblasBackend>(); }

std::string openblas_version() {
  std::string version = openblas_get_config();
  if (const char* detected = std::getenv(kDetectedCoreVariable)) {
    version += std::string(" (core chosen by trainrate: OpenBLAS picked ") + detected + " on this CPU)";
  } else if (is_pre_avx2_core(openblas_get_corename()) && !best_core_for_this_cpu().empty()) {
    version += std::string(" (generic pre-AVX2 kernels on a CPU with AVX2; OPENBLAS_CORETYPE=") +
               std::string(best_core_for_this_cpu()) + " selects OpenBLAS's kernels for it)";
  }
  return version;
}

}  // namespace trainrate
