// Host facts read from the operating system: cache sizes from sysfs text (a captured tree, so the
// parser is tested on the text a real machine gives) and when a host is too busy to time on.
#include "temp_dir.hpp"
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "devices/cpu_device.hpp"

namespace trainrate {
namespace {

namespace fs = std::filesystem;

void write_cache_index(const fs::path& cache_dir, int index, const std::string& level, const std::string& type,
                       const std::string& size, const std::string& shared_cpus) {
  const fs::path dir = cache_dir / ("index" + std::to_string(index));
  fs::create_directories(dir);
  std::ofstream(dir / "level") << level << "\n";
  std::ofstream(dir / "type") << type << "\n";
  std::ofstream(dir / "size") << size << "\n";
  std::ofstream(dir / "shared_cpu_list") << shared_cpus << "\n";
}

TEST(CpuCaches, SizeTextInSysfsUnits) {
  EXPECT_EQ(parse_cache_size_bytes("32K"), 32 * 1024);
  EXPECT_EQ(parse_cache_size_bytes("32768K\n"), int64_t(32) << 20);
  EXPECT_EQ(parse_cache_size_bytes("1M"), int64_t(1) << 20);
  EXPECT_EQ(parse_cache_size_bytes("512"), 512);
  EXPECT_FALSE(parse_cache_size_bytes("").has_value());
  EXPECT_FALSE(parse_cache_size_bytes("big").has_value());
  EXPECT_FALSE(parse_cache_size_bytes("12Q").has_value());
}

// cpu0's cache folder of the 2-vCPU AMD EPYC (Zen 4) VM whose glibc sysconf said 320 MiB of L3:
// the kernel says 32768K, one instance shared by both vCPUs.
TEST(CpuCaches, ReadFromSysfsIsOneInstanceNotASum) {
  trainrate::testing::TempDir dir;
  const fs::path cache = dir.path() / "cache";
  write_cache_index(cache, 0, "1", "Data", "32K", "0");
  write_cache_index(cache, 1, "1", "Instruction", "32K", "0");
  write_cache_index(cache, 2, "2", "Unified", "1024K", "0");
  write_cache_index(cache, 3, "3", "Unified", "32768K", "0-1");
  const CacheSizes sizes = read_cache_sizes(cache);
  EXPECT_EQ(sizes.l1d_bytes, 32 * 1024);
  EXPECT_EQ(sizes.l2_bytes, 1024 * 1024);
  EXPECT_EQ(sizes.l3_bytes, int64_t(32) << 20);
}

// cpufreq as a bare-metal Linux host shows it; virtual machines often have no such folder.
TEST(CpuFrequency, GovernorAndCurrentMhzFromSysfsElseUnavailable) {
  trainrate::testing::TempDir dir;
  const fs::path cpufreq = dir.path() / "cpufreq";
  fs::create_directories(cpufreq);
  std::ofstream(cpufreq / "scaling_governor") << "performance\n";
  std::ofstream(cpufreq / "scaling_cur_freq") << "3701234\n";  // kHz
  const auto facts = read_cpufreq(cpufreq);
  EXPECT_EQ(facts.at("cpufreq_governor"), "performance");
  EXPECT_EQ(facts.at("cpu_mhz"), "3701");
  std::ofstream(cpufreq / "scaling_cur_freq") << "<unsupported>\n";
  EXPECT_EQ(read_cpufreq(cpufreq).at("cpu_mhz"), "unavailable");
  const auto absent = read_cpufreq(dir.path() / "absent");
  EXPECT_EQ(absent.at("cpufreq_governor"), "unavailable");
  EXPECT_EQ(absent.at("cpu_mhz"), "unavailable");
}

TEST(CpuCaches, MissingLevelsAreZero) {
  trainrate::testing::TempDir dir;
  const fs::path cache = dir.path() / "cache";
  write_cache_index(cache, 0, "1", "Data", "48K", "0");
  write_cache_index(cache, 1, "2", "Unified", "2048K", "0");
  const CacheSizes sizes = read_cache_sizes(cache);
  EXPECT_EQ(sizes.l1d_bytes, 48 * 1024);
  EXPECT_EQ(sizes.l2_bytes, 2048 * 1024);
  EXPECT_EQ(sizes.l3_bytes, 0);
  EXPECT_EQ(read_cache_sizes(dir.path() / "absent").l3_bytes, 0);
}

// Busy: more runnable work than the cores minus the one the benchmark needs.
TEST(HostLoad, BusyAboveCoresMinusOne) {
  EXPECT_FALSE(host_is_busy(0.9, 2));
  EXPECT_TRUE(host_is_busy(1.1, 2));
  EXPECT_FALSE(host_is_busy(6.5, 8));
  EXPECT_TRUE(host_is_busy(7.5, 8));
  EXPECT_TRUE(host_is_busy(0.5, 1));
  EXPECT_FALSE(host_is_busy(0.0, 1));
}

}  // namespace
}  // namespace trainrate
