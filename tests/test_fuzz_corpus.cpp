// Replays every fuzz seed, including the inputs of crashes the fuzzers found, through the same
// entry points the fuzz targets use: each must be accepted or rejected with InputError.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "fuzz/fuzz_inputs.hpp"

namespace trainrate {
namespace {

namespace fs = std::filesystem;

const fs::path kCorpus = fs::path(TRAINRATE_TEST_DATA_DIR).parent_path() / "fuzz" / "corpus";

std::string read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void replay(const std::string& target, void (*feed)(const std::string&)) {
  int files = 0;
  for (const auto& entry : fs::directory_iterator(kCorpus / target)) {
    SCOPED_TRACE(entry.path().string());
    EXPECT_NO_THROW(feed(read_all(entry.path())));
    ++files;
  }
  EXPECT_GT(files, 0) << "no seeds in " << (kCorpus / target);
}

TEST(FuzzCorpus, SuiteSeedsParseOrFailCleanly) { replay("suite", fuzz::suite_input); }
TEST(FuzzCorpus, NetworkSeedsParseOrFailCleanly) { replay("network", fuzz::network_input); }
TEST(FuzzCorpus, ResultsSeedsParseOrFailCleanly) { replay("results", fuzz::results_input); }

}  // namespace
}  // namespace trainrate
