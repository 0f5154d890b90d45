#include <functional>

#include "kernels/broadcast.h"
#include "tests/kernels/packed_jets.h"
#include "tests/kernels/thread_counts.h"
#include "tests/test_support.h"

namespace ucluster {
namespace {

using D = std::vector<double>;

// P = 3: jet 0 rows 0, 1 real and row 2 its padding row (weight 1); jet 1 only its padding row 3
// (weight 3); jet 2 rows 4..6 real, no padding row.
JetRows three_jets(Context& ctx, DType dtype) { return make_jet_rows(ctx, {2, 0, 3}, 3, dtype, Device::cpu()); }

TEST(BroadcastRows, ForwardCopiesEachJetsRowToAllItsRows) {
  Context ctx(test::cpu_options());
  for (DType dtype : {DType::F32, DType::F64}) {
    SCOPED_TRACE(dtype_name(dtype));
    const JetRows rows = three_jets(ctx, dtype);
    const D v = {1, -2, 3.5, 4, -5, 6};
    Tensor x = dtype == DType::F64 ? ctx.from_vector<double>({3, 2}, v)
                                   : ctx.from_vector<float>({3, 2}, std::vector<float>(v.begin(), v.end()));
    Tensor y = ctx.empty({7, 2}, dtype);
    broadcast_rows_forward(ctx, x, rows, y);
    EXPECT_EQ(test::values(ctx, y), (D{1, -2, 1, -2, 1, -2, 3.5, 4, -5, 6, -5, 6, -5, 6}));
  }
}

TEST(BroadcastRows, BackwardSumsAJetsRowsUnweightedAndAccumulates) {
  Context ctx(test::cpu_options());
  const JetRows rows = three_jets(ctx, DType::F64);
  const Tensor dy = ctx.from_vector<double>({7, 2}, {1, 10, 2, 20, 4, 40,  // jet 0
                                                     8, 80,                // jet 1: its padding row, weight 3
                                                     16, 160, 32, 320, 64, 640});
  Tensor dx = ctx.from_vector<double>({3, 2}, {0.5, 0.5, 0.5, 0.5, 0.5, 0.5});
  broadcast_rows_backward(ctx, rows, dy, dx);
  // A padding row's gradient is already the sum over its points: it is added once, not weight times.
  EXPECT_EQ(ctx.to_vector<double>(dx), (D{7.5, 70.5, 8.5, 80.5, 112.5, 1120.5}));
  // The differentiable form.
  Tape tape(ctx);
  Var xv = make_var(ctx.from_vector<double>({3, 2}, {1, 2, 3, 4, 5, 6}), true);
  Var out = broadcast_rows(tape, xv, rows);
  EXPECT_EQ(test::values(ctx, out->value), (D{1, 2, 1, 2, 1, 2, 3, 4, 5, 6, 5, 6, 5, 6}));
  tape.backward(out, dy);
  EXPECT_EQ(test::values(ctx, xv->grad), (D{7, 70, 8, 80, 112, 1120}));
}

// The packed broadcast against the dense jets (dense_jet_rows): the dense output is the packed one
// expanded (every padded point a copy of the padding row), and with the dense upstream gradient
// folded onto the packed rows (a padding row: the sum over its points) both give the same dx.
TEST(BroadcastRows, PackedRowsEqualTheDenseJets) {
  Context ctx(test::cpu_options(31));
  const std::int64_t P = 6, C = 3;
  const std::vector<std::int32_t> real = {0, 1, 4, std::int32_t(P), 5};
  const std::int64_t B = std::int64_t(real.size());
  const JetRows packed = make_jet_rows(ctx, real, P, DType::F64, Device::cpu());
  const JetRows dense = dense_jet_rows(ctx, B, P, DType::F64, Device::cpu());
  const Tensor x = test::random_tensor(ctx, {B, C});
  Tensor yp = ctx.empty({packed.rows, C}, DType::F64), yd = ctx.empty({dense.rows, C}, DType::F64);
  broadcast_rows_forward(ctx, x, packed, yp);
  broadcast_rows_forward(ctx, x, dense, yd);
  EXPECT_EQ(test::expand(test::values(ctx, yp), packed, C), test::values(ctx, yd));
  const D dyd = test::values(ctx, test::random_tensor(ctx, {dense.rows, C}));
  Tensor dxp = ctx.zeros({B, C}, DType::F64), dxd = ctx.zeros({B, C}, DType::F64);
  broadcast_rows_backward(ctx, packed, ctx.from_vector<double>({packed.rows, C}, test::fold(dyd, packed, C)), dxp);
  broadcast_rows_backward(ctx, dense, ctx.from_vector<double>({dense.rows, C}, dyd), dxd);
  const D a = test::values(ctx, dxp), b = test::values(ctx, dxd);
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-14) << "element " << i;
}

TEST(BroadcastRows, GradCheck) {
  Context ctx(test::cpu_options(32));
  const JetRows rows = make_jet_rows(ctx, {0, 2, 5, 3}, 5, DType::F64, Device::cpu());
  auto report = test::gradcheck(ctx, {test::random_tensor(ctx, {4, 3})}, {true},
                                [&](Tape& t, const std::vector<Var>& v) { return broadcast_rows(t, v[0], rows); });
  EXPECT_LT(report.max_error, test::kGradCheckTolerance) << report.worst;
}

TEST(BroadcastRows, ResultsAreIdenticalForOneAndThreeThreads) {
  const std::function<std::vector<float>(Context&)> run = [](Context& ctx) {
    std::vector<std::int32_t> real(400);
    for (std::size_t b = 0; b < real.size(); ++b) real[b] = static_cast<std::int32_t>((b * 11) % 41);
    const JetRows rows = make_jet_rows(ctx, real, 40, DType::F32, Device::cpu());
    Tape tape(ctx);
    Var xv = make_var(test::random_tensor(ctx, {400, 16}, DType::F32), true);
    Var out = broadcast_rows(tape, xv, rows);
    tape.backward(out, test::random_tensor(ctx, out->value.shape(), DType::F32));
    return test::float_values(ctx, {out->value, xv->grad});
  };
  EXPECT_EQ(test::with_threads(1, run), test::with_threads(3, run));
}

TEST(BroadcastRows, RejectsBadShapesAndDtypesWithAMessage) {
  Context ctx(test::cpu_options());
  const JetRows rows = three_jets(ctx, DType::F32);
  // x with another number of jets than the layout.
  std::string msg = test::error_of([&] { broadcast_rows_forward(ctx, ctx.zeros({2, 4}), rows, ctx.empty({7, 4})); });
  EXPECT_NE(msg.find("input float32[2,4]@cpu does not have the 3 jets"), std::string::npos) << msg;
  // y with other channels, or other rows than the layout's.
  msg = test::error_of([&] { broadcast_rows_forward(ctx, ctx.zeros({3, 4}), rows, ctx.empty({7, 5})); });
  EXPECT_NE(msg.find("output float32[7,5]@cpu does not match float32[3,4]@cpu on 7 rows"), std::string::npos) << msg;
  msg = test::error_of([&] { broadcast_rows_forward(ctx, ctx.zeros({3, 4}), rows, ctx.empty({6, 4})); });
  EXPECT_NE(msg.find("does not have the R = 7 rows"), std::string::npos) << msg;
  // Another dtype.
  msg = test::error_of([&] { broadcast_rows_forward(ctx, ctx.zeros({3, 4}), rows, ctx.empty({7, 4}, DType::F64)); });
  EXPECT_NE(msg.find("broadcast_rows: output must be float32, got float64[7,4]@cpu"), std::string::npos) << msg;
  EXPECT_THROW(broadcast_rows_forward(ctx, ctx.zeros({3, 4}, DType::I32), rows, ctx.empty({7, 4}, DType::I32)), Error);
  // Rank.
  msg = test::error_of([&] { broadcast_rows_forward(ctx, ctx.zeros({12}), rows, ctx.empty({7, 4})); });
  EXPECT_NE(msg.find("broadcast_rows: input must have rank 2, got float32[12]@cpu"), std::string::npos) << msg;
  // The backward names itself and its gradients.
  msg = test::error_of([&] { broadcast_rows_backward(ctx, rows, ctx.zeros({7, 4}), ctx.zeros({3, 5})); });
  EXPECT_NE(msg.find("broadcast_rows backward: output gradient float32[7,4]@cpu"), std::string::npos) << msg;
  msg = test::error_of([&] { broadcast_rows_backward(ctx, rows, ctx.zeros({7, 4}), ctx.zeros({4, 4})); });
  EXPECT_NE(msg.find("input gradient float32[4,4]@cpu does not have the 3 jets"), std::string::npos) << msg;
  Tape tape(ctx);
  EXPECT_THROW(broadcast_rows(tape, make_var(ctx.zeros({3, 1, 4})), rows), Error);
}

}  // namespace
}  // namespace ucluster
