// Backends: one interface for every implementation we time, vendor or ours, CPU or GPU.
//
// A Backend says which problems it can run and turns a problem plus host inputs into a
// PreparedProblem: buffers allocated and filled, ready to run again and again. The runner
// (run/runner.hpp) verifies one run against the reference, then times many.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "devices/device.hpp"
#include "problems/host_inputs.hpp"
#include "problems/problem.hpp"
#include "results/backend_facts.hpp"

namespace trainrate {

class PreparedProblem {
 public:
  virtual ~PreparedProblem() = default;
  // Runs the problem once. May return before the work finishes (GPU); the device's timer
  // and synchronize() account for that.
  virtual void run() = 0;
  // The output as floats (copied back and widened from the device's dtype where needed).
  virtual std::vector<float> output() = 0;
  // What the backend chose (cuDNN algorithm, micro-kernel, math mode), for the results file.
  virtual std::string algorithm() const { return {}; }
  virtual int64_t workspace_bytes() const { return 0; }
};

// Every backend states its facts once, at construction; the runner copies them into each Result.
class Backend {
 public:
  explicit Backend(BackendFacts facts) : facts_(std::move(facts)) {}
  virtual ~Backend() = default;
  const BackendFacts& facts() const { return facts_; }
  // Stable name used on the command line and in results, e.g. "openblas", "custom-cuda/sgemm-naive".
  const std::string& name() const { return facts_.name; }
  BackendRole role() const { return facts_.role; }
  virtual Device& device() const = 0;
  // Empty when the backend can run the problem; otherwise why not (becomes a "skipped" row):
  // first what its facts rule out, then what only the backend knows (CPU features, limits).
  std::optional<std::string> unsupported_reason(const Problem& problem) const {
    if (auto reason = outside_facts(facts_, problem)) return reason;
    return reason_beyond_facts(problem);
  }
  // Allocates and fills buffers. Throws std::runtime_error with a clear message on failure.
  virtual std::unique_ptr<PreparedProblem> prepare(const Problem& problem, const HostInputs& inputs) = 0;

 protected:
  virtual std::optional<std::string> reason_beyond_facts(const Problem& problem) const = 0;

 private:
  BackendFacts facts_;
};

}  // namespace trainrate
