// openblas: the vendor GEMM on CPU (cblas_sgemm, column-major, one call per batch entry).
#include <cblas.h>
#include <unistd.h>

#include <algorithm>
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
  OpenblasBackend() : Backend({"openblas", BackendRole::vendor, "cpu", {}, {"gemm"}, {Dtype::fp32}}) {}
  Device& device() const override { return CpuDevice::instance(); }

  // Its facts (fp32 GEMM) say all there is: no sbgemm in this build.
  std::optional<std::string> reason_beyond_facts(const Problem&) const override { return std::nullopt; }

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

// How wide the vectors of OpenBLAS's kernels for `core` are: 0 for the x86 cores without AVX2,
// 2 for the AVX-512 ones, 1 for the rest (AVX2: Haswell, Zen). On a CPU with AVX2 a pre-AVX2 core
// is one the library did not recognise (0.3.21 falls back to Prescott for any Intel model newer
// than it); on a CPU with AVX-512 an AVX2 core is one it knew only by family (0.3.21 runs its Zen
// kernels on Zen 5, slower there than its SkylakeX ones).
int vector_tier(std::string_view core) {
  constexpr std::array<std::string_view, 16> pre_avx2{
      "Katmai", "Coppermine", "Northwood", "Prescott", "Banias", "Atom", "Core2", "Penryn",
      "Dunnington", "Nehalem", "Sandybridge", "Athlon", "Opteron", "Opteron_SSE3", "Barcelona", "Nano"};
  constexpr std::array<std::string_view, 3> avx512{"SkylakeX", "Cooperlake", "SapphireRapids"};
  if (std::find(pre_avx2.begin(), pre_avx2.end(), core) != pre_avx2.end()) return 0;
  if (std::find(avx512.begin(), avx512.end(), core) != avx512.end()) return 2;
  return 1;
}

// The OPENBLAS_CORETYPE whose kernels use what this CPU has, for a build that knows every one of
// these names (0.3.10 and later); empty when the CPU has no AVX2 and nothing is to be gained.
std::string_view best_core_for_this_cpu() {
#if defined(__x86_64__)
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")) {
    // Cooperlake is SkylakeX's SGEMM plus the bf16 kernels.
    return __builtin_cpu_supports("avx512bf16") ? "Cooperlake" : "SkylakeX";
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    return __builtin_cpu_is("amd") ? "Zen" : "Haswell";
  }
#endif
  return {};
}

// Whether OpenBLAS runs narrower kernels on this CPU than a core it knows would.
bool runs_narrower_kernels(std::string_view core) {
  const std::string_view best = best_core_for_this_cpu();
  return !best.empty() && vector_tier(core) < vector_tier(best);
}

}  // namespace

void use_openblas_kernels_for_this_cpu(char** argv) {
  // The user's choice stands; so does the restarted process's (it has the variable set).
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr) return;
  const std::string detected = openblas_get_corename();
  if (!runs_narrower_kernels(detected)) return;
  const std::string_view best = best_core_for_this_cpu();
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
  } else if (const std::string core = openblas_get_corename(); runs_narrower_kernels(core)) {
    version += " (" + core + " kernels, narrower than this CPU's vectors; OPENBLAS_CORETYPE=" +
               std::string(best_core_for_this_cpu()) + " selects OpenBLAS's kernels for it)";
  }
  return version;
}

}  // namespace trainrate
