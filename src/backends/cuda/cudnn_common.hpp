// What the cuDNN convolution and memory-bound paths share: owning descriptors and the storage type.
#pragma once

#include <cudnn.h>

#include "backends/cuda/vendor_check.hpp"
#include "problems/problem.hpp"

namespace trainrate {

// A cuDNN descriptor, created on construction and destroyed with the object. Not copyable.
template <typename D, cudnnStatus_t (*Create)(D*), cudnnStatus_t (*Destroy)(D)>
struct CudnnDescriptor {
  D d = nullptr;
  CudnnDescriptor() { TRAINRATE_CUDNN_CHECK(Create(&d)); }
  ~CudnnDescriptor() { Destroy(d); }
  CudnnDescriptor(const CudnnDescriptor&) = delete;
  CudnnDescriptor& operator=(const CudnnDescriptor&) = delete;
};
using TensorDesc = CudnnDescriptor<cudnnTensorDescriptor_t, cudnnCreateTensorDescriptor, cudnnDestroyTensorDescriptor>;
using FilterDesc = CudnnDescriptor<cudnnFilterDescriptor_t, cudnnCreateFilterDescriptor, cudnnDestroyFilterDescriptor>;
using ConvDesc =
    CudnnDescriptor<cudnnConvolutionDescriptor_t, cudnnCreateConvolutionDescriptor, cudnnDestroyConvolutionDescriptor>;

// fp32 and tf32 store float (tf32 differs in math mode), fp16 and bf16 their own type.
inline cudnnDataType_t cudnn_data_type(Dtype dtype) {
  switch (dtype) {
    case Dtype::fp16: return CUDNN_DATA_HALF;
    case Dtype::bf16: return CUDNN_DATA_BFLOAT16;
    case Dtype::fp32:
    case Dtype::tf32: return CUDNN_DATA_FLOAT;
  }
  return CUDNN_DATA_FLOAT;
}

}  // namespace trainrate
