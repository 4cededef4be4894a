// The CUDA execution model on the host, for compiling kernels/cuda with g++ and checking the
// kernels' results in CI without a GPU (tests/cuda_host/README in docs/gpu.md says what it covers).
//
// Every CUDA thread of a block is a fiber (its own stack) on one host thread; the block's fibers run
// cooperatively, one at a time, each until it reaches a barrier, so a schedule is deterministic and a
// missing barrier shows up as reads of data not yet written (or already overwritten), never as a
// flaky race. Blocks run one after another. __syncthreads waits for every live thread of the block,
// warp operations (shuffles, __syncwarp, ldmatrix, mma.sync, WMMA) for the 32 lanes of the warp,
// which exchange their operands through a per-warp table and then compute their own results from
// the PTX ISA's fragment and address layouts. Shared memory is one arena per block, filled with
// 0xff bytes (NaN in fp32, fp16 and bf16) before each block and poisoned for AddressSanitizer
// outside the arrays the kernel declares. cp.async copies land only at the cp.async.wait_group
// that covers them. Alignment and address-space rules of the emulated instructions are checked,
// and a violation aborts with a message.
//
// Included first (through the shim headers in include/, which stand in for cuda_runtime.h,
// cuda_fp16.h, cuda_bf16.h, mma.h and cuda/std/type_traits); hostify.py rewrites the launches and
// the __shared__ declarations no macro can express.
#pragma once

#include <math.h>

#include <atomic>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <source_location>
#include <tuple>
#include <type_traits>

#define TRAINRATE_CUDA_HOST_EMULATION 1

// ---- CUDA C++ qualifiers ----
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))

// ---- Vector types ----
struct uint3 {
  unsigned x, y, z;
};
struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  constexpr dim3(unsigned vx = 1, unsigned vy = 1, unsigned vz = 1) : x(vx), y(vy), z(vz) {}
};
struct alignas(8) float2 {
  float x, y;
};
struct alignas(16) float4 {
  float x, y, z, w;
};
struct alignas(8) uint2 {
  unsigned x, y;
};
struct alignas(16) uint4 {
  unsigned x, y, z, w;
};
inline float2 make_float2(float x, float y) { return {x, y}; }
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline uint2 make_uint2(unsigned x, unsigned y) { return {x, y}; }

// The executing thread's coordinates; the scheduler sets them before resuming a fiber (launches run on
// one host thread at a time).
extern uint3 threadIdx;
extern uint3 blockIdx;
extern dim3 blockDim;
extern dim3 gridDim;

// ---- fp16 / bf16 storage types (raw bits; the kernels convert explicitly) ----
struct __half {
  uint16_t bits = 0;
};
struct __nv_bfloat16 {
  uint16_t bits = 0;
};

namespace cuda_host {
uint16_t float_to_half_bits(float f);  // round to nearest even, like __float2half_rn
float half_bits_to_float(uint16_t h);
inline uint16_t float_to_bf16_bits(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return uint16_t((x >> 16) | 0x40u);  // NaN stays a quiet NaN
  return uint16_t((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}
inline float bf16_bits_to_float(uint16_t b) { return std::bit_cast<float>(uint32_t(b) << 16); }
}  // namespace cuda_host

inline __half __float2half_rn(float f) { return {cuda_host::float_to_half_bits(f)}; }
inline float __half2float(__half h) { return cuda_host::half_bits_to_float(h.bits); }
inline __half __ushort_as_half(unsigned short b) { return {b}; }
inline unsigned short __half_as_ushort(__half h) { return h.bits; }
inline __nv_bfloat16 __float2bfloat16_rn(float f) { return {cuda_host::float_to_bf16_bits(f)}; }
inline float __bfloat162float(__nv_bfloat16 b) { return cuda_host::bf16_bits_to_float(b.bits); }
inline __nv_bfloat16 __ushort_as_bfloat16(unsigned short b) { return {b}; }
inline unsigned short __bfloat16_as_ushort(__nv_bfloat16 b) { return b.bits; }

// ---- Device intrinsics ----
template <typename T>
inline T __ldg(const T* p) {
  return *p;
}
inline float __int_as_float(int i) { return std::bit_cast<float>(i); }
[[noreturn]] void __trap();
void __syncthreads();
void __syncwarp(unsigned mask = 0xffffffffu);
template <typename T>
T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = 32);
inline float atomicAdd(float* p, float v) { return std::atomic_ref<float>(*p).fetch_add(v); }

namespace cuda::std {
using ::std::conditional_t;
using ::std::is_same_v;
}  // namespace cuda::std

// ---- Runtime API (host memory stands in for device memory) ----
enum cudaError_t { cudaSuccess = 0, cudaErrorInvalidValue = 1, cudaErrorMemoryAllocation = 2,
                   cudaErrorInvalidConfiguration = 9 };
using cudaError = cudaError_t;
struct CUstream_st;
using cudaStream_t = CUstream_st*;
enum cudaMemcpyKind { cudaMemcpyHostToDevice = 1, cudaMemcpyDeviceToHost = 2, cudaMemcpyDeviceToDevice = 3 };
enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize = 8 };
enum cudaDeviceAttr { cudaDevAttrMultiProcessorCount = 16, cudaDevAttrComputeCapabilityMajor = 75,
                      cudaDevAttrComputeCapabilityMinor = 76 };
