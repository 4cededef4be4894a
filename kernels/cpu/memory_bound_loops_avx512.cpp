// The AVX-512F instance of the memory-bound vector loops. This file alone is compiled with
// -mavx512f -mfma (see CMakeLists.txt) and its table is only handed out after the CPU was checked.
#include "kernels/cpu/memory_bound_internal.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include "kernels/cpu/memory_bound_loops.hpp"

namespace trainrate::kernels::cpu::detail {

namespace {
struct Avx512Tag {};
}  // namespace

const MemoryBoundLoops& memory_bound_loops_avx512() { return VectorLoops<Avx512Tag>::table(); }

}  // namespace trainrate::kernels::cpu::detail
#endif
