#include "kernels/edge.h"
#include "tests/kernels/thread_counts.h"
#include "tests/test_support.h"

namespace ucluster {
namespace {

using test::error_of;

TEST(Edge, ForwardIsCentralMinusNeighbour) {
  Context ctx(test::cpu_options());
  Tensor x = ctx.from_vector<float>({1, 3, 2}, {1, 2, 3, 5, -1, 0});
  Tensor idx = ctx.from_vector<std::int32_t>({1, 3, 2}, {0, 1, 2, 0, 1, 1});
  Tensor e = ctx.empty({1, 3, 2, 2});
  edge_diff_forward(ctx, x, idx, e);
  EXPECT_EQ(ctx.to_vector<float>(e), (std::vector<float>{0, 0, -2, -3, 4, 5, 2, 3, -4, -5, -4, -5}));
}

TEST(Edge, BackwardIsOwnSumMinusIncomingSumAndAccumulates) {
  Context ctx(test::cpu_options());
  // idx = [[0,1],[2,0],[1,1]]; de[i,j,:] = v_ij * (1, 2) with v = [[1,2],[3,4],[5,6]].
  // Incoming edges: 0 <- (0,0),(1,1); 1 <- (0,1),(2,0),(2,1); 2 <- (1,0).
  // dx_0 = (1+2) - (1+4) = -2, dx_1 = (3+4) - (2+5+6) = -6, dx_2 = (5+6) - 3 = 8 (times (1, 2)).
  Tensor idx = ctx.from_vector<std::int32_t>({1, 3, 2}, {0, 1, 2, 0, 1, 1});
  Tensor de = ctx.from_vector<double>({1, 3, 2, 2}, {1, 2, 2, 4, 3, 6, 4, 8, 5, 10, 6, 12});
  Tensor dx = ctx.from_vector<double>({1, 3, 2}, {100, 100, 100, 100, 100, 100});
  edge_diff_backward(ctx, idx, de, dx);
  EXPECT_EQ(ctx.to_vector<double>(dx), (std::vector<double>{98, 96, 94, 88, 108, 116}));
}

TEST(Edge, GradCheck) {
  Context ctx(test::cpu_options());
  // Random neighbour lists with repeats and self-loops, two jets.
  const std::int64_t batch = 2, n = 5, k = 4;
  std::vector<std::int32_t> iv(batch * n * k);
  for (auto& v : iv) v = static_cast<std::int32_t>(ctx.rng().uniform(0.0, double(n))) % n;
  Tensor idx = ctx.from_vector<std::int32_t>({batch, n, k}, iv);
  auto report = test::gradcheck(ctx, {test::random_tensor(ctx, {batch, n, 3})}, {true},
                                [&](Tape& t, const std::vector<Var>& v) { return edge_diff(t, v[0], idx); });
  EXPECT_LT(report.max_error, test::kGradCheckTolerance) << report.worst;
}

TEST(Edge, BackwardIsIdenticalForOneAndTwoThreads) {
  const std::function<std::vector<float>(Context&)> backward = [](Context& ctx) {
    const std::int64_t batch = 7, n = 30, k = 10, c = 16;
    std::vector<std::int32_t> iv(batch * n * k);
    for (auto& v : iv) v = static_cast<std::int32_t>(ctx.rng().uniform(0.0, double(n))) % n;
    Tensor de = test::random_tensor(ctx, {batch, n, k, c}, DType::F32);
    Tensor dx = ctx.zeros({batch, n, c});
    edge_diff_backward(ctx, ctx.from_vector<std::int32_t>({batch, n, k}, iv), de, dx);
    return ctx.to_vector<float>(dx);
  };
  EXPECT_EQ(test::with_threads(1, backward), test::with_threads(2, backward));
}

TEST(Edge, RejectsBadIndicesAndShapes) {
  Context ctx(test::cpu_options());
  Tensor x = ctx.zeros({1, 3, 2});
  Tensor e = ctx.zeros({1, 3, 2, 2});
  // Indices not int32.
  EXPECT_NE(error_of([&] { edge_diff_forward(ctx, x, ctx.zeros({1, 3, 2}), e); }).find("int32"), std::string::npos);
  // Index shape does not match the points.
  const std::string shape_msg =
      error_of([&] { edge_diff_forward(ctx, x, ctx.zeros({1, 4, 2}, DType::I32), e); });
  EXPECT_NE(shape_msg.find("int32[1,4,2]@cpu"), std::string::npos) << shape_msg;
  EXPECT_NE(shape_msg.find("float32[1,3,2]@cpu"), std::string::npos) << shape_msg;
  // Out of range, above and below.
  const std::string range_msg = error_of([&] {
    edge_diff_forward(ctx, x, ctx.from_vector<std::int32_t>({1, 3, 2}, {0, 1, 2, 3, 0, 0}), e);
  });
  EXPECT_NE(range_msg.find("index 3 at [0,1,1]"), std::string::npos) << range_msg;
  EXPECT_NE(range_msg.find("N = 3"), std::string::npos) << range_msg;
  EXPECT_THROW(edge_diff_forward(ctx, x, ctx.from_vector<std::int32_t>({1, 3, 2}, {0, 1, 2, 0, -1, 0}), e), Error);
  Tensor bad = ctx.from_vector<std::int32_t>({1, 3, 2}, {0, 1, 2, 7, 0, 0});
  EXPECT_THROW(edge_diff_backward(ctx, bad, ctx.zeros({1, 3, 2, 2}), ctx.zeros({1, 3, 2})), Error);
  // Output and gradient shapes.
  Tensor idx = ctx.zeros({1, 3, 2}, DType::I32);
  EXPECT_THROW(edge_diff_forward(ctx, x, idx, ctx.zeros({1, 3, 2, 3})), Error);
  EXPECT_THROW(edge_diff_forward(ctx, x, idx, ctx.zeros({1, 3, 2, 2}, DType::F64)), Error);
  EXPECT_THROW(edge_diff_backward(ctx, idx, ctx.zeros({1, 3, 3, 2}), ctx.zeros({1, 3, 2})), Error);
  EXPECT_THROW(edge_diff_forward(ctx, ctx.zeros({3, 2}), idx, e), Error);
  Tape tape(ctx);
  EXPECT_THROW(edge_diff(tape, make_var(x, true), ctx.zeros({1, 3}, DType::I32)), Error);
}

}  // namespace
}  // namespace ucluster
