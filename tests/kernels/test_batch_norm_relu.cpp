// Batch norm with the fused ReLU (kernels/batch_norm.h, relu = true) against batch norm followed by
// the separate relu op: same values and gradients (the fused op computes the same expressions; only
// the sign of a zero may differ, which == ignores), NaN still propagates, finite differences, bad input.
#include <cmath>

#include "kernels/activation.h"
#include "kernels/batch_norm.h"
#include "tests/test_support.h"

namespace ucluster {
namespace {

using test::random_tensor;

struct Outputs {
  std::vector<double> y, dx, dgamma, dbeta;
};

// Training (train = true) or inference batch norm of x, fused with the ReLU or followed by relu(),
// then backward with a fixed output gradient.
Outputs run(Context& ctx, const Tensor& x0, const Tensor& gamma0, const Tensor& beta0, bool train, bool fused) {
  const std::int64_t C = x0.shape().last();
  Tape tape(ctx);
  Var x = make_var(ctx.clone(x0), true), gamma = make_var(ctx.clone(gamma0), true);
  Var beta = make_var(ctx.clone(beta0), true);
  Var y;
  if (train) {
    y = batch_norm_train(tape, x, gamma, beta, kBatchNormEpsilon, {}, fused).y;
  } else {
    Context stats_ctx(test::cpu_options(3));
    const Tensor mean = ctx.to(random_tensor(stats_ctx, {C}, x0.dtype(), -0.5, 0.5), x0.device());
    const Tensor var = ctx.to(random_tensor(stats_ctx, {C}, x0.dtype(), 0.2, 2.0), x0.device());
    y = batch_norm_inference(tape, x, gamma, beta, mean, var, kBatchNormEpsilon, fused);
  }
  if (!fused) y = relu(tape, y);
  Context seed_ctx(test::cpu_options(17));
  tape.backward(y, random_tensor(seed_ctx, x0.shape(), x0.dtype()));
  return {test::values(ctx, y->value), test::values(ctx, x->grad), test::values(ctx, gamma->grad),
          test::values(ctx, beta->grad)};
}

void expect_fused_equals_separate(DType dtype, bool train) {
  Context ctx(test::cpu_options());
  // Rows across two column-sum blocks; beta around 0 so that about half of the outputs are clipped.
  const Tensor x = random_tensor(ctx, {700, 5}, dtype, -2, 3);
  const Tensor gamma = random_tensor(ctx, {5}, dtype, 0.5, 1.5), beta = random_tensor(ctx, {5}, dtype, -0.3, 0.3);
  const Outputs fused = run(ctx, x, gamma, beta, train, true), separate = run(ctx, x, gamma, beta, train, false);
  EXPECT_EQ(fused.y, separate.y);
  EXPECT_EQ(fused.dx, separate.dx);
  EXPECT_EQ(fused.dgamma, separate.dgamma);
  EXPECT_EQ(fused.dbeta, separate.dbeta);
  std::size_t clipped = 0;
  for (double v : fused.y) clipped += v == 0.0;
  EXPECT_GT(clipped, fused.y.size() / 5);  // the ReLU really clips
  EXPECT_LT(clipped, fused.y.size() * 4 / 5);
}

TEST(BatchNormRelu, TrainingFusedEqualsBatchNormThenReluFloat) { expect_fused_equals_separate(DType::F32, true); }
TEST(BatchNormRelu, TrainingFusedEqualsBatchNormThenReluDouble) { expect_fused_equals_separate(DType::F64, true); }
TEST(BatchNormRelu, InferenceFusedEqualsBatchNormThenReluFloat) { expect_fused_equals_separate(DType::F32, false); }
TEST(BatchNormRelu, InferenceFusedEqualsBatchNormThenReluDouble) { expect_fused_equals_separate(DType::F64, false); }

// A NaN input still gives NaN outputs (the divergence check of the trainer relies on it), where a
// max(y, 0) would hide it.
TEST(BatchNormRelu, NaNPropagatesThroughTheFusedRelu) {
  Context ctx(test::cpu_options());
  Tensor x = random_tensor(ctx, {4, 2}, DType::F32);
  x.data<float>()[2] = std::nanf("");
  const Tensor mean = ctx.zeros({2}), var = ctx.from_vector<float>({2}, {1, 1});
  const Tensor gamma = ctx.from_vector<float>({2}, {1, 1}), beta = ctx.zeros({2});
  Tensor y = ctx.empty({4, 2});
  batch_norm_inference_forward(ctx, x, gamma, beta, mean, var, kBatchNormEpsilon, y, true);
  EXPECT_TRUE(std::isnan(y.data<float>()[2]));
}

TEST(BatchNormRelu, GradCheckTraining) {
  Context ctx(test::cpu_options());
  auto report = test::gradcheck(
      ctx, {random_tensor(ctx, {9, 3}, DType::F64, -2, 2), random_tensor(ctx, {3}, DType::F64, 0.5, 1.5),
            random_tensor(ctx, {3}, DType::F64, -0.3, 0.3)},
      {true, true, true},
      [](Tape& t, const std::vector<Var>& v) { return batch_norm_train(t, v[0], v[1], v[2], 1e-3, {}, true).y; });
  EXPECT_LT(report.max_error, test::kGradCheckTolerance) << report.worst;
}

TEST(BatchNormRelu, BackwardRejectsAReluOutputOfAnotherShape) {
  Context ctx(test::cpu_options());
  const Tensor x = ctx.zeros({4, 3}), c = ctx.zeros({3});
  const std::string msg = test::error_of([&] {
    batch_norm_train_backward(ctx, x, c, c, c, ctx.zeros({4, 3}), ctx.zeros({4, 3}), Tensor(), Tensor(), {},
                              ctx.zeros({4, 2}));
  });
  EXPECT_NE(msg.find("ReLU output"), std::string::npos) << msg;
  EXPECT_NE(msg.find("shape [4,2], expected [4,3]"), std::string::npos) << msg;
}

}  // namespace
}  // namespace ucluster
