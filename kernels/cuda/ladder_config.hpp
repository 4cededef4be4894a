// The configuration of every CUDA ladder step, stated once: its name, block/warp/thread tiles,
// threads per block, shared memory and minimum compute capability. The step's kernel file, the
// launch runner (ladder_runner.cuh) and src/backends/cuda/custom_cuda_backend.cpp all read these.
// Plain constexpr C++ with no includes, so the host compiler, nvcc and NVRTC can all read it.
// The static_asserts say which tile combinations a kernel's index arithmetic can handle.
#pragma once

namespace trainrate::cuda_kernels::ladder {

// Defaults a step overrides when it differs.
struct StepDefaults {
  static constexpr int kMinCc = 70;              // compute capability, every dtype (bf16 also needs 8.0)
  static constexpr const char* kMinCcWhy = "";   // appended to the "needs compute capability" error
  static constexpr int kDynamicSmemBytes = 0;    // the kernel's extern __shared__ size, when it has one
};

// ---- fp32 SGEMM ladder ----

// Step 1: one thread per C element; a 32×8 block covers a 32×32 tile, 4 columns per thread.
struct SgemmNaive : StepDefaults {
  static constexpr const char* kName = "sgemm-naive";
  static constexpr int kTile = 32;
  static constexpr int kBM = kTile, kBN = kTile;
  static constexpr int kBlockX = kTile, kBlockY = 8;
  static_assert(kTile % kBlockY == 0, "each thread walks the tile's columns kBlockY apart");
};

// Step 2: 32×32 tiles of A and B in shared memory, one C element per thread.
struct SgemmSmem : StepDefaults {
  static constexpr const char* kName = "sgemm-smem";
  static constexpr int kTile = 32;  // block tile and K-slice
  static constexpr int kBM = kTile, kBN = kTile;
  static constexpr int kBlockX = kTile, kBlockY = kTile;
};

// Step 3: 8×8 outputs per thread in registers, 128×128 block tile.
struct SgemmRegtile : StepDefaults {
  static constexpr const char* kName = "sgemm-regtile";
  static constexpr int kBM = 128, kBN = 128, kBK = 8;  // block tile
  static constexpr int kTM = 8, kTN = 8;               // thread tile
  static constexpr int kThreads = (kBM / kTM) * (kBN / kTN);
  static constexpr int kLds = kBM + 4;  // +4 floats keeps float4 alignment and spreads the transposed stores
  static_assert(kBM == kBN, "square block tile: A and B tiles share the shared-memory row length");
  static_assert(kThreads == 256, "16×16 threads of 8×8 outputs cover the 128×128 tile");
  static_assert(kTM % 4 == 0 && kTN % 4 == 0, "thread tiles are read from shared memory as float4s");
};

// Step 4: the block tile split into warp tiles, each thread owning 2×2 sub-tiles of 4×4.
struct SgemmWarptile : StepDefaults {
  static constexpr const char* kName = "sgemm-warptile";
  static constexpr int kBM = 128, kBN = 128, kBK = 16;  // block tile
  static constexpr int kWM = 64, kWN = 32;              // warp tile
  static constexpr int kLanesM = 8, kLanesN = 4;        // lanes of a warp over its tile
  static constexpr int kTM = 4, kTN = 4;                // thread sub-tile (one float4 of A, one of B)
  static constexpr int kWIterM = kWM / (kLanesM * kTM), kWIterN = kWN / (kLanesN * kTN);  // sub-tiles per thread
  static constexpr int kWarpsM = kBM / kWM, kWarpsN = kBN / kWN;
  static constexpr int kThreads = kWarpsM * kWarpsN * 32;
  static constexpr int kLds = kBM + 4;
  static_assert(kBM == kBN, "square block tile: A and B tiles share the shared-memory row length");
  static_assert(kLanesM * kLanesN == 32, "a warp's lanes must tile its warp tile");
  static_assert(kWM % (kLanesM * kTM) == 0 && kWN % (kLanesN * kTN) == 0, "warp tile must be whole sub-tiles");
  static_assert(kBM % kWM == 0 && kBN % kWN == 0, "block tile must be whole warp tiles");
  static_assert(kThreads == 256, "8 warps");
};

// Step 5: step 4's tiles with two shared-memory buffers per operand.
struct SgemmDbuf : SgemmWarptile {
  static constexpr const char* kName = "sgemm-dbuf";
  static constexpr int kStage = kBK * kLds;  // floats in one buffer of one operand
  static_assert(2 * 2 * kStage * 4 <= 48 * 1024, "two fp32 buffers of A and B must fit static shared memory");
};

// ---- Tensor-core GEMM (fp16/bf16) ----

struct HgemmWmma : StepDefaults {
  static constexpr const char* kName = "hgemm-wmma";
  static constexpr int kBM = 128, kBN = 128, kBK = 32;  // block tile
  static constexpr int kWM = 64, kWN = 32;              // warp tile
  static constexpr int kFrag = 16;                      // WMMA m16n16k16
  static constexpr int kFragsM = kWM / kFrag, kFragsN = kWN / kFrag;
  static constexpr int kWarpsM = kBM / kWM, kWarpsN = kBN / kWN;
  static constexpr int kThreads = kWarpsM * kWarpsN * 32;
  static constexpr int kPad = 8;  // elements; keeps rows a multiple of 16 bytes as 16-byte stores and WMMA need
  static_assert(kThreads == 256, "8 warps");
  static_assert(kBK % kFrag == 0 && kWM % kFrag == 0 && kWN % kFrag == 0, "tiles must be whole WMMA fragments");
};

struct HgemmMma : StepDefaults {
  static constexpr const char* kName = "hgemm-mma";
  static constexpr int kMinCc = 80;
  static constexpr const char* kMinCcWhy = " (cp.async, bf16 mma)";
  static constexpr int kBM = 128, kBN = 128, kBK = 32;  // block tile
  static constexpr int kStages = 3;                     // K-slices resident in shared memory
  static constexpr int kWM = 64, kWN = 32;              // warp tile
  static constexpr int kMmaM = 16, kMmaN = 8, kMmaK = 16;
  static constexpr int kTilesM = kWM / kMmaM, kTilesN = kWN / kMmaN;  // mma tiles per warp: 4×4
  static constexpr int kWarpsM = kBM / kWM, kWarpsN = kBN / kWN;
  static constexpr int kThreads = kWarpsM * kWarpsN * 32;
  static constexpr int kDynamicSmemBytes = kStages * (kBM + kBN) * kBK * 2;  // 16-bit elements
  static_assert(kThreads == 256, "8 warps");
  static_assert(kTilesN % 2 == 0, "B fragments are loaded two n8 tiles per ldmatrix.x4");
  static_assert(kBK == 32, "the K-major swizzle assumes 64-byte rows (4 chunks of 8 elements)");
  static_assert(kBK % kMmaK == 0, "K-slice must be whole mma steps");
};

// ---- Implicit-GEMM convolution ----

struct ConvImplicit : StepDefaults {
  static constexpr const char* kName = "conv-implicit";
  static constexpr int kBM = 64, kBN = 64, kBK = 16;  // block tile
  static constexpr int kTM = 4, kTN = 4;              // thread tile
  static constexpr int kThreads = (kBM / kTM) * (kBN / kTN);
  static constexpr int kLoads = kBK * kBM / kThreads;  // A (and B) elements each thread gathers per slice
  static constexpr int kRowStep = kThreads / kBM;      // threads sharing one GEMM row, each a slice row apart
  static_assert(kThreads == 256, "16×16 threads of 4×4 outputs");
  static_assert(kBM == kBN && kThreads % kBM == 0, "each thread gathers a fixed GEMM row of A and column of B");
  static_assert(kBK % kRowStep == 0, "slice rows split evenly over the threads sharing a GEMM row");
};

struct ConvImplicitWmma : StepDefaults {
  static constexpr const char* kName = "conv-implicit-wmma";
  static constexpr int kBM = 64, kBN = 64, kBK = 32;  // block tile
  static constexpr int kWM = 32, kWN = 32;            // warp tile
  static constexpr int kFrag = 16;
  static constexpr int kFragsM = kWM / kFrag, kFragsN = kWN / kFrag;
  static constexpr int kWarpsM = kBM / kWM, kWarpsN = kBN / kWN;
  static constexpr int kThreads = kWarpsM * kWarpsN * 32;
  static constexpr int kLds = kBM + 8;  // padded rows; a multiple of 8 elements as WMMA requires
  static constexpr int kRowStep = kThreads / kBM;
  static constexpr int kLoads = kBK / kRowStep;
  static_assert(kThreads == 128, "4 warps");
  static_assert(kBM == kBN && kThreads % kBM == 0 && kBK % kRowStep == 0,
                "gather mapping: fixed row/column per thread");
  static_assert(kLds % 8 == 0, "WMMA ldm must be a multiple of 8 16-bit elements");
};

}  // namespace trainrate::cuda_kernels::ladder
