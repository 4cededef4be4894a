// openblas: the vendor GEMM on CPU (cblas_sgemm, column-major, one call per batch entry).
#include <cblas.h>

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

}  // namespace

std::unique_ptr<Backend> make_openblas_backend() { return std::make_unique<OpenblasBackend>(); }

std::string openblas_version() { return openblas_get_config(); }

}  // namespace trainrate
