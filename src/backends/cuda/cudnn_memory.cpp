// Each op's cuDNN call, set up once in prepare(); run() only enqueues it. Where the backward call
// also reads the forward's output (ReLU and max pooling take y), the forward runs once here,
// untimed, as a framework keeps y from its forward pass. Every call blends with alpha 1, beta 0.
#include "backends/cuda/cudnn_memory.hpp"

#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "backends/cuda/cudnn_common.hpp"
#include "backends/cuda/memory_operands.hpp"
#include "kernels/cuda/check.hpp"

namespace trainrate {

namespace {

using ActivationDesc =
    CudnnDescriptor<cudnnActivationDescriptor_t, cudnnCreateActivationDescriptor, cudnnDestroyActivationDescriptor>;
using OpTensorDesc =
    CudnnDescriptor<cudnnOpTensorDescriptor_t, cudnnCreateOpTensorDescriptor, cudnnDestroyOpTensorDescriptor>;
using PoolingDesc =
    CudnnDescriptor<cudnnPoolingDescriptor_t, cudnnCreatePoolingDescriptor, cudnnDestroyPoolingDescriptor>;

// Scaling factors are float for float and half data.
constexpr float kOne = 1.0f, kZero = 0.0f;
// Frameworks' default running-statistics update (momentum 0.1); the problem does not read them.
constexpr double kRunningAverageFactor = 0.1;

class CudnnMemoryPrepared final : public PreparedProblem {
 public:
  CudnnMemoryPrepared(std::shared_ptr<CudaDevice> device, cudnnHandle_t handle, const MemoryProblem& m,
                      const HostInputs& inputs)
      : device_(std::move(device)), handle_(handle), m_(m), ops_(device_->stream(), m, inputs) {
    switch (m.op) {
      case MemoryOp::relu: relu(); break;
      case MemoryOp::add:
      case MemoryOp::bias_add: add(); break;
      case MemoryOp::batchnorm: batchnorm(); break;
      case MemoryOp::maxpool:
      case MemoryOp::avgpool: pooling(); break;
      case MemoryOp::softmax: softmax(); break;
      default: throw std::logic_error("cudnn_memory_unsupported admits no " + std::string(to_string(m.op)));
    }
  }

  void run() override {
    device_->activate();
    call_();
  }
  std::vector<float> output() override {
    device_->activate();
    return ops_.read_outputs(device_->stream());
  }
  std::string algorithm() const override { return algorithm_; }

 private:
  void set_4d(TensorDesc& desc, int64_t n, int64_t c, int64_t h, int64_t w) const {
    TRAINRATE_CUDNN_CHECK(cudnnSetTensor4dDescriptor(desc.d, CUDNN_TENSOR_NCHW, cudnn_data_type(m_.dtype), int(n),
                                                     int(c), int(h), int(w)));
  }
  const void* in(size_t i) const { return ops_.in(i); }
  void* out(size_t i) const { return ops_.out(i); }

  void relu() {
    set_4d(data_, 1, m_.elements, 1, 1);
    TRAINRATE_CUDNN_CHECK(cudnnSetActivationDescriptor(activation_.d, CUDNN_ACTIVATION_RELU, CUDNN_NOT_PROPAGATE_NAN, 0.0));
    if (!m_.backward) {
      algorithm_ = "cudnnActivationForward RELU";
      call_ = [this] {
        TRAINRATE_CUDNN_CHECK(cudnnActivationForward(handle_, activation_.d, &kOne, data_.d, in(0), &kZero, data_.d, out(0)));
      };
      return;
    }
    forward_output_ = DeviceBuffer(size_t(m_.elements) * size_t(storage_bytes(m_.dtype)));
    TRAINRATE_CUDNN_CHECK(cudnnActivationForward(handle_, activation_.d, &kOne, data_.d, in(0), &kZero, data_.d,
                                                 forward_output_.get()));
    algorithm_ = "cudnnActivationBackward RELU";
    call_ = [this] {
      TRAINRATE_CUDNN_CHECK(cudnnActivationBackward(handle_, activation_.d, &kOne, data_.d, forward_output_.get(),
                                                    data_.d, in(1), data_.d, in(0), &kZero, data_.d, out(0)));
    };
  }