const char* cudaGetErrorName(cudaError_t e);
const char* cudaGetErrorString(cudaError_t e);
cudaError_t cudaGetLastError();
cudaError_t cudaGetDevice(int* device);
cudaError_t cudaGetDeviceCount(int* count);
cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device);
cudaError_t cudaMalloc(void** p, size_t bytes);
cudaError_t cudaFree(void* p);
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t stream = nullptr);
cudaError_t cudaMemsetAsync(void* p, int value, size_t bytes, cudaStream_t stream = nullptr);
cudaError_t cudaStreamSynchronize(cudaStream_t stream);
cudaError_t cudaDeviceSynchronize();

namespace cuda_host {

// Set by the test binary to prove the checks can fail (see cuda_host_test.cpp --inject).
enum class Fault { none, mma_lanes, no_syncthreads };
extern Fault injected_fault;

// The emulated device: compute capability and the opt-in dynamic shared memory limit.
constexpr int kComputeCapability = 90;
constexpr size_t kStaticSharedLimitBytes = 48 * 1024;
constexpr size_t kMaxSharedPerBlockBytes = 227 * 1024;

[[noreturn]] void fail(const char* what, const std::source_location& where = std::source_location::current());
inline void require(bool ok, const char* what, const std::source_location& where = std::source_location::current()) {
  if (!ok) fail(what, where);
}

void set_max_dynamic_shared(const void* kernel, size_t bytes);

// ---- Launch: `kernel | LaunchConfig(...) | KernelArgs(...)`, which hostify.py writes for <<<...>>>.
struct LaunchConfig {
  dim3 grid, block;
  size_t dynamic_shared_bytes;
  LaunchConfig(dim3 g, dim3 b, size_t smem = 0, cudaStream_t = nullptr) : grid(g), block(b), dynamic_shared_bytes(smem) {}
};
template <typename... A>
struct KernelArgs {
  std::tuple<A...> values;
  explicit KernelArgs(A... a) : values(a...) {}
};
template <typename... P>
struct BoundKernel {
  void (*kernel)(P...);
  LaunchConfig config;
};
template <typename... P>
BoundKernel<P...> operator|(void (*kernel)(P...), const LaunchConfig& config) {
  return {kernel, config};
}
// Runs every block of the grid to completion (launches are synchronous here).
void launch(const LaunchConfig& config, const void* kernel, const std::function<void()>& thread_body);
template <typename... P, typename... A>
void operator|(const BoundKernel<P...>& bound, const KernelArgs<A...>& args) {
  launch(bound.config, reinterpret_cast<const void*>(bound.kernel),
         [&] { std::apply([&](const A&... a) { bound.kernel(a...); }, args.values); });
}

// ---- Shared memory ----
// The block's array declared at `site`: every thread of the block gets the same storage.
void* shared_array(size_t bytes, size_t align, const std::source_location& site);
void* dynamic_shared_base();
bool in_shared(const void* p, size_t bytes);
template <typename T>
T& shared(size_t align, const std::source_location& site = std::source_location::current()) {
  const size_t a = align > alignof(T) ? align : alignof(T);
  return *static_cast<T*>(shared_array(sizeof(T), a, site));
}
template <typename T>
T* dynamic_shared(size_t align) {
  void* base = dynamic_shared_base();
  require(reinterpret_cast<uintptr_t>(base) % (align > alignof(T) ? align : alignof(T)) == 0,
          "dynamic shared memory misaligned");
  return static_cast<T*>(base);
}

// ---- Warp collectives ----
int lane();
// Publishes this lane's operand, waits for the 32 lanes of the warp (all at the same `what`), and
// returns the 32 published pointers; they stay valid until the lane calls warp_release().
const void* const* warp_exchange(const void* mine, const char* what);
void warp_release(const char* what);

template <typename T>
T warp_shuffle_xor(T v, int lane_mask) {
  const void* const* all = warp_exchange(&v, "__shfl_xor_sync");
  const T out = *static_cast<const T*>(all[lane() ^ lane_mask]);
  warp_release("__shfl_xor_sync");
  return out;
}

// ---- cp.async groups of the current thread ----
void cp_async_issue(void* smem, const void* gmem);
void cp_async_commit_group();
void cp_async_wait_groups(int allowed_in_flight);

// ---- ldmatrix / mma.sync ----
void ldmatrix_x4(uint32_t (&r)[4], const void* smem, bool trans);
template <typename T>
float element_to_float(uint16_t bits) {
  if constexpr (std::is_same_v<T, __half>)
    return half_bits_to_float(bits);
  else
    return bf16_bits_to_float(bits);
}
void mma_m16n8k16(float (&d)[4], const uint32_t (&a)[4], const uint32_t* b, bool bf16);

}  // namespace cuda_host

template <typename T>
T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width) {
  cuda_host::require(mask == 0xffffffffu && width == 32, "emulated shuffles take the full warp only");
  return cuda_host::warp_shuffle_xor(v, lane_mask);
}

