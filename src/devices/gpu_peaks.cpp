#include "devices/gpu_peaks.hpp"

#include <array>

namespace trainrate {

namespace {

// FLOP/clock/SM, dense. Derived from the architecture whitepapers (lanes or tensor-core FMAs per
// SM per clock × 2) and cross-checked against datasheet totals in tests/test_gpu_peaks.cpp:
//   sm_70  V100: 64 fp32 lanes; 8 tensor cores × 64 fp16 FMA            → 128 / 1024
//   sm_75  T4, RTX 20: as Volta for fp16, no bf16/tf32
//   sm_80  A100: 64 fp32 lanes; 4 tensor cores × 256 fp16 FMA           → 128 / 2048, tf32 1024
//   sm_86  A40/A6000, RTX 30: 128 fp32 lanes; tensor 1024 fp16, 512 tf32
//   sm_89  L40S/L4, RTX 40: 128 fp32 lanes; tensor 1024 fp16, 512 tf32
//   sm_90  H100: 128 fp32 lanes; 4 tensor cores × 512 fp16 FMA          → 256 / 4096, tf32 2048
//   sm_100 B200: 128 fp32 lanes; tensor 8192 fp16, 4096 tf32
//   sm_120 RTX PRO 6000 / RTX 50: 128 fp32 lanes; tensor 1024 fp16, 512 tf32
// GeForce parts of sm_75/86/89/120 run fp16/bf16 MMA with fp32 accumulation at half these rates
// (NVIDIA product segmentation); the table holds the full-rate (data-centre/workstation) figure.
const std::array kTable{
    SmThroughput{7, 0, 128, 1024, 0, 0, "V100; no bf16 or tf32 tensor cores"},
    SmThroughput{7, 5, 128, 1024, 0, 0, "Turing; GeForce halves fp16 with fp32 accumulate"},
    SmThroughput{8, 0, 128, 2048, 2048, 1024, "A100"},
    SmThroughput{8, 6, 256, 1024, 1024, 512, "GA10x; GeForce halves fp16/bf16 with fp32 accumulate"},
    SmThroughput{8, 9, 256, 1024, 1024, 512, "Ada; GeForce halves fp16/bf16 with fp32 accumulate"},
    SmThroughput{9, 0, 256, 4096, 4096, 2048, "Hopper; 4096 needs wgmma, mma.sync reaches about 2/3 of it"},
    SmThroughput{10, 0, 256, 8192, 8192, 4096, "Blackwell datacentre (tcgen05)"},
    SmThroughput{12, 0, 256, 1024, 1024, 512, "Blackwell RTX; GeForce halves fp16/bf16 with fp32 accumulate"},
};

}  // namespace

std::optional<SmThroughput> sm_throughput(int cc_major, int cc_minor) {
  std::optional<SmThroughput> best;
  for (const SmThroughput& row : kTable) {
    if (row.cc_major == cc_major && row.cc_minor <= cc_minor && (!best || row.cc_minor > best->cc_minor)) best = row;
  }
  return best;
}

Peaks datasheet_peaks(int cc_major, int cc_minor, int sm_count, double boost_clock_mhz, double memory_clock_mhz,
                      int bus_width_bits) {
  Peaks peaks;
  if (const auto row = sm_throughput(cc_major, cc_minor); row && sm_count > 0 && boost_clock_mhz > 0) {
    const double per_clock = double(sm_count) * boost_clock_mhz * 1e6;
    auto put = [&](Dtype dtype, double flop_per_clock_per_sm) {
      if (flop_per_clock_per_sm > 0) peaks.datasheet_flops_per_s[dtype] = flop_per_clock_per_sm * per_clock;
    };
    put(Dtype::fp32, row->fp32);
    put(Dtype::fp16, row->fp16);
    put(Dtype::bf16, row->bf16);
    put(Dtype::tf32, row->tf32);
  }
  if (memory_clock_mhz > 0 && bus_width_bits > 0)
    peaks.datasheet_bytes_per_s = double(bus_width_bits) / 8.0 * memory_clock_mhz * 1e6 * 2.0;
  return peaks;
}

}  // namespace trainrate
