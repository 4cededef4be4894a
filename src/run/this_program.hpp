// Running this program again as a child process, for `run --repetitions`.
#pragma once

#include <atomic>
#include <string>
#include <vector>

namespace trainrate {

// Starts this program's own executable (/proc/self/exe) with `args` (after argv[0]) and waits for
// it. fork+exec, not fork alone: the child must start from nothing (its own library thread pools,
// allocations and thread placement, which is what varies between runs), and a forked copy of a
// process whose OpenMP and OpenBLAS pools already run would inherit them half-alive. A signal that
// arrives here meanwhile (`stop_signal` set by the caller's handler) is passed on to the child.
// Returns its exit status, or 128 + the signal that ended it.
int run_this_program(const std::vector<std::string>& args, const std::atomic<int>& stop_signal);

}  // namespace trainrate
