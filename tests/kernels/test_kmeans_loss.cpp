#include <algorithm>
#include <cmath>
#include <memory>

#include "kernels/kmeans_loss.h"
#include "tests/kernels/thread_counts.h"
#include "tests/test_support.h"

namespace ucluster {
namespace {

using test::gradcheck;
using test::random_tensor;

using test::cuda_context;

TEST(KMeansLoss, ForwardMatchesHandComputedValues) {
  Context ctx(test::cpu_options());
  // z = [[0,0],[1,1]], mu = [[0,0],[2,0]]: d = [[0,4],[2,2]].
  // Jet 0: w = [1, e^-4] / (1 + e^-4), sum_j w d = 4 e^-4 / (1 + e^-4); jet 1 (tie): w = [1/2, 1/2], 2.
  // L = (4 e^-4 / (1 + e^-4) + 2) / 2 = 1.035972419924183 at alpha = 1.
  Tensor z = ctx.from_vector<double>({2, 2}, {0, 0, 1, 1});
  Tensor mu = ctx.from_vector<double>({2, 2}, {0, 0, 2, 0});
  Tensor loss = ctx.empty({1}, DType::F64);
  Tensor dist = ctx.empty({2, 2}, DType::F64);
  kmeans_loss_forward(ctx, z, mu, 1.0, loss, dist);
  EXPECT_NEAR(ctx.to_vector<double>(loss)[0], 1.035972419924183, 1e-15);
  EXPECT_EQ(ctx.to_vector<double>(dist), (std::vector<double>{0, 4, 2, 2}));
  // alpha = 0: plain mean of all distances, (0 + 4 + 2 + 2) / 4 over jets and clusters = 2.
  kmeans_loss_forward(ctx, z, mu, 0.0, loss, Tensor());
  EXPECT_DOUBLE_EQ(ctx.to_vector<double>(loss)[0], 2.0);
  // float32 inputs, computed in double inside.
  Tensor loss32 = ctx.empty({1});
  kmeans_loss_forward(ctx, ctx.from_vector<float>({2, 2}, {0, 0, 1, 1}), ctx.from_vector<float>({2, 2}, {0, 0, 2, 0}),
                      1.0, loss32, Tensor());
  EXPECT_EQ(ctx.to_vector<float>(loss32)[0], static_cast<float>(1.035972419924183));
}

// At a very large inverse temperature the soft assignment is the hard one: L = mean_b min_j d_bj,
// dL/dz_b = (2/B)(z_b - mu_j*(b)), dL/dmu_j = -(2/B) sum_{b: j*(b) = j} (z_b - mu_j).
TEST(KMeansLoss, LargeInverseTemperatureTendsToTheHardAssignment) {
  Context ctx(test::cpu_options());
  const std::int64_t B = 16, K = 3, D = 3;
  Tensor zt = random_tensor(ctx, {B, D});
  Tensor mut = random_tensor(ctx, {K, D});
  const std::vector<double> z = ctx.to_vector<double>(zt), mu = ctx.to_vector<double>(mut);
  std::vector<double> mind(B);
  std::vector<int> best(B);
  for (std::int64_t b = 0; b < B; ++b) {
    std::vector<double> d(K);
    for (std::int64_t j = 0; j < K; ++j)
      for (std::int64_t c = 0; c < D; ++c) d[j] += (z[b * D + c] - mu[j * D + c]) * (z[b * D + c] - mu[j * D + c]);
    best[b] = int(std::min_element(d.begin(), d.end()) - d.begin());
    mind[b] = d[best[b]];
    std::sort(d.begin(), d.end());
    ASSERT_GT(d[1] - d[0], 1e-3) << "test data must have a clear nearest centroid";
  }
  double mean_min = 0.0;
  for (double x : mind) mean_min += x / B;

  for (double alpha : {900.0, 1e6}) {
    for (DType dtype : {DType::F64, DType::F32}) {
      Tape tape(ctx);
      Tensor zv = dtype == DType::F64 ? zt : ctx.from_vector<float>({B, D}, std::vector<float>(z.begin(), z.end()));
      Tensor muv = dtype == DType::F64 ? mut : ctx.from_vector<float>({K, D}, std::vector<float>(mu.begin(), mu.end()));
      Var zvar = make_var(zv, true), muvar = make_var(muv, true);
      KMeansLossResult km = kmeans_loss(tape, zvar, muvar, alpha);
      tape.backward(km.loss);
      const double l = test::values(ctx, km.loss->value)[0];
      const std::vector<double> dz = test::values(ctx, zvar->grad), dmu = test::values(ctx, muvar->grad);
      ASSERT_TRUE(std::isfinite(l));
      for (double x : dz) ASSERT_TRUE(std::isfinite(x));
      for (double x : dmu) ASSERT_TRUE(std::isfinite(x));
      const double tol = dtype == DType::F64 ? 1e-12 : 1e-6;
      if (alpha == 1e6) {
        EXPECT_NEAR(l, mean_min, tol) << dtype_name(dtype);
        std::vector<double> expect_dmu(K * D, 0.0);
        for (std::int64_t b = 0; b < B; ++b)
          for (std::int64_t c = 0; c < D; ++c) {
            const double diff = z[b * D + c] - mu[best[b] * D + c];
            EXPECT_NEAR(dz[b * D + c], 2.0 / B * diff, tol);
            expect_dmu[best[b] * D + c] -= 2.0 / B * diff;
          }
        for (std::int64_t i = 0; i < K * D; ++i) EXPECT_NEAR(dmu[i], expect_dmu[i], tol);
      } else {
        // alpha = 900 (the last epoch of config B): per jet, sum_j w_j d_j - min_j d_j lies in
        // [0, sum_{j != min} g_j exp(-alpha g_j)] with g_j = d_j - min d, and g e^{-alpha g} <= 1 / (alpha e).
        EXPECT_GE(l, mean_min - tol) << dtype_name(dtype);
        EXPECT_LE(l, mean_min + (K - 1) / (alpha * std::exp(1.0)) + tol) << dtype_name(dtype);
      }
    }
  }
}

TEST(KMeansLoss, NegativeInverseTemperatureDoesNotOverflow) {
  Context ctx(test::cpu_options());
  // alpha < 0 is fed during pre-training (spec 4.4). alpha = -1e6 selects the farthest centroid.
  Tensor z = ctx.from_vector<double>({2, 2}, {0, 0, 1, 1});
  Tensor mu = ctx.from_vector<double>({3, 2}, {0, 0, 2, 0, 5, 5});
  Tensor loss = ctx.empty({1}, DType::F64);
  kmeans_loss_forward(ctx, z, mu, -1e6, loss, Tensor());
  EXPECT_DOUBLE_EQ(ctx.to_vector<double>(loss)[0], (50.0 + 32.0) / 2);
  kmeans_loss_forward(ctx, z, mu, -95.0, loss, Tensor());
  EXPECT_TRUE(std::isfinite(ctx.to_vector<double>(loss)[0]));
}

struct GradCheckCase {
  const char* name;
  Shape z, mu;
  bool z_requires_grad;
  double alpha;
};

// z and mu at alpha 5; more centroids than jets; only mu, as in full training with a frozen encoder.
TEST(KMeansLoss, GradCheck) {
  const GradCheckCase cases[] = {{"z and mu at alpha 5", {6, 3}, {3, 3}, true, 5.0},
                                 {"more centroids than jets", {2, 4}, {5, 4}, true, 2.5},
                                 {"only mu (frozen encoder)", {5, 3}, {3, 3}, false, 10.0}};
  for (const GradCheckCase& c : cases) {
    Context ctx(test::cpu_options());
    auto report = gradcheck(ctx, {random_tensor(ctx, c.z), random_tensor(ctx, c.mu)}, {c.z_requires_grad, true},
                            [&](Tape& t, const std::vector<Var>& v) { return kmeans_loss(t, v[0], v[1], c.alpha).loss; });
    EXPECT_LT(report.max_error, test::kGradCheckTolerance) << c.name << ": " << report.worst;
  }
}

TEST(KMeansLoss, BackwardAccumulates) {
  Context ctx(test::cpu_options());
  Tensor z = random_tensor(ctx, {4, 3});
  Tensor mu = random_tensor(ctx, {3, 3});
  Tensor dz1 = ctx.zeros({4, 3}, DType::F64), dmu1 = ctx.zeros({3, 3}, DType::F64);
  kmeans_loss_backward(ctx, z, mu, 5.0, ctx.from_vector<double>({1}, {1.0}), dz1, dmu1);
  Tensor dz2 = ctx.from_vector<double>({4, 3}, std::vector<double>(12, 1.0));
  kmeans_loss_backward(ctx, z, mu, 5.0, ctx.from_vector<double>({1}, {2.0}), dz2, Tensor());
  const std::vector<double> a = ctx.to_vector<double>(dz1), b = ctx.to_vector<double>(dz2);
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(b[i], 1.0 + 2.0 * a[i], 1e-15);
  // Translation invariance: moving z and mu together changes nothing, so sum dz + sum dmu = 0.
  const std::vector<double> m = ctx.to_vector<double>(dmu1);
  for (int c = 0; c < 3; ++c) {
    double s = 0.0;
    for (int b2 = 0; b2 < 4; ++b2) s += a[b2 * 3 + c];
    for (int j = 0; j < 3; ++j) s += m[j * 3 + c];
    EXPECT_NEAR(s, 0.0, 1e-15);
  }
}

TEST(KMeansLoss, ResultsAreIdenticalForOneAndThreeThreads) {
  const std::function<std::vector<float>(Context&)> loss_and_grads = [](Context& ctx) {
    // More jets than one reduction block (cpu/reduce.h), so dL/dmu sums several block partials.
    Tape tape(ctx);
    Var z = make_var(test::random_tensor(ctx, {1300, 3}, DType::F32), true);
    Var mu = make_var(test::random_tensor(ctx, {3, 3}, DType::F32), true);
    KMeansLossResult km = kmeans_loss(tape, z, mu, 50.0);
    tape.backward(km.loss);
    return test::float_values(ctx, {km.loss->value, km.distances, z->grad, mu->grad});
  };
  EXPECT_EQ(test::with_threads(1, loss_and_grads), test::with_threads(3, loss_and_grads));
}

TEST(KMeansLoss, CudaMatchesCpu) {
  auto gpu = cuda_context();
  if (!gpu) GTEST_SKIP() << "no CUDA device";
  Context& ctx = *gpu;
  const Tensor z = random_tensor(ctx, {700, 3}, DType::F32);
  const Tensor mu = random_tensor(ctx, {3, 3}, DType::F32);
  for (double alpha : {-95.0, 10.0, 900.0}) {
    std::vector<float> loss[2], dist[2], dz[2], dmu[2];
    std::vector<std::int32_t> assign[2];
    for (int dev = 0; dev < 2; ++dev) {
      const Device d = dev == 0 ? Device::cpu() : Device::cuda();
      Tape tape(ctx);
      Var zv = make_var(ctx.to(z, d), true), muv = make_var(ctx.to(mu, d), true);
      KMeansLossResult km = kmeans_loss(tape, zv, muv, alpha);
      tape.backward(km.loss, ctx.to(ctx.from_vector<float>({1}, {1.0f}, Device::cpu()), d));
      loss[dev] = ctx.to_vector<float>(km.loss->value);
      dist[dev] = ctx.to_vector<float>(km.distances);
      dz[dev] = ctx.to_vector<float>(zv->grad);
      dmu[dev] = ctx.to_vector<float>(muv->grad);
      assign[dev] = ctx.to_vector<std::int32_t>(kmeans_assign(ctx, km.distances));
    }
    EXPECT_NEAR(loss[1][0], loss[0][0], 1e-6 * std::abs(loss[0][0])) << "alpha " << alpha;
    for (std::size_t i = 0; i < dist[0].size(); ++i) EXPECT_NEAR(dist[1][i], dist[0][i], 1e-6) << "alpha " << alpha;
    for (std::size_t i = 0; i < dz[0].size(); ++i) EXPECT_NEAR(dz[1][i], dz[0][i], 1e-7) << "alpha " << alpha;
    for (std::size_t i = 0; i < dmu[0].size(); ++i) EXPECT_NEAR(dmu[1][i], dmu[0][i], 1e-6) << "alpha " << alpha;
    EXPECT_EQ(assign[1], assign[0]) << "alpha " << alpha;
  }
}

TEST(KMeansAssign, ArgminWithTiesToTheLowerIndex) {
  Context ctx(test::cpu_options());
  Tensor dist = ctx.from_vector<float>({4, 3}, {1, 1, 2, 3, 2, 2, 0.5f, 0.1f, 0.1f, 7, 6, 5});
  EXPECT_EQ(ctx.to_vector<std::int32_t>(kmeans_assign(ctx, dist)), (std::vector<std::int32_t>{0, 1, 1, 2}));
  Tensor assign = ctx.empty({4}, DType::I32);
  kmeans_assign(ctx, ctx.from_vector<double>({4, 3}, {1, 1, 2, 3, 2, 2, 0.5, 0.1, 0.1, 7, 6, 5}), assign);
  EXPECT_EQ(ctx.to_vector<std::int32_t>(assign), (std::vector<std::int32_t>{0, 1, 1, 2}));
}

TEST(KMeansLoss, DistancesOfTheTapeFormFeedTheAssignment) {
  Context ctx(test::cpu_options());
  Tape tape(ctx);
  KMeansLossResult km = kmeans_loss(tape, make_var(ctx.from_vector<float>({3, 1}, {0, 1.9f, 5})),
                                    make_var(ctx.from_vector<float>({2, 1}, {0, 2})), 10.0);
  EXPECT_EQ(km.distances.shape(), (Shape{3, 2}));
  EXPECT_EQ(ctx.to_vector<std::int32_t>(kmeans_assign(ctx, km.distances)), (std::vector<std::int32_t>{0, 1, 1}));
  EXPECT_FALSE(km.loss->requires_grad);
  EXPECT_EQ(tape.size(), 0u);
}

TEST(KMeansLoss, RejectsBadShapesAndDtypes) {
  Context ctx(test::cpu_options());
  Tensor loss = ctx.empty({1});
  try {
    kmeans_loss_forward(ctx, ctx.zeros({4, 3}), ctx.zeros({3, 2}), 1.0, loss, Tensor());
    FAIL() << "expected an exception";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("float32[4,3]@cpu"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("float32[3,2]@cpu"), std::string::npos) << e.what();
  }
  EXPECT_THROW(kmeans_loss_forward(ctx, ctx.zeros({4, 3}), ctx.zeros({9}), 1.0, loss, Tensor()), Error);
  EXPECT_THROW(kmeans_loss_forward(ctx, ctx.zeros({4, 3}), ctx.zeros({3, 3}, DType::F64), 1.0, loss, Tensor()),
               Error);
  EXPECT_THROW(kmeans_loss_forward(ctx, ctx.zeros({4, 3}), ctx.zeros({3, 3}), 1.0, loss, ctx.zeros({3, 4})), Error);
  EXPECT_THROW(kmeans_loss_forward(ctx, ctx.zeros({4, 3}), ctx.zeros({3, 3}), 1.0, ctx.empty({2}), Tensor()), Error);
  EXPECT_THROW(kmeans_loss_forward(ctx, ctx.zeros({4, 3}), ctx.zeros({3, 3}), NAN, loss, Tensor()), Error);
  EXPECT_THROW(kmeans_loss_forward(ctx, ctx.zeros({0, 3}), ctx.zeros({3, 3}), 1.0, loss, Tensor()), Error);
  EXPECT_THROW(kmeans_loss_forward(ctx, ctx.zeros({4, 3}, DType::I32), ctx.zeros({3, 3}, DType::I32), 1.0,
                                   ctx.empty({1}, DType::I32), Tensor()),
               Error);
  EXPECT_THROW(kmeans_loss_backward(ctx, ctx.zeros({4, 3}), ctx.zeros({3, 3}), 1.0, ctx.zeros({1}), ctx.zeros({3, 3}),
                                    Tensor()),
               Error);
  EXPECT_THROW(kmeans_loss_backward(ctx, ctx.zeros({4, 3}), ctx.zeros({3, 3}), 1.0, ctx.zeros({1}), Tensor(),
                                    ctx.zeros({4, 3})),
               Error);
  EXPECT_THROW(kmeans_assign(ctx, ctx.zeros({4, 3}), ctx.zeros({4})), Error);  // float assignment
  EXPECT_THROW(kmeans_assign(ctx, ctx.zeros({4, 3}), ctx.empty({3}, DType::I32)), Error);
  EXPECT_THROW(kmeans_assign(ctx, ctx.zeros({12}), ctx.empty({12}, DType::I32)), Error);
  EXPECT_THROW(kmeans_assign(ctx, ctx.zeros({4, 0}), ctx.empty({4}, DType::I32)), Error);
}

}  // namespace
}  // namespace ucluster
