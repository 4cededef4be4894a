#include "run/this_program.hpp"

#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <stdexcept>

namespace trainrate {

int run_this_program(const std::vector<std::string>& args, const std::atomic<int>& stop_signal) {
  std::vector<char*> argv{const_cast<char*>("trainrate")};
  for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error(fmt::format("cannot start a child process ({})", std::strerror(errno)));
  if (pid == 0) {
    execv("/proc/self/exe", argv.data());
    _exit(127);  // only async-signal-safe calls between fork and exec
  }
  bool passed_on = false;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw std::runtime_error(fmt::format("waiting for the child failed ({})", std::strerror(errno)));
    // A terminal's Ctrl-C reaches the child too; a SIGTERM sent to this process alone does not.
    if (const int signal = stop_signal.load(); signal != 0 && !passed_on) {
      kill(pid, signal);
      passed_on = true;
    }
  }
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

}  // namespace trainrate
