// cudnn: 2-D convolution (forward, backward-data, backward-filter) through cuDNN's legacy API, and
// the memory-bound layers that API has (cudnn_memory.cpp).
//
// Data types: fp32 and tf32 store float (tf32 differs in math mode), fp16 and bf16 store their
// type; every configuration accumulates in fp32 (CUDNN_DATA_FLOAT compute). Which math types a
// dtype may use is math_rules.hpp's rule (fp32: FMA only); the search may return others, and
// pick_cudnn_algorithm drops them. Algorithm choice: measured search (cudnnFind*AlgorithmEx on the
// real buffers) by default, or cuDNN's heuristics (cudnnGet*Algorithm_v7) with
// TRAINRATE_CUDNN_ALGO=heuristic. The chosen algorithm, its math type and workspace are reported. FLOPs are counted as direct convolution
// whatever the algorithm (Winograd and FFT do less arithmetic; see docs/gpu.md).
#include <cudnn.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "backends/cuda/cuda_internal.hpp"
#include "backends/cuda/cudnn_common.hpp"
#include "backends/cuda/cudnn_memory.hpp"
#include "backends/cuda/math_rules.hpp"
#include "backends/cuda/memory_rules.hpp"
#include "kernels/cuda/check.hpp"

namespace trainrate {

namespace {

cudnnMathType_t to_cudnn(CudnnMath math) {
  switch (math) {
    case CudnnMath::default_math: return CUDNN_DEFAULT_MATH;
    case CudnnMath::tensor_op: return CUDNN_TENSOR_OP_MATH;
    case CudnnMath::tensor_op_allow_conversion: return CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION;
    case CudnnMath::fma: return CUDNN_FMA_MATH;
  }
  return CUDNN_FMA_MATH;
}

CudnnMath from_cudnn(cudnnMathType_t math) {
  switch (math) {
    case CUDNN_DEFAULT_MATH: return CudnnMath::default_math;
    case CUDNN_TENSOR_OP_MATH: return CudnnMath::tensor_op;
    case CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION: return CudnnMath::tensor_op_allow_conversion;
    case CUDNN_FMA_MATH: return CudnnMath::fma;
  }
  // An unknown future type is treated as the least restrictive, so no dtype rule admits it by accident.
  return CudnnMath::tensor_op_allow_conversion;
}

std::string algo_name(ConvPass pass, int algo) {
  static const std::array<const char*, 8> fwd{"IMPLICIT_GEMM", "IMPLICIT_PRECOMP_GEMM", "GEMM", "DIRECT",
                                              "FFT",           "FFT_TILING",            "WINOGRAD", "WINOGRAD_NONFUSED"};
  static const std::array<const char*, 6> data{"ALGO_0", "ALGO_1", "FFT", "FFT_TILING", "WINOGRAD", "WINOGRAD_NONFUSED"};
  static const std::array<const char*, 7> filter{"ALGO_0", "ALGO_1",       "FFT",     "ALGO_3",
                                                 "WINOGRAD", "WINOGRAD_NONFUSED", "FFT_TILING"};
  auto pick = [&](const auto& names, const char* prefix) {
    return std::string(prefix) + (algo >= 0 && size_t(algo) < names.size() ? names[size_t(algo)] : std::to_string(algo).c_str());
  };
  if (pass == ConvPass::forward) return pick(fwd, "CUDNN_CONVOLUTION_FWD_ALGO_");
  if (pass == ConvPass::backward_data) return pick(data, "CUDNN_CONVOLUTION_BWD_DATA_ALGO_");
  return pick(filter, "CUDNN_CONVOLUTION_BWD_FILTER_ALGO_");
}

bool use_heuristics() {
  const char* mode = std::getenv("TRAINRATE_CUDNN_ALGO");
  return mode && std::strcmp(mode, "heuristic") == 0;
}

// A cuDNN perf list (any of the three passes) in the rule's terms, order kept.
template <typename Perf>
std::vector<CudnnCandidate> candidates(const Perf* perf, int count) {
  std::vector<CudnnCandidate> out;
  for (int i = 0; i < count; ++i)
    out.push_back({int(perf[i].algo), perf[i].status == CUDNN_STATUS_SUCCESS, perf[i].time, perf[i].memory,
                   from_cudnn(perf[i].mathType)});
  return out;
}

class CudnnPrepared final : public PreparedProblem {
 public:
  CudnnPrepared(std::shared_ptr<CudaDevice> device, cudnnHandle_t handle, const ConvProblem& c,
                const HostInputs& inputs)
      : device_(std::move(device)), handle_(handle), c_(c), operands_(*device_, c, inputs) {
    const cudnnTensorFormat_t format = c.layout == Layout::NHWC ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW;
    const cudnnDataType_t type = cudnn_data_type(c.dtype);
    TRAINRATE_CUDNN_CHECK(cudnnSetTensor4dDescriptor(x_.d, format, type, int(c.n), int(c.c), int(c.h), int(c.w)));
    TRAINRATE_CUDNN_CHECK(
        cudnnSetTensor4dDescriptor(y_.d, format, type, int(c.n), int(c.k), int(c.p()), int(c.q())));
    TRAINRATE_CUDNN_CHECK(cudnnSetFilter4dDescriptor(w_.d, type, format, int(c.k), int(c.c), int(c.r), int(c.s)));
    TRAINRATE_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(conv_.d, int(c.pad_h), int(c.pad_w), int(c.stride_h),
                                                          int(c.stride_w), int(c.dilation_h), int(c.dilation_w),
                                                          CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    TRAINRATE_CUDNN_CHECK(cudnnSetConvolutionMathType(conv_.d, to_cudnn(cudnn_requested_math(c.dtype))));
    int on = 0, oc = 0, oh = 0, ow = 0;
    TRAINRATE_CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(conv_.d, x_.d, w_.d, &on, &oc, &oh, &ow));
    if (on != c.n || oc != c.k || oh != c.p() || ow != c.q())
      throw std::runtime_error("cuDNN output shape differs from the problem's");

    choose_algorithm();
    // cuDNN's advice: run with the math type the chosen algorithm was measured with.
    TRAINRATE_CUDNN_CHECK(cudnnSetConvolutionMathType(conv_.d, to_cudnn(choice_.math)));
    workspace_ = DeviceBuffer(choice_.workspace_bytes);
  }

