#include <cmath>
#include <cstring>
#include <memory>

#include "kernels/adam.h"
#include "tests/test_support.h"

namespace ucluster {
namespace {

using test::cuda_context;

TEST(Adam, StepSizeIsTheBiasCorrectedLearningRate) {
  // lr sqrt(1 - beta2^t) / (1 - beta1^t): the golden train/step1_lr_t and train/step2_lr_t values.
  EXPECT_DOUBLE_EQ(adam_step_size(1e-3, kAdamBeta1, kAdamBeta2, 1), 0.00031622776601683816);
  EXPECT_DOUBLE_EQ(adam_step_size(1e-3, kAdamBeta1, kAdamBeta2, 2), 0.00023531672532745276);
  EXPECT_NEAR(adam_step_size(1e-5, kAdamBeta1, kAdamBeta2, 118200), 1e-5, 1e-20);  // fully decayed
  EXPECT_THROW(adam_step_size(1e-3, kAdamBeta1, kAdamBeta2, 0), Error);
  EXPECT_THROW(adam_step_size(1e-3, 1.0, kAdamBeta2, 1), Error);
}

TEST(Adam, TwoStepsMatchHandComputedValues) {
  Context ctx(test::cpu_options());
  // Fresh state; expected values from m += (g - m)(1 - b1), v += (g^2 - v)(1 - b2),
  // p -= (m lr_t) / (sqrt(v) + eps) evaluated by hand in double, lr = 1e-3.
  Tensor p = ctx.from_vector<double>({4}, {0.5, -1.25, 2.0, 0.0});
  Tensor m = ctx.zeros({4}, DType::F64), v = ctx.zeros({4}, DType::F64);
  Tensor g1 = ctx.from_vector<double>({4}, {0.1, -0.02, 0.0, 3.0});
  Tensor g2 = ctx.from_vector<double>({4}, {-0.05, -0.04, 1e-3, 2.0});
  auto expect_eq = [&](const Tensor& t, const std::vector<double>& want, const char* what) {
    const std::vector<double> got = ctx.to_vector<double>(t);
    for (std::size_t i = 0; i < want.size(); ++i) EXPECT_DOUBLE_EQ(got[i], want[i]) << what << "[" << i << "]";
  };
  adam_update(ctx, p, g1, m, v, adam_step_size(1e-3, kAdamBeta1, kAdamBeta2, 1), kAdamBeta1, kAdamBeta2,
              kAdamEpsilon);
  expect_eq(p, {0.49900000316226767, -1.2490000158111383, 2.0, -0.000999999894590756}, "p1");
  expect_eq(m, {0.009999999999999998, -0.0019999999999999996, 0.0, 0.29999999999999993}, "m1");
  expect_eq(v, {1.0000000000000011e-05, 4.0000000000000035e-07, 0.0, 0.009000000000000008}, "v1");
  adam_update(ctx, p, g2, m, v, adam_step_size(1e-3, kAdamBeta1, kAdamBeta2, 2), kAdamBeta1, kAdamBeta2,
              kAdamEpsilon);
  expect_eq(p, {0.49873366687622156, -1.2480348406108184, 1.9992560984187682, -0.0019703519375520806}, "p2");
  expect_eq(m, {0.004, -0.005799999999999999, 9.999999999999998e-05, 0.4699999999999999}, "m2");
  expect_eq(v, {1.2490000000000014e-05, 1.999600000000002e-06, 1.0000000000000009e-09, 0.012991000000000011}, "v2");
}

TEST(Adam, FirstStepIsLearningRateTimesSignOfGradient) {
  Context ctx(test::cpu_options());
  const double lr = 1e-3;
  // At t = 1, m / sqrt(v) = g / |g| exactly up to epsilon: the step is lr sign(g) (golden README 8).
  const std::vector<float> g = {0.5f, -2.0f, 1e-2f, -3e-3f, 0.0f, 40.0f};
  Tensor p = ctx.zeros({6}), m = ctx.zeros({6}), v = ctx.zeros({6});
  adam_update(ctx, p, ctx.from_vector<float>({6}, g), m, v, adam_step_size(lr, kAdamBeta1, kAdamBeta2, 1),
              kAdamBeta1, kAdamBeta2, kAdamEpsilon);
  const std::vector<float> out = ctx.to_vector<float>(p);
  for (std::size_t i = 0; i < g.size(); ++i) {
    const double want = g[i] > 0 ? -lr : (g[i] < 0 ? lr : 0.0);
    EXPECT_NEAR(out[i], want, 2e-3 * lr) << "element " << i;  // eps / (sqrt(1 - b2) |g|) <= 1e-3 here
  }
}

TEST(Adam, Float32FollowsTensorFlowsArithmetic) {
  Context ctx(test::cpu_options());
  // TF's float32 ApplyAdam computes 1 - beta in float32 (1 - 0.9f = 0.100000024f) and rounds every
  // operation to float32.
  const float g = 0.37f, p0 = 1.5f, m0 = 0.02f, v0 = 3e-4f;
  Tensor p = ctx.from_vector<float>({1}, {p0}), m = ctx.from_vector<float>({1}, {m0});
  Tensor v = ctx.from_vector<float>({1}, {v0});
  const double lr_t = adam_step_size(1e-3, kAdamBeta1, kAdamBeta2, 3);
  adam_update(ctx, p, ctx.from_vector<float>({1}, {g}), m, v, lr_t, kAdamBeta1, kAdamBeta2, kAdamEpsilon);
  const float b1c = 1.0f - 0.9f, b2c = 1.0f - 0.999f;
  const float m1 = m0 + (g - m0) * b1c;
  const float v1 = v0 + (g * g - v0) * b2c;
  const float p1 = p0 - (m1 * float(lr_t)) / (std::sqrt(v1) + 1e-8f);
  EXPECT_EQ(ctx.to_vector<float>(m)[0], m1);
  EXPECT_EQ(ctx.to_vector<float>(v)[0], v1);
  EXPECT_EQ(ctx.to_vector<float>(p)[0], p1);
}

TEST(Adam, SkippedSegmentsStayBitIdenticalIncludingMoments) {
  Context ctx(test::cpu_options());
  for (DType dtype : {DType::F32, DType::F64}) {
    const std::int64_t n = 10;
    Tensor p = test::random_tensor(ctx, {n}, dtype), g = test::random_tensor(ctx, {n}, dtype);
    Tensor m = test::random_tensor(ctx, {n}, dtype, -0.1, 0.1), v = test::random_tensor(ctx, {n}, dtype, 0.0, 0.01);
    const Tensor p0 = ctx.clone(p), m0 = ctx.clone(m), v0 = ctx.clone(v);
    // Update [0, 3) and [7, 10); leave [3, 7) (say, mu in pre-training) alone.
    adam_update(ctx, p, g, m, v, 1e-3, kAdamBeta1, kAdamBeta2, kAdamEpsilon, {{0, 3}, {7, 3}});
    const std::size_t es = dtype_size(dtype);
    for (const auto& [now, before] : {std::pair{p, p0}, std::pair{m, m0}, std::pair{v, v0}}) {
      const auto* a = static_cast<const unsigned char*>(now.raw_data());
      const auto* b = static_cast<const unsigned char*>(before.raw_data());
      EXPECT_EQ(std::memcmp(a + 3 * es, b + 3 * es, 4 * es), 0) << dtype_name(dtype);
      EXPECT_NE(std::memcmp(a, b, 3 * es), 0) << dtype_name(dtype);
      EXPECT_NE(std::memcmp(a + 7 * es, b + 7 * es, 3 * es), 0) << dtype_name(dtype);
    }
    // An empty list updates nothing.
    const Tensor p1 = ctx.clone(p);
    adam_update(ctx, p, g, m, v, 1e-3, kAdamBeta1, kAdamBeta2, kAdamEpsilon, {});
    EXPECT_EQ(std::memcmp(p.raw_data(), p1.raw_data(), n * es), 0);
  }
}

TEST(Adam, SegmentsExceptFrozenParameters) {
  Context ctx(test::cpu_options());
  ParamStore store;
  store.add_param("a.W", {2, 3});
  store.add_param("a.b", {3});
  store.add_param("mu", {3, 3});
  store.add_param("fc.W", {4});
  store.finalize(ctx, Device::cpu());
  const std::vector<AdamSegment> s = adam_segments_except(store, {"mu"});
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].offset, 0);
  EXPECT_EQ(s[0].count, 9);
  EXPECT_EQ(s[1].offset, 18);
  EXPECT_EQ(s[1].count, 4);
  const std::vector<AdamSegment> all = adam_segments_except(store, {});
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].count, store.num_params());
  EXPECT_THROW(adam_segments_except(store, {"nu"}), Error);
}

