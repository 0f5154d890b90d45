#include <cmath>

#include "kernels/batch_norm.h"
#include "tests/test_support.h"

namespace ucluster {
namespace {

using test::gradcheck;
using test::random_tensor;

// Expects an Error whose message contains every one of `parts`.
template <typename F>
void expect_error_naming(F&& f, const std::vector<std::string>& parts) {
  try {
    f();
    FAIL() << "expected an exception";
  } catch (const Error& e) {
    for (const auto& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
}

TEST(BatchNorm, EpsilonIsTheReferenceValue) { EXPECT_EQ(kBatchNormEpsilon, 1e-3); }

TEST(BatchNorm, TrainingForwardMatchesHandComputedValues) {
  Context ctx(test::cpu_options());
  // Channel 0: 0, 0, 4, 4 -> mean 2, biased var 4. Channel 1: 1, 2, 3, 6 -> mean 3, biased var 3.5.
  Tensor x = ctx.from_vector<float>({4, 2}, {0, 1, 0, 2, 4, 3, 4, 6});
  Tensor gamma = ctx.from_vector<float>({2}, {2, 0.5f});
  Tensor beta = ctx.from_vector<float>({2}, {0.1f, -1});
  Tensor y = ctx.empty({4, 2}), mean = ctx.empty({2}), var = ctx.empty({2}), inv = ctx.empty({2});
  batch_norm_train_forward(ctx, x, gamma, beta, kBatchNormEpsilon, y, mean, var, inv);
  EXPECT_EQ(ctx.to_vector<float>(mean), (std::vector<float>{2, 3}));
  EXPECT_EQ(ctx.to_vector<float>(var), (std::vector<float>{4, 3.5f}));
  const double inv0 = 1 / std::sqrt(4.001), inv1 = 1 / std::sqrt(3.501);
  const std::vector<float> inv_got = ctx.to_vector<float>(inv);
  EXPECT_FLOAT_EQ(inv_got[0], float(inv0));
  EXPECT_FLOAT_EQ(inv_got[1], float(inv1));
  const double xs[4][2] = {{0, 1}, {0, 2}, {4, 3}, {4, 6}};
  const std::vector<float> got = ctx.to_vector<float>(y);
  for (int r = 0; r < 4; ++r) {
    EXPECT_NEAR(got[r * 2], 2 * (xs[r][0] - 2) * inv0 + 0.1, 1e-6) << "row " << r;
    EXPECT_NEAR(got[r * 2 + 1], 0.5 * (xs[r][1] - 3) * inv1 - 1, 1e-6) << "row " << r;
  }
  // With eps = 0 channel 0 normalises to exactly -1, -1, 1, 1.
  batch_norm_train_forward(ctx, x, gamma, beta, 0.0, y, mean, var, inv);
  const std::vector<float> exact = ctx.to_vector<float>(y);
  EXPECT_EQ((std::vector<float>{exact[0], exact[2], exact[4], exact[6]}),
            (std::vector<float>{-1.9f, -1.9f, 2.1f, 2.1f}));
}

TEST(BatchNorm, DifferentiableFormReturnsBatchStatistics) {
  Context ctx(test::cpu_options());
  Tape tape(ctx);
  Var x = make_var(ctx.from_vector<double>({2, 2, 1}, {1, 2, 3, 6}), true);
  Var gamma = make_var(ctx.from_vector<double>({1}, {1}), true);
  Var beta = make_var(ctx.from_vector<double>({1}, {0}), true);
  BatchNormResult r = batch_norm_train(tape, x, gamma, beta);
  EXPECT_EQ(r.y->value.shape(), (Shape{2, 2, 1}));
  EXPECT_EQ(ctx.to_vector<double>(r.batch_mean), (std::vector<double>{3}));
  EXPECT_EQ(ctx.to_vector<double>(r.batch_var), (std::vector<double>{3.5}));
  EXPECT_TRUE(r.y->requires_grad);
}

TEST(BatchNorm, GradCheckTrainingRank2) {
  Context ctx(test::cpu_options());
  auto report = gradcheck(ctx,
                          {random_tensor(ctx, {6, 3}), random_tensor(ctx, {3}, DType::F64, 0.5, 1.5),
                           random_tensor(ctx, {3})},
                          {true, true, true}, [](Tape& t, const std::vector<Var>& v) {
                            return batch_norm_train(t, v[0], v[1], v[2], kBatchNormEpsilon).y;
                          });
  EXPECT_LT(report.max_error, test::kGradCheckTolerance) << report.worst;
}

TEST(BatchNorm, GradCheckTrainingRank3PointsInput) {
  Context ctx(test::cpu_options());
  auto report = gradcheck(ctx,
                          {random_tensor(ctx, {2, 4, 3}), random_tensor(ctx, {3}, DType::F64, 0.5, 1.5),
                           random_tensor(ctx, {3})},
                          {true, true, true}, [](Tape& t, const std::vector<Var>& v) {
                            return batch_norm_train(t, v[0], v[1], v[2], kBatchNormEpsilon).y;
                          });
  EXPECT_LT(report.max_error, test::kGradCheckTolerance) << report.worst;
}

TEST(BatchNorm, GradCheckInference) {
  Context ctx(test::cpu_options());
  Tensor moving_mean = random_tensor(ctx, {4});
  Tensor moving_var = random_tensor(ctx, {4}, DType::F64, 0.2, 2.0);
  auto report = gradcheck(ctx,
                          {random_tensor(ctx, {2, 3, 4}), random_tensor(ctx, {4}, DType::F64, 0.5, 1.5),
                           random_tensor(ctx, {4})},
                          {true, true, true}, [&](Tape& t, const std::vector<Var>& v) {
                            return batch_norm_inference(t, v[0], v[1], v[2], moving_mean, moving_var,
                                                        kBatchNormEpsilon);
                          });
  EXPECT_LT(report.max_error, test::kGradCheckTolerance) << report.worst;
}

TEST(BatchNorm, InferenceForwardUsesMovingStatistics) {
  Context ctx(test::cpu_options());
  Tensor x = ctx.from_vector<double>({3, 2}, {1, 0, 2, 1, 3, -1});
  Tensor gamma = ctx.from_vector<double>({2}, {2, 1});
  Tensor beta = ctx.from_vector<double>({2}, {0, 0.5});
  Tensor mean = ctx.from_vector<double>({2}, {1, -1});
  Tensor var = ctx.from_vector<double>({2}, {3.999, 0.249});  // + eps = 4, 0.25
  Tensor y = ctx.empty({3, 2}, DType::F64);
  batch_norm_inference_forward(ctx, x, gamma, beta, mean, var, kBatchNormEpsilon, y);
  const std::vector<double> expect{0, 2.5, 1, 4.5, 2, 0.5};
  const std::vector<double> got = ctx.to_vector<double>(y);
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(got[i], expect[i], 1e-12) << i;
}

TEST(BatchNorm, MovingAverageAfterTwoUpdatesFromZero) {
  Context ctx(test::cpu_options());
  // The reference starts the shadows at 0 (spec 2.1); decay 0.5 twice: 0.25 v1 + 0.5 v2.
  Tensor moving_mean = ctx.zeros({2}), moving_var = ctx.zeros({2});
  batch_norm_update_moving(ctx, moving_mean, moving_var, ctx.from_vector<float>({2}, {2, -4}),
                           ctx.from_vector<float>({2}, {1, 3}), 0.5);
  EXPECT_EQ(ctx.to_vector<float>(moving_mean), (std::vector<float>{1, -2}));
  EXPECT_EQ(ctx.to_vector<float>(moving_var), (std::vector<float>{0.5f, 1.5f}));
  batch_norm_update_moving(ctx, moving_mean, moving_var, ctx.from_vector<float>({2}, {6, 8}),
                           ctx.from_vector<float>({2}, {5, 7}), 0.5);
  EXPECT_EQ(ctx.to_vector<float>(moving_mean), (std::vector<float>{3.5f, 3}));
  EXPECT_EQ(ctx.to_vector<float>(moving_var), (std::vector<float>{2.75f, 4.25f}));
}

TEST(BatchNorm, MovingAverageUsesTensorFlowOperationOrder) {
  Context ctx(test::cpu_options());
  // shadow -= (shadow - value) * (1 - decay), evaluated in float32.
  const float shadow = 0.7f, value = 0.3f;
  const double decay = 0.99;
  Tensor m = ctx.from_vector<float>({1}, {shadow}), v = ctx.from_vector<float>({1}, {shadow});
  batch_norm_update_moving(ctx, m, v, ctx.from_vector<float>({1}, {value}), ctx.from_vector<float>({1}, {value}),
                           decay);
  const float expect = shadow - (shadow - value) * static_cast<float>(1.0 - decay);
  EXPECT_EQ(ctx.to_vector<float>(m)[0], expect);
  EXPECT_EQ(ctx.to_vector<float>(v)[0], expect);
}

TEST(BatchNorm, TrainingStatisticsFeedTheMovingAverage) {
  Context ctx(test::cpu_options());
  Tape tape(ctx, false);
  Var x = make_var(ctx.from_vector<double>({4, 1}, {1, 2, 3, 6}));
  Var gamma = make_var(ctx.from_vector<double>({1}, {1}));
  Var beta = make_var(ctx.from_vector<double>({1}, {0}));
  Tensor moving_mean = ctx.zeros({1}, DType::F64), moving_var = ctx.zeros({1}, DType::F64);
  for (int step = 0; step < 2; ++step) {
    BatchNormResult r = batch_norm_train(tape, x, gamma, beta);
    batch_norm_update_moving(ctx, moving_mean, moving_var, r.batch_mean, r.batch_var, 0.5);
  }
  EXPECT_EQ(ctx.to_vector<double>(moving_mean), (std::vector<double>{0.75 * 3}));
  EXPECT_EQ(ctx.to_vector<double>(moving_var), (std::vector<double>{0.75 * 3.5}));
}

TEST(BatchNorm, ConstantChannelGivesBetaAndFiniteGradients) {
  Context ctx(test::cpu_options());
  Tape tape(ctx);
  // Channel 0 is constant (var = 0): output = beta, gradients finite (eps > 0).
  Var x = make_var(ctx.from_vector<float>({4, 2}, {2.5f, 1, 2.5f, -1, 2.5f, 0, 2.5f, 4}), true);
  Var gamma = make_var(ctx.from_vector<float>({2}, {1.5f, 1}), true);
  Var beta = make_var(ctx.from_vector<float>({2}, {0.25f, 0}), true);
  BatchNormResult r = batch_norm_train(tape, x, gamma, beta);
  EXPECT_EQ(ctx.to_vector<float>(r.batch_var)[0], 0.0f);
  const std::vector<float> y = ctx.to_vector<float>(r.y->value);
  for (int row = 0; row < 4; ++row) EXPECT_EQ(y[row * 2], 0.25f) << "row " << row;
  tape.backward(r.y, ctx.from_vector<float>({4, 2}, {1, 2, -3, 0.5f, 4, 1, 0.5f, -1}));
  for (float g : ctx.to_vector<float>(x->grad)) EXPECT_TRUE(std::isfinite(g));
  for (float g : ctx.to_vector<float>(gamma->grad)) EXPECT_TRUE(std::isfinite(g));
  // Channel 0: dx = gamma / sqrt(eps) (dy - mean dy), mean dy = 0.625; dgamma = 0; dbeta = sum dy.
  const std::vector<float> dx = ctx.to_vector<float>(x->grad);
  const double scale = 1.5 / std::sqrt(kBatchNormEpsilon);
  const double dy0[4] = {1, -3, 4, 0.5};
  for (int row = 0; row < 4; ++row) EXPECT_NEAR(dx[row * 2], scale * (dy0[row] - 0.625), 1e-4) << "row " << row;
  EXPECT_EQ(ctx.to_vector<float>(gamma->grad)[0], 0.0f);
  EXPECT_EQ(ctx.to_vector<float>(beta->grad)[0], 2.5f);
}

TEST(BatchNorm, GradCheckWithAConstantChannel) {
  Context ctx(test::cpu_options());
  Tensor x = random_tensor(ctx, {5, 2});
  for (int r = 0; r < 5; ++r) x.data<double>()[r * 2] = 0.75;
  auto report = gradcheck(ctx, {x, random_tensor(ctx, {2}, DType::F64, 0.5, 1.5), random_tensor(ctx, {2})},
                          {true, true, true}, [](Tape& t, const std::vector<Var>& v) {
                            return batch_norm_train(t, v[0], v[1], v[2], kBatchNormEpsilon).y;
                          });
  EXPECT_LT(report.max_error, test::kGradCheckTolerance) << report.worst;
}

TEST(BatchNorm, BackwardAccumulatesIntoExistingGradients) {
  Context ctx(test::cpu_options());
  Tensor x = random_tensor(ctx, {5, 3}), gamma = random_tensor(ctx, {3}), beta = random_tensor(ctx, {3});
  Tensor y = ctx.empty({5, 3}, DType::F64), mean = ctx.empty({3}, DType::F64), var = ctx.empty({3}, DType::F64),
         inv = ctx.empty({3}, DType::F64);
  batch_norm_train_forward(ctx, x, gamma, beta, kBatchNormEpsilon, y, mean, var, inv);
  Tensor dy = random_tensor(ctx, {5, 3});
  Tensor dx1 = ctx.zeros({5, 3}, DType::F64), dg1 = ctx.zeros({3}, DType::F64), db1 = ctx.zeros({3}, DType::F64);
  batch_norm_train_backward(ctx, x, gamma, mean, inv, dy, dx1, dg1, db1);
  Tensor dx2 = ctx.clone(dx1), dg2 = ctx.clone(dg1), db2 = ctx.clone(db1);
  batch_norm_train_backward(ctx, x, gamma, mean, inv, dy, dx2, dg2, db2);
  auto doubled = [&](const Tensor& once, const Tensor& twice) {
    const auto a = ctx.to_vector<double>(once), b = ctx.to_vector<double>(twice);
    for (std::size_t i = 0; i < a.size(); ++i) EXPECT_DOUBLE_EQ(b[i], 2 * a[i]) << i;
  };
  doubled(dx1, dx2);
  doubled(dg1, dg2);
  doubled(db1, db2);
}

TEST(BatchNorm, FloatMatchesDoubleOverManyRowBlocks) {
  Context ctx(test::cpu_options());
  // 3 * 700 rows span several 512-row reduction blocks.
  Tensor xd = random_tensor(ctx, {3, 700, 4}, DType::F64, -2, 3);
  Tensor xf = ctx.empty({3, 700, 4});
  const auto xv = ctx.to_vector<double>(xd);
  for (std::size_t i = 0; i < xv.size(); ++i) xf.data<float>()[i] = static_cast<float>(xv[i]);
  // Round the double input to float so both see the same numbers.
  for (std::size_t i = 0; i < xv.size(); ++i) xd.data<double>()[i] = xf.data<float>()[i];
  Tape tape(ctx, false);
  auto gd = make_var(ctx.from_vector<double>({4}, {1, 2, 0.5, 1})), bd = make_var(ctx.zeros({4}, DType::F64));
  auto gf = make_var(ctx.from_vector<float>({4}, {1, 2, 0.5f, 1})), bf = make_var(ctx.zeros({4}));
  BatchNormResult rd = batch_norm_train(tape, make_var(xd), gd, bd);
  BatchNormResult rf = batch_norm_train(tape, make_var(xf), gf, bf);
  const auto md = ctx.to_vector<double>(rd.batch_mean), vd = ctx.to_vector<double>(rd.batch_var);
  const auto mf = ctx.to_vector<float>(rf.batch_mean), vf = ctx.to_vector<float>(rf.batch_var);
  for (int c = 0; c < 4; ++c) {
    EXPECT_EQ(mf[c], static_cast<float>(md[c])) << c;  // statistics accumulate in double for both
    EXPECT_EQ(vf[c], static_cast<float>(vd[c])) << c;
  }
  const auto yd = ctx.to_vector<double>(rd.y->value);
  const auto yf = ctx.to_vector<float>(rf.y->value);
  for (std::size_t i = 0; i < yd.size(); ++i) ASSERT_NEAR(yf[i], yd[i], 1e-6 * (1 + std::abs(yd[i]))) << i;
}

TEST(BatchNorm, RejectsBadShapesWithAClearMessage) {
  Context ctx(test::cpu_options());
  Tensor x = ctx.zeros({4, 2});
  Tensor c2 = ctx.zeros({2}), c3 = ctx.zeros({3});
  Tensor y = ctx.zeros({4, 2});
  expect_error_naming([&] { batch_norm_train_forward(ctx, x, c3, c2, kBatchNormEpsilon, y, c2, c2, c2); },
                      {"gamma", "float32[3]@cpu", "float32[4,2]@cpu"});
  expect_error_naming([&] { batch_norm_train_forward(ctx, ctx.zeros({2}), c2, c2, kBatchNormEpsilon, y, c2, c2, c2); },
                      {"rank >= 2", "float32[2]@cpu"});
  expect_error_naming(
      [&] { batch_norm_train_forward(ctx, ctx.zeros({0, 2}), c2, c2, kBatchNormEpsilon, ctx.zeros({0, 2}), c2, c2, c2); },
      {"no rows", "float32[0,2]@cpu"});
  EXPECT_THROW(batch_norm_train_forward(ctx, x, c2, c2, kBatchNormEpsilon, ctx.zeros({4, 3}), c2, c2, c2), Error);
  EXPECT_THROW(batch_norm_train_forward(ctx, x, c2, c2, kBatchNormEpsilon, y, c2, c3, c2), Error);
  EXPECT_THROW(batch_norm_train_forward(ctx, x, ctx.zeros({2}, DType::F64), c2, kBatchNormEpsilon, y, c2, c2, c2),
               Error);
  EXPECT_THROW(batch_norm_train_forward(ctx, x, c2, c2, -1.0, y, c2, c2, c2), Error);
  EXPECT_THROW(batch_norm_train_backward(ctx, x, c2, c2, c2, ctx.zeros({4, 3}), Tensor(), Tensor(), Tensor()), Error);
  EXPECT_THROW(batch_norm_train_backward(ctx, x, c2, c2, c2, y, ctx.zeros({2, 4}), Tensor(), Tensor()), Error);
  expect_error_naming([&] { batch_norm_inference_forward(ctx, x, c2, c2, c3, c2, kBatchNormEpsilon, y); },
                      {"moving_mean", "float32[3]@cpu", "float32[4,2]@cpu"});
  EXPECT_THROW(batch_norm_inference_backward(ctx, x, c2, c2, c3, kBatchNormEpsilon, y, Tensor(), Tensor(), Tensor()),
               Error);
  expect_error_naming([&] { batch_norm_update_moving(ctx, c2, c2, c3, c2, 0.5); },
                      {"batch_mean", "float32[3]@cpu", "float32[2]@cpu"});
  EXPECT_THROW(batch_norm_update_moving(ctx, c2, c2, c2, c2, 1.5), Error);
  Tape tape(ctx);
  EXPECT_THROW(batch_norm_train(tape, make_var(x), make_var(c3), make_var(c2)), Error);
  EXPECT_THROW(batch_norm_train(tape, make_var(x), nullptr, make_var(c2)), Error);
}

}  // namespace
}  // namespace ucluster