  // add: two equal vectors; bias_add: the bias row broadcast over the rows (B's dimension 1).
  void add() {
    if (m_.op == MemoryOp::add) {
      set_4d(data_, 1, m_.elements, 1, 1);
      set_4d(other_, 1, m_.elements, 1, 1);
    } else {
      set_4d(data_, m_.rows, m_.cols, 1, 1);
      set_4d(other_, 1, m_.cols, 1, 1);
    }
    TRAINRATE_CUDNN_CHECK(cudnnSetOpTensorDescriptor(op_tensor_.d, CUDNN_OP_TENSOR_ADD, CUDNN_DATA_FLOAT,
                                                     CUDNN_NOT_PROPAGATE_NAN));
    algorithm_ = m_.op == MemoryOp::add ? "cudnnOpTensor ADD" : "cudnnOpTensor ADD, broadcast bias";
    call_ = [this] {
      TRAINRATE_CUDNN_CHECK(cudnnOpTensor(handle_, op_tensor_.d, &kOne, data_.d, in(0), &kOne, other_.d, in(1), &kZero,
                                          data_.d, out(0)));
    };
  }

  // Spatial (per-channel) batch norm in training mode. cuDNN saves the mean and 1/√(var + eps),
  // which MemoryOperands converts; the running statistics it also updates are kept here.
  void batchnorm() {
    set_4d(data_, m_.n, m_.c, m_.h, m_.w);
    TRAINRATE_CUDNN_CHECK(cudnnDeriveBNTensorDescriptor(other_.d, data_.d, CUDNN_BATCHNORM_SPATIAL));
    if (m_.backward) {
      algorithm_ = "cudnnBatchNormalizationBackward SPATIAL";
      call_ = [this] {
        TRAINRATE_CUDNN_CHECK(cudnnBatchNormalizationBackward(
            handle_, CUDNN_BATCHNORM_SPATIAL, &kOne, &kZero, &kOne, &kZero, data_.d, in(0), data_.d, in(1), data_.d,
            out(0), other_.d, in(2), out(1), out(2), kNormEps, in(3), in(4)));
      };
      return;
    }
    // Running mean 0 and variance 1, as a fresh layer starts.
    running_mean_ = DeviceBuffer(size_t(m_.c) * sizeof(float));
    TRAINRATE_CUDA_CHECK(cudaMemsetAsync(running_mean_.get(), 0, running_mean_.bytes(), device_->stream()));
    const std::vector<float> ones(size_t(m_.c), 1.0f);
    running_variance_ = upload(device_->stream(), ones, m_.c, Dtype::fp32, "running variance");
    algorithm_ = "cudnnBatchNormalizationForwardTraining SPATIAL";
    call_ = [this] {
      TRAINRATE_CUDNN_CHECK(cudnnBatchNormalizationForwardTraining(
          handle_, CUDNN_BATCHNORM_SPATIAL, &kOne, &kZero, data_.d, in(0), data_.d, out(0), other_.d, in(1), in(2),
          kRunningAverageFactor, running_mean_.get(), running_variance_.get(), kNormEps, out(1), out(2)));
    };
  }