TEST(Adam, CudaMatchesCpuBitwise) {
  auto gpu = cuda_context();
  if (!gpu) GTEST_SKIP() << "no CUDA device";
  Context& ctx = *gpu;
  const std::int64_t n = 5000;
  const Tensor p = test::random_tensor(ctx, {n}, DType::F32), g = test::random_tensor(ctx, {n}, DType::F32, -1e-3, 1e-3);
  const Tensor m = test::random_tensor(ctx, {n}, DType::F32, -1e-3, 1e-3);
  const Tensor v = test::random_tensor(ctx, {n}, DType::F32, 0.0, 1e-6);
  std::vector<float> out[2][3];
  for (int dev = 0; dev < 2; ++dev) {
    const Device d = dev == 0 ? Device::cpu() : Device::cuda();
    Tensor pd = ctx.to(p, d), md = ctx.to(m, d), vd = ctx.to(v, d);
    const Tensor gd = ctx.to(g, d);
    for (std::int64_t t = 1; t <= 3; ++t)
      adam_update(ctx, pd, gd, md, vd, adam_step_size(1e-3, kAdamBeta1, kAdamBeta2, t), kAdamBeta1, kAdamBeta2,
                  kAdamEpsilon, {{0, 1234}, {2000, 3000}});
    out[dev][0] = ctx.to_vector<float>(pd);
    out[dev][1] = ctx.to_vector<float>(md);
    out[dev][2] = ctx.to_vector<float>(vd);
  }
  for (int k = 0; k < 3; ++k) EXPECT_EQ(out[1][k], out[0][k]) << "buffer " << k;  // same float32 roundings
}

