// Backends: one interface for every implementation we time, vendor or ours, CPU or GPU.
//
// A Backend says which problems it can run and turns a problem plus host inputs into a
// PreparedProblem: buffers allocated and filled, ready to run again and again. The runner
// (measure/runner.hpp) verifies one run against the reference, then times many.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "devices/device.hpp"
#include "problems/problem.hpp"

namespace trainrate {

// Host copies of the two inputs, as floats whose values are exactly representable in the
// problem's dtype, so every backend and the reference see the same numbers.
struct HostInputs {
  std::vector<float> in0, in1;
};

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

enum class BackendRole { vendor, custom };

class Backend {
 public:
  virtual ~Backend() = default;
  // Stable name used on the command line and in results, e.g. "openblas", "custom-cuda/sgemm-naive".
  virtual std::string name() const = 0;
  virtual BackendRole role() const = 0;
  virtual Device& device() const = 0;
  // Empty when the backend can run the problem; otherwise why not (becomes a "skipped" row).
  virtual std::optional<std::string> unsupported_reason(const Problem& problem) const = 0;
  // Allocates and fills buffers. Throws std::runtime_error with a clear message on failure.
  virtual std::unique_ptr<PreparedProblem> prepare(const Problem& problem, const HostInputs& inputs) = 0;
};

std::string_view to_string(BackendRole role);

}  // namespace trainrate
