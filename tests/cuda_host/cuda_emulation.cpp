// The scheduler, shared memory and warp-level instructions of the host CUDA emulation
// (cuda_emulation.hpp says what it models).
#include "cuda_emulation.hpp"

#if !defined(__x86_64__)
#error "cuda_emulation.cpp switches fibers with x86-64 assembly"
#endif

#include <sys/mman.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define CUDA_HOST_ASAN 1
#else
#define CUDA_HOST_ASAN 0
#endif

uint3 threadIdx;
uint3 blockIdx;
dim3 blockDim;
dim3 gridDim;

// Saves the callee-saved registers on the current stack, stores the stack pointer in *save_sp,
// switches to load_sp and restores what is saved there (System V x86-64). Unlike swapcontext it
// makes no system call and is not intercepted by ASan, which clears stack shadow on every swap.
extern "C" void cuda_host_switch(void** save_sp, void* load_sp);
asm(R"(
  .text
  .globl cuda_host_switch
  .type cuda_host_switch, @function
cuda_host_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size cuda_host_switch, .-cuda_host_switch
)");

namespace cuda_host {

Fault injected_fault = Fault::none;

void fail(const char* what, const std::source_location& where) {
  std::fprintf(stderr, "cuda_host: %s (%s:%u, block %u,%u,%u thread %u,%u,%u)\n", what, where.file_name(),
               unsigned(where.line()), blockIdx.x, blockIdx.y, blockIdx.z, threadIdx.x, threadIdx.y, threadIdx.z);
  std::abort();
}

// ---- fp16 conversions ----
uint16_t float_to_half_bits(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  const uint16_t sign = uint16_t((x >> 16) & 0x8000u);
  const uint32_t mag = x & 0x7fffffffu;
  if (mag > 0x7f800000u) return sign | 0x7e00u;             // NaN
  if (mag >= 0x477ff000u) return sign | 0x7c00u;            // ≥ 65520 rounds to infinity
  if (mag < 0x38800000u)                                    // below 2^-14: a subnormal half, in units of 2^-24
    return sign | uint16_t(std::nearbyint(std::bit_cast<float>(mag) * 16777216.0f));
  const uint32_t rounded = mag + 0xfffu + ((mag >> 13) & 1u);  // nearest even at the 13 dropped bits
  return sign | uint16_t((rounded - 0x38000000u) >> 13);       // rebias the exponent 127 → 15
}

float half_bits_to_float_slow(uint16_t h);
// fp16 → fp32 is exact; a table makes it one load in the mma emulation's inner loop.
float half_bits_to_float(uint16_t h) {
  static const std::vector<float> table = [] {
    std::vector<float> t(65536);
    for (uint32_t i = 0; i < t.size(); ++i) t[i] = half_bits_to_float_slow(uint16_t(i));
    return t;
  }();
  return table[h];
}

float half_bits_to_float_slow(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
  if (exp == 0) return std::bit_cast<float>(sign | std::bit_cast<uint32_t>(float(mant) / 16777216.0f));
  if (exp == 31) return std::bit_cast<float>(sign | 0x7f800000u | (mant << 13));
  return std::bit_cast<float>(sign | ((exp + 112) << 23) | (mant << 13));
}

namespace {

constexpr size_t kStackBytes = 256 * 1024;
constexpr size_t kArenaBytes = kMaxSharedPerBlockBytes + 64 * 1024;  // room for red zones
constexpr size_t kRedZoneBytes = 32;
constexpr unsigned char kPoison = 0xff;

enum class State { ready, at_block_barrier, at_warp_op, done };

struct CopyOp {
  void* dst;
  const void* src;
};

struct Fiber {
  void* sp = nullptr;  // saved stack pointer while suspended
  char* stack = nullptr;
  State state = State::ready;
  const char* waiting_for = "";
  uint3 idx{};
  std::vector<CopyOp> uncommitted;
  std::deque<std::vector<CopyOp>> in_flight;
};

struct SharedArray {
  const char* file;
  unsigned line, column;
  size_t offset, bytes;
};

// One block being run on this host thread.
struct BlockRun {
  std::vector<Fiber> fibers;
  int current = -1;
  int threads = 0;
  void* scheduler_sp = nullptr;
  const std::function<void()>* body = nullptr;
  const void* warp_table[1024 / 32][32] = {};
  // Counters that let the scheduler release a warp or the block without scanning every thread.
  int at_block_barrier = 0, done = 0;
  int warp_waiting[1024 / 32] = {}, warp_done[1024 / 32] = {};
  // Shared memory.
  unsigned char* arena = nullptr;
  size_t dynamic_bytes = 0, used_bytes = 0, static_bytes = 0;
  size_t limit_bytes = kStaticSharedLimitBytes;  // static plus dynamic, raised by cudaFuncSetAttribute
  std::vector<SharedArray> arrays;
#if CUDA_HOST_ASAN
  const void* scheduler_stack_bottom = nullptr;
  size_t scheduler_stack_size = 0;
#endif
};

thread_local BlockRun* run = nullptr;
thread_local cudaError_t last_error = cudaSuccess;
std::map<const void*, size_t> max_dynamic_shared;  // written by cudaFuncSetAttribute before launches

Fiber& me() { return run->fibers[size_t(run->current)]; }
int linear_thread() { return run->current; }

void* map_bytes(size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) fail("mmap failed");
  return p;
}

// Stacks and the arena are mapped once per host thread and reused by every block.
struct Pool {
  std::vector<char*> stacks;
  unsigned char* arena = nullptr;
  char* stack(size_t i) {
    while (stacks.size() <= i) stacks.push_back(static_cast<char*>(map_bytes(kStackBytes)));
    return stacks[i];
  }
};
thread_local Pool pool;

void switch_to_scheduler(bool finished) {
#if CUDA_HOST_ASAN
  void* fake_stack = nullptr;
  __sanitizer_start_switch_fiber(finished ? nullptr : &fake_stack, run->scheduler_stack_bottom,
                                 run->scheduler_stack_size);
  cuda_host_switch(&me().sp, run->scheduler_sp);
  __sanitizer_finish_switch_fiber(fake_stack, nullptr, nullptr);
#else
  (void)finished;
  cuda_host_switch(&me().sp, run->scheduler_sp);
#endif
}

void fiber_main() {
#if CUDA_HOST_ASAN
  __sanitizer_finish_switch_fiber(nullptr, &run->scheduler_stack_bottom, &run->scheduler_stack_size);
#endif
  (*run->body)();
  Fiber& f = me();
  if (!f.uncommitted.empty() || !f.in_flight.empty()) fail("thread exited with cp.async copies not waited for");
  f.state = State::done;
  switch_to_scheduler(true);
  fail("a finished fiber was resumed");
}

void block_until_released(State state, const char* what) {
  Fiber& f = me();
  f.state = state;
  f.waiting_for = what;
  if (state == State::at_block_barrier) ++run->at_block_barrier;
  if (state == State::at_warp_op) ++run->warp_waiting[run->current / 32];
  switch_to_scheduler(false);
}

int lanes_in_warp(int warp) { return std::min(run->threads - warp * 32, 32); }

// After fiber t stopped: releases its warp, or the whole block, once everyone they wait for is there.
void release_after(int t) {
  BlockRun& b = *run;
  const Fiber& f = b.fibers[size_t(t)];
  const int warp = t / 32, first = warp * 32, lanes = lanes_in_warp(warp);
  if (f.state == State::done) {
    ++b.done;
    ++b.warp_done[warp];
  }
  if (b.warp_waiting[warp] > 0 && b.warp_waiting[warp] + b.warp_done[warp] == lanes) {
    if (b.warp_done[warp] > 0) fail("a warp operation waits for a lane that has exited");
    const char* what = b.fibers[size_t(first)].waiting_for;
    for (int l = first; l < first + lanes; ++l) {
      Fiber& g = b.fibers[size_t(l)];
      if (g.waiting_for != what && std::strcmp(g.waiting_for, what) != 0)
        fail("lanes of one warp wait at different warp operations");
      g.state = State::ready;
    }
    b.warp_waiting[warp] = 0;
  }
  if (b.at_block_barrier > 0 && b.at_block_barrier + b.done == b.threads) {
    for (Fiber& g : b.fibers)
      if (g.state == State::at_block_barrier) g.state = State::ready;
    b.at_block_barrier = 0;
  }
}

void poison_arena(BlockRun& b) {
#if CUDA_HOST_ASAN
  ASAN_UNPOISON_MEMORY_REGION(b.arena, kArenaBytes);
#endif
  std::memset(b.arena, kPoison, b.used_bytes > b.dynamic_bytes ? b.used_bytes : b.dynamic_bytes);
#if CUDA_HOST_ASAN
  ASAN_POISON_MEMORY_REGION(b.arena, kArenaBytes);
  ASAN_UNPOISON_MEMORY_REGION(b.arena, b.dynamic_bytes);
#endif
  b.arrays.clear();
  b.used_bytes = b.dynamic_bytes;
  b.static_bytes = 0;
}

void run_block(BlockRun& b, bool reverse) {
  poison_arena(b);
  b.at_block_barrier = b.done = 0;
  std::fill(std::begin(b.warp_waiting), std::end(b.warp_waiting), 0);
  std::fill(std::begin(b.warp_done), std::end(b.warp_done), 0);
  for (int t = 0; t < b.threads; ++t) {
    Fiber& f = b.fibers[size_t(t)];
    f.state = State::ready;
    f.uncommitted.clear();
    f.in_flight.clear();
    f.idx = {unsigned(t) % blockDim.x, unsigned(t) / blockDim.x % blockDim.y, unsigned(t) / (blockDim.x * blockDim.y)};
    f.stack = pool.stack(size_t(t));
#if CUDA_HOST_ASAN
    ASAN_UNPOISON_MEMORY_REGION(f.stack, kStackBytes);  // frames left by the previous block's fibers
#endif
    // A fresh stack that "returns" into fiber_main: six zero registers for cuda_host_switch to pop,
    // then fiber_main's address, then a dummy return address keeping the ABI's 16-byte alignment.
    auto* top = reinterpret_cast<void**>(f.stack + kStackBytes);
    top[-1] = nullptr;
    top[-2] = reinterpret_cast<void*>(&fiber_main);
    for (int r = 3; r <= 8; ++r) top[-r] = nullptr;
    f.sp = top - 8;
  }
  for (;;) {
    bool ran = false, all_done = true;
    for (int i = 0; i < b.threads; ++i) {
      const int t = reverse ? b.threads - 1 - i : i;
      Fiber& f = b.fibers[size_t(t)];
      if (f.state != State::ready) {
        all_done = all_done && f.state == State::done;
        continue;
      }
      ran = true;
      b.current = t;
      threadIdx = f.idx;
#if CUDA_HOST_ASAN
      void* fake_stack = nullptr;
      __sanitizer_start_switch_fiber(&fake_stack, f.stack, kStackBytes);
      cuda_host_switch(&b.scheduler_sp, f.sp);
      __sanitizer_finish_switch_fiber(fake_stack, nullptr, nullptr);
#else
      cuda_host_switch(&b.scheduler_sp, f.sp);
#endif
      release_after(t);
      all_done = all_done && f.state == State::done;
    }
    if (all_done) break;
    if (!ran) {
      for (const Fiber& f : b.fibers)
        if (f.state != State::done)
          std::fprintf(stderr, "cuda_host: thread %u,%u,%u waits at %s\n", f.idx.x, f.idx.y, f.idx.z, f.waiting_for);
      fail("deadlock: threads of a block wait at different barriers");
    }
  }
  b.current = -1;
}

}  // namespace