TEST(Adam, RejectsBadShapesSegmentsAndHyperparameters) {
  Context ctx(test::cpu_options());
  Tensor p = ctx.zeros({5}), g = ctx.zeros({5}), m = ctx.zeros({5}), v = ctx.zeros({5});
  try {
    adam_update(ctx, p, ctx.zeros({4}), m, v, 1e-3, 0.9, 0.999, 1e-8);
    FAIL() << "expected an exception";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("float32[4]@cpu"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("float32[5]@cpu"), std::string::npos) << e.what();
  }
  EXPECT_THROW(adam_update(ctx, p, g, ctx.zeros({5}, DType::F64), v, 1e-3, 0.9, 0.999, 1e-8), Error);
  EXPECT_THROW(adam_update(ctx, p, g, m, ctx.zeros({1, 5}), 1e-3, 0.9, 0.999, 1e-8), Error);
  EXPECT_THROW(adam_update(ctx, p, g, m, Tensor(), 1e-3, 0.9, 0.999, 1e-8), Error);
  EXPECT_THROW(adam_update(ctx, ctx.zeros({5}, DType::I32), ctx.zeros({5}, DType::I32), ctx.zeros({5}, DType::I32),
                           ctx.zeros({5}, DType::I32), 1e-3, 0.9, 0.999, 1e-8),
               Error);
  EXPECT_THROW(adam_update(ctx, p, g, m, v, 1e-3, 1.0, 0.999, 1e-8), Error);
  EXPECT_THROW(adam_update(ctx, p, g, m, v, 1e-3, 0.9, 0.999, -1.0), Error);
  EXPECT_THROW(adam_update(ctx, p, g, m, v, NAN, 0.9, 0.999, 1e-8), Error);
  EXPECT_THROW(adam_update(ctx, p, g, m, v, 1e-3, 0.9, 0.999, 1e-8, {{3, 3}}), Error);          // past the end
  EXPECT_THROW(adam_update(ctx, p, g, m, v, 1e-3, 0.9, 0.999, 1e-8, {{-1, 2}}), Error);         // negative
  EXPECT_THROW(adam_update(ctx, p, g, m, v, 1e-3, 0.9, 0.999, 1e-8, {{0, 3}, {2, 2}}), Error);  // overlap
  EXPECT_THROW(adam_update(ctx, p, g, m, v, 1e-3, 0.9, 0.999, 1e-8, {{3, 1}, {0, 1}}), Error);  // unordered
  EXPECT_EQ(ctx.to_vector<float>(p), std::vector<float>(5, 0.0f));  // nothing ran
}

}  // namespace
}  // namespace ucluster