  // Max excludes the padding; average counts it (divides by window²), as the problem defines.
  void pooling() {
    const bool max = m_.op == MemoryOp::maxpool;
    TRAINRATE_CUDNN_CHECK(cudnnSetPooling2dDescriptor(
        pooling_.d, max ? CUDNN_POOLING_MAX : CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING, CUDNN_NOT_PROPAGATE_NAN,
        int(m_.window), int(m_.window), int(m_.pad), int(m_.pad), int(m_.stride), int(m_.stride)));
    set_4d(data_, m_.n, m_.c, m_.h, m_.w);
    set_4d(other_, m_.n, m_.c, m_.p(), m_.q());
    int n = 0, c = 0, p = 0, q = 0;
    TRAINRATE_CUDNN_CHECK(cudnnGetPooling2dForwardOutputDim(pooling_.d, data_.d, &n, &c, &p, &q));
    if (n != m_.n || c != m_.c || p != m_.p() || q != m_.q())
      throw std::runtime_error("cuDNN's pooled shape differs from the problem's");
    const std::string mode = max ? "MAX" : "AVERAGE_COUNT_INCLUDE_PADDING";
    if (!m_.backward) {
      algorithm_ = "cudnnPoolingForward " + mode;
      call_ = [this] {
        TRAINRATE_CUDNN_CHECK(cudnnPoolingForward(handle_, pooling_.d, &kOne, data_.d, in(0), &kZero, other_.d, out(0)));
      };
      return;
    }
    algorithm_ = "cudnnPoolingBackward " + mode;
    // The call takes x and y in both modes; average pooling's gradient reads neither, so it gets
    // zeroed stand-ins (it has only dy), max pooling the real x and the forward's y.
    const size_t x_bytes = size_t(m_.n * m_.c * m_.h * m_.w) * sizeof(float);
    const size_t y_bytes = size_t(m_.n * m_.c * m_.p() * m_.q()) * sizeof(float);
    forward_output_ = DeviceBuffer(y_bytes);
    if (max) {
      TRAINRATE_CUDNN_CHECK(cudnnPoolingForward(handle_, pooling_.d, &kOne, data_.d, in(0), &kZero, other_.d,
                                                forward_output_.get()));
      call_ = [this] {
        TRAINRATE_CUDNN_CHECK(cudnnPoolingBackward(handle_, pooling_.d, &kOne, other_.d, forward_output_.get(),
                                                   other_.d, in(1), data_.d, in(0), &kZero, data_.d, out(0)));
      };
      return;
    }
    unused_input_ = DeviceBuffer(x_bytes);
    TRAINRATE_CUDA_CHECK(cudaMemsetAsync(unused_input_.get(), 0, x_bytes, device_->stream()));
    TRAINRATE_CUDA_CHECK(cudaMemsetAsync(forward_output_.get(), 0, y_bytes, device_->stream()));
    call_ = [this] {
      TRAINRATE_CUDNN_CHECK(cudnnPoolingBackward(handle_, pooling_.d, &kOne, other_.d, forward_output_.get(), other_.d,
                                                 in(0), data_.d, unused_input_.get(), &kZero, data_.d, out(0)));
    };
  }

  // Each row is one instance (N = rows, C = cols); scale 1 and no mask (cudnn_memory_unsupported).
  void softmax() {
    set_4d(data_, m_.rows, m_.cols, 1, 1);
    if (!m_.backward) {
      algorithm_ = "cudnnSoftmaxForward ACCURATE INSTANCE";
      call_ = [this] {
        TRAINRATE_CUDNN_CHECK(cudnnSoftmaxForward(handle_, CUDNN_SOFTMAX_ACCURATE, CUDNN_SOFTMAX_MODE_INSTANCE, &kOne,
                                                  data_.d, in(0), &kZero, data_.d, out(0)));
      };
      return;
    }
    algorithm_ = "cudnnSoftmaxBackward ACCURATE INSTANCE";
    call_ = [this] {
      TRAINRATE_CUDNN_CHECK(cudnnSoftmaxBackward(handle_, CUDNN_SOFTMAX_ACCURATE, CUDNN_SOFTMAX_MODE_INSTANCE, &kOne,
                                                 data_.d, in(0), data_.d, in(1), &kZero, data_.d, out(0)));
    };
  }

  std::shared_ptr<CudaDevice> device_;
  cudnnHandle_t handle_;
  MemoryProblem m_;
  MemoryOperands ops_;
  TensorDesc data_, other_;  // the data tensor; the second operand's, pooled or per-channel one
  ActivationDesc activation_;
  OpTensorDesc op_tensor_;
  PoolingDesc pooling_;
  DeviceBuffer forward_output_, unused_input_, running_mean_, running_variance_;
  std::function<void()> call_;
  std::string algorithm_;
};

}  // namespace

std::unique_ptr<PreparedProblem> prepare_cudnn_memory(std::shared_ptr<CudaDevice> device, cudnnHandle_t handle,
                                                      const MemoryProblem& m, const HostInputs& inputs) {
  return std::make_unique<CudnnMemoryPrepared>(std::move(device), handle, m, inputs);
}

}  // namespace trainrate