// ---- Launch ----
void set_max_dynamic_shared(const void* kernel, size_t bytes) { max_dynamic_shared[kernel] = bytes; }

void launch(const LaunchConfig& config, const void* kernel, const std::function<void()>& thread_body) {
  const dim3 g = config.grid, bl = config.block;
  const uint64_t threads = uint64_t(bl.x) * bl.y * bl.z;
  size_t smem_limit = kStaticSharedLimitBytes;
  if (auto it = max_dynamic_shared.find(kernel); it != max_dynamic_shared.end()) smem_limit = it->second;
  if (g.x == 0 || g.y == 0 || g.z == 0 || g.y > 65535 || g.z > 65535 || g.x > 0x7fffffffu || threads == 0 ||
      threads > 1024 || bl.z > 64 || config.dynamic_shared_bytes > smem_limit) {
    last_error = cudaErrorInvalidConfiguration;
    return;
  }
  if (!pool.arena) pool.arena = static_cast<unsigned char*>(map_bytes(kArenaBytes));
  BlockRun b;
  b.threads = int(threads);
  b.fibers.resize(threads);
  b.body = &thread_body;
  b.arena = pool.arena;
  b.dynamic_bytes = config.dynamic_shared_bytes;
  b.limit_bytes = std::max(smem_limit, kStaticSharedLimitBytes);
  b.used_bytes = kArenaBytes;  // the first block poisons everything
  BlockRun* outer = run;
  run = &b;
  gridDim = g;
  blockDim = bl;
  uint64_t block = 0;
  for (unsigned z = 0; z < g.z; ++z)
    for (unsigned y = 0; y < g.y; ++y)
      for (unsigned x = 0; x < g.x; ++x, ++block) {
        blockIdx = {x, y, z};
        run_block(b, block % 2 == 1);  // alternate the order threads run in: both kinds of missing barrier show
      }
  run = outer;
}

