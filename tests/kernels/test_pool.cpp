#include "kernels/pool.h"
#include "tests/test_support.h"

namespace ucluster {
namespace {

// On packed rows (engine/jet_rows.h) the pool reads x [R, C]. These tests are about the op itself
// and use the reference's layout (dense_jet_rows: every one of a jet's N points a row of weight 1,
// padded points as the zero rows they are in the reference); the padding row of weight P - n is
// tested in test_packed_rows.cpp.
JetRows dense_rows(Context& ctx, std::int64_t jets, std::int64_t n, DType dtype = DType::F32) {
  return dense_jet_rows(ctx, jets, n, dtype, Device::cpu());
}

TEST(Pool, MeanOverAllPointsIncludingPadding) {
  Context ctx(test::cpu_options());
  // Jet 0 has two real points and one zero-padded point; the padding counts (spec 2.4 row 23, 8 #12).
  Tensor x = ctx.from_vector<float>({6, 2}, {1, 2, 3, 4, 0, 0, /**/ 1, -1, 2, -2, 6, 0});
  Tensor y = ctx.empty({2, 2});
  mean_pool_forward(ctx, x, dense_rows(ctx, 2, 3), y);
  const std::vector<float> got = ctx.to_vector<float>(y);
  EXPECT_FLOAT_EQ(got[0], 4.0f / 3.0f);
  EXPECT_EQ(got[1], 2.0f);
  EXPECT_EQ(got[2], 3.0f);
  EXPECT_EQ(got[3], -1.0f);
}

TEST(Pool, PaddingRowCountsForAllItsPoints) {
  Context ctx(test::cpu_options());
  // The previous test's jet 0 packed: its real rows, then one padding row of weight 3 - 2 = 1; and a
  // jet of P = 3 with one real point, its padding row (here non-zero, as after a layer) standing
  // for 2 points: (5 + 2 * 2) / 3 = 3, (1 + 2 * -1) / 3 = -1/3.
  const JetRows rows = make_jet_rows(ctx, {2, 1}, 3, DType::F32, Device::cpu());
  Tensor x = ctx.from_vector<float>({5, 2}, {1, 2, 3, 4, 0, 0, /**/ 5, 1, 2, -1});
  Tensor y = ctx.empty({2, 2});
  mean_pool_forward(ctx, x, rows, y);
  const std::vector<float> got = ctx.to_vector<float>(y);
  EXPECT_FLOAT_EQ(got[0], 4.0f / 3.0f);
  EXPECT_EQ(got[1], 2.0f);
  EXPECT_EQ(got[2], 3.0f);
  EXPECT_FLOAT_EQ(got[3], -1.0f / 3.0f);
}

TEST(Pool, BackwardSpreadsEvenlyAndAccumulates) {
  Context ctx(test::cpu_options());
  Tensor dy = ctx.from_vector<double>({1, 2}, {4, -8});
  Tensor dx = ctx.from_vector<double>({4, 2}, {1, 1, 1, 1, 1, 1, 1, 1});
  mean_pool_backward(ctx, dense_rows(ctx, 1, 4, DType::F64), dy, dx);
  EXPECT_EQ(ctx.to_vector<double>(dx), (std::vector<double>{2, -1, 2, -1, 2, -1, 2, -1}));
  // Packed, one real point and a padding row for 3: the padding row gets the share of all three.
  Tensor dxp = ctx.zeros({2, 2}, DType::F64);
  mean_pool_backward(ctx, make_jet_rows(ctx, {1}, 4, DType::F64, Device::cpu()), dy, dxp);
  EXPECT_EQ(ctx.to_vector<double>(dxp), (std::vector<double>{1, -2, 3, -6}));
}

TEST(Pool, GradCheck) {
  Context ctx(test::cpu_options());
  const JetRows rows = dense_rows(ctx, 3, 5, DType::F64);
  auto report = test::gradcheck(ctx, {test::random_tensor(ctx, {15, 4})}, {true},
                                [&](Tape& t, const std::vector<Var>& v) { return mean_pool(t, v[0], rows); });
  EXPECT_LT(report.max_error, test::kGradCheckTolerance) << report.worst;
}

TEST(Pool, RejectsBadShapesWithAClearMessage) {
  Context ctx(test::cpu_options());
  const JetRows rows = dense_rows(ctx, 2, 3);
  try {
    mean_pool_forward(ctx, ctx.zeros({6, 4}), rows, ctx.zeros({2, 3}));
    FAIL() << "expected an exception";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("float32[2,3]@cpu"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("float32[6,4]@cpu"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("of 2 jets"), std::string::npos) << e.what();
  }
  // The output has one row per jet, not per point.
  EXPECT_THROW(mean_pool_forward(ctx, ctx.zeros({6, 4}), rows, ctx.zeros({6, 4})), Error);
  // Rows that are not the layout's.
  const std::string rows_msg =
      test::error_of([&] { mean_pool_forward(ctx, ctx.zeros({5, 4}), rows, ctx.zeros({2, 4})); });
  EXPECT_NE(rows_msg.find("does not have the R = 6 rows"), std::string::npos) << rows_msg;
  // Jets of zero points.
  EXPECT_THROW(dense_rows(ctx, 2, 0), Error);
  EXPECT_THROW(mean_pool_forward(ctx, ctx.zeros({6, 4}), rows, ctx.zeros({2, 4}, DType::F64)), Error);
  // Row weights of another dtype than the points.
  EXPECT_THROW(mean_pool_forward(ctx, ctx.zeros({6, 4}, DType::F64), rows, ctx.zeros({2, 4}, DType::F64)), Error);
  EXPECT_THROW(mean_pool_backward(ctx, rows, ctx.zeros({2, 5}), ctx.zeros({6, 4})), Error);
  Tape tape(ctx);
  EXPECT_THROW(mean_pool(tape, make_var(ctx.zeros({2, 3, 4})), rows), Error);
}

}  // namespace
}  // namespace ucluster
