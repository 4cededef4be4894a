// Packed, cache-blocked SGEMM (Goto/BLIS): five short loops around a micro-kernel.
//
//   loop_jc  (NC columns of C)        B panel kc×nc packed (L3)
//    loop_pc (KC steps of k)          beta applies on the first step only
//     loop_ic (MC rows of C)          A block mc×kc packed (L2)
//      loop_jr (NR columns)           one B sliver kc×nr stays in L1
//       loop_ir (MR rows)             the micro-kernel: one MR×NR tile in registers
//
// Threads share nothing (split_across_threads): each runs these loops on its own slice of C's
// rows or columns, with its own packed panels; only operands packed ahead of the call (conv
// filters) are shared, each thread reading the slivers of its slice.
//
// Operands reach the loops only through PackSource callbacks: sgemm passes matrix sources, the
// convolutions pass sources that gather im2col patches straight into the panels, and gemm_bf16
// passes sources whose 32-bit units each hold two bf16 of consecutive k (for the bf16 kernels), so
// the loops count k in those units and never know the difference.
#include "kernels/cpu/gemm.hpp"

#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <numeric>
#include <stdexcept>
#include <string>

#include "kernels/cpu/gemm_internal.hpp"

namespace trainrate::kernels::cpu {

namespace detail {

#if defined(__x86_64__) || defined(__i386__)
#define TRAINRATE_CPU_X86 1
#endif

bool cpu_supports(MicroKernel id) {
  switch (id) {
    case MicroKernel::portable: return true;
#ifdef TRAINRATE_CPU_X86
    case MicroKernel::avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    // libgcc also checks that the OS saves the zmm state (XCR0) before reporting avx512f.
    case MicroKernel::avx512: return __builtin_cpu_supports("avx512f");
    // Its packing is compiled with AVX-512BW (gemm_pack_bf16.cpp), which every such CPU has.
    case MicroKernel::avx512_bf16:
      return __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512bw");
#endif
#if defined(__x86_64__)
    // libgcc 12 does not report AMX, so this reads CPUID and XCR0 itself (and asks Linux for the tiles).
    case MicroKernel::amx_bf16: return amx_bf16_usable();
#endif
    default: return false;  // a variant not built for this architecture
  }
}

namespace {

struct KernelEntry {
  MicroKernel id;
  Dtype input;
  int mr, nr;
  MicroKernelFn fn;
  int k_step = 1;                 // k units the kernel consumes at a time
  void (*begin)() = nullptr;      // per-thread set-up before the kernel's first call (AMX tiles)
  void (*end)() = nullptr;        // and after its last
};

constexpr KernelEntry kernel_table[] = {
    {MicroKernel::portable, Dtype::fp32, portable_mr, portable_nr, microkernel_portable_8x6},
#ifdef TRAINRATE_CPU_X86
    {MicroKernel::avx2, Dtype::fp32, avx2_mr, avx2_nr, microkernel_avx2_16x6},
    {MicroKernel::avx512, Dtype::fp32, avx512_mr, avx512_nr, microkernel_avx512_48x8},
    {MicroKernel::avx512_bf16, Dtype::bf16, avx512_mr, avx512_nr, microkernel_avx512_bf16_48x8},
#endif
#if defined(__x86_64__)
    {MicroKernel::amx_bf16, Dtype::bf16, amx_mr, amx_nr, microkernel_amx_32x32, amx_k_step, amx_begin, amx_end},
#endif
};

const KernelEntry* find_kernel(MicroKernel id) {
  for (const KernelEntry& entry : kernel_table) {
    if (entry.id == id) return &entry;
  }
  return nullptr;
}

int64_t round_up(int64_t value, int64_t multiple) { return (value + multiple - 1) / multiple * multiple; }
int64_t ceil_div(int64_t value, int64_t divisor) { return (value + divisor - 1) / divisor; }

Blocking blocking_override;

// 64-byte aligned scratch that only grows, so repeated calls of one size never allocate.
class AlignedBuffer {
 public:
  float* get(int64_t count) {
    if (count > capacity_) {
      const auto bytes = size_t(round_up(count * int64_t(sizeof(float)), 64));
      data_.reset(static_cast<float*>(std::aligned_alloc(64, bytes)));
      if (!data_) throw std::bad_alloc();
      capacity_ = count;
    }
    return data_.get();
  }

