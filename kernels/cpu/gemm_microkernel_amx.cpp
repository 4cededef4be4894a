// AMX-BF16 micro-kernel, 32×32: C in four 16×16 fp32 tiles, bf16 operands, fp32 accumulation.
// This file alone is compiled with -mamx-tile -mamx-bf16 (see CMakeLists.txt) and is only called
// after amx_bf16_usable() has checked the CPU, the OS and the process's permission.
//
// AMX computes C_tile[r][c] += Σ_t A_tile[r][t] · B_tile[t][c] with A rows of 32 bf16 and B rows
// of 16 pairs (VNNI order). Our C is column-major, so a tile row is a column of C: the tile's
// "A" operand is op(B)ᵀ (a row = one column j, 32 consecutive k) and its "B" operand is op(A) as
// pairs (a row = one k pair, 16 rows i). Both panels therefore hold 32-bit units, which is what
// lets the fp32 loops in gemm.cpp carry them: the A panel is the pair layout (per k pair, MR
// units), the B panel is chunked (per 16 k pairs, NR lanes of 16 units each; gemm_pack_bf16.cpp).
//
// Eight tile registers: four accumulators, two tiles of each operand, so every tile loaded feeds
// two TDPBF16PS. The tile configuration is loaded once per thread and GEMM (amx_begin), not per
// call: LDTILECFG is slow enough to cost a visible share of a call.
#include "kernels/cpu/gemm_internal.hpp"

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

namespace trainrate::kernels::cpu::detail {

namespace {

struct alignas(64) TileConfig {
  uint8_t palette = 1, start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t bytes_per_row[16] = {};
  uint8_t rows[16] = {};
};

constexpr int tile_rows = 16, tile_bytes_per_row = 64;

// GCC 12's tile intrinsics are asm statements that do not tell the compiler which memory they
// read or write (LDTILECFG's operand covers 8 of its 64 bytes; TILELOADD and TILESTORED name only
// a pointer). Without this barrier GCC dropped the configuration's stores as dead (LDTILECFG then
// faulted) and could reorder C++ reads and writes of C and the tile buffer around tile transfers.
inline void memory_barrier() { __asm__ __volatile__("" ::: "memory"); }

bool cpu_has_amx_bf16() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return false;
  const bool amx_tile = (edx >> 24) & 1, amx_bf16 = (edx >> 22) & 1;
  if (!amx_tile || !amx_bf16 || !((ecx >> 27) & 1)) return false;  // ecx bit 27: OSXSAVE
  // The OS must save the tile state (XCR0 bits 17 and 18, XTILECFG and XTILEDATA).
  const uint64_t xcr0 = _xgetbv(0);
  return ((xcr0 >> 17) & 3) == 3;
}

// Linux hands out the 8 KiB tile state only to processes that ask (arch_prctl, kernel 5.16+);
// without it the first tile instruction faults.
bool process_may_use_tiles() {
  constexpr long request_permission = 0x1023;  // ARCH_REQ_XCOMP_PERM
  constexpr long xtiledata = 18;               // XFEATURE_XTILEDATA
  return syscall(SYS_arch_prctl, request_permission, xtiledata) == 0;
}

}  // namespace

bool amx_bf16_usable() {
  static const bool usable = cpu_has_amx_bf16() && process_may_use_tiles();
  return usable;
}

void amx_begin() {
  TileConfig config;
  for (int t = 0; t < 8; ++t) {
    config.bytes_per_row[t] = tile_bytes_per_row;
    config.rows[t] = tile_rows;
  }
  memory_barrier();
  _tile_loadconfig(&config);
}

void amx_end() { _tile_release(); }

namespace {

// The k loop over whole chunks for the first RowTiles row tiles and ColTiles column tiles (1 or 2
// each). A partial tile of at most 16 rows or columns skips the tiles that would only multiply
// padding: ResNet-style 35-row or 16-column GEMMs otherwise spend up to half their tile products
// on zeros.
template <int RowTiles, int ColTiles>
void multiply_chunks(int64_t kc, const float* a_panel, const float* b_panel) {
  constexpr int64_t chunk_units = amx_k_step * amx_mr;  // one chunk of either panel (both 32 wide)
  static_assert(amx_mr == amx_nr, "both panels advance by the same chunk");
  constexpr int64_t a_stride_bytes = amx_mr * int64_t(sizeof(float));
  for (int64_t q = 0; q < kc / amx_k_step; ++q) {
    const float* bq = b_panel + q * chunk_units;  // 32 columns × 16 units, a column per 64 bytes
    const float* aq = a_panel + q * chunk_units;  // 16 pairs × 32 rows, a pair per 128 bytes
    _tile_loadd(4, bq, tile_bytes_per_row);
    if constexpr (ColTiles == 2) _tile_loadd(5, bq + 16 * 16, tile_bytes_per_row);
    _tile_loadd(6, aq, a_stride_bytes);
    if constexpr (RowTiles == 2) _tile_loadd(7, aq + 16, a_stride_bytes);
    _tile_dpbf16ps(0, 4, 6);
    if constexpr (RowTiles == 2) _tile_dpbf16ps(1, 4, 7);
    if constexpr (ColTiles == 2) _tile_dpbf16ps(2, 5, 6);
    if constexpr (RowTiles == 2 && ColTiles == 2) _tile_dpbf16ps(3, 5, 7);
  }
}

}  // namespace

