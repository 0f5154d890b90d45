#include "kernels/dense.h"
#include "tests/test_support.h"

namespace ucluster {
namespace {

using test::gradcheck;
using test::random_tensor;

TEST(Dense, ForwardMatchesHandComputedValues) {
  Context ctx(test::cpu_options());
  // x [2,2] = [[1,2],[3,4]], W [2,3] = [[1,0,-1],[2,1,0]], b = [0.5,-1,2]
  Tensor x = ctx.from_vector<float>({2, 2}, {1, 2, 3, 4});
  Tensor w = ctx.from_vector<float>({2, 3}, {1, 0, -1, 2, 1, 0});
  Tensor b = ctx.from_vector<float>({3}, {0.5f, -1, 2});
  Tensor y = ctx.empty({2, 3});
  dense_forward(ctx, x, w, b, y);
  EXPECT_EQ(ctx.to_vector<float>(y), (std::vector<float>{5.5f, 1, 1, 11.5f, 3, -1}));
  dense_forward(ctx, x, w, Tensor(), y);
  EXPECT_EQ(ctx.to_vector<float>(y), (std::vector<float>{5, 2, -1, 11, 4, -3}));
}

TEST(Dense, GradCheckWithBiasOnRank3Input) {
  Context ctx(test::cpu_options());
  auto report = gradcheck(ctx, {random_tensor(ctx, {2, 3, 4}), random_tensor(ctx, {4, 5}), random_tensor(ctx, {5})},
                          {true, true, true}, [](Tape& t, const std::vector<Var>& v) { return dense(t, v[0], v[1], v[2]); });
  EXPECT_LT(report.max_error, test::kGradCheckTolerance) << report.worst;
}

TEST(Dense, GradCheckWithoutBias) {
  Context ctx(test::cpu_options());
  auto report = gradcheck(ctx, {random_tensor(ctx, {7, 3}), random_tensor(ctx, {3, 2})}, {true, true},
                          [](Tape& t, const std::vector<Var>& v) { return dense(t, v[0], v[1], nullptr); });
  EXPECT_LT(report.max_error, test::kGradCheckTolerance) << report.worst;
}

TEST(Dense, BackwardAccumulatesIntoExistingGradients) {
  Context ctx(test::cpu_options());
  Tensor x = ctx.from_vector<double>({1, 2}, {1, 2});
  Tensor w = ctx.from_vector<double>({2, 1}, {3, 4});
  Tensor dy = ctx.from_vector<double>({1, 1}, {1});
  Tensor dx = ctx.from_vector<double>({1, 2}, {10, 20});
  Tensor dw = ctx.from_vector<double>({2, 1}, {100, 200});
  Tensor db = ctx.from_vector<double>({1}, {1000});
  dense_backward(ctx, x, w, dy, dx, dw, db);
  EXPECT_EQ(ctx.to_vector<double>(dx), (std::vector<double>{13, 24}));
  EXPECT_EQ(ctx.to_vector<double>(dw), (std::vector<double>{101, 202}));
  EXPECT_EQ(ctx.to_vector<double>(db), (std::vector<double>{1001}));
}

TEST(Dense, RejectsMismatchedShapesWithAClearMessage) {
  Context ctx(test::cpu_options());
  Tensor x = ctx.zeros({4, 3});
  Tensor w = ctx.zeros({5, 2});
  Tensor y = ctx.zeros({4, 2});
  try {
    dense_forward(ctx, x, w, Tensor(), y);
    FAIL() << "expected an exception";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("float32[4,3]@cpu"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("float32[5,2]@cpu"), std::string::npos) << e.what();
  }
  Tensor wd = ctx.zeros({3, 2}, DType::F64);
  EXPECT_THROW(dense_forward(ctx, x, wd, Tensor(), y), Error);
  Tensor bad_bias = ctx.zeros({3});
  EXPECT_THROW(dense_forward(ctx, x, ctx.zeros({3, 2}), bad_bias, y), Error);
}

}  // namespace
}  // namespace ucluster

namespace ucluster {
namespace {

TEST(BiasAdd, ForwardAddsPerChannelAndGradCheck) {
  Context ctx(test::cpu_options());
  Tensor x = ctx.from_vector<float>({2, 1, 3}, {1, 2, 3, 4, 5, 6});
  Tensor b = ctx.from_vector<float>({3}, {10, 20, 30});
  Tensor y = ctx.empty({2, 1, 3});
  bias_add_forward(ctx, x, b, y);
  EXPECT_EQ(ctx.to_vector<float>(y), (std::vector<float>{11, 22, 33, 14, 25, 36}));
  auto report = test::gradcheck(ctx, {test::random_tensor(ctx, {2, 3, 4}), test::random_tensor(ctx, {4})}, {true, true},
                                [](Tape& t, const std::vector<Var>& v) { return bias_add(t, v[0], v[1]); });
  EXPECT_LT(report.max_error, test::kGradCheckTolerance) << report.worst;
  EXPECT_THROW(bias_add_forward(ctx, x, ctx.zeros({2}), y), Error);
}

}  // namespace
}  // namespace ucluster