  void run() override {
    device_->activate();
    const float alpha = 1.0f, beta = 0.0f;
    void* ws = workspace_.get();
    const size_t ws_bytes = workspace_.bytes();
    switch (c_.pass) {
      case ConvPass::forward:
        TRAINRATE_CUDNN_CHECK(cudnnConvolutionForward(handle_, &alpha, x_.d, operands_.in0.get(), w_.d,
                                                      operands_.in1.get(), conv_.d,
                                                      cudnnConvolutionFwdAlgo_t(choice_.algo), ws, ws_bytes, &beta,
                                                      y_.d, operands_.out.get()));
        break;
      case ConvPass::backward_data:
        TRAINRATE_CUDNN_CHECK(cudnnConvolutionBackwardData(handle_, &alpha, w_.d, operands_.in1.get(), y_.d,
                                                           operands_.in0.get(), conv_.d,
                                                           cudnnConvolutionBwdDataAlgo_t(choice_.algo), ws, ws_bytes,
                                                           &beta, x_.d, operands_.out.get()));
        break;
      case ConvPass::backward_filter:
        TRAINRATE_CUDNN_CHECK(cudnnConvolutionBackwardFilter(handle_, &alpha, x_.d, operands_.in0.get(), y_.d,
                                                             operands_.in1.get(), conv_.d,
                                                             cudnnConvolutionBwdFilterAlgo_t(choice_.algo), ws,
                                                             ws_bytes, &beta, w_.d, operands_.out.get()));
        break;
    }
  }

  std::vector<float> output() override { return operands_.read_output(*device_); }

