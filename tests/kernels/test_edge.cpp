#include "kernels/edge.h"
#include "tests/kernels/packed_jets.h"
#include "tests/kernels/thread_counts.h"
#include "tests/test_support.h"

namespace ucluster {
namespace {

using test::error_of;

// On packed rows (engine/jet_rows.h) x is [R, C] and idx [R, k] holds absolute rows. These tests are
// about the op itself and use the reference's layout (dense_jet_rows: jet b's N points are rows
// b N .. b N + N - 1); the padding row is tested in test_packed_rows.cpp.
JetRows dense_rows(Context& ctx, std::int64_t jets, std::int64_t n, DType dtype = DType::F32) {
  return dense_jet_rows(ctx, jets, n, dtype, Device::cpu());
}

// Random neighbours within each of `batch` jets of n points, as absolute rows, repeats and
// self-loops included.
Tensor random_neighbours(Context& ctx, std::int64_t batch, std::int64_t n, std::int64_t k) {
  std::vector<std::int32_t> iv(batch * n * k);
  for (auto& v : iv) v = static_cast<std::int32_t>(ctx.rng().uniform(0.0, double(n))) % n;
  return ctx.from_vector<std::int32_t>({batch * n, k}, test::absolute_indices(iv, n, k));
}

TEST(Edge, ForwardIsCentralMinusNeighbour) {
  Context ctx(test::cpu_options());
  Tensor x = ctx.from_vector<float>({3, 2}, {1, 2, 3, 5, -1, 0});
  Tensor idx = ctx.from_vector<std::int32_t>({3, 2}, {0, 1, 2, 0, 1, 1});
  Tensor e = ctx.empty({3, 2, 2});
  edge_diff_forward(ctx, x, idx, e);
  EXPECT_EQ(ctx.to_vector<float>(e), (std::vector<float>{0, 0, -2, -3, 4, 5, 2, 3, -4, -5, -4, -5}));
}

TEST(Edge, ForwardReadsAbsoluteRowsOfLaterJets) {
  Context ctx(test::cpu_options());
  // Two jets of two rows: jet 1's rows are 2 and 3, and its indices name them as such.
  Tensor x = ctx.from_vector<float>({4, 1}, {1, 2, 10, 30});
  Tensor idx = ctx.from_vector<std::int32_t>({4, 2}, {0, 1, 1, 1, 3, 2, 2, 2});
  Tensor e = ctx.empty({4, 2, 1});
  edge_diff_forward(ctx, x, idx, e);
  EXPECT_EQ(ctx.to_vector<float>(e), (std::vector<float>{0, -1, 0, 0, -20, 0, 20, 20}));
}

TEST(Edge, BackwardIsOwnSumMinusIncomingSumAndAccumulates) {
  Context ctx(test::cpu_options());
  // idx = [[0,1],[2,0],[1,1]]; de[i,j,:] = v_ij * (1, 2) with v = [[1,2],[3,4],[5,6]].
  // Incoming edges: 0 <- (0,0),(1,1); 1 <- (0,1),(2,0),(2,1); 2 <- (1,0).
  // dx_0 = (1+2) - (1+4) = -2, dx_1 = (3+4) - (2+5+6) = -6, dx_2 = (5+6) - 3 = 8 (times (1, 2)).
  Tensor idx = ctx.from_vector<std::int32_t>({3, 2}, {0, 1, 2, 0, 1, 1});
  Tensor de = ctx.from_vector<double>({3, 2, 2}, {1, 2, 2, 4, 3, 6, 4, 8, 5, 10, 6, 12});
  Tensor dx = ctx.from_vector<double>({3, 2}, {100, 100, 100, 100, 100, 100});
  edge_diff_backward(ctx, dense_rows(ctx, 1, 3, DType::F64), idx, de, dx);
  EXPECT_EQ(ctx.to_vector<double>(dx), (std::vector<double>{98, 96, 94, 88, 108, 116}));
}

TEST(Edge, BackwardOfASecondJetUsesItsAbsoluteRows) {
  Context ctx(test::cpu_options());
  // The previous test's jet as the second of two (rows 3..5, indices + 3) behind a jet whose edges
  // all point at its row 0: the per-jet inverse lists must map absolute rows to the right jet.
  Tensor idx = ctx.from_vector<std::int32_t>({6, 2}, {0, 0, 0, 0, 0, 0, 3, 4, 5, 3, 4, 4});
  Tensor de = ctx.from_vector<double>({6, 2, 1}, {1, 1, 1, 1, 1, 1, 1, 2, 3, 4, 5, 6});
  Tensor dx = ctx.zeros({6, 1}, DType::F64);
  edge_diff_backward(ctx, dense_rows(ctx, 2, 3, DType::F64), idx, de, dx);
  // Jet 0: every row gives 2 through its own term, row 0 takes -6 through the 6 incoming edges.
  EXPECT_EQ(ctx.to_vector<double>(dx), (std::vector<double>{-4, 2, 2, -2, -6, 8}));
}

TEST(Edge, GradCheck) {
  Context ctx(test::cpu_options());
  // Random neighbour lists with repeats and self-loops, two jets.
  const std::int64_t batch = 2, n = 5, k = 4;
  const Tensor idx = random_neighbours(ctx, batch, n, k);
  const JetRows rows = dense_rows(ctx, batch, n, DType::F64);
  auto report = test::gradcheck(ctx, {test::random_tensor(ctx, {batch * n, 3})}, {true},
                                [&](Tape& t, const std::vector<Var>& v) { return edge_diff(t, v[0], idx, rows); });
  EXPECT_LT(report.max_error, test::kGradCheckTolerance) << report.worst;
}

TEST(Edge, BackwardIsIdenticalForOneAndTwoThreads) {
  const std::function<std::vector<float>(Context&)> backward = [](Context& ctx) {
    const std::int64_t batch = 7, n = 30, k = 10, c = 16;
    const Tensor idx = random_neighbours(ctx, batch, n, k);
    Tensor de = test::random_tensor(ctx, {batch * n, k, c}, DType::F32);
    Tensor dx = ctx.zeros({batch * n, c});
    edge_diff_backward(ctx, dense_rows(ctx, batch, n), idx, de, dx);
    return ctx.to_vector<float>(dx);
  };
  EXPECT_EQ(test::with_threads(1, backward), test::with_threads(2, backward));
}

TEST(Edge, RejectsBadIndicesAndShapes) {
  Context ctx(test::cpu_options());
  Tensor x = ctx.zeros({3, 2});
  Tensor e = ctx.zeros({3, 2, 2});
  const JetRows rows = dense_rows(ctx, 1, 3);
  // Indices not int32.
  EXPECT_NE(error_of([&] { edge_diff_forward(ctx, x, ctx.zeros({3, 2}), e); }).find("int32"), std::string::npos);
  // Index shape does not match the points.
  const std::string shape_msg = error_of([&] { edge_diff_forward(ctx, x, ctx.zeros({4, 2}, DType::I32), e); });
  EXPECT_NE(shape_msg.find("int32[4,2]@cpu"), std::string::npos) << shape_msg;
  EXPECT_NE(shape_msg.find("float32[3,2]@cpu"), std::string::npos) << shape_msg;
  // Out of range, above and below.
  const std::string range_msg =
      error_of([&] { edge_diff_forward(ctx, x, ctx.from_vector<std::int32_t>({3, 2}, {0, 1, 2, 3, 0, 0}), e); });
  EXPECT_NE(range_msg.find("index 3 at [1,1]"), std::string::npos) << range_msg;
  EXPECT_NE(range_msg.find("R = 3"), std::string::npos) << range_msg;
  EXPECT_THROW(edge_diff_forward(ctx, x, ctx.from_vector<std::int32_t>({3, 2}, {0, 1, 2, 0, -1, 0}), e), Error);
  Tensor bad = ctx.from_vector<std::int32_t>({3, 2}, {0, 1, 2, 7, 0, 0});
  const std::string backward_msg =
      error_of([&] { edge_diff_backward(ctx, rows, bad, ctx.zeros({3, 2, 2}), ctx.zeros({3, 2})); });
  EXPECT_NE(backward_msg.find("neighbour index 7 at [1,1]"), std::string::npos) << backward_msg;
  EXPECT_NE(backward_msg.find("is not a row of its point's jet"), std::string::npos) << backward_msg;
  // In range but in another jet: the backward's per-jet inverse lists must not follow it.
  const std::string jet_msg = error_of([&] {
    edge_diff_backward(ctx, dense_rows(ctx, 2, 3), ctx.from_vector<std::int32_t>({6, 1}, {0, 1, 2, 3, 4, 1}),
                       ctx.zeros({6, 1, 2}), ctx.zeros({6, 2}));
  });
  EXPECT_NE(jet_msg.find("neighbour index 1 at [5,0]"), std::string::npos) << jet_msg;
  // A layout that is not the points'.
  const std::string layout_msg = error_of([&] {
    edge_diff_backward(ctx, dense_rows(ctx, 1, 4), ctx.zeros({3, 2}, DType::I32), ctx.zeros({3, 2, 2}),
                       ctx.zeros({3, 2}));
  });
  EXPECT_NE(layout_msg.find("does not have the R = 4 rows"), std::string::npos) << layout_msg;
  // Output and gradient shapes.
  Tensor idx = ctx.zeros({3, 2}, DType::I32);
  EXPECT_THROW(edge_diff_forward(ctx, x, idx, ctx.zeros({3, 2, 3})), Error);
  EXPECT_THROW(edge_diff_forward(ctx, x, idx, ctx.zeros({3, 2, 2}, DType::F64)), Error);
  EXPECT_THROW(edge_diff_backward(ctx, rows, idx, ctx.zeros({3, 3, 2}), ctx.zeros({3, 2})), Error);
  // The points are rows [R, C]: the reference's [B, N, C] is not accepted as such.
  EXPECT_THROW(edge_diff_forward(ctx, ctx.zeros({1, 3, 2}), idx, e), Error);
  Tape tape(ctx);
  EXPECT_THROW(edge_diff(tape, make_var(x, true), ctx.zeros({1, 3}, DType::I32), rows), Error);
}

}  // namespace
}  // namespace ucluster
