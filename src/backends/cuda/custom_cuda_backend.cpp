// custom-cuda: our kernels from kernels/cuda, one Backend per ladder step ("custom-cuda/<variant>")
// plus "custom-cuda", which runs the fastest variant we have for the problem's kind and dtype and
// also the memory-bound layers (custom_cuda_memory.cpp), which are outside the ladder.
#include <climits>
#include <functional>

#include "backends/cuda/cuda_internal.hpp"
#include "backends/cuda/custom_cuda_memory.hpp"
#include "backends/cuda/memory_rules.hpp"
#include "kernels/cuda/check.hpp"
#include "kernels/cuda/ladder_config.hpp"
#include "kernels/cuda/launch.hpp"

namespace trainrate {

namespace {

using Launch = std::function<void(const Problem&, void* in0, void* in1, void* out, cudaStream_t)>;

struct Variant {
  std::string name;       // without the "custom-cuda/" prefix
  bool gemm = true;       // GEMM, else convolution
  bool fp32 = false;      // runs fp32
  bool half = false;      // runs fp16 and bf16
  int min_cc = 70;        // for every dtype
  int tile_n = 128;       // columns per block: bounds the grid's y extent (65535 blocks)
  Launch launch;
};

// A ladder step's facts as kernels/cuda/ladder_config.hpp states them.
template <class Step>
Variant variant(bool gemm, bool fp32, Launch launch) {
  return {Step::kName, gemm, fp32, !fp32, Step::kMinCc, Step::kBN, std::move(launch)};
}

template <void (*F)(const GemmProblem&, const float*, const float*, float*, cudaStream_t)>
Launch sgemm() {
  return [](const Problem& p, void* a, void* b, void* c, cudaStream_t s) {
    F(std::get<GemmProblem>(p), static_cast<const float*>(a), static_cast<const float*>(b), static_cast<float*>(c), s);
  };
}

template <void (*F)(const GemmProblem&, const void*, const void*, void*, cudaStream_t)>
Launch hgemm() {
  return [](const Problem& p, void* a, void* b, void* c, cudaStream_t s) { F(std::get<GemmProblem>(p), a, b, c, s); };
}

const std::vector<Variant>& variants() {
  namespace k = cuda_kernels;
  namespace step = cuda_kernels::ladder;
  static const std::vector<Variant> all = {
      variant<step::SgemmNaive>(true, true, sgemm<k::sgemm_naive>()),
      variant<step::SgemmSmem>(true, true, sgemm<k::sgemm_smem>()),
      variant<step::SgemmRegtile>(true, true, sgemm<k::sgemm_regtile>()),
      variant<step::SgemmWarptile>(true, true, sgemm<k::sgemm_warptile>()),
      variant<step::SgemmDbuf>(true, true, sgemm<k::sgemm_dbuf>()),
      variant<step::HgemmWmma>(true, false, hgemm<k::hgemm_wmma>()),
      variant<step::HgemmMma>(true, false, hgemm<k::hgemm_mma>()),
      variant<step::ConvImplicit>(false, true,
                                  [](const Problem& p, void* in0, void* in1, void* out, cudaStream_t s) {
                                    k::conv_implicit(std::get<ConvProblem>(p), static_cast<const float*>(in0),
                                                     static_cast<const float*>(in1), static_cast<float*>(out), s);
                                  }),
      variant<step::ConvImplicitWmma>(false, false,
                                      [](const Problem& p, void* in0, void* in1, void* out, cudaStream_t s) {
                                        k::conv_implicit_wmma(std::get<ConvProblem>(p), in0, in1, out, s);
                                      }),
  };
  return all;
}

const Variant& variant_named(const std::string& name) {
  for (const Variant& v : variants())
    if (v.name == name) return v;
  throw std::logic_error("no custom-cuda variant " + name);
}

std::string cc_text(int cc) { return std::to_string(cc / 10) + "." + std::to_string(cc % 10); }

// Why `v` cannot run `problem` on a device of compute capability `cc`, or nothing.
std::optional<std::string> variant_unsupported(const Variant& v, const Problem& problem, int cc) {
  const Dtype dtype = dtype_of(problem);
  const auto* g = std::get_if<GemmProblem>(&problem);
  const auto* c = std::get_if<ConvProblem>(&problem);
  if (v.gemm && !g) return v.name + " runs GEMM only";
  if (!v.gemm && !c) return v.name + " runs convolutions only";
  if (dtype == Dtype::tf32) return "tf32 not implemented in custom-cuda";
  if (dtype == Dtype::fp32 && !v.fp32) return v.name + " runs fp16/bf16 only";
  if (dtype != Dtype::fp32 && !v.half) return v.name + " runs fp32 only";
  if (cc < v.min_cc) return v.name + " needs compute capability " + cc_text(v.min_cc) + "+ (device is " + cc_text(cc) + ")";
  if (dtype == Dtype::bf16 && cc < 80) return "bf16 needs compute capability 8.0+ (device is " + cc_text(cc) + ")";
  int64_t columns = 0;
  if (g) {
    for (int64_t d : {g->m, g->n, g->k})
      if (d > INT_MAX) return "a GEMM dimension exceeds the kernels' 32-bit indices";
    columns = g->n;
  } else {
    const int64_t extents[] = {c->n * c->p() * c->q(), c->n * c->h * c->w, c->c * c->r * c->s, c->k * c->r * c->s};
    for (int64_t e : extents)
      if (e > INT_MAX) return "convolution too large for the kernels' 32-bit GEMM indices";
    columns = c->pass == ConvPass::forward ? c->k : c->pass == ConvPass::backward_data ? c->c : c->c * c->r * c->s;
  }
  if ((columns + v.tile_n - 1) / v.tile_n > 65535) return "too many columns for the kernel's grid";
  return std::nullopt;
}

class CustomPrepared final : public PreparedProblem {
 public:
  CustomPrepared(std::shared_ptr<CudaDevice> device, const Variant& variant, const Problem& problem,
                 const HostInputs& inputs)
      : device_(std::move(device)), variant_(variant), problem_(problem), operands_(*device_, problem, inputs) {}

