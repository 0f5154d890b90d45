#include "kernels/elementwise.h"
#include "tests/test_support.h"

namespace ucluster {
namespace {

using test::gradcheck;
using test::random_tensor;

TEST(Elementwise, AddScaledAndScaleForward) {
  Context ctx(test::cpu_options());
  Tensor a = ctx.from_vector<float>({3}, {1, 2, -3});
  Tensor b = ctx.from_vector<float>({3}, {0.5f, 0, 4});
  Tensor out = ctx.empty({3});
  add_scaled_forward(ctx, a, b, 10.0, 1.0, out);  // total = beta * L_km + L_focal, spec 3.3
  EXPECT_EQ(ctx.to_vector<float>(out), (std::vector<float>{10.5f, 20, -26}));
  scale_forward(ctx, a, -0.5, out);
  EXPECT_EQ(ctx.to_vector<float>(out), (std::vector<float>{-0.5f, -1, 1.5f}));
}

TEST(Elementwise, ScalarLossesCombine) {
  Context ctx(test::cpu_options());
  Tape tape(ctx);
  Var l_km = make_var(ctx.from_vector<double>({1}, {0.25}), true);
  Var l_focal = make_var(ctx.from_vector<double>({1}, {1.5}), true);
  Var total = add_scaled(tape, l_km, l_focal, 10.0, 1.0);
  EXPECT_EQ(ctx.to_vector<double>(total->value), (std::vector<double>{4.0}));
  tape.backward(total);
  EXPECT_EQ(ctx.to_vector<double>(l_km->grad), (std::vector<double>{10.0}));
  EXPECT_EQ(ctx.to_vector<double>(l_focal->grad), (std::vector<double>{1.0}));
}

TEST(Elementwise, BackwardAccumulates) {
  Context ctx(test::cpu_options());
  Tensor dout = ctx.from_vector<double>({2}, {1, -2});
  Tensor da = ctx.from_vector<double>({2}, {1, 1});
  Tensor db = ctx.from_vector<double>({2}, {0, 0});
  add_scaled_backward(ctx, dout, 3.0, 0.5, da, db);
  EXPECT_EQ(ctx.to_vector<double>(da), (std::vector<double>{4, -5}));
  EXPECT_EQ(ctx.to_vector<double>(db), (std::vector<double>{0.5, -1}));
  scale_backward(ctx, dout, 2.0, da);
  EXPECT_EQ(ctx.to_vector<double>(da), (std::vector<double>{6, -9}));
  add_scaled_backward(ctx, dout, 3.0, 0.5, Tensor(), db);
  EXPECT_EQ(ctx.to_vector<double>(db), (std::vector<double>{1, -2}));
}

TEST(Elementwise, GradCheckAddScaled) {
  Context ctx(test::cpu_options());
  auto report = gradcheck(ctx, {random_tensor(ctx, {2, 3}), random_tensor(ctx, {2, 3})}, {true, true},
                          [](Tape& t, const std::vector<Var>& v) { return add_scaled(t, v[0], v[1], 0.7, -2.5); });
  EXPECT_LT(report.max_error, test::kGradCheckTolerance) << report.worst;
}

TEST(Elementwise, GradCheckAddScaledOfTheSameInput) {
  Context ctx(test::cpu_options());
  auto report = gradcheck(ctx, {random_tensor(ctx, {4})}, {true},
                          [](Tape& t, const std::vector<Var>& v) { return add_scaled(t, v[0], v[0], 2.0, 3.0); });
  EXPECT_LT(report.max_error, test::kGradCheckTolerance) << report.worst;
}

TEST(Elementwise, GradCheckScale) {
  Context ctx(test::cpu_options());
  auto report = gradcheck(ctx, {random_tensor(ctx, {3, 2, 2})}, {true},
                          [](Tape& t, const std::vector<Var>& v) { return scale(t, v[0], -1.75); });
  EXPECT_LT(report.max_error, test::kGradCheckTolerance) << report.worst;
}

TEST(Elementwise, RejectsBadShapesWithAClearMessage) {
  Context ctx(test::cpu_options());
  try {
    add_scaled_forward(ctx, ctx.zeros({2, 3}), ctx.zeros({3, 2}), 1.0, 1.0, ctx.zeros({2, 3}));
    FAIL() << "expected an exception";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("float32[2,3]@cpu"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("float32[3,2]@cpu"), std::string::npos) << e.what();
  }
  EXPECT_THROW(add_scaled_forward(ctx, ctx.zeros({2}), ctx.zeros({2}, DType::F64), 1, 1, ctx.zeros({2})), Error);
  EXPECT_THROW(add_scaled_forward(ctx, ctx.zeros({2}), ctx.zeros({2}), 1, 1, ctx.zeros({3})), Error);
  EXPECT_THROW(scale_forward(ctx, ctx.zeros({2}), 1, ctx.zeros({1, 2})), Error);
  EXPECT_THROW(add_scaled_backward(ctx, ctx.zeros({2}), 1, 1, ctx.zeros({3}), Tensor()), Error);
  EXPECT_THROW(scale_backward(ctx, ctx.zeros({2}), 1, Tensor()), Error);
  Tape tape(ctx);
  EXPECT_THROW(add_scaled(tape, make_var(ctx.zeros({2})), make_var(ctx.zeros({4})), 1, 1), Error);
}

}  // namespace
}  // namespace ucluster
