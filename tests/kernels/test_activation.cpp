#include "kernels/activation.h"
#include "tests/test_support.h"

namespace ucluster {
namespace {

TEST(Activation, ReluAndLeakyReluForward) {
  Context ctx(test::cpu_options());
  Tensor x = ctx.from_vector<float>({5}, {-2, -0.5f, 0, 0.5f, 3});
  Tensor y = ctx.empty({5});
  leaky_relu_forward(ctx, x, y, 0.0);
  EXPECT_EQ(ctx.to_vector<float>(y), (std::vector<float>{0, 0, 0, 0.5f, 3}));
  leaky_relu_forward(ctx, x, y, 0.2);
  EXPECT_EQ(ctx.to_vector<float>(y), (std::vector<float>{-0.4f, -0.1f, 0, 0.5f, 3}));
}

TEST(Activation, ReluGradientAtZeroIsZeroAsInTensorFlow) {
  Context ctx(test::cpu_options());
  Tape tape(ctx);
  Var x = make_var(ctx.from_vector<double>({3}, {-1, 0, 2}), true);
  Var y = relu(tape, x);
  tape.backward(y, ctx.from_vector<double>({3}, {1, 1, 1}));
  EXPECT_EQ(ctx.to_vector<double>(x->grad), (std::vector<double>{0, 0, 1}));
}

TEST(Activation, GradCheckRelu) {
  Context ctx(test::cpu_options());
  auto report = test::gradcheck(ctx, {test::random_tensor(ctx, {3, 7})}, {true},
                                [](Tape& t, const std::vector<Var>& v) { return relu(t, v[0]); });
  EXPECT_LT(report.max_error, test::kGradCheckTolerance) << report.worst;
}

TEST(Activation, GradCheckLeakyRelu) {
  Context ctx(test::cpu_options());
  auto report = test::gradcheck(ctx, {test::random_tensor(ctx, {4, 5})}, {true},
                                [](Tape& t, const std::vector<Var>& v) { return leaky_relu(t, v[0], 0.2); });
  EXPECT_LT(report.max_error, test::kGradCheckTolerance) << report.worst;
}

TEST(Activation, RejectsShapeMismatch) {
  Context ctx(test::cpu_options());
  EXPECT_THROW(leaky_relu_forward(ctx, ctx.zeros({3}), ctx.zeros({4}), 0.0), Error);
}

}  // namespace
}  // namespace ucluster
