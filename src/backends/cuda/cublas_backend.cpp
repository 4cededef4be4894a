// cublas: GEMM through cublasGemmEx / cublasGemmStridedBatchedEx.
//
// The compute type per dtype is math_rules.hpp's rule: fp32 is CUBLAS_COMPUTE_32F with the handle
// in CUBLAS_DEFAULT_MATH (no tf32 substitution); tf32 is fp32 data with CUBLAS_COMPUTE_32F_FAST_TF32;
// fp16 and bf16 keep their type for A, B and C and accumulate in fp32 (CUBLAS_COMPUTE_32F). The library picks the kernel
// (CUBLAS_GEMM_DEFAULT); algorithm() records the call, compute type and math mode.
#include <cublas_v2.h>

#include <climits>

#include "backends/cuda/cuda_internal.hpp"
#include "backends/cuda/math_rules.hpp"
#include "backends/cuda/vendor_check.hpp"
#include "kernels/cuda/check.hpp"

namespace trainrate {

namespace {

cudaDataType_t cuda_type(Dtype dtype) {
  switch (dtype) {
    case Dtype::fp16: return CUDA_R_16F;
    case Dtype::bf16: return CUDA_R_16BF;
    case Dtype::fp32:
    case Dtype::tf32: return CUDA_R_32F;
  }
  return CUDA_R_32F;
}

cublasComputeType_t compute_type(Dtype dtype) {
  switch (cublas_compute(dtype)) {
    case CublasCompute::f32: return CUBLAS_COMPUTE_32F;
    case CublasCompute::f32_fast_tf32: return CUBLAS_COMPUTE_32F_FAST_TF32;
  }
  return CUBLAS_COMPUTE_32F;
}

cublasOperation_t cublas_op(Op op) { return op == Op::N ? CUBLAS_OP_N : CUBLAS_OP_T; }

class CublasPrepared final : public PreparedProblem {
 public:
  CublasPrepared(std::shared_ptr<CudaDevice> device, cublasHandle_t handle, const GemmProblem& g,
                 const HostInputs& inputs)
      : device_(std::move(device)), handle_(handle), g_(g), operands_(*device_, g, inputs) {}

  void run() override {
    device_->activate();
    const float alpha = 1.0f, beta = 0.0f;
    const cudaDataType_t t = cuda_type(g_.dtype);
    if (g_.batch == 1) {
      TRAINRATE_CUBLAS_CHECK(cublasGemmEx(handle_, cublas_op(g_.op_a), cublas_op(g_.op_b), int(g_.m), int(g_.n),
                                          int(g_.k), &alpha, operands_.in0.get(), t, int(g_.lda()),
                                          operands_.in1.get(), t, int(g_.ldb()), &beta, operands_.out.get(), t,
                                          int(g_.ldc()), compute_type(g_.dtype), CUBLAS_GEMM_DEFAULT));
    } else {
      TRAINRATE_CUBLAS_CHECK(cublasGemmStridedBatchedEx(
          handle_, cublas_op(g_.op_a), cublas_op(g_.op_b), int(g_.m), int(g_.n), int(g_.k), &alpha,
          operands_.in0.get(), t, int(g_.lda()), g_.a_elements(), operands_.in1.get(), t, int(g_.ldb()),
          g_.b_elements(), &beta, operands_.out.get(), t, int(g_.ldc()), g_.c_elements(), int(g_.batch),
          compute_type(g_.dtype), CUBLAS_GEMM_DEFAULT));
    }
  }

  std::vector<float> output() override { return operands_.read_output(*device_); }

  std::string algorithm() const override {
    return std::string(g_.batch == 1 ? "cublasGemmEx" : "cublasGemmStridedBatchedEx") + " " +
           to_string(cublas_compute(g_.dtype)) + " CUBLAS_GEMM_DEFAULT math=CUBLAS_DEFAULT_MATH";
  }

 private:
  std::shared_ptr<CudaDevice> device_;
  cublasHandle_t handle_;
  GemmProblem g_;
  DeviceOperands operands_;
};

class CublasBackend final : public Backend {
 public:
  explicit CublasBackend(std::shared_ptr<CudaDevice> device)
      : Backend({"cublas", BackendRole::vendor, "cuda", {}, {"gemm"}, {Dtype::fp32, Dtype::tf32, Dtype::fp16, Dtype::bf16}}), device_(std::move(device)) {}
  ~CublasBackend() override {
    if (handle_) {
      cudaSetDevice(device_->ordinal());
      cublasDestroy(handle_);
    }
  }

  Device& device() const override { return *device_; }

  std::optional<std::string> reason_beyond_facts(const Problem& problem) const override {
    const auto* g = std::get_if<GemmProblem>(&problem);
    if (!g) return std::string("cublas runs GEMM only (convolutions: cudnn)");
    if ((g->dtype == Dtype::bf16 || g->dtype == Dtype::tf32) && device_->compute_capability() < 80)
      return std::string(to_string(g->dtype)) + " needs compute capability 8.0+ (device is " +
             device_->compute_capability_text() + ")";
    for (int64_t v : {g->m, g->n, g->k, g->batch, g->lda(), g->ldb(), g->ldc()})
      if (v > INT_MAX) return "a dimension exceeds the 32-bit cuBLAS API";
    return std::nullopt;
  }

  std::unique_ptr<PreparedProblem> prepare(const Problem& problem, const HostInputs& inputs) override {
    if (auto reason = unsupported_reason(problem)) throw std::runtime_error(*reason);
    device_->activate();
    if (!handle_) {
      TRAINRATE_CUBLAS_CHECK(cublasCreate(&handle_));
      TRAINRATE_CUBLAS_CHECK(cublasSetStream(handle_, device_->stream()));
      TRAINRATE_CUBLAS_CHECK(cublasSetMathMode(handle_, CUBLAS_DEFAULT_MATH));
    }
    return std::make_unique<CublasPrepared>(device_, handle_, std::get<GemmProblem>(problem), inputs);
  }

 private:
  std::shared_ptr<CudaDevice> device_;
  cublasHandle_t handle_ = nullptr;
};

}  // namespace

std::unique_ptr<Backend> make_cublas_backend(std::shared_ptr<CudaDevice> device) {
  return std::make_unique<CublasBackend>(std::move(device));
}

}  // namespace trainrate