  std::string algorithm() const override {
    return algo_name(c_.pass, choice_.algo) + " " + to_string(choice_.math) +
           (heuristic_ ? " (heuristic)" : " (find)");
  }
  int64_t workspace_bytes() const override { return int64_t(workspace_.bytes()); }

 private:
  // Workspace cap for the search: a quarter of free memory, at most 2 GiB.
  size_t workspace_limit() const {
    size_t free_bytes = 0, total = 0;
    TRAINRATE_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total));
    return std::min<size_t>(free_bytes / 4, size_t(2) << 30);
  }

  void choose_algorithm() {
    heuristic_ = use_heuristics();
    const size_t limit = workspace_limit();
    constexpr int kMax = 16;  // more than any pass has algorithms
    int returned = 0;
    std::vector<CudnnCandidate> found;
    size_t usable_workspace = limit;
    void* in0 = operands_.in0.get();
    void* in1 = operands_.in1.get();
    void* out = operands_.out.get();
    if (heuristic_) {
      if (c_.pass == ConvPass::forward) {
        cudnnConvolutionFwdAlgoPerf_t perf[kMax];
        TRAINRATE_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(handle_, x_.d, w_.d, conv_.d, y_.d, kMax,
                                                                     &returned, perf));
        found = candidates(perf, returned);
      } else if (c_.pass == ConvPass::backward_data) {
        cudnnConvolutionBwdDataAlgoPerf_t perf[kMax];
        TRAINRATE_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(handle_, w_.d, y_.d, conv_.d, x_.d, kMax,
                                                                          &returned, perf));
        found = candidates(perf, returned);
      } else {
        cudnnConvolutionBwdFilterAlgoPerf_t perf[kMax];
        TRAINRATE_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(handle_, x_.d, y_.d, conv_.d, w_.d, kMax,
                                                                            &returned, perf));
        found = candidates(perf, returned);
      }
    } else {
      // Find times every algorithm on our buffers; a workspace sized by the largest need
      // (capped) lets it try all of them.
      const size_t ws_size = std::min(limit, largest_workspace());
      usable_workspace = ws_size;
      DeviceBuffer ws(ws_size);
      if (c_.pass == ConvPass::forward) {
        cudnnConvolutionFwdAlgoPerf_t perf[kMax];
        TRAINRATE_CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithmEx(handle_, x_.d, in0, w_.d, in1, conv_.d, y_.d,
                                                                     out, kMax, &returned, perf, ws.get(), ws_size));
        found = candidates(perf, returned);
      } else if (c_.pass == ConvPass::backward_data) {
        cudnnConvolutionBwdDataAlgoPerf_t perf[kMax];
        TRAINRATE_CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithmEx(
            handle_, w_.d, in1, y_.d, in0, conv_.d, x_.d, out, kMax, &returned, perf, ws.get(), ws_size));
        found = candidates(perf, returned);
      } else {
        cudnnConvolutionBwdFilterAlgoPerf_t perf[kMax];
        TRAINRATE_CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithmEx(
            handle_, x_.d, in0, y_.d, in1, conv_.d, w_.d, out, kMax, &returned, perf, ws.get(), ws_size));
        found = candidates(perf, returned);
      }
      TRAINRATE_CUDA_CHECK(cudaStreamSynchronize(device_->stream()));  // Find's work done before `ws` is freed
    }
    CudnnPick pick = pick_cudnn_algorithm(c_.dtype, found, usable_workspace);
    if (!pick.chosen) throw std::runtime_error(pick.why_none);
    choice_ = *pick.chosen;
  }

  // The most workspace any algorithm of this pass asks for (algorithms that do not apply are skipped).
  size_t largest_workspace() const {
    size_t largest = 0;
    auto consider = [&](cudnnStatus_t status, size_t bytes) {
      if (status == CUDNN_STATUS_SUCCESS) largest = std::max(largest, bytes);
    };
    size_t bytes = 0;
    if (c_.pass == ConvPass::forward) {
      for (int a = 0; a < CUDNN_CONVOLUTION_FWD_ALGO_COUNT; ++a)
        consider(cudnnGetConvolutionForwardWorkspaceSize(handle_, x_.d, w_.d, conv_.d, y_.d,
                                                         cudnnConvolutionFwdAlgo_t(a), &bytes),
                 bytes);
    } else if (c_.pass == ConvPass::backward_data) {
      for (int a = 0; a < CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT; ++a)
        consider(cudnnGetConvolutionBackwardDataWorkspaceSize(handle_, w_.d, y_.d, conv_.d, x_.d,
                                                              cudnnConvolutionBwdDataAlgo_t(a), &bytes),
                 bytes);
    } else {
      for (int a = 0; a < CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT; ++a)
        consider(cudnnGetConvolutionBackwardFilterWorkspaceSize(handle_, x_.d, y_.d, conv_.d, w_.d,
                                                                cudnnConvolutionBwdFilterAlgo_t(a), &bytes),
                 bytes);
    }
    return largest;
  }

  std::shared_ptr<CudaDevice> device_;
  cudnnHandle_t handle_;
  ConvProblem c_;
  DeviceOperands operands_;
  TensorDesc x_, y_;
  FilterDesc w_;
  ConvDesc conv_;
  CudnnCandidate choice_;
  bool heuristic_ = false;
  DeviceBuffer workspace_;
};