void microkernel_amx_32x32(int64_t kc, const float* a_panel, const float* b_panel, float* c, int64_t ldc,
                           float alpha, float beta, int rows, int cols) {
  // Tiles 0-3 accumulate C: 0 = rows 0-15 × columns 0-15, 1 = rows 16-31 × columns 0-15,
  // 2 = rows 0-15 × columns 16-31, 3 = rows 16-31 × columns 16-31 (tile row = column of C).
  const bool whole = rows == amx_mr && cols == amx_nr && alpha == 1.0f && (beta == 0.0f || beta == 1.0f);
  const int64_t c_stride_bytes = ldc * int64_t(sizeof(float));
  memory_barrier();  // the panels and C are written before the tiles read them
  if (whole && beta == 1.0f) {
    _tile_loadd(0, c, c_stride_bytes);
    _tile_loadd(1, c + 16, c_stride_bytes);
    _tile_loadd(2, c + 16 * ldc, c_stride_bytes);
    _tile_loadd(3, c + 16 * ldc + 16, c_stride_bytes);
  } else {
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
  }
  const bool two_row_tiles = rows > 16, two_col_tiles = cols > 16;
  if (two_row_tiles && two_col_tiles) {
    multiply_chunks<2, 2>(kc, a_panel, b_panel);
  } else if (two_row_tiles) {
    multiply_chunks<2, 1>(kc, a_panel, b_panel);
  } else if (two_col_tiles) {
    multiply_chunks<1, 2>(kc, a_panel, b_panel);
  } else {
    multiply_chunks<1, 1>(kc, a_panel, b_panel);
  }
  if (whole) {
    _tile_stored(0, c, c_stride_bytes);
    _tile_stored(1, c + 16, c_stride_bytes);
    _tile_stored(2, c + 16 * ldc, c_stride_bytes);
    _tile_stored(3, c + 16 * ldc + 16, c_stride_bytes);
    memory_barrier();
    return;
  }
  // Edges and general alpha/beta: the tile goes through a column-major 32×32 buffer (tiles that
  // multiply_chunks skipped hold zeros, outside the corner that is stored).
  alignas(64) float tile[amx_mr * amx_nr];
  constexpr int64_t tile_stride_bytes = amx_mr * int64_t(sizeof(float));
  _tile_stored(0, tile, tile_stride_bytes);
  _tile_stored(1, tile + 16, tile_stride_bytes);
  _tile_stored(2, tile + 16 * amx_mr, tile_stride_bytes);
  _tile_stored(3, tile + 16 * amx_mr + 16, tile_stride_bytes);
  memory_barrier();
  if (alpha != 1.0f) {
    for (float& value : tile) value *= alpha;
  }
  store_tile_corner(tile, amx_mr, rows, cols, beta, c, ldc);
}

double amx_peak_loop(int64_t iterations) {
  // Operands of ones and halves (not zeros, which could run cheaper) in four accumulators, as in
  // the micro-kernel: four independent TDPBF16PS per round hide the instruction's latency.
  alignas(64) uint16_t operand[16 * 32];
  for (size_t i = 0; i < 16 * 32; ++i) operand[i] = i % 2 ? 0x3f00 : 0x3f80;  // 0.5, 1.0
  amx_begin();
  memory_barrier();
  _tile_loadd(4, operand, 64);
  _tile_loadd(5, operand, 64);
  _tile_loadd(6, operand, 64);
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  for (int64_t i = 0; i < iterations; ++i) {
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 5, 6);
    _tile_dpbf16ps(2, 4, 6);
    _tile_dpbf16ps(3, 5, 6);
  }
  amx_end();
  constexpr double flops_per_tile_product = 2.0 * 16 * 16 * 32;
  return 4.0 * flops_per_tile_product * double(iterations);
}

}  // namespace trainrate::kernels::cpu::detail

#else  // no AMX off x86-64

namespace trainrate::kernels::cpu::detail {
double amx_peak_loop(int64_t) { return 0.0; }
}  // namespace trainrate::kernels::cpu::detail

#endif  // x86-64
