// The portable instance of the memory-bound vector loops (baseline flags: SSE2 on x86-64), and the
// choice between the families.
#include <stdexcept>
#include <string>

#include "kernels/cpu/gemm_internal.hpp"
#include "kernels/cpu/memory_bound_loops.hpp"

namespace trainrate::kernels::cpu::detail {

namespace {
struct PortableTag {};
}  // namespace

const MemoryBoundLoops& memory_bound_loops_portable() { return VectorLoops<PortableTag>::table(); }

const MemoryBoundLoops& memory_bound_loops(MicroKernel family) {
  if (family != MicroKernel::portable && family != MicroKernel::avx2 && family != MicroKernel::avx512) {
    throw std::invalid_argument("no fp32 memory-bound loops for " + std::string(to_string(family)));
  }
  if (!cpu_supports(family)) {
    throw std::runtime_error("this CPU cannot run the " + std::string(to_string(family)) + " memory-bound loops");
  }
#if defined(__x86_64__) || defined(__i386__)
  if (family == MicroKernel::avx512) return memory_bound_loops_avx512();
  if (family == MicroKernel::avx2) return memory_bound_loops_avx2();
#endif
  return memory_bound_loops_portable();
}

// The widest family: unlike the GEMM tile, these loops gain from 512-bit vectors even where the
// FMA units are 256 bits wide (Zen 4): half as many instructions, mask registers for the selects,
// and 32 vector registers that hold all the polynomial constants.
const MemoryBoundLoops& memory_bound_loops() {
  static const MemoryBoundLoops& widest = cpu_supports(MicroKernel::avx512) ? memory_bound_loops(MicroKernel::avx512)
                                          : cpu_supports(MicroKernel::avx2) ? memory_bound_loops(MicroKernel::avx2)
                                                                            : memory_bound_loops_portable();
  return widest;
}

}  // namespace trainrate::kernels::cpu::detail