 private:
  struct Free {
    void operator()(float* p) const { std::free(p); }
  };
  std::unique_ptr<float, Free> data_;
  int64_t capacity_ = 0;
};

// Per thread: each thread runs its own GEMM (see split_across_threads) and packs into its own buffers.
thread_local AlignedBuffer b_panel_buffer, a_block_buffer;

struct Gemm {
  int64_t m, n, k;
  float alpha;
  PackSource a, b;
  float beta;
  float* c;
  int64_t ldc;
  const KernelEntry* kernel;
  Blocking blocking;
  const PackedPanels* a_ahead;  // A packed ahead of the call (pack_panels), or null
  const PackedPanels* b_ahead;  // B packed ahead of the call, or null
};

// Loop 1: MR rows. The micro-kernel writes partial tiles at C's edges itself.
void loop_ir(const Gemm& g, const float* a_block, int64_t mc, const float* b_sliver, int64_t nr_cur, int64_t kc,
             float beta, float* c) {
  const int mr = g.kernel->mr;
  for (int64_t ir = 0; ir < mc; ir += mr) {
    const int rows = int(std::min<int64_t>(mr, mc - ir));
    g.kernel->fn(kc, a_block + ir * kc, b_sliver, c + ir, g.ldc, g.alpha, beta, rows, int(nr_cur));
  }
}

// Loop 2: NR columns of the packed panel.
void loop_jr(const Gemm& g, const float* a_block, int64_t mc, const float* b_panel, int64_t nc, int64_t kc,
             float beta, float* c) {
  const int nr = g.kernel->nr;
  for (int64_t jr = 0; jr < nc; jr += nr) {
    loop_ir(g, a_block, mc, b_panel + jr * kc, std::min<int64_t>(nr, nc - jr), kc, beta, c + jr * g.ldc);
  }
}

// Loop 3: MC rows, each block packed into this thread's buffer (unless A came packed).
void loop_ic(const Gemm& g, int64_t pc, int64_t kc, const float* b_panel, int64_t jc, int64_t nc, float beta) {
  const int mr = g.kernel->mr;
  const int64_t mc_block = g.blocking.mc;
  float* a_buffer = g.a_ahead ? nullptr : a_block_buffer.get(mc_block * kc);  // mc ≤ round_up(m, mr)
  for (int64_t ic = 0; ic < g.m; ic += mc_block) {
    const int64_t mc = std::min(mc_block, g.m - ic);
    const float* a_block = a_buffer;
    if (g.a_ahead) {
      a_block = g.a_ahead->at(pc, g.a.packed_first_lane + ic);
    } else {
      g.a.pack(g.a.context, pc, kc, ic, mc, mr, a_buffer);
    }
    loop_jr(g, a_block, mc, b_panel, nc, kc, beta, g.c + ic + jc * g.ldc);
  }
}

// Loop 4: KC steps. Beta scales C on the first step; later steps accumulate.
void loop_pc(const Gemm& g, int64_t jc, int64_t nc) {
  const int nr = g.kernel->nr;
  float* b_buffer = g.b_ahead ? nullptr : b_panel_buffer.get(g.blocking.kc * round_up(nc, nr));
  for (int64_t pc = 0; pc < g.k; pc += g.blocking.kc) {
    const int64_t kc = std::min(g.blocking.kc, g.k - pc);
    const float beta = pc == 0 ? g.beta : 1.0f;
    if (!g.b_ahead) g.b.pack(g.b.context, pc, kc, jc, nc, nr, b_buffer);
    loop_ic(g, pc, kc, g.b_ahead ? g.b_ahead->at(pc, g.b.packed_first_lane + jc) : b_buffer, jc, nc, beta);
  }
}

// Loop 5: NC columns.
void loop_jc(const Gemm& g) {
  for (int64_t jc = 0; jc < g.n; jc += g.blocking.nc) loop_pc(g, jc, std::min(g.blocking.nc, g.n - jc));
}

void scale_c(int64_t m, int64_t n, float beta, float* c, int64_t ldc) {
  for (int64_t j = 0; j < n; ++j) {
    float* cj = c + j * ldc;
    if (beta == 0.0f) {
      std::fill(cj, cj + m, 0.0f);
    } else if (beta != 1.0f) {
      for (int64_t i = 0; i < m; ++i) cj[i] *= beta;
    }
  }
}

void check_arguments(const std::string& who, Op op_a, Op op_b, int64_t m, int64_t n, int64_t k, int64_t lda,
                     int64_t ldb, int64_t ldc) {
  const auto fail = [&](const std::string& what) { throw std::invalid_argument(who + ": " + what); };
  if (m < 0 || n < 0 || k < 0) fail("negative size");
  if (lda < std::max<int64_t>(1, op_a == Op::N ? m : k)) fail("lda too small: " + std::to_string(lda));
  if (ldb < std::max<int64_t>(1, op_b == Op::N ? k : n)) fail("ldb too small: " + std::to_string(ldb));
  if (ldc < std::max<int64_t>(1, m)) fail("ldc too small: " + std::to_string(ldc));
}

// KC before balancing over k. The L1-resident B sliver (kc×nr) and the A sliver streaming past it
// (mr×kc) fill about 3/4 of L1, leaving room for the C tile; at least 256 steps to amortise the C
// update. A tile too tall for both slivers to share L1 in 256 steps streams its A sliver from L2
// whatever KC is, so only the B sliver is sized, to a third of L1: fewer C loads and stores.
// Measurements: docs/results/history-from-code.md.
int64_t kc_for_l1(int mr, int nr, int64_t l1) {
  constexpr int64_t float_bytes = sizeof(float);
  const int64_t shared = l1 * 3 / 4 / ((mr + nr) * float_bytes) / 16 * 16;
  const int64_t b_sliver_only = l1 / 3 / (nr * float_bytes) / 16 * 16;
  return std::clamp<int64_t>(shared >= 256 ? shared : b_sliver_only, 256, 512);
}

}  // namespace

namespace {
// The size in bytes of cpu0's data or unified cache of this level in Linux's sysfs, 0 if not there.
int64_t sysfs_cache_size(int level) {
  for (int index = 0; index < 16; ++index) {
    const std::string dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(index) + "/";
    std::ifstream level_file(dir + "level"), type_file(dir + "type"), size_file(dir + "size");
    int found = 0;
    std::string type, unit;
    int64_t size = 0;
    if (!(level_file >> found)) return 0;
    if (found != level || !(type_file >> type) || type == "Instruction" || !(size_file >> size)) continue;
    size_file >> unit;
    return size * (unit == "M" ? int64_t(1) << 20 : unit == "K" ? int64_t(1) << 10 : 1);
  }
  return 0;
}
}  // namespace

int64_t cache_size(int level, int64_t fallback) {
  if (const int64_t bytes = sysfs_cache_size(level); bytes > 0) return bytes;
  const int name = level == 1 ? _SC_LEVEL1_DCACHE_SIZE : level == 2 ? _SC_LEVEL2_CACHE_SIZE : _SC_LEVEL3_CACHE_SIZE;
  const long size = sysconf(name);
  return size > 0 ? size : fallback;
}

Blocking blocking_for_depth(int mr, int nr, int64_t k, int k_step) {
  // sysconf costs a few microseconds in some libcs; the caches do not change while we run.
  static const int64_t l1 = cache_size(1, 32 * 1024);
  static const int64_t l2 = cache_size(2, 512 * 1024);
  static const int64_t l3 = cache_size(3, 8 * 1024 * 1024);
  constexpr int64_t float_bytes = sizeof(float);
  Blocking b;
  const int64_t kc_max = round_up(blocking_override.kc > 0 ? blocking_override.kc : kc_for_l1(mr, nr, l1), k_step);
  b.kc = balanced_kc(kc_max, std::max<int64_t>(k, 1), k_step);
  // MC: the packed A block (mc×kc) stays L2-resident while the B panel streams past it: at most a
  // third of L2 (B slivers and C tiles pass through it too) and 128 rows per 512 KiB of L2.
  const int64_t mc_cap = std::max<int64_t>(mr, 128 * std::max<int64_t>(1, l2 / (512 * 1024)));
  b.mc = std::clamp<int64_t>((l2 / 3) / (b.kc * float_bytes), mr, mc_cap) / mr * mr;
  // NC: the packed B panel (kc×nc) takes at most a quarter of L3, capped at 1536 columns per MiB
  // of L2 (at least 1536): narrower panels sweep fewer TLB pages and stay partly L2-resident.
  const int64_t nc_cap = 1536 * std::max<int64_t>(1, l2 / (1024 * 1024));
  b.nc = std::clamp<int64_t>((l3 / 4) / (kc_max * float_bytes), nr, nc_cap) / nr * nr;
  if (blocking_override.mc > 0) b.mc = round_up(blocking_override.mc, mr);
  if (blocking_override.nc > 0) b.nc = round_up(blocking_override.nc, nr);
  return b;
}

void set_blocking_override(const Blocking& blocking) { blocking_override = blocking; }

int64_t balanced_kc(int64_t kc_max, int64_t k, int k_step) {
  const int64_t steps = ceil_div(k, kc_max);
  return std::min({kc_max, k, round_up(ceil_div(k, steps), std::lcm(8, k_step))});
}

}  // namespace detail

std::string_view to_string(MicroKernel kernel) {
  switch (kernel) {
    case MicroKernel::portable: return "portable";
    case MicroKernel::avx2: return "avx2";
    case MicroKernel::avx512: return "avx512";
    case MicroKernel::avx512_bf16: return "avx512-bf16";
    case MicroKernel::amx_bf16: return "amx-bf16";
  }
  return "unknown";
}

std::optional<MicroKernel> parse_micro_kernel(std::string_view text) {
  for (MicroKernel kernel : {MicroKernel::portable, MicroKernel::avx2, MicroKernel::avx512, MicroKernel::avx512_bf16,
                             MicroKernel::amx_bf16}) {
    if (text == to_string(kernel)) return kernel;
  }
  return std::nullopt;
}

Dtype input_dtype(MicroKernel kernel) {
  return kernel == MicroKernel::amx_bf16 || kernel == MicroKernel::avx512_bf16 ? Dtype::bf16 : Dtype::fp32;
}

std::vector<MicroKernel> available_micro_kernels(Dtype input) {
  std::vector<MicroKernel> kernels;
  for (const detail::KernelEntry& entry : detail::kernel_table) {
    if (entry.input == input && detail::cpu_supports(entry.id)) kernels.push_back(entry.id);
  }
  return kernels;
}

std::optional<MicroKernel> best_bf16_micro_kernel() {
  const std::vector<MicroKernel> kernels = available_micro_kernels(Dtype::bf16);
  if (kernels.empty()) return std::nullopt;
  return kernels.back();
}

bool avx512_pays_off(double fma_gain) { return fma_gain >= 1.5; }

std::optional<double> avx512_fma_gain() {
  static const std::optional<double> gain = []() -> std::optional<double> {
    if (!detail::cpu_supports(MicroKernel::avx512) || !detail::cpu_supports(MicroKernel::avx2)) return std::nullopt;
    // Trials of 0.1-0.2 ms, alternating the widths so a frequency step or a preempted slice
    // hits both; the best rate of each is what the core can do.
    constexpr int64_t iterations = 50'000;
    double best_avx2 = 0, best_avx512 = 0;
    for (int trial = 0; trial < 40; ++trial) {
      for (MicroKernel family : {MicroKernel::avx2, MicroKernel::avx512}) {
        const auto start = std::chrono::steady_clock::now();
        const double flops = peak_loop(family, iterations);
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        double& best = family == MicroKernel::avx2 ? best_avx2 : best_avx512;
        best = std::max(best, flops / seconds);
      }
    }
    return best_avx512 / best_avx2;
  }();
  return gain;
}

MicroKernel best_micro_kernel() {
  static const MicroKernel best = [] {
    const MicroKernel widest = available_micro_kernels().back();
    if (widest != MicroKernel::avx512) return widest;
    const std::optional<double> gain = avx512_fma_gain();
    return gain && !avx512_pays_off(*gain) ? MicroKernel::avx2 : widest;
  }();
  return best;
}

namespace detail {

namespace {
void pack_matrix_a(const void* context, int64_t pc, int64_t kc, int64_t first, int64_t extent, int width,
                   float* dst) {
  const auto& a = *static_cast<const MatrixOperand*>(context);
  pack_a(a.op, op_element(a.op, a.x, a.ld, first, pc), a.ld, extent, kc, width, dst);
}
void pack_matrix_b(const void* context, int64_t pc, int64_t kc, int64_t first, int64_t extent, int width,
                   float* dst) {
  const auto& b = *static_cast<const MatrixOperand*>(context);
  pack_b(b.op, op_element(b.op, b.x, b.ld, pc, first), b.ld, kc, extent, width, dst);
}
}  // namespace

PackedPanels pack_panels(const PackSource& source, int64_t lanes, int64_t depth, bool as_a, MicroKernel variant) {
  const KernelEntry* kernel = find_kernel(variant);
  if (kernel == nullptr) throw std::runtime_error("pack_panels: unknown micro-kernel");
  PackedPanels packed;
  packed.lanes = lanes, packed.depth = depth;
  packed.width = as_a ? kernel->mr : kernel->nr;
  packed.kc = blocking_for_depth(kernel->mr, kernel->nr, depth).kc;  // as sgemm_sources
  constexpr int64_t align_floats = 64 / sizeof(float);
  packed.storage.resize(size_t(round_up(lanes, packed.width) * depth + align_floats));
  const auto misalignment = int64_t(reinterpret_cast<uintptr_t>(packed.storage.data()) % 64) / int64_t(sizeof(float));
  packed.offset = (align_floats - misalignment) % align_floats;
  for (int64_t pc = 0; pc < depth; pc += packed.kc) {
    const int64_t kc = std::min(packed.kc, depth - pc);
    source.pack(source.context, pc, kc, 0, lanes, packed.width, packed.data() + pc * round_up(lanes, packed.width));
  }
  return packed;
}

PackSource matrix_a_source(const MatrixOperand& a) { return {pack_matrix_a, &a}; }
PackSource matrix_b_source(const MatrixOperand& b) { return {pack_matrix_b, &b}; }

namespace {
// A window of another source: its lanes start `first_lane` lanes and its k steps `first_step`
// steps into the inner one's. Threads slice C (lanes) or split k (steps) through it.
struct SourceWindow {
  const PackSource* inner;
  int64_t first_lane = 0, first_step = 0;
  // Packed panels stay usable through a window that slices whole slivers of lanes at step 0.
  PackSource source() const {
    const PackedPanels* packed = inner->packed;
    if (packed == nullptr || first_step != 0 || first_lane % packed->width != 0) return {pack_window, this};
    return {pack_window, this, packed, inner->packed_first_lane + first_lane};
  }
  static void pack_window(const void* context, int64_t pc, int64_t kc, int64_t first, int64_t extent, int width,
                          float* dst) {
    const auto& w = *static_cast<const SourceWindow*>(context);
    w.inner->pack(w.inner->context, w.first_step + pc, kc, w.first_lane + first, extent, width, dst);
  }
};

// A small C over a deep k (conv backward-filter: C is CRS×K, k runs over every pixel): slicing C
// would leave each thread a sliver or two and make each pack all of the deep other operand. Split
// k instead: thread 0 accumulates its share straight into C (with beta), the others into private
// partial products that are added at the end, O(m·n) per thread against O(m·n·k/threads) of work.
void split_depth_across_threads(int64_t m, int64_t n, int64_t k, float alpha, const PackSource& a,
                                const PackSource& b, float beta, float* c, int64_t ldc, const GemmOptions& options,
                                int threads, int k_step) {
  thread_local AlignedBuffer partial_buffer;
  float* partials = partial_buffer.get((threads - 1) * m * n);
  GemmOptions single = options;
  single.threads = 1;
#pragma omp parallel num_threads(threads)
  {
    const int64_t id = omp_get_thread_num(), team = omp_get_num_threads();
    // Split points on whole k_steps (k is a multiple of k_step whenever k_step > 1).
    const int64_t steps = ceil_div(k, k_step);
    const int64_t first = steps * id / team * k_step, depth = std::min(k, steps * (id + 1) / team * k_step) - first;
    const SourceWindow a_part{&a, 0, first}, b_part{&b, 0, first};
    float* out = id == 0 ? c : partials + (id - 1) * m * n;
    sgemm_sources(m, n, depth, alpha, a_part.source(), b_part.source(), id == 0 ? beta : 0.0f, out, id == 0 ? ldc : m,
                  single);
#pragma omp barrier
#pragma omp for
    for (int64_t j = 0; j < n; ++j) {
      for (int64_t t = 0; t + 1 < team; ++t) {
        const float* pj = partials + t * m * n + j * m;
        float* cj = c + j * ldc;
        for (int64_t i = 0; i < m; ++i) cj[i] += pj[i];
      }
    }
  }
}

// Threads share nothing: each takes a contiguous slice of C's rows or columns (whole slivers)
// and runs the single-threaded loops on it, packing its own copy of the other operand. The copy
// costs O(k·lanes) against O(m·n·k) work; what it buys is no barriers and no panel written by one
// core and read by the other (a cooperative team with a shared panel and barriers was slower).
// The slice is taken along the dimension with more slivers, so the duplicated operand is the
// narrower one. An operand packed ahead (conv filters) is not copied when sliced: each thread
// reads its slice of the shared panels (SourceWindow), which keeps enough slivers per thread on
// small maps. Measurements: docs/results/history-from-code.md.
void split_across_threads(int64_t m, int64_t n, int64_t k, float alpha, const PackSource& a, const PackSource& b,
                          float beta, float* c, int64_t ldc, const GemmOptions& options, int threads,
                          bool split_rows, int width) {
  const int64_t lanes = split_rows ? m : n;
  const int64_t slivers = ceil_div(lanes, width);
  threads = int(std::min<int64_t>(threads, slivers));
  GemmOptions single = options;
  single.threads = 1;
#pragma omp parallel num_threads(threads)
  {
    const int64_t id = omp_get_thread_num(), team = omp_get_num_threads();
    const int64_t first = slivers * id / team * width, end = std::min(lanes, slivers * (id + 1) / team * width);
    if (end > first && split_rows) {
      const SourceWindow rows{&a, first, 0};
      sgemm_sources(end - first, n, k, alpha, rows.source(), b, beta, c + first, ldc, single);
    } else if (end > first) {
      const SourceWindow columns{&b, first, 0};
      sgemm_sources(m, end - first, k, alpha, a, columns.source(), beta, c + first * ldc, ldc, single);
    }
  }
}
}  // namespace

void sgemm_sources(int64_t m, int64_t n, int64_t k, float alpha, const PackSource& a, const PackSource& b, float beta,
                   float* c, int64_t ldc, const GemmOptions& options) {
  const MicroKernel variant = options.micro_kernel.value_or(best_micro_kernel());
  const KernelEntry* kernel = find_kernel(variant);
  if (kernel == nullptr || !cpu_supports(variant)) {
    throw std::runtime_error("sgemm: micro-kernel '" + std::string(to_string(variant)) + "' cannot run on this CPU");
  }
  if (m == 0 || n == 0) return;
  if (k == 0 || alpha == 0.0f) {
    scale_c(m, n, beta, c, ldc);
    return;
  }

  const int mr = kernel->mr, nr = kernel->nr;
  int threads = options.threads > 0 ? options.threads : omp_get_max_threads();
  // Below ~64³ starting the team costs more than the second core gains.
  if (double(m) * double(n) * double(k) < 64.0 * 64.0 * 64.0) threads = 1;
  Blocking blocking = blocking_for_depth(mr, nr, k, kernel->k_step);
  blocking.nc = std::min(blocking.nc, round_up(n, nr));
  blocking.mc = std::min(blocking.mc, round_up(m, mr));

  // Operands packed ahead are used only if packed for exactly this blocking and micro-kernel.
  const auto usable = [&](const PackSource& source, int64_t lanes, int width) {
    const PackedPanels* packed = source.packed;
    return packed != nullptr && source.packed_first_lane + lanes <= packed->lanes && packed->depth == k &&
                   packed->width == width && packed->kc == blocking.kc
               ? packed
               : nullptr;
  };
  const PackedPanels* a_ahead = usable(a, m, mr);
  const PackedPanels* b_ahead = usable(b, n, nr);
  // A small C over a deep k splits k (split_depth_across_threads). Operands packed ahead are laid
  // out in KC steps from k = 0, which a thread starting mid-k could not use, so they never do.
  if (threads > 1 && !a_ahead && !b_ahead && m * n <= 65536 && k >= 4 * std::max(m, n)) {
    return split_depth_across_threads(m, n, k, alpha, a, b, beta, c, ldc, options, threads, kernel->k_step);
  }
  if (threads > 1) {
    const bool split_rows = ceil_div(m, mr) >= ceil_div(n, nr);
    return split_across_threads(m, n, k, alpha, a, b, beta, c, ldc, options, threads, split_rows, split_rows ? mr : nr);
  }
  if (kernel->begin) kernel->begin();
  loop_jc(Gemm{m, n, k, alpha, a, b, beta, c, ldc, kernel, blocking, a_ahead, b_ahead});
  if (kernel->end) kernel->end();
}

}  // namespace detail

void sgemm(Op op_a, Op op_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
           const float* b, int64_t ldb, float beta, float* c, int64_t ldc, const GemmOptions& options) {
  using namespace detail;
  check_arguments("sgemm", op_a, op_b, m, n, k, lda, ldb, ldc);
  if (options.micro_kernel && input_dtype(*options.micro_kernel) != Dtype::fp32) {
    throw std::runtime_error("sgemm: micro-kernel '" + std::string(to_string(*options.micro_kernel)) +
                             "' multiplies bf16; sgemm needs an fp32 one");
  }
  const MatrixOperand a_operand{op_a, a, lda}, b_operand{op_b, b, ldb};
  sgemm_sources(m, n, k, alpha, matrix_a_source(a_operand), matrix_b_source(b_operand), beta, c, ldc, options);
}


bf16_bits to_bf16(float x) {
  uint32_t bits = 0;
  std::memcpy(&bits, &x, sizeof bits);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return bf16_bits((bits >> 16) | 0x40u);  // NaN: keep it quiet
  bits += 0x7fffu + ((bits >> 16) & 1u);                                             // round to nearest even
  return bf16_bits(bits >> 16);
}

namespace detail {
namespace {
void pack_bf16_pairs(const void* context, int64_t pc, int64_t kc, int64_t first, int64_t extent, int width,
                     float* dst) {
  pack_a_bf16_pairs(*static_cast<const Bf16Operand*>(context), pc, kc, first, extent, width, dst);
}
void pack_bf16_chunks(const void* context, int64_t pc, int64_t kc, int64_t first, int64_t extent, int width,
                      float* dst) {
  pack_b_bf16_chunks(*static_cast<const Bf16Operand*>(context), pc, kc, first, extent, width, dst);
}
}  // namespace
}  // namespace detail

// The fp32 loops over 32-bit units: the GEMM's depth becomes ⌈k/2⌉ pairs, padded to whole chunks
// of the kernel (zeros past k come from the packing), and everything else is sgemm's.
void gemm_bf16(Op op_a, Op op_b, int64_t m, int64_t n, int64_t k, float alpha, const bf16_bits* a, int64_t lda,
               const bf16_bits* b, int64_t ldb, float beta, float* c, int64_t ldc, const GemmOptions& options) {
  using namespace detail;
  check_arguments("gemm_bf16", op_a, op_b, m, n, k, lda, ldb, ldc);
  const std::optional<MicroKernel> variant = options.micro_kernel ? options.micro_kernel : best_bf16_micro_kernel();
  if (!variant) {
    throw std::runtime_error("gemm_bf16: no bf16 micro-kernel can run on this CPU (needs AVX512-BF16 or AMX-BF16)");
  }
  if (input_dtype(*variant) != Dtype::bf16) {
    throw std::runtime_error("gemm_bf16: micro-kernel '" + std::string(to_string(*variant)) +
                             "' multiplies fp32; gemm_bf16 needs a bf16 one");
  }
  const KernelEntry* kernel = find_kernel(*variant);
  GemmOptions resolved = options;
  resolved.micro_kernel = variant;
  // AMX reads B in chunks of 32 k per column; avx512-bf16 reads it in the pairs A comes in, with
  // the columns of op(B) as lanes: those are the rows of op(B)ᵀ, so B packs as an A of flipped op.
  const bool b_in_chunks = *variant == MicroKernel::amx_bf16;
  const Op flipped_b = op_b == Op::N ? Op::T : Op::N;
  const Bf16Operand a_operand{op_a, a, lda, k}, b_operand{b_in_chunks ? op_b : flipped_b, b, ldb, k};
  const PackSource b_source{b_in_chunks ? pack_bf16_chunks : pack_bf16_pairs, &b_operand};
  const int64_t k_units = round_up(ceil_div(k, 2), kernel ? kernel->k_step : 1);
  sgemm_sources(m, n, k_units, alpha, PackSource{pack_bf16_pairs, &a_operand}, b_source, beta, c, ldc, resolved);
}

}  // namespace trainrate::kernels::cpu