// ---- Shared memory ----
void* shared_array(size_t bytes, size_t align, const std::source_location& site) {
  require(run && run->current >= 0, "__shared__ array outside a kernel");
  for (const SharedArray& a : run->arrays)
    if (a.line == site.line() && a.column == site.column() && std::strcmp(a.file, site.file_name()) == 0) {
      require(a.bytes == bytes, "one __shared__ declaration with two sizes");
      return run->arena + a.offset;
    }
  const size_t offset = (run->used_bytes + kRedZoneBytes + align - 1) / align * align;
  if (offset + bytes > kArenaBytes) fail("shared memory arena exhausted");
  run->static_bytes += bytes;
  if (run->static_bytes > kStaticSharedLimitBytes) fail("static __shared__ arrays exceed 48 KiB");
  if (run->static_bytes + run->dynamic_bytes > run->limit_bytes) fail("static plus dynamic shared memory over the limit");
  run->arrays.push_back({site.file_name(), unsigned(site.line()), unsigned(site.column()), offset, bytes});
  run->used_bytes = offset + bytes;
#if CUDA_HOST_ASAN
  ASAN_UNPOISON_MEMORY_REGION(run->arena + offset, bytes);
#endif
  return run->arena + offset;
}

void* dynamic_shared_base() {
  require(run && run->dynamic_bytes > 0, "extern __shared__ array in a launch without dynamic shared memory");
  return run->arena;
}

