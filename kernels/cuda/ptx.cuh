// The warp-level PTX our kernels use, each instruction in one small device function, so that
// kernels never hold inline asm themselves. tests/cuda_host compiles the kernels for the host
// with these functions replaced by an emulation built from the PTX ISA's fragment and address
// layouts (it defines TRAINRATE_CUDA_HOST_EMULATION); the device build compiles the asm below.
#pragma once

#ifndef __CUDACC_RTC__
#include <cstdint>
#endif

// Whether this pass compiles sm_80 device code: a device pass for sm_80+, or the host emulation.
#if (defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800) || defined(TRAINRATE_CUDA_HOST_EMULATION)
#define TRAINRATE_SM80_DEVICE_CODE 1
#else
#define TRAINRATE_SM80_DEVICE_CODE 0
#endif

#ifndef TRAINRATE_CUDA_HOST_EMULATION
#include <cuda/std/type_traits>  // not <type_traits>: NVRTC has no standard library

namespace trainrate::cuda_kernels::ptx {

__device__ __forceinline__ uint32_t smem_addr(const void* p) { return uint32_t(__cvta_generic_to_shared(p)); }

// 16 bytes global → shared without passing through registers (sm_80); both addresses 16-byte aligned.
__device__ __forceinline__ void cp_async_16(void* smem, const void* gmem) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(smem_addr(smem)), "l"(gmem) : "memory");
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
// Waits until at most N of this thread's committed groups are still in flight.
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

// Four 8×8 b16 matrices from shared memory; lane 8·j + r gives the address of row r of matrix j.
template <bool TRANS>
__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const void* smem) {
  if constexpr (TRANS)
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(smem_addr(smem))
                 : "memory");
  else
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(smem_addr(smem))
                 : "memory");
}

// D += A·B for one m16n8k16 tile; A row-major 16×16, B column-major 16×8, fp32 accumulators.
template <typename T>
__device__ __forceinline__ void mma_m16n8k16(float (&d)[4], const uint32_t (&a)[4], const uint32_t* b) {
  if constexpr (cuda::std::is_same_v<T, __half>)
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                 "{%0,%1,%2,%3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
  else
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                 "{%0,%1,%2,%3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

}  // namespace trainrate::cuda_kernels::ptx
#endif  // TRAINRATE_CUDA_HOST_EMULATION