class CudnnBackend final : public Backend {
 public:
  explicit CudnnBackend(std::shared_ptr<CudaDevice> device)
      : Backend({"cudnn", BackendRole::vendor, "cuda", {}, {"conv", "memory"},
                 {Dtype::fp32, Dtype::tf32, Dtype::fp16, Dtype::bf16}}),
        device_(std::move(device)) {}
  ~CudnnBackend() override {
    if (handle_) {
      cudaSetDevice(device_->ordinal());
      cudnnDestroy(handle_);
    }
  }

  Device& device() const override { return *device_; }

  std::optional<std::string> reason_beyond_facts(const Problem& problem) const override {
    if (const auto* m = std::get_if<MemoryProblem>(&problem)) {
      if (auto reason = cudnn_memory_unsupported(*m)) return reason;
    } else {
      const Dtype dtype = dtype_of(problem);  // a convolution: the facts admit nothing else
      if ((dtype == Dtype::bf16 || dtype == Dtype::tf32) && device_->compute_capability() < 80)
        return std::string(to_string(dtype)) + " needs compute capability 8.0+ (device is " +
               device_->compute_capability_text() + ")";
    }
    if (!handle_error_.empty()) return handle_error_;
    return std::nullopt;
  }

  std::unique_ptr<PreparedProblem> prepare(const Problem& problem, const HostInputs& inputs) override {
    if (auto reason = unsupported_reason(problem)) throw std::runtime_error(*reason);
    device_->activate();
    if (!handle_) {
      try {
        TRAINRATE_CUDNN_CHECK(cudnnCreate(&handle_));
        TRAINRATE_CUDNN_CHECK(cudnnSetStream(handle_, device_->stream()));
      } catch (const std::exception& e) {
        // Typically a cuDNN build without this architecture; later problems skip with this reason.
        handle_error_ = std::string("cuDNN unusable on this device: ") + e.what();
        if (handle_) cudnnDestroy(handle_);
        handle_ = nullptr;
        throw;
      }
    }
    if (const auto* m = std::get_if<MemoryProblem>(&problem)) return prepare_cudnn_memory(device_, handle_, *m, inputs);
    return std::make_unique<CudnnPrepared>(device_, handle_, std::get<ConvProblem>(problem), inputs);
  }

 private:
  std::shared_ptr<CudaDevice> device_;
  cudnnHandle_t handle_ = nullptr;
  std::string handle_error_;
};

}  // namespace

std::unique_ptr<Backend> make_cudnn_backend(std::shared_ptr<CudaDevice> device) {
  return std::make_unique<CudnnBackend>(std::move(device));
}

}  // namespace trainrate
