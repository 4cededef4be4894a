// The per-architecture peak table, pinned against published datasheet figures
// (/work/shared/reference.md: V100 SXM2, A100 SXM4, H100 SXM5). Runs without a GPU.
#include <gtest/gtest.h>

#include "devices/gpu_peaks.hpp"

namespace trainrate {
namespace {

// Within 1.5% of the published figure (datasheets round to 3 significant digits).
void expect_near_published(std::optional<double> got, double published, const char* what) {
  ASSERT_TRUE(got.has_value()) << what;
  EXPECT_NEAR(*got / published, 1.0, 0.015) << what << ": got " << *got / 1e12 << " T, published " << published / 1e12;
}

std::optional<double> flops(const Peaks& p, Dtype d) {
  auto it = p.datasheet_flops_per_s.find(d);
  return it == p.datasheet_flops_per_s.end() ? std::nullopt : std::optional<double>(it->second);
}

TEST(GpuPeaks, V100Sxm2) {
  // 80 SMs, 1530 MHz boost, 4096-bit HBM2 at 877 MHz.
  const Peaks p = datasheet_peaks(7, 0, 80, 1530, 877, 4096);
  expect_near_published(flops(p, Dtype::fp32), 15.7e12, "fp32");
  expect_near_published(flops(p, Dtype::fp16), 125e12, "fp16 tensor");
  EXPECT_FALSE(flops(p, Dtype::bf16)) << "Volta has no bf16 tensor cores";
  EXPECT_FALSE(flops(p, Dtype::tf32)) << "Volta has no tf32 tensor cores";
  expect_near_published(p.datasheet_bytes_per_s, 900e9, "HBM2 bandwidth");
}

TEST(GpuPeaks, A100Sxm4) {
  // 108 SMs, 1410 MHz; 40 GB: 5120-bit HBM2 at 1215 MHz → 1555 GB/s.
  const Peaks p = datasheet_peaks(8, 0, 108, 1410, 1215, 5120);
  expect_near_published(flops(p, Dtype::fp32), 19.5e12, "fp32");
  expect_near_published(flops(p, Dtype::fp16), 312e12, "fp16 tensor");
  expect_near_published(flops(p, Dtype::bf16), 312e12, "bf16 tensor");
  expect_near_published(flops(p, Dtype::tf32), 156e12, "tf32 tensor");
  expect_near_published(p.datasheet_bytes_per_s, 1555e9, "HBM2 bandwidth");
}

TEST(GpuPeaks, H100SxmFp32AtMaxBoost) {
  // 132 SMs at the 1980 MHz max boost CUDA reports: 67 TF fp32.
  const Peaks p = datasheet_peaks(9, 0, 132, 1980, 2619, 5120);
  expect_near_published(flops(p, Dtype::fp32), 67e12, "fp32");
  // HBM3 5120-bit at 2619 MHz → 3.35 TB/s.
  expect_near_published(p.datasheet_bytes_per_s, 3350e9, "HBM3 bandwidth");
}

TEST(GpuPeaks, H100SxmTensorFiguresUseTheLowerTensorClock) {
  // NVIDIA's 989 TF fp16 / 495 TF tf32 (dense) correspond to 1830 MHz, not the 1980 MHz used for
  // the 67 TF fp32 figure: 132 × 4096 × 1.83 GHz = 989 TF. At 1980 MHz the table gives 1070 TF;
  // trainrate reports against the clock the device reports (documented in docs/gpu.md).
  const Peaks p = datasheet_peaks(9, 0, 132, 1830, 0, 0);
  expect_near_published(flops(p, Dtype::fp16), 989e12, "fp16 tensor");
  expect_near_published(flops(p, Dtype::bf16), 989e12, "bf16 tensor");
  expect_near_published(flops(p, Dtype::tf32), 495e12, "tf32 tensor");
  EXPECT_FALSE(p.datasheet_bytes_per_s) << "no memory clock given";
  const Peaks at_max_boost = datasheet_peaks(9, 0, 132, 1980, 0, 0);
  EXPECT_NEAR(*flops(at_max_boost, Dtype::fp16) / 1e12, 1070.5, 1.0);
}

TEST(GpuPeaks, UnknownMinorUsesClosestLowerOfSameMajor) {
  ASSERT_TRUE(sm_throughput(8, 7).has_value());
  EXPECT_EQ(sm_throughput(8, 7)->cc_minor, 6);
  ASSERT_TRUE(sm_throughput(10, 3).has_value());
  EXPECT_EQ(sm_throughput(10, 3)->cc_minor, 0);
  EXPECT_FALSE(sm_throughput(6, 0).has_value()) << "Pascal is not in the table";
  EXPECT_TRUE(datasheet_peaks(6, 0, 56, 1480, 715, 4096).datasheet_flops_per_s.empty());
}

TEST(GpuPeaks, EveryListedArchitectureHasCudaCoreAndFp16TensorRates) {
  for (auto [major, minor] : {std::pair{7, 0}, {7, 5}, {8, 0}, {8, 6}, {8, 9}, {9, 0}, {10, 0}, {12, 0}}) {
    const auto row = sm_throughput(major, minor);
    ASSERT_TRUE(row.has_value()) << major << "." << minor;
    EXPECT_GT(row->fp32, 0);
    EXPECT_GT(row->fp16, 0);
    if (major >= 8) {
      EXPECT_GT(row->bf16, 0);
      EXPECT_GT(row->tf32, 0);
    }
  }
}

TEST(GpuPeaks, ZeroClocksLeaveFiguresOut) {
  const Peaks p = datasheet_peaks(8, 0, 108, 0, 0, 5120);
  EXPECT_TRUE(p.datasheet_flops_per_s.empty());
  EXPECT_FALSE(p.datasheet_bytes_per_s);
}

}  // namespace
}  // namespace trainrate