bool in_shared(const void* p, size_t bytes) {
  const auto* c = static_cast<const unsigned char*>(p);
  return run && c >= run->arena && c + bytes <= run->arena + run->used_bytes;
}

// ---- Barriers and warps ----
int lane() { return linear_thread() % 32; }

const void* const* warp_exchange(const void* mine, const char* what) {
  const int warp = linear_thread() / 32;
  require(run->threads >= (warp + 1) * 32, "warp operation in a partial warp");
  run->warp_table[warp][lane()] = mine;
  block_until_released(State::at_warp_op, what);
  return run->warp_table[warp];
}

void warp_release(const char* what) { block_until_released(State::at_warp_op, what); }

// ---- cp.async ----
void cp_async_issue(void* smem, const void* gmem) {
  require(reinterpret_cast<uintptr_t>(smem) % 16 == 0 && reinterpret_cast<uintptr_t>(gmem) % 16 == 0,
          "cp.async of 16 bytes needs 16-byte aligned addresses");
  require(in_shared(smem, 16), "cp.async destination is not in shared memory");
  require(!in_shared(gmem, 1), "cp.async source is in shared memory");
  me().uncommitted.push_back({smem, gmem});
}

void cp_async_commit_group() {
  Fiber& f = me();
  f.in_flight.push_back(std::move(f.uncommitted));
  f.uncommitted.clear();
}

