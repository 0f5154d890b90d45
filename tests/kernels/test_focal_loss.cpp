#include <cmath>
#include <memory>

#include "kernels/focal_loss.h"
#include "tests/kernels/thread_counts.h"
#include "tests/test_support.h"

namespace ucluster {
namespace {

using test::gradcheck;
using test::random_tensor;

using test::cuda_context;

bool all_finite(const std::vector<double>& v) {
  for (double x : v)
    if (!std::isfinite(x)) return false;
  return true;
}

TEST(FocalLoss, ForwardMatchesHandComputedTwoJetCase) {
  Context ctx(test::cpu_options());
  // Jet 0: logits [1, 2, 0.5], target 1: p_t = 1 / (e^-1 + 1 + e^-1.5) = 0.62853...,
  //   FL = (1 - q)^2 (-ln q) = 0.0640776366742...
  // Jet 1: logits [0, 0, 0], target 2: p_t = 1/3, FL = (2/3 - 1e-9)^2 ln(1 / (1/3 + 1e-9)) = 0.488272125498...
  Tensor logits = ctx.from_vector<double>({2, 3}, {1, 2, 0.5, 0, 0, 0});
  Tensor target = ctx.from_vector<std::int32_t>({2}, {1, 2});
  Tensor loss = ctx.empty({1}, DType::F64);
  focal_loss_forward(ctx, logits, target, 2.0, 1.0, loss);
  EXPECT_NEAR(ctx.to_vector<double>(loss)[0], (0.06407763667420255 + 0.4882721254987879) / 2, 1e-15);
  // Config A (gamma 4, alpha 10): 10 (1 - q)^4 (-ln q) per jet.
  focal_loss_forward(ctx, logits, target, 4.0, 10.0, loss);
  EXPECT_NEAR(ctx.to_vector<double>(loss)[0], (0.08841988687302352 + 2.170098329039874) / 2, 1e-14);
  // float32 inputs: computed in double inside, rounded once.
  Tensor logits32 = ctx.from_vector<float>({2, 3}, {1, 2, 0.5f, 0, 0, 0});
  Tensor loss32 = ctx.empty({1});
  focal_loss_forward(ctx, logits32, target, 2.0, 1.0, loss32);
  EXPECT_EQ(ctx.to_vector<float>(loss32)[0], static_cast<float>((0.06407763667420255 + 0.4882721254987879) / 2));
}

TEST(FocalLoss, CertainCorrectPredictionGivesZeroLossAndFiniteGradient) {
  Context ctx(test::cpu_options());
  for (DType dtype : {DType::F64, DType::F32}) {
    Tape tape(ctx);
    // Logit gap of 100 in favour of the target: p_t = 1 to double precision, q = 1 + 1e-9.
    Tensor values = dtype == DType::F64 ? ctx.from_vector<double>({2, 3}, {100, 0, 0, -50, 50, -50})
                                        : ctx.from_vector<float>({2, 3}, {100, 0, 0, -50, 50, -50});
    Var logits = make_var(values, true);
    Var loss = focal_loss(tape, logits, ctx.from_vector<std::int32_t>({2}, {0, 1}), 2.0, 1.0);
    tape.backward(loss);
    const std::vector<double> l = test::values(ctx, loss->value), g = test::values(ctx, logits->grad);
    EXPECT_NEAR(l[0], 0.0, 1e-15);
    EXPECT_TRUE(all_finite(g));
    for (double x : g) EXPECT_NEAR(x, 0.0, 1e-15);
  }
}

TEST(FocalLoss, CertainWrongPredictionIsCappedByTheEpsilon) {
  Context ctx(test::cpu_options());
  const double alpha = 10.0, gamma = 4.0;
  // p_t = e^-100 / 2 (gap 100) and exactly 0 (gap 1000): q = 1e-9 to double precision, so
  // FL = alpha (1 - 1e-9)^gamma (-ln 1e-9) = alpha * 20.7232658...: finite, no NaN.
  const double capped = alpha * std::pow(1.0 - 1e-9, gamma) * (-std::log(1e-9));
  for (DType dtype : {DType::F64, DType::F32}) {
    Tape tape(ctx);
    Tensor values = dtype == DType::F64 ? ctx.from_vector<double>({2, 3}, {0, 100, 100, 1000, 0, 0})
                                        : ctx.from_vector<float>({2, 3}, {0, 100, 100, 1000, 0, 0});
    Var logits = make_var(values, true);
    Var loss = focal_loss(tape, logits, ctx.from_vector<std::int32_t>({2}, {0, 2}), gamma, alpha);
    tape.backward(loss);
    const std::vector<double> l = test::values(ctx, loss->value), g = test::values(ctx, logits->grad);
    EXPECT_NEAR(l[0], capped, (dtype == DType::F64 ? 1e-12 : 1e-7) * capped) << dtype_name(dtype);
    EXPECT_TRUE(all_finite(g)) << dtype_name(dtype);
    // The gradient vanishes with p_t: |dFL/dl| <= alpha (gamma |ln q| + 1/q) p_t ~ 1e-34 here.
    for (double x : g) EXPECT_LT(std::abs(x), 1e-30) << dtype_name(dtype);
  }
}

TEST(FocalLoss, GradCheckGamma2) {
  Context ctx(test::cpu_options());
  Tensor target = ctx.from_vector<std::int32_t>({4}, {0, 3, 4, 1});
  auto report = gradcheck(ctx, {random_tensor(ctx, {4, 5}, DType::F64, -2, 2)}, {true},
                          [&](Tape& t, const std::vector<Var>& v) { return focal_loss(t, v[0], target, 2.0, 1.0); });
  EXPECT_LT(report.max_error, test::kGradCheckTolerance) << report.worst;
}

TEST(FocalLoss, GradCheckGamma4) {
  Context ctx(test::cpu_options());
  Tensor target = ctx.from_vector<std::int32_t>({3}, {19, 0, 7});
  auto report = gradcheck(ctx, {random_tensor(ctx, {3, 20}, DType::F64, -3, 3)}, {true},
                          [&](Tape& t, const std::vector<Var>& v) { return focal_loss(t, v[0], target, 4.0, 10.0); });
  EXPECT_LT(report.max_error, test::kGradCheckTolerance) << report.worst;
}

TEST(FocalLoss, BackwardAccumulatesAndScalesWithTheUpstreamGradient) {
  Context ctx(test::cpu_options());
  Tensor logits = ctx.from_vector<double>({2, 3}, {1, 2, 0.5, 0, 0, 0});
  Tensor target = ctx.from_vector<std::int32_t>({2}, {1, 2});
  Tensor once = ctx.zeros({2, 3}, DType::F64);
  focal_loss_backward(ctx, logits, target, 2.0, 1.0, ctx.from_vector<double>({1}, {1.0}), once);
  Tensor acc = ctx.from_vector<double>({2, 3}, {1, 1, 1, 1, 1, 1});
  focal_loss_backward(ctx, logits, target, 2.0, 1.0, ctx.from_vector<double>({1}, {3.0}), acc);
  const std::vector<double> a = ctx.to_vector<double>(once), b = ctx.to_vector<double>(acc);
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(b[i], 1.0 + 3.0 * a[i], 1e-15);
  // Softmax gradients sum to zero over the classes of each jet.
  EXPECT_NEAR(a[0] + a[1] + a[2], 0.0, 1e-16);
  EXPECT_LT(a[1], 0.0);  // raising the target logit lowers the loss
}

TEST(FocalLoss, ResultsAreIdenticalForOneAndThreeThreads) {
  const std::function<std::vector<float>(Context&)> loss_and_grad = [](Context& ctx) {
    std::vector<std::int32_t> t(1000);
    for (std::size_t b = 0; b < t.size(); ++b) t[b] = static_cast<std::int32_t>(b % 20);
    Tape tape(ctx);
    Var logits = make_var(test::random_tensor(ctx, {1000, 20}, DType::F32, -5, 5), true);
    Var loss = focal_loss(tape, logits, ctx.from_vector<std::int32_t>({1000}, t), 2.0, 1.0);
    tape.backward(loss);
    return test::float_values(ctx, {logits->grad, loss->value});
  };
  EXPECT_EQ(test::with_threads(1, loss_and_grad), test::with_threads(3, loss_and_grad));
}

TEST(FocalLoss, CudaMatchesCpu) {
  auto gpu = cuda_context();
  if (!gpu) GTEST_SKIP() << "no CUDA device";
  Context& ctx = *gpu;
  const std::int64_t B = 512, C = 20;
  std::vector<std::int32_t> t(B);
  for (std::int64_t b = 0; b < B; ++b) t[b] = static_cast<std::int32_t>((b * 7) % 19);
  const Tensor logits = test::random_tensor(ctx, {B, C}, DType::F32, -6, 6);
  const Tensor target = ctx.from_vector<std::int32_t>({B}, t, Device::cpu());
  std::vector<float> loss[2], grad[2];
  for (int dev = 0; dev < 2; ++dev) {
    const Device d = dev == 0 ? Device::cpu() : Device::cuda();
    Tape tape(ctx);
    Var l = make_var(ctx.to(logits, d), true);
    Var out = focal_loss(tape, l, ctx.to(target, d), 4.0, 10.0);
    tape.backward(out, ctx.to(ctx.from_vector<float>({1}, {1.0f}, Device::cpu()), d));
    loss[dev] = ctx.to_vector<float>(out->value);
    grad[dev] = ctx.to_vector<float>(l->grad);
  }
  EXPECT_NEAR(loss[1][0], loss[0][0], 1e-6 * std::abs(loss[0][0]));
  for (std::size_t i = 0; i < grad[0].size(); ++i) EXPECT_NEAR(grad[1][i], grad[0][i], 1e-9) << "element " << i;
  t[5] = 20;
  EXPECT_THROW(focal_loss_forward(ctx, ctx.to(logits, Device::cuda()),
                                  ctx.from_vector<std::int32_t>({B}, t, Device::cuda()), 2.0, 1.0,
                                  ctx.empty({1}, DType::F32, Device::cuda())),
               Error);
}

TEST(FocalLoss, RejectsTargetsOutsideTheClassRange) {
  Context ctx(test::cpu_options());
  Tensor logits = ctx.zeros({3, 4});
  Tensor loss = ctx.empty({1});
  for (std::int32_t bad : {-1, 4}) {
    try {
      focal_loss_forward(ctx, logits, ctx.from_vector<std::int32_t>({3}, {0, 3, bad}), 2.0, 1.0, loss);
      FAIL() << "expected an exception";
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("jet 2"), std::string::npos) << msg;
      EXPECT_NE(msg.find("is " + std::to_string(bad)), std::string::npos) << msg;
    }
    EXPECT_THROW(focal_loss_backward(ctx, logits, ctx.from_vector<std::int32_t>({3}, {bad, 0, 0}), 2.0, 1.0,
                                     ctx.zeros({1}), ctx.zeros({3, 4})),
                 Error);
  }
}

TEST(FocalLoss, RejectsBadShapesAndDtypes) {
  Context ctx(test::cpu_options());
  Tensor logits = ctx.zeros({3, 4});
  Tensor target = ctx.from_vector<std::int32_t>({3}, {0, 1, 2});
  Tensor loss = ctx.empty({1});
  try {
    focal_loss_forward(ctx, logits, ctx.from_vector<std::int32_t>({2}, {0, 1}), 2.0, 1.0, loss);
    FAIL() << "expected an exception";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("int32[2]@cpu"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("float32[3,4]@cpu"), std::string::npos) << e.what();
  }
  EXPECT_THROW(focal_loss_forward(ctx, ctx.zeros({12}), target, 2.0, 1.0, loss), Error);
  EXPECT_THROW(focal_loss_forward(ctx, logits, ctx.zeros({3}), 2.0, 1.0, loss), Error);  // float targets
  EXPECT_THROW(focal_loss_forward(ctx, ctx.zeros({3, 4}, DType::I32), target, 2.0, 1.0, ctx.empty({1}, DType::I32)),
               Error);
  EXPECT_THROW(focal_loss_forward(ctx, logits, target, 2.0, 1.0, ctx.empty({2})), Error);
  EXPECT_THROW(focal_loss_forward(ctx, logits, target, 2.0, 1.0, ctx.empty({1}, DType::F64)), Error);
  EXPECT_THROW(focal_loss_forward(ctx, logits, target, -1.0, 1.0, loss), Error);
  EXPECT_THROW(focal_loss_forward(ctx, ctx.zeros({0, 4}), ctx.zeros({0}, DType::I32), 2.0, 1.0, loss), Error);
  EXPECT_THROW(focal_loss_backward(ctx, logits, target, 2.0, 1.0, ctx.zeros({1}), ctx.zeros({3, 5})), Error);
  EXPECT_THROW(focal_loss_backward(ctx, logits, target, 2.0, 1.0, ctx.zeros({1}, DType::F64), ctx.zeros({3, 4})),
               Error);
}

}  // namespace
}  // namespace ucluster
