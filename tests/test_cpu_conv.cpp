// Our GEMM-based CPU convolutions against the double-accumulating reference: every pass in both
// layouts, across strides, paddings, dilations, odd sizes and the 1×1 shortcut, and the
// implicit-GEMM packing (patches gathered straight into the panels) across every block boundary.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/conv.hpp"
#include "kernels/cpu/conv_internal.hpp"
#include "kernels/cpu/gemm_internal.hpp"
#include "verify/reference.hpp"

namespace trainrate::kernels::cpu {
namespace {

std::vector<float> random_values(int64_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> values(static_cast<size_t>(count));
  for (float& v : values) v = dist(rng);
  return values;
}

// Length of the sum behind one output element, for the tolerance.
int64_t reduction_length(const ConvProblem& cp) {
  switch (cp.pass) {
    case ConvPass::forward: return cp.c * cp.r * cp.s;
    case ConvPass::backward_data: return cp.k * cp.r * cp.s;
    case ConvPass::backward_filter: return cp.n * cp.p() * cp.q();
  }
  return 1;
}

void expect_close(const ConvProblem& cp, const std::vector<float>& got, const std::vector<float>& want) {
  const double abs_tolerance = 1e-5 * std::sqrt(double(reduction_length(cp)));
  int64_t mismatches = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (!(std::abs(got[i] - want[i]) <= 1e-4 * std::abs(want[i]) + abs_tolerance)) {
      if (++mismatches <= 3) ADD_FAILURE() << "output[" << i << "] = " << got[i] << ", want " << want[i];
    }
  }
  EXPECT_EQ(mismatches, 0);
}

// Checks conv2d against the reference, then again with the filters packed ahead (PackedFilters):
// that second call gets NaN filters, so it passes only if every GEMM reading filters took the
// packed panels.
void check(const ConvProblem& cp, int threads, std::optional<MicroKernel> micro_kernel = std::nullopt) {
  SCOPED_TRACE(describe(Problem{cp}) + " threads " + std::to_string(threads) + " kernel " +
               std::string(micro_kernel ? to_string(*micro_kernel) : "best"));
  ASSERT_FALSE(validate(Problem{cp}).has_value()) << *validate(Problem{cp});
  const OperandSizes sizes = operand_elements(Problem{cp});
  const std::vector<float> in0 = random_values(sizes.input0, 11);
  const std::vector<float> in1 = random_values(sizes.input1, 12);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  // NaN everywhere first: the output must be fully overwritten, never read.
  std::vector<float> got(size_t(sizes.output), nan);
  std::vector<float> want(size_t(sizes.output));
  const GemmOptions options{.threads = threads, .micro_kernel = micro_kernel};
  conv2d(cp, in0.data(), in1.data(), got.data(), options);
  reference::compute(Problem{cp}, in0.data(), in1.data(), want.data());
  expect_close(cp, got, want);
  if (cp.pass == ConvPass::backward_filter) return;

  SCOPED_TRACE("filters packed ahead");
  const PackedFilters packed(cp, in1.data(), options);
  const std::vector<float> nan_filters(in1.size(), nan);
  std::fill(got.begin(), got.end(), nan);
  conv2d(cp, in0.data(), nan_filters.data(), got.data(), options, &packed);
  expect_close(cp, got, want);
}

constexpr ConvPass passes[] = {ConvPass::forward, ConvPass::backward_data, ConvPass::backward_filter};
constexpr Layout layouts[] = {Layout::NCHW, Layout::NHWC};

class CpuConv : public testing::TestWithParam<std::tuple<ConvPass, Layout>> {
 protected:
  ConvProblem base() const {
    ConvProblem cp;
    cp.pass = std::get<0>(GetParam());
    cp.layout = std::get<1>(GetParam());
    return cp;
  }
};

TEST_P(CpuConv, StridesPaddingsDilations) {
  // Odd sizes (input 9×7, 3 input and 5 output channels) under every combination, 3×3 and 2×3 filters.
  for (int64_t stride : {1, 2}) {
    for (int64_t pad : {0, 1, 2}) {
      for (int64_t dilation : {1, 2}) {
        for (int64_t r : {3, 2}) {
          ConvProblem cp = base();
          cp.n = 2, cp.c = 3, cp.h = 9, cp.w = 7, cp.k = 5, cp.r = r, cp.s = 3;
          cp.pad_h = cp.pad_w = pad;
          cp.stride_h = cp.stride_w = stride;
          cp.dilation_h = cp.dilation_w = dilation;
          if (validate(Problem{cp})) continue;  // pad must stay below the dilated filter extent
          check(cp, stride == 1 ? 1 : 2);
        }
      }
    }
  }
}

TEST_P(CpuConv, AsymmetricGeometry) {
  ConvProblem cp = base();
  cp.n = 3, cp.c = 5, cp.h = 11, cp.w = 6, cp.k = 7, cp.r = 3, cp.s = 1;
  cp.pad_h = 2, cp.pad_w = 0, cp.stride_h = 1, cp.stride_w = 2, cp.dilation_h = 2, cp.dilation_w = 1;
  check(cp, 2);
  cp.r = 1, cp.s = 4, cp.pad_h = 0, cp.pad_w = 3, cp.stride_h = 3, cp.stride_w = 1, cp.dilation_w = 2;
  check(cp, 1);
}

TEST_P(CpuConv, PointwiseGoesStraightToGemm) {
  ConvProblem cp = base();
  cp.n = 3, cp.c = 13, cp.h = 5, cp.w = 7, cp.k = 17;
  check(cp, 1);
  check(cp, 2);
  cp.h = 9, cp.w = 11;  // above 64 pixels: backward_data's plain GEMM rather than transposed columns
  check(cp, 2);
  cp.h = 5, cp.w = 7;
  cp.stride_h = cp.stride_w = 2;  // 1×1 with stride is not pointwise: phase planes / columns
  check(cp, 2);
}

TEST_P(CpuConv, LargerChannelsUseSeveralGemmBlocks) {
  // Enough channels and pixels that the GEMMs have full tiles and both threads get work.
  ConvProblem cp = base();
  cp.n = 2, cp.c = 32, cp.h = 14, cp.w = 13, cp.k = 40, cp.r = 3, cp.s = 3;
  cp.pad_h = cp.pad_w = 1;
  check(cp, 2);
}

TEST_P(CpuConv, ThreadsSliceTheFiltersPackedAhead) {
  // Many filters on a small map: the GEMM has more slivers along the filters than along the
  // pixels, so the threads slice the filters, each reading its own slivers of the panels packed
  // ahead (check() passes NaN filters then, so a thread that packed them itself would fail).
  // Three threads leave uneven slices that start mid-panel. Sizes above 64³ multiply-adds, below
  // which the GEMM runs on one thread.
  ConvProblem cp = base();
  cp.n = 1, cp.c = 64, cp.h = 5, cp.w = 5, cp.k = 200, cp.r = 1, cp.s = 1;
  for (int threads : {2, 3}) check(cp, threads);
  cp.c = 32, cp.h = cp.w = 3, cp.k = 150, cp.r = cp.s = 3, cp.pad_h = cp.pad_w = 1;  // 9 pixels: filters as rows
  for (int threads : {2, 3}) check(cp, threads);
}

TEST_P(CpuConv, ColumnMatrixBuiltInChunks) {
  // A small column budget splits im2col/col2im into many chunks (ragged last one included); for
  // NHWC a chunk also straddles images.
  detail::set_column_budget(200);
  ConvProblem cp = base();
  cp.n = 3, cp.c = 4, cp.h = 20, cp.w = 9, cp.k = 6, cp.r = 3, cp.s = 3;  // above 64 output pixels
  cp.pad_h = cp.pad_w = 1, cp.stride_h = 2;
  check(cp, 2);
  cp.stride_h = 1, cp.dilation_w = 2;
  check(cp, 1);
  detail::set_column_budget(0);
}

TEST_P(CpuConv, ImplicitPackingCrossesEveryBlockBoundary) {
  // Shrunken GEMM blocks make the patch sources start mid-channel, mid-tap, mid-row and (for the
  // batch-wide k and n of backward_filter and NHWC) mid-image, with ragged last slivers.
  detail::set_blocking_override({.mc = 40, .kc = 37, .nc = 50});
  ConvProblem cp = base();
  cp.n = 3, cp.c = 5, cp.h = 9, cp.w = 11, cp.k = 13, cp.r = 3, cp.s = 2;
  cp.pad_h = 1, cp.pad_w = 1, cp.stride_w = 2, cp.dilation_h = 2;
  check(cp, 1);
  check(cp, 2);
  cp.h = 19, cp.w = 21;  // a map big enough for NCHW forward's per-image GEMMs (above 64 pixels)
  check(cp, 2);
  detail::set_blocking_override({});
}

TEST_P(CpuConv, ImagesInParallelAndNot) {
  // An even batch runs one image per thread (NCHW forward/backward_data); an odd one shares the
  // team inside each GEMM. Both must give the same answer.
  ConvProblem cp = base();
  cp.c = 16, cp.h = 7, cp.w = 7, cp.k = 24, cp.r = 3, cp.s = 3, cp.pad_h = cp.pad_w = 1;
  for (int64_t n : {4, 3, 1}) {
    cp.n = n;
    check(cp, 2);
  }
}

TEST_P(CpuConv, FewInputChannelsLikeTheStem) {
  // ResNet's first layer shape in miniature: C = 3, 7×7 filter, stride 2, padding 3.
  ConvProblem cp = base();
  cp.n = 2, cp.c = 3, cp.h = 20, cp.w = 18, cp.k = 8, cp.r = 7, cp.s = 7;
  cp.pad_h = cp.pad_w = 3, cp.stride_h = cp.stride_w = 2;
  check(cp, 2);
}

TEST_P(CpuConv, StridedPointwiseIsAGatherIntoTheGemm) {
  // ResNet's projection shortcuts: 1×1, stride 2, no padding, even and odd input sizes.
  ConvProblem cp = base();
  cp.n = 2, cp.c = 24, cp.k = 20, cp.stride_h = cp.stride_w = 2;
  for (int64_t size : {14, 9}) {
    cp.h = cp.w = size;
    check(cp, 1);
    check(cp, 2);
  }
}

TEST_P(CpuConv, WidePhasePlanesUnderStrideAndDilation) {
  // NCHW forward splits the padded input into stride_h·stride_w phase planes; dilation 2 with
  // stride 2 puts every tap in one phase, stride 3 spreads them over several, and odd widths make
  // the plane row longer than the output row (slivers cross output rows).
  ConvProblem cp = base();
  cp.n = 2, cp.c = 5, cp.h = 17, cp.w = 12, cp.k = 9, cp.r = 3, cp.s = 3, cp.pad_h = 2, cp.pad_w = 1;
  cp.dilation_h = cp.dilation_w = 2;
  for (int64_t stride : {2, 3}) {
    cp.stride_h = cp.stride_w = stride;
    check(cp, 1);
    check(cp, 2);
  }
  cp.stride_h = 1, cp.stride_w = 3, cp.w = 25;
  check(cp, 2);
}

TEST_P(CpuConv, WideRowsShareTheirPaddingWithTheNextRow) {
  // Stride 1: the wide row is W + pad, so the taps right of the last output column read past the
  // row's end into the next row's leading zeros. Several pads, filter sizes and dilations, on maps
  // large enough for the wide paths (over 64 output pixels), odd widths.
  ConvProblem cp = base();
  cp.n = 2, cp.c = 3, cp.h = 11, cp.w = 13, cp.k = 7;
  for (const auto& [filter, pad, dilation] : {std::tuple{3, 1, 1}, {5, 2, 1}, {7, 3, 1}, {3, 2, 2}, {5, 1, 1}}) {
    cp.r = cp.s = filter, cp.pad_h = cp.pad_w = pad, cp.dilation_h = cp.dilation_w = dilation;
    check(cp, 1);
    check(cp, 2);
  }
  // A one-column map whose padding is wider than the output: reads wrap furthest into the next row.
  cp.h = 70, cp.w = 1, cp.r = cp.s = 3, cp.pad_h = cp.pad_w = 2, cp.dilation_h = cp.dilation_w = 2;
  check(cp, 1);
}

TEST(CpuConvWideLayout, RowIsAsNarrowAsThePaddingAllows) {
  ConvProblem cp;
  cp.c = 2, cp.h = cp.w = 28, cp.k = 4, cp.r = cp.s = 3, cp.pad_h = cp.pad_w = 1;
  EXPECT_EQ(detail::WideLayout(detail::ConvGeometry(cp)).row_floats, 29);  // W + pad, not W + 2·pad
  cp.pad_h = cp.pad_w = 0;
  EXPECT_EQ(detail::WideLayout(detail::ConvGeometry(cp)).row_floats, 28);  // no padding to share: Q' = W
  // Stride 2: reading past the row's end would read input column 28 - 1 = 27, real data, so the
  // phase planes keep their full (W + 2·pad) / 2 width.
  cp.pad_h = cp.pad_w = 1, cp.stride_h = cp.stride_w = 2;
  EXPECT_EQ(detail::WideLayout(detail::ConvGeometry(cp)).row_floats, 15);
}

TEST(CpuConvWideLayout, EveryReadStaysInsideTheImagesPlanes) {
  // Output pixel (p, q) through k step t reads planes[p·Q' + q + tap_offset[t]]; a narrow row must
  // not push the last pixel's reads past the slack row of the last channel's planes.
  ConvProblem cp;
  cp.c = 2, cp.k = 3;
  for (const auto& [h, w, filter, pad, dilation, stride] :
       {std::tuple{70, 1, 3, 2, 2, 1}, {9, 2, 7, 3, 1, 1}, {28, 28, 3, 1, 1, 1}, {13, 5, 5, 4, 2, 1},
        {17, 12, 3, 2, 2, 3}, {224, 224, 7, 3, 1, 2}}) {
    cp.h = h, cp.w = w, cp.r = cp.s = filter, cp.pad_h = cp.pad_w = pad;
    cp.dilation_h = cp.dilation_w = dilation, cp.stride_h = cp.stride_w = stride;
    ASSERT_FALSE(validate(Problem{cp}).has_value()) << *validate(Problem{cp});
    const detail::WideLayout layout{detail::ConvGeometry(cp)};
    const int64_t furthest = *std::max_element(layout.tap_offset.begin(), layout.tap_offset.end());
    const detail::ConvGeometry g(cp);
    EXPECT_LT(furthest + (g.p - 1) * layout.row_floats + g.q - 1, layout.image_floats()) << describe(Problem{cp});
  }
}

TEST_P(CpuConv, WideInputChannels) {
  // 64 input channels: NCHW backward_data with stride 1 then runs as the forward of dy with
  // flipped filters. Every padding and dilation, asymmetric filters, on a small map (batched
  // forward) and a larger one (per-image phase planes); stride 2 stays on col2im.
  ConvProblem cp = base();
  cp.n = 2, cp.c = 64, cp.k = 5, cp.s = 3;
  for (const auto& [size, r, pad, dilation, stride] :
       {std::tuple{7, 3, 1, 1, 1}, {7, 2, 0, 1, 1}, {13, 3, 2, 1, 1}, {13, 3, 2, 2, 1}, {13, 2, 1, 2, 1},
        {12, 3, 0, 1, 1}, {13, 3, 1, 1, 2}}) {
    cp.h = size, cp.w = size + 2, cp.r = r, cp.pad_h = cp.pad_w = pad;
    cp.dilation_h = cp.dilation_w = dilation, cp.stride_h = cp.stride_w = stride;
    ASSERT_FALSE(validate(Problem{cp}).has_value()) << *validate(Problem{cp});
    check(cp, 1);
    check(cp, 2);
  }
}

TEST_P(CpuConv, LargeFiltersOnASmallMap) {
  // 9×9 = 81 taps on a 7×7 output, small enough for the batched forward (filters as GEMM rows).
  ConvProblem cp = base();
  cp.n = 2, cp.c = 3, cp.h = 11, cp.w = 11, cp.k = 5, cp.r = 9, cp.s = 9, cp.pad_h = cp.pad_w = 2;
  check(cp, 1);
  check(cp, 2);
}

TEST_P(CpuConv, SmallMapsOnEitherSideOfThePathThresholds) {
  // NCHW forward and backward-filter run per image from 16 output pixels (4×4, 6×6, 8×8 outputs)
  // and over the whole batch below (3×3). Rows narrower than a sliver cross output rows in packing.
  ConvProblem cp = base();
  cp.c = 6, cp.k = 10, cp.r = cp.s = 3, cp.pad_h = cp.pad_w = 1;
  for (const auto& [size, stride] : {std::pair{4, 1}, {8, 1}, {16, 2}, {3, 1}, {6, 1}, {7, 2}}) {
    cp.h = cp.w = size, cp.stride_h = cp.stride_w = stride;
    for (int64_t n : {2, 3}) {
      cp.n = n;
      check(cp, 1);
      check(cp, 2);
    }
  }
}

TEST_P(CpuConv, EveryMicroKernelThisCpuRuns) {
  ConvProblem cp = base();
  cp.n = 2, cp.c = 6, cp.h = 10, cp.w = 9, cp.k = 35, cp.r = 3, cp.s = 3, cp.pad_h = cp.pad_w = 1;
  for (MicroKernel kernel : available_micro_kernels()) check(cp, 2, kernel);
}

INSTANTIATE_TEST_SUITE_P(Passes, CpuConv, testing::Combine(testing::ValuesIn(passes), testing::ValuesIn(layouts)),
                         [](const testing::TestParamInfo<std::tuple<ConvPass, Layout>>& param_info) {
                           std::string name = std::string(to_string(std::get<0>(param_info.param))) + "_" +
                                              std::string(to_string(std::get<1>(param_info.param)));
                           for (char& ch : name) {
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return name;
                         });

// The AVX-512 kernel's 48-lane slivers of the NCHW forward's phase planes are assembled from one
// run per output row they touch (conv_pack_avx512.cpp): rows of 1 to 49 columns put 1 to 48 runs
// in a sliver and runs across its 16-lane vectors, and PQ not a multiple of 48 leaves a partial
// last sliver. Backward-data with stride 1 and 64 channels runs as such a forward too.
TEST(CpuConvAvx512, SliversSpanSeveralOutputRows) {
  const std::vector<MicroKernel> kernels = available_micro_kernels();
  if (std::find(kernels.begin(), kernels.end(), MicroKernel::avx512) == kernels.end()) {
    GTEST_SKIP() << "this CPU has no AVX-512F, so the AVX-512 micro-kernel and its packing cannot run";
  }
  for (const auto& [height, width] : {std::pair{17, 1}, {5, 5}, {4, 7}, {3, 16}, {2, 17}, {3, 28}, {2, 33}, {2, 49}}) {
    ConvProblem cp;
    cp.n = 1, cp.h = height, cp.w = width, cp.r = cp.s = 3, cp.pad_h = cp.pad_w = 1;
    cp.pass = ConvPass::forward, cp.c = 5, cp.k = 13;
    check(cp, 1, MicroKernel::avx512);
    cp.pass = ConvPass::backward_data, cp.c = 64, cp.k = 7;
    check(cp, 1, MicroKernel::avx512);
  }
}

TEST(CpuConvApi, RejectsNonFp32AndInvalidProblems) {
  ConvProblem cp;
  cp.dtype = Dtype::fp16;
  float x = 0.0f, w = 0.0f, y = 0.0f;
  EXPECT_THROW(conv2d(cp, &x, &w, &y), std::invalid_argument);
  cp.dtype = Dtype::fp32;
  cp.r = 3;  // 3×3 filter over a 1×1 unpadded input: no output
  EXPECT_THROW(conv2d(cp, &x, &w, &y), std::invalid_argument);
  ConvProblem pointwise;
  pointwise.h = pointwise.w = 16;  // per-image GEMMs straight on the tensors: no scratch
  EXPECT_EQ(conv_workspace_floats(pointwise), 0);
  pointwise.h = pointwise.w = 2;  // small map: one batched GEMM into a transposed scratch output
  EXPECT_EQ(conv_workspace_floats(pointwise), pointwise.n * 4 * pointwise.k);
}

TEST(CpuConvApi, PackedFiltersOfAnotherProblemAreRejected) {
  ConvProblem cp;
  cp.n = 1, cp.c = 4, cp.h = 6, cp.w = 6, cp.k = 5, cp.r = 3, cp.s = 3, cp.pad_h = cp.pad_w = 1;
  std::vector<float> x(size_t(cp.x_elements()), 1.0f), w(size_t(cp.w_elements()), 1.0f), y(size_t(cp.y_elements()));
  const PackedFilters packed(cp, w.data());
  ConvProblem other = cp;
  other.k = 4;
  EXPECT_THROW(conv2d(other, x.data(), w.data(), y.data(), {}, &packed), std::invalid_argument);
  ConvProblem invalid = cp;
  invalid.r = 9;  // larger than the padded input
  EXPECT_THROW(PackedFilters(invalid, w.data()), std::invalid_argument);
}

TEST(CpuConvApi, ForcedMicroKernelTheCpuLacksThrowsBeforeAnyThreadStarts) {
  ConvProblem cp;
  cp.n = 2, cp.c = 2, cp.h = 5, cp.w = 5, cp.k = 2, cp.r = 3, cp.s = 3;
  std::vector<float> x(200), w(200), y(200);
  const std::vector<MicroKernel> kernels = available_micro_kernels();
  for (MicroKernel kernel : {MicroKernel::avx2, MicroKernel::avx512}) {
    if (std::find(kernels.begin(), kernels.end(), kernel) != kernels.end()) continue;
    EXPECT_THROW(conv2d(cp, x.data(), w.data(), y.data(), {.threads = 2, .micro_kernel = kernel}), std::runtime_error);
  }
}

}  // namespace
}  // namespace trainrate::kernels::cpu