// Copies land as late as the PTX ISA allows: only when a wait_group covers them.
void cp_async_wait_groups(int allowed_in_flight) {
  Fiber& f = me();
  while (f.in_flight.size() > size_t(allowed_in_flight)) {
    for (const CopyOp& op : f.in_flight.front()) std::memcpy(op.dst, op.src, 16);
    f.in_flight.pop_front();
  }
}

// ---- ldmatrix.sync.aligned.m8n8.x4[.trans].shared.b16 ----
// Lane 8·j + r gives the address of row r (8 b16 elements, 16 bytes) of matrix j. Without .trans,
// lane l receives in register j elements (row l/4, columns 2·(l%4) and +1) of matrix j; with
// .trans, elements (rows 2·(l%4) and +1, column l/4), i.e. the matrix transposed.
void ldmatrix_x4(uint32_t (&r)[4], const void* smem, bool trans) {
  require(reinterpret_cast<uintptr_t>(smem) % 16 == 0, "ldmatrix row address not 16-byte aligned");
  require(in_shared(smem, 16), "ldmatrix row address not in shared memory");
  const void* const* rows = warp_exchange(smem, "ldmatrix");
  const int l = lane();
  auto element = [&](int matrix, int row, int col) {
    return uint32_t(static_cast<const uint16_t*>(rows[matrix * 8 + row])[col]);
  };
  for (int j = 0; j < 4; ++j) {
    if (trans)
      r[j] = element(j, 2 * (l % 4), l / 4) | (element(j, 2 * (l % 4) + 1, l / 4) << 16);
    else
      r[j] = element(j, l / 4, 2 * (l % 4)) | (element(j, l / 4, 2 * (l % 4) + 1) << 16);
  }
  warp_release("ldmatrix");
}

// ---- mma.sync.aligned.m16n8k16.row.col.f32.{f16,bf16}.{f16,bf16}.f32 ----
// groupID = lane/4, tig = lane%4. A (16×16): register q of a lane holds row groupID + 8·(q%2),
// columns 2·tig + 8·(q/2) and +1. B (16×8): register q holds rows 2·tig + 8·q and +1, column
// groupID. C/D (16×8): element q is row groupID + 8·(q/2), column 2·tig + q%2.
void mma_m16n8k16(float (&d)[4], const uint32_t (&a)[4], const uint32_t* b, bool bf16) {
  struct Operands {
    const uint32_t* a;
    const uint32_t* b;
  } mine{a, b};
  const void* const* all = warp_exchange(&mine, "mma.sync");
  auto value = [&](uint32_t word, int k) {
    const auto bits = uint16_t(k % 2 ? word >> 16 : word & 0xffffu);
    return bf16 ? bf16_bits_to_float(bits) : half_bits_to_float(bits);
  };
  const int l = lane(), group = l / 4, tig = l % 4;
  float rows[2][16], cols[2][16];  // this lane's rows group, group + 8 of A and columns 2·tig, +1 of B
  for (int k = 0; k < 16; ++k)
    for (int h = 0; h < 2; ++h) {
      int a_owner = group * 4 + (k % 8) / 2;
      if (injected_fault == Fault::mma_lanes && (a_owner % 4 == 1 || a_owner % 4 == 2)) a_owner ^= 3;
      rows[h][k] = value(static_cast<const Operands*>(all[a_owner])->a[h + 2 * (k / 8)], k);
      const int b_owner = (2 * tig + h) * 4 + (k % 8) / 2;
      cols[h][k] = value(static_cast<const Operands*>(all[b_owner])->b[k / 8], k);
    }
  warp_release("mma.sync");
  for (int q = 0; q < 4; ++q) {
    float acc = d[q];
    for (int k = 0; k < 16; ++k) acc = std::fma(rows[q / 2][k], cols[q % 2][k], acc);
    d[q] = acc;
  }
}

}  // namespace cuda_host

