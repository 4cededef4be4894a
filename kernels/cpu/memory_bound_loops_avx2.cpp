// The AVX2+FMA instance of the memory-bound vector loops. This file alone is compiled with
// -mavx2 -mfma (see CMakeLists.txt) and its table is only handed out after the CPU was checked.
#include "kernels/cpu/memory_bound_internal.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include "kernels/cpu/memory_bound_loops.hpp"

namespace trainrate::kernels::cpu::detail {

namespace {
struct Avx2Tag {};
}  // namespace

const MemoryBoundLoops& memory_bound_loops_avx2() { return VectorLoops<Avx2Tag>::table(); }

}  // namespace trainrate::kernels::cpu::detail
#endif
