#include <cmath>
#include <cstdio>
#include <thread>

#include "engine/cuda_runtime.h"
#include "kernels/batch_norm.h"
#include "tests/test_support.h"
#include "tests/two_replicas.h"

namespace ucluster {
namespace {

using test::gradcheck;
using test::random_tensor;
using test::TwoReplicaAllReduce;

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

// Rank 2 input and a rank 3 points input.
TEST(BatchNorm, GradCheckTraining) {
  for (const Shape& shape : {Shape{6, 3}, Shape{2, 4, 3}}) {
    Context ctx(test::cpu_options());
    auto report = gradcheck(ctx,
                            {random_tensor(ctx, shape), random_tensor(ctx, {3}, DType::F64, 0.5, 1.5),
                             random_tensor(ctx, {3})},
                            {true, true, true}, [](Tape& t, const std::vector<Var>& v) {
                              return batch_norm_train(t, v[0], v[1], v[2], kBatchNormEpsilon).y;
                            });
    EXPECT_LT(report.max_error, test::kGradCheckTolerance) << "input rank " << shape.rank() << ": " << report.worst;
  }
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

// ---- Synchronised batch norm ----

// A batch of `rows` rows of C channels in double, with parameters and an output gradient.
struct SyncProblem {
  std::int64_t rows, C;
  std::vector<double> x, gamma, beta, dy;
};

SyncProblem make_sync_problem(std::int64_t rows, std::int64_t C) {
  Context ctx(test::cpu_options(11));
  return {rows, C, ctx.to_vector<double>(random_tensor(ctx, {rows, C}, DType::F64, -2, 3)),
          ctx.to_vector<double>(random_tensor(ctx, {C}, DType::F64, 0.5, 1.5)),
          ctx.to_vector<double>(random_tensor(ctx, {C})), ctx.to_vector<double>(random_tensor(ctx, {rows, C}))};
}

struct BatchNormRun {
  std::vector<double> y, mean, var, dx, dgamma, dbeta;
  std::string error;
};

// batch_norm_train forward and backward (Tape form) on rows [begin, end) of p, in T on ctx's device.
template <typename T>
BatchNormRun run_rows(Context& ctx, const SyncProblem& p, std::int64_t begin, std::int64_t end,
                      const ReplicaSum& sync) {
  const std::int64_t C = p.C;
  auto tensor = [&](const Shape& shape, const std::vector<double>& v, std::int64_t first) {
    return ctx.from_vector<T>(shape, std::vector<T>(v.begin() + first, v.begin() + first + shape.numel()));
  };
  auto values = [&](const Tensor& t) {
    const std::vector<T> v = ctx.to_vector<T>(t);
    return std::vector<double>(v.begin(), v.end());
  };
  Tape tape(ctx);
  Var x = make_var(tensor({end - begin, C}, p.x, begin * C), true);
  Var gamma = make_var(tensor({C}, p.gamma, 0), true), beta = make_var(tensor({C}, p.beta, 0), true);
  BatchNormResult r = batch_norm_train(tape, x, gamma, beta, kBatchNormEpsilon, sync);
  tape.backward(r.y, tensor({end - begin, C}, p.dy, begin * C));
  return {values(r.y->value), values(r.batch_mean), values(r.batch_var), values(x->grad),
          values(gamma->grad), values(beta->grad), ""};
}

BatchNormRun run_rows_on_cpu(const SyncProblem& p, std::int64_t begin, std::int64_t end, const ReplicaSum& sync) {
  Context ctx(test::cpu_options());
  return run_rows<double>(ctx, p, begin, end, sync);
}

// Runs replica(0) and replica(1) on two threads; a replica that throws records the message and
// leaves the all-reduce.
template <typename F>
void run_two_replicas(TwoReplicaAllReduce& all_reduce, BatchNormRun (&rep)[2], F replica) {
  auto body = [&](int r) {
    try {
      rep[r] = replica(r);
    } catch (const std::exception& e) {
      rep[r].error = e.what();
      all_reduce.leave();
    }
  };
  std::thread t0(body, 0), t1(body, 1);
  t0.join();
  t1.join();
}

// Tolerance of the two-replica comparison: the replicas add their partial sums in a different
// order than one process does, so results differ by rounding only. Every sum runs over <= 20
// terms of magnitude <= ~25 (squared deviations of x in [-2, 3)); its rounding error is below
// 20 * 2^-53 * 20 * 25 ~ 1e-12 absolute in the worst case and ~1e-15 typically, and the
// statistics divide it by the row count; y, dx, dgamma, dbeta are well-conditioned O(1)
// functions of the sums (gamma in [0.5, 1.5], var >= ~0.5). 1e-12 * (1 + |reference|) is far
// above that rounding yet any wrong term (a local instead of a global sum) is off by >= 1e-2.
constexpr double kSyncTolerance = 1e-12;

double max_error(const std::vector<double>& got, const std::vector<double>& want, const char* what) {
  EXPECT_EQ(got.size(), want.size()) << what;
  double worst = 0;
  for (std::size_t i = 0; i < std::min(got.size(), want.size()); ++i) {
    const double err = std::abs(got[i] - want[i]) / (1 + std::abs(want[i]));
    EXPECT_LE(err, kSyncTolerance) << what << "[" << i << "]: " << got[i] << " vs " << want[i];
    worst = std::max(worst, err);
  }
  return worst;
}

std::vector<double> concat(std::vector<double> a, const std::vector<double>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::vector<double> add(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> s(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) s[i] = a[i] + b[i];
  return s;
}

// Two replicas with rows [0, split) and [split, rows) against one process with all rows.
void check_two_replicas(std::int64_t split) {
  const SyncProblem p = make_sync_problem(20, 3);
  const BatchNormRun full = run_rows_on_cpu(p, 0, p.rows, {});
  TwoReplicaAllReduce all_reduce;
  BatchNormRun rep[2];
  run_two_replicas(all_reduce, rep, [&](int r) {
    return r == 0 ? run_rows_on_cpu(p, 0, split, all_reduce.for_replica(0))
                  : run_rows_on_cpu(p, split, p.rows, all_reduce.for_replica(1));
  });
  ASSERT_EQ(rep[0].error, "");
  ASSERT_EQ(rep[1].error, "");
  const std::int64_t C = p.C;
  const std::vector<std::int64_t> expected_calls{C + 1, C, 2 * C + 1};  // CPU layout, cpu/batch_norm.h
  EXPECT_EQ(all_reduce.calls(0), expected_calls);
  EXPECT_EQ(all_reduce.calls(1), expected_calls);
  // Both replicas see the same global statistics, bit for bit.
  EXPECT_EQ(rep[0].mean, rep[1].mean);
  EXPECT_EQ(rep[0].var, rep[1].var);
  double worst = 0;
  worst = std::max(worst, max_error(rep[0].mean, full.mean, "batch_mean"));
  worst = std::max(worst, max_error(rep[0].var, full.var, "batch_var"));
  worst = std::max(worst, max_error(concat(rep[0].y, rep[1].y), full.y, "y"));
  worst = std::max(worst, max_error(concat(rep[0].dx, rep[1].dx), full.dx, "dx"));
  worst = std::max(worst, max_error(add(rep[0].dgamma, rep[1].dgamma), full.dgamma, "dgamma"));
  worst = std::max(worst, max_error(add(rep[0].dbeta, rep[1].dbeta), full.dbeta, "dbeta"));
  // The parameter gradients stay local: dbeta of a replica is the sum of its own dy rows.
  for (int r = 0; r < 2; ++r) {
    const std::int64_t begin = r == 0 ? 0 : split, end = r == 0 ? split : p.rows;
    for (std::int64_t c = 0; c < C; ++c) {
      double local = 0;
      for (std::int64_t row = begin; row < end; ++row) local += p.dy[row * C + c];
      EXPECT_NEAR(rep[r].dbeta[c], local, kSyncTolerance * (1 + std::abs(local))) << "replica " << r << ", " << c;
    }
  }
  std::printf("[ sync bn  ] rows %lld + %lld: max relative error vs one process %.3g\n",
              static_cast<long long>(split), static_cast<long long>(p.rows - split), worst);
}

TEST(BatchNormSync, TwoEqualReplicasMatchOneProcess) { check_two_replicas(10); }
TEST(BatchNormSync, TwoUnequalReplicasMatchOneProcess) { check_two_replicas(7); }
TEST(BatchNormSync, AReplicaWithoutRowsStillTakesPart) { check_two_replicas(0); }

// The CUDA path (skipped without a GPU): two replicas, each on its own CUDA context and thread,
// whose sync copies the device sums to the host, all-reduces them there and copies them back,
// against one CUDA process on all rows. Both compute in double and round the outputs to float32
// once; batch_mean and inv_std reach the backward as float32, so a split-order difference in the
// double sums (~1e-16) can move them by 1 ulp (6e-8 relative) and dx by a few ulps: the tolerance
// 1e-5 (1 + |reference|) is far below the effect of any wrong term (>= 1e-2). Also: the same
// calls as documented in cuda/batch_norm.h, and an identity sync bit-identical to none.
TEST(BatchNormSync, CudaTwoReplicasMatchOneProcessAndIdentityIsBitIdentical) {
  if (!test::cuda_context()) GTEST_SKIP() << "no CUDA device";
  const SyncProblem p = make_sync_problem(20, 3);
  const std::int64_t C = p.C;
  auto run_on_gpu = [&](std::int64_t begin, std::int64_t end, const ReplicaSum& host_sum) {
    auto gpu = test::cuda_context();
    Context& ctx = *gpu;
    ReplicaSum via_host;
    if (host_sum)
      via_host = [&ctx, &host_sum](double* device_values, std::int64_t n) {
        std::vector<double> h(static_cast<std::size_t>(n));
        const std::size_t bytes = h.size() * sizeof(double);
        cuda_runtime::copy(h.data(), device_values, bytes, false, true, ctx.cuda());  // waits for the stream
        host_sum(h.data(), n);
        cuda_runtime::copy(device_values, h.data(), bytes, true, false, ctx.cuda());
        ctx.synchronize();  // h must outlive the copy
      };
    return run_rows<float>(ctx, p, begin, end, via_host);
  };
  const BatchNormRun full = run_on_gpu(0, p.rows, {});
  const BatchNormRun identity = run_on_gpu(0, p.rows, [](double*, std::int64_t) {});
  EXPECT_EQ(identity.y, full.y);
  EXPECT_EQ(identity.mean, full.mean);
  EXPECT_EQ(identity.var, full.var);
  EXPECT_EQ(identity.dx, full.dx);
  EXPECT_EQ(identity.dgamma, full.dgamma);
  EXPECT_EQ(identity.dbeta, full.dbeta);
  for (std::int64_t split : {7, 0}) {
    TwoReplicaAllReduce all_reduce;
    BatchNormRun rep[2];
    const ReplicaSum sums[2] = {all_reduce.for_replica(0), all_reduce.for_replica(1)};
    run_two_replicas(all_reduce, rep, [&](int r) {
      return r == 0 ? run_on_gpu(0, split, sums[0]) : run_on_gpu(split, p.rows, sums[1]);
    });
    ASSERT_EQ(rep[0].error, "") << "split " << split;
    ASSERT_EQ(rep[1].error, "") << "split " << split;
    const std::vector<std::int64_t> expected_calls{C + 1, C, 2 * C + 1};  // as on the CPU
    EXPECT_EQ(all_reduce.calls(0), expected_calls);
    EXPECT_EQ(all_reduce.calls(1), expected_calls);
    auto expect_close = [&](const std::vector<double>& got, const std::vector<double>& want, const char* what) {
      ASSERT_EQ(got.size(), want.size()) << what;
      for (std::size_t i = 0; i < got.size(); ++i)
        EXPECT_NEAR(got[i], want[i], 1e-5 * (1 + std::abs(want[i]))) << what << "[" << i << "], split " << split;
    };
    expect_close(rep[0].mean, full.mean, "batch_mean");
    expect_close(rep[1].var, full.var, "batch_var");
    expect_close(concat(rep[0].y, rep[1].y), full.y, "y");
    expect_close(concat(rep[0].dx, rep[1].dx), full.dx, "dx");
    expect_close(add(rep[0].dgamma, rep[1].dgamma), full.dgamma, "dgamma");
    expect_close(add(rep[0].dbeta, rep[1].dbeta), full.dbeta, "dbeta");
  }
}

TEST(BatchNormSync, TwoCallsPerForwardAndOnePerBackward) {
  Context ctx(test::cpu_options());
  std::vector<std::int64_t> calls;
  Tape tape(ctx);
  Var x = make_var(random_tensor(ctx, {5, 3}), true);
  Var gamma = make_var(random_tensor(ctx, {3}), true), beta = make_var(random_tensor(ctx, {3}), true);
  // A temporary callback: the recorded backward step must hold its own copy.
  BatchNormResult r = batch_norm_train(tape, x, gamma, beta, kBatchNormEpsilon,
                                       ReplicaSum([&calls](double*, std::int64_t n) { calls.push_back(n); }));
  EXPECT_EQ(calls, (std::vector<std::int64_t>{4, 3}));
  tape.backward(r.y, random_tensor(ctx, {5, 3}));
  EXPECT_EQ(calls, (std::vector<std::int64_t>{4, 3, 7}));
  // The tensor-level backward makes its call even when no gradient is wanted.
  batch_norm_train_backward(ctx, x->value, gamma->value, r.batch_mean, r.batch_var, r.y->value, Tensor(), Tensor(),
                            Tensor(), [&calls](double*, std::int64_t n) { calls.push_back(n); });
  EXPECT_EQ(calls, (std::vector<std::int64_t>{4, 3, 7, 7}));
}

// A sync over a single replica (the identity) changes nothing: same bits as no sync, for float and
// double over several 512-row reduction blocks.
template <typename T>
void expect_identity_sync_bit_identical() {
  Context ctx(test::cpu_options());
  const DType dt = DTypeOf<T>::value;
  const Shape shape{1100, 4}, channels{4};
  Tensor x = random_tensor(ctx, shape, dt, -2, 3), gamma = random_tensor(ctx, channels, dt, 0.5, 1.5);
  Tensor beta = random_tensor(ctx, channels, dt), dy = random_tensor(ctx, shape, dt);
  const ReplicaSum identity = [](double*, std::int64_t) {};
  std::vector<std::vector<T>> out[2];
  for (int synced = 0; synced < 2; ++synced) {
    const ReplicaSum& sync = synced ? identity : ReplicaSum();
    Tensor y = ctx.empty(shape, dt), mean = ctx.empty(channels, dt), var = ctx.empty(channels, dt),
           inv = ctx.empty(channels, dt);
    batch_norm_train_forward(ctx, x, gamma, beta, kBatchNormEpsilon, y, mean, var, inv, sync);
    Tensor dx = ctx.zeros(shape, dt), dgamma = ctx.zeros(channels, dt), dbeta = ctx.zeros(channels, dt);
    batch_norm_train_backward(ctx, x, gamma, mean, inv, dy, dx, dgamma, dbeta, sync);
    for (const Tensor* t : {&y, &mean, &var, &inv, &dx, &dgamma, &dbeta}) out[synced].push_back(ctx.to_vector<T>(*t));
  }
  for (std::size_t i = 0; i < out[0].size(); ++i) EXPECT_EQ(out[0][i], out[1][i]) << "output " << i;
}

TEST(BatchNormSync, IdentitySyncIsBitIdenticalToNoSyncFloat) { expect_identity_sync_bit_identical<float>(); }
TEST(BatchNormSync, IdentitySyncIsBitIdenticalToNoSyncDouble) { expect_identity_sync_bit_identical<double>(); }

TEST(BatchNormSync, GradCheckWithSingleReplicaSync) {
  Context ctx(test::cpu_options());
  const ReplicaSum identity = [](double*, std::int64_t) {};
  auto report = gradcheck(ctx,
                          {random_tensor(ctx, {6, 3}), random_tensor(ctx, {3}, DType::F64, 0.5, 1.5),
                           random_tensor(ctx, {3})},
                          {true, true, true}, [&](Tape& t, const std::vector<Var>& v) {
                            return batch_norm_train(t, v[0], v[1], v[2], kBatchNormEpsilon, identity).y;
                          });
  EXPECT_LT(report.max_error, test::kGradCheckTolerance) << report.worst;
}

TEST(BatchNormSync, NoRowsOnAnyReplicaIsAnError) {
  Context ctx(test::cpu_options());
  int calls = 0;
  const ReplicaSum identity = [&calls](double*, std::int64_t) { ++calls; };
  Tensor x = ctx.zeros({0, 2}), c2 = ctx.zeros({2});
  // 0 local rows pass the input checks with sync; the global count after the first call is 0.
  EXPECT_NE(test::error_of([&] {
              batch_norm_train_forward(ctx, x, c2, c2, kBatchNormEpsilon, ctx.zeros({0, 2}), c2, c2, c2, identity);
            }).find("no rows on any replica"),
            std::string::npos);
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace ucluster