  void run() override {
    device_->activate();
    variant_.launch(problem_, operands_.in0.get(), operands_.in1.get(), operands_.out.get(), device_->stream());
  }
  std::vector<float> output() override { return operands_.read_output(*device_); }
  std::string algorithm() const override { return "custom-cuda/" + variant_.name; }

 private:
  std::shared_ptr<CudaDevice> device_;
  const Variant& variant_;
  Problem problem_;
  DeviceOperands operands_;
};

// A forced ladder step is a GEMM or convolution choice; the family backend also runs the
// memory-bound layers.
std::vector<std::string> families(const Variant* variant) {
  if (variant) return {"gemm", "conv"};
  return {"gemm", "conv", "memory"};
}

// The memory-bound layers on the device's stream (custom_cuda_memory.hpp); made with the device current.
class CustomMemoryPrepared final : public PreparedProblem {
 public:
  CustomMemoryPrepared(std::shared_ptr<CudaDevice> device, const MemoryProblem& m, const HostInputs& inputs)
      : device_(std::move(device)), pass_(device_->stream(), m, inputs) {}

  void run() override {
    device_->activate();
    pass_.run();
  }
  std::vector<float> output() override {
    device_->activate();
    return pass_.output();
  }
  std::string algorithm() const override { return "custom-cuda memory-bound kernels, plain layout"; }
  int64_t workspace_bytes() const override { return pass_.workspace_bytes(); }

 private:
  std::shared_ptr<CudaDevice> device_;
  CustomCudaMemoryPass pass_;
};

class CustomCudaBackend final : public Backend {
 public:
  // `variant` empty: the family backend, which picks the best variant per problem.
  CustomCudaBackend(std::shared_ptr<CudaDevice> device, const Variant* variant)
      : Backend({variant ? "custom-cuda/" + variant->name : "custom-cuda", BackendRole::custom, "cuda",
                 {"cublas", "cudnn"}, families(variant), {Dtype::fp32, Dtype::tf32, Dtype::fp16, Dtype::bf16}}),
        device_(std::move(device)),
        variant_(variant) {}
  Device& device() const override { return *device_; }

  std::optional<std::string> reason_beyond_facts(const Problem& problem) const override {
    if (variant_) return variant_unsupported(*variant_, problem, device_->compute_capability());
    if (const auto* m = std::get_if<MemoryProblem>(&problem)) return custom_cuda_memory_unsupported(*m);
    if (dtype_of(problem) == Dtype::tf32) return "tf32 not implemented in custom-cuda";
    return variant_unsupported(best_variant(problem), problem, device_->compute_capability());
  }

  std::unique_ptr<PreparedProblem> prepare(const Problem& problem, const HostInputs& inputs) override {
    if (auto reason = unsupported_reason(problem)) throw std::runtime_error(*reason);
    if (const auto* m = std::get_if<MemoryProblem>(&problem)) {
      device_->activate();
      return std::make_unique<CustomMemoryPrepared>(device_, *m, inputs);
    }
    const Variant& v = variant_ ? *variant_ : best_variant(problem);
    return std::make_unique<CustomPrepared>(device_, v, problem, inputs);
  }

 private:
  // The fastest variant for the problem's kind and dtype on this device.
  const Variant& best_variant(const Problem& problem) const {
    namespace step = cuda_kernels::ladder;
    const bool fp32 = dtype_of(problem) == Dtype::fp32;
    if (std::holds_alternative<ConvProblem>(problem))
      return variant_named(fp32 ? step::ConvImplicit::kName : step::ConvImplicitWmma::kName);
    if (fp32) return variant_named(step::SgemmDbuf::kName);
    const bool mma_runs = device_->compute_capability() >= step::HgemmMma::kMinCc;
    return variant_named(mma_runs ? step::HgemmMma::kName : step::HgemmWmma::kName);
  }

  std::shared_ptr<CudaDevice> device_;
  const Variant* variant_;
};

}  // namespace

std::vector<std::unique_ptr<Backend>> make_custom_cuda_backends(std::shared_ptr<CudaDevice> device) {
  std::vector<std::unique_ptr<Backend>> out;
  out.push_back(std::make_unique<CustomCudaBackend>(device, nullptr));
  for (const Variant& v : variants()) out.push_back(std::make_unique<CustomCudaBackend>(device, &v));
  return out;
}

}  // namespace trainrate
