#include "kernels/pool.h"
#include "tests/test_support.h"

namespace ucluster {
namespace {

TEST(Pool, MeanOverAllPointsIncludingPadding) {
  Context ctx(test::cpu_options());
  // Jet 0 has two real points and one zero-padded point; the padding counts (spec 2.4 row 23, 8 #12).
  Tensor x = ctx.from_vector<float>({2, 3, 2}, {1, 2, 3, 4, 0, 0, /**/ 1, -1, 2, -2, 6, 0});
  Tensor y = ctx.empty({2, 2});
  mean_pool_forward(ctx, x, y);
  const std::vector<float> got = ctx.to_vector<float>(y);
  EXPECT_FLOAT_EQ(got[0], 4.0f / 3.0f);
  EXPECT_EQ(got[1], 2.0f);
  EXPECT_EQ(got[2], 3.0f);
  EXPECT_EQ(got[3], -1.0f);
}

TEST(Pool, BackwardSpreadsEvenlyAndAccumulates) {
  Context ctx(test::cpu_options());
  Tensor dy = ctx.from_vector<double>({1, 2}, {4, -8});
  Tensor dx = ctx.from_vector<double>({1, 4, 2}, {1, 1, 1, 1, 1, 1, 1, 1});
  mean_pool_backward(ctx, dy, dx);
  EXPECT_EQ(ctx.to_vector<double>(dx), (std::vector<double>{2, -1, 2, -1, 2, -1, 2, -1}));
}

TEST(Pool, GradCheck) {
  Context ctx(test::cpu_options());
  auto report = test::gradcheck(ctx, {test::random_tensor(ctx, {3, 5, 4})}, {true},
                                [](Tape& t, const std::vector<Var>& v) { return mean_pool(t, v[0]); });
  EXPECT_LT(report.max_error, test::kGradCheckTolerance) << report.worst;
}

TEST(Pool, RejectsBadShapesWithAClearMessage) {
  Context ctx(test::cpu_options());
  try {
    mean_pool_forward(ctx, ctx.zeros({2, 3, 4}), ctx.zeros({2, 3}));
    FAIL() << "expected an exception";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("float32[2,3]@cpu"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("float32[2,3,4]@cpu"), std::string::npos) << e.what();
  }
  EXPECT_THROW(mean_pool_forward(ctx, ctx.zeros({6, 4}), ctx.zeros({6, 4})), Error);
  EXPECT_THROW(mean_pool_forward(ctx, ctx.zeros({2, 0, 4}), ctx.zeros({2, 4})), Error);
  EXPECT_THROW(mean_pool_forward(ctx, ctx.zeros({2, 3, 4}), ctx.zeros({2, 4}, DType::F64)), Error);
  EXPECT_THROW(mean_pool_backward(ctx, ctx.zeros({2, 5}), ctx.zeros({2, 3, 4})), Error);
  Tape tape(ctx);
  EXPECT_THROW(mean_pool(tape, make_var(ctx.zeros({2, 3}))), Error);
}

}  // namespace
}  // namespace ucluster