template <typename F>
cudaError_t cudaFuncSetAttribute(F* kernel, cudaFuncAttribute attr, int value) {
  if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize || value < 0 ||
      size_t(value) > cuda_host::kMaxSharedPerBlockBytes)
    return cudaErrorInvalidValue;
  cuda_host::set_max_dynamic_shared(reinterpret_cast<const void*>(kernel), size_t(value));
  return cudaSuccess;
}

// ---- kernels/cuda/ptx.cuh, emulated ----
namespace trainrate::cuda_kernels::ptx {
inline void cp_async_16(void* smem, const void* gmem) { cuda_host::cp_async_issue(smem, gmem); }
inline void cp_async_commit() { cuda_host::cp_async_commit_group(); }
template <int N>
inline void cp_async_wait() {
  cuda_host::cp_async_wait_groups(N);
}
template <bool TRANS>
inline void ldmatrix_x4(uint32_t (&r)[4], const void* smem) {
  cuda_host::ldmatrix_x4(r, smem, TRANS);
}
template <typename T>
inline void mma_m16n8k16(float (&d)[4], const uint32_t (&a)[4], const uint32_t* b) {
  cuda_host::mma_m16n8k16(d, a, b, std::is_same_v<T, __nv_bfloat16>);
}
}  // namespace trainrate::cuda_kernels::ptx

// ---- WMMA (m16n16k16). The real register distribution is unspecified by the CUDA guide, so every
// lane holds the whole tile; loads and stores are warp-collective and check the guide's rules
// (a 256-bit aligned pointer, ldm a multiple of 16 bytes, the same arguments in every lane).
namespace nvcuda::wmma {
struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };

template <typename Use, int M, int N, int K, typename T, typename Layout = void>
struct fragment {
  static constexpr int kRows = std::is_same_v<Use, matrix_b> ? K : M;
  static constexpr int kCols = std::is_same_v<Use, matrix_a> ? K : N;
  float v[kRows * kCols];  // row-major tile
};

namespace detail {
struct Access {
  const void* ptr;
  unsigned ldm;
};
void check_collective(const void* ptr, unsigned ldm, size_t elem_bytes, const char* what);
void end_collective(const char* what);
template <typename T>
float load_element(const T* p) {
  if constexpr (std::is_same_v<T, float>)
    return *p;
  else
    return cuda_host::element_to_float<T>(std::bit_cast<uint16_t>(*p));
}
}  // namespace detail

template <typename Use, int M, int N, int K, typename T, typename Layout>
void load_matrix_sync(fragment<Use, M, N, K, T, Layout>& f, const T* p, unsigned ldm) {
  using F = fragment<Use, M, N, K, T, Layout>;
  detail::check_collective(p, ldm, sizeof(T), "wmma::load_matrix_sync");
  for (int i = 0; i < F::kRows; ++i)
    for (int j = 0; j < F::kCols; ++j)
      f.v[i * F::kCols + j] = detail::load_element(std::is_same_v<Layout, row_major> ? p + size_t(i) * ldm + j
                                                                                      : p + i + size_t(j) * ldm);
  detail::end_collective("wmma::load_matrix_sync");
}

template <int M, int N, int K>
void store_matrix_sync(float* p, const fragment<accumulator, M, N, K, float>& f, unsigned ldm, layout_t layout) {
  detail::check_collective(p, ldm, sizeof(float), "wmma::store_matrix_sync");
  for (int e = cuda_host::lane(); e < M * N; e += 32) {  // each element written once, by one lane
    const int i = e / N, j = e % N;
    p[layout == mem_row_major ? size_t(i) * ldm + j : i + size_t(j) * ldm] = f.v[e];
  }
  detail::end_collective("wmma::store_matrix_sync");
}

template <typename Use, int M, int N, int K, typename T, typename Layout>
void fill_fragment(fragment<Use, M, N, K, T, Layout>& f, float value) {
  for (float& x : f.v) x = value;
}

// Each lane computes the accumulator elements it stores (index % 32 == lane, see store_matrix_sync)
// and marks the rest NaN, so a fragment is only ever read back through store_matrix_sync.
template <int M, int N, int K, typename T, typename LA, typename LB>
void mma_sync(fragment<accumulator, M, N, K, float>& d, const fragment<matrix_a, M, N, K, T, LA>& a,
              const fragment<matrix_b, M, N, K, T, LB>& b, const fragment<accumulator, M, N, K, float>& c) {
  detail::check_collective(nullptr, 0, 0, "wmma::mma_sync");
  float out[M * N];
  for (int e = 0; e < M * N; ++e) out[e] = NAN;
  for (int e = cuda_host::lane(); e < M * N; e += 32) {
    const int i = e / N, j = e % N;
    float acc = c.v[e];
    for (int l = 0; l < K; ++l) acc = std::fma(a.v[i * K + l], b.v[l * N + j], acc);
    out[e] = acc;
  }
  std::memcpy(d.v, out, sizeof out);
  detail::end_collective("wmma::mma_sync");
}
}  // namespace nvcuda::wmma
