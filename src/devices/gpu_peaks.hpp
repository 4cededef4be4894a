// Datasheet peaks of NVIDIA GPUs from their architecture, SM count and clocks.
//
// Pure C++ (no CUDA headers): the CUDA device fills it from cudaDeviceGetAttribute, the tests pin
// it against published figures on machines without a GPU. Dense rates only; sparse figures are
// twice these and must never be mixed in.
#pragma once

#include <optional>
#include <string>

#include "devices/device.hpp"

namespace trainrate {

// Dense FLOP per clock per SM (an FMA counts 2). Zero where the architecture has no such path.
struct SmThroughput {
  int cc_major = 0, cc_minor = 0;
  double fp32 = 0;       // CUDA cores
  double fp16 = 0;       // tensor cores, fp16 inputs, fp32 accumulate
  double bf16 = 0;       // tensor cores, bf16 inputs, fp32 accumulate
  double tf32 = 0;       // tensor cores, tf32 inputs, fp32 accumulate
  std::string note;      // caveats, e.g. GeForce parts running fp32-accumulate MMA at half rate
};

// The table row for a compute capability: the exact one, else the closest lower minor of the
// same major (sm_87 uses sm_86, sm_103 uses sm_100); empty for unknown majors.
std::optional<SmThroughput> sm_throughput(int cc_major, int cc_minor);

// Peaks from the table: FLOP/clock/SM × SMs × boost clock for each dtype the architecture runs
// (Dtype::tf32 = tensor-core tf32; fp32 = CUDA cores), and DRAM bandwidth as
// bus width / 8 × memory clock × 2 (double data rate). Clocks in MHz as CUDA reports them
// (cudaDevAttrClockRate, cudaDevAttrMemoryClockRate); zero or negative inputs leave the matching
// figure out. Only datasheet_* fields are set.
Peaks datasheet_peaks(int cc_major, int cc_minor, int sm_count, double boost_clock_mhz, double memory_clock_mhz,
                      int bus_width_bits);

}  // namespace trainrate