// ---- WMMA collectives ----
namespace nvcuda::wmma::detail {
void check_collective(const void* ptr, unsigned ldm, size_t elem_bytes, const char* what) {
  const Access mine{ptr, ldm};
  if (elem_bytes) {
    cuda_host::require(reinterpret_cast<uintptr_t>(ptr) % 32 == 0, "WMMA pointer not 256-bit aligned");
    cuda_host::require(ldm * elem_bytes % 16 == 0, "WMMA ldm not a multiple of 16 bytes");
  }
  const void* const* all = cuda_host::warp_exchange(&mine, what);
  for (int l = 0; l < 32; ++l) {
    const auto* other = static_cast<const Access*>(all[l]);
    cuda_host::require(other->ptr == ptr && other->ldm == ldm, "WMMA arguments differ between lanes of a warp");
  }
  cuda_host::warp_release(what);  // every lane has read `mine` before any leaves this frame
}
void end_collective(const char* what) { cuda_host::warp_release(what); }
}  // namespace nvcuda::wmma::detail

// ---- Intrinsics and runtime API ----
void __trap() { cuda_host::fail("__trap()"); }

void __syncthreads() {
  if (cuda_host::injected_fault == cuda_host::Fault::no_syncthreads) return;
  cuda_host::block_until_released(cuda_host::State::at_block_barrier, "__syncthreads");
}

void __syncwarp(unsigned mask) {
  cuda_host::require(mask == 0xffffffffu, "emulated __syncwarp takes the full warp only");
  cuda_host::warp_release("__syncwarp");
}

const char* cudaGetErrorName(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
  }
  return "cudaErrorUnknown";
}
const char* cudaGetErrorString(cudaError_t e) { return cudaGetErrorName(e); }
cudaError_t cudaGetLastError() { return std::exchange(cuda_host::last_error, cudaSuccess); }
cudaError_t cudaGetDevice(int* device) {
  *device = 0;
  return cudaSuccess;
}
cudaError_t cudaGetDeviceCount(int* count) {
  *count = 1;
  return cudaSuccess;
}
cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int) {
  switch (attr) {
    case cudaDevAttrMultiProcessorCount: *value = 132; return cudaSuccess;
    case cudaDevAttrComputeCapabilityMajor: *value = cuda_host::kComputeCapability / 10; return cudaSuccess;
    case cudaDevAttrComputeCapabilityMinor: *value = cuda_host::kComputeCapability % 10; return cudaSuccess;
  }
  return cudaErrorInvalidValue;
}
// 256-byte aligned like cudaMalloc; filled with 0xff so unwritten outputs read as NaN.
cudaError_t cudaMalloc(void** p, size_t bytes) {
  const size_t rounded = (bytes + 255) / 256 * 256;
  *p = std::aligned_alloc(256, rounded ? rounded : 256);
  if (!*p) return cudaErrorMemoryAllocation;
  std::memset(*p, 0xff, bytes);
  return cudaSuccess;
}
cudaError_t cudaFree(void* p) {
  std::free(p);
  return cudaSuccess;
}
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind) {
  std::memcpy(dst, src, bytes);
  return cudaSuccess;
}
// Launches run to completion when made, so the asynchronous calls are done on return too.
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t) {
  return cudaMemcpy(dst, src, bytes, kind);
}
cudaError_t cudaMemsetAsync(void* p, int value, size_t bytes, cudaStream_t) {
  std::memset(p, value, bytes);
  return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }
