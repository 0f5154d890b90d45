#include <algorithm>
#include <cmath>

#include "kernels/dense.h"
#include "kernels/pool.h"
#include "tests/kernels/packed_jets.h"
#include "tests/kernels/thread_counts.h"
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

// --- max pool ----------------------------------------------------------------------------------

using I = std::vector<std::int32_t>;
using D = std::vector<double>;

// P = 3: jet 0 rows 0, 1 real and row 2 its padding row (weight 1); jet 1 row 3 real and row 4 its
// padding row (weight 2); jet 2 rows 5..7 real, no padding row; jet 3 only its padding row 8
// (weight 3).
JetRows max_pool_rows(Context& ctx, DType dtype) { return make_jet_rows(ctx, {2, 1, 3, 0}, 3, dtype, Device::cpu()); }

TEST(MaxPool, ForwardTakesTheMaximumAndTheFirstRowOfATie) {
  Context ctx(test::cpu_options());
  for (DType dtype : {DType::F32, DType::F64}) {
    SCOPED_TRACE(dtype_name(dtype));
    const JetRows rows = max_pool_rows(ctx, dtype);
    const D v = {1, 5, 3, 5, 0, 5,  // jet 0: channel 0 row 1; channel 1 all tie: the first row, 0
                 -1, 2, 0, 2,       // jet 1: channel 0 the padding row 4 (once, weight 2); channel 1 ties: row 3
                 -2, -7, -1, -7, -1, -8,  // jet 2: channel 0 rows 6 and 7 tie: 6; channel 1 rows 5, 6 tie: 5
                 -4, -9};                 // jet 3: only its padding row
    Tensor x = dtype == DType::F64 ? ctx.from_vector<double>({9, 2}, v)
                                   : ctx.from_vector<float>({9, 2}, std::vector<float>(v.begin(), v.end()));
    Tensor y = ctx.empty({4, 2}, dtype), argmax = ctx.empty({4, 2}, DType::I32);
    max_pool_forward(ctx, x, rows, y, argmax);
    EXPECT_EQ(test::values(ctx, y), (D{3, 5, 0, 2, -1, -7, -4, -9}));
    EXPECT_EQ(ctx.to_vector<std::int32_t>(argmax), (I{1, 0, 4, 3, 6, 5, 8, 8}));
  }
}

TEST(MaxPool, BackwardPutsTheGradientOnlyAtTheArgmaxOnceAndAccumulates) {
  Context ctx(test::cpu_options());
  const JetRows rows = max_pool_rows(ctx, DType::F64);
  const Tensor x = ctx.from_vector<double>({9, 2}, {1, 5, 3, 5, 0, 5, -1, 2, 0, 2, -2, -7, -1, -7, -1, -8, -4, -9});
  Tensor y = ctx.empty({4, 2}, DType::F64), argmax = ctx.empty({4, 2}, DType::I32);
  max_pool_forward(ctx, x, rows, y, argmax);
  const Tensor dy = ctx.from_vector<double>({4, 2}, {10, 20, 30, 40, 50, 60, 70, 80});
  Tensor dx = ctx.from_vector<double>({9, 2}, D(18, 1.0));
  max_pool_backward(ctx, argmax, dy, dx);
  // The padding row 4 (weight 2) and 8 (weight 3) take dy once: the max is one location.
  EXPECT_EQ(ctx.to_vector<double>(dx), (D{1, 21, 11, 1, 1, 1,  // jet 0
                                          1, 41, 31, 1,         // jet 1
                                          1, 61, 51, 1, 1, 1,   // jet 2
                                          71, 81}));            // jet 3
  // The differentiable form records the same argmax.
  Tape tape(ctx);
  Var xv = make_var(x, true);
  Var out = max_pool(tape, xv, rows);
  EXPECT_EQ(test::values(ctx, out->value), test::values(ctx, y));
  tape.backward(out, dy);
  EXPECT_EQ(test::values(ctx, xv->grad), (D{0, 20, 10, 0, 0, 0, 0, 40, 30, 0, 0, 60, 50, 0, 0, 0, 70, 80}));
}

void expect_near_all(const char* what, const D& got, const D& want, double tolerance = 1e-14) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (std::size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tolerance) << what << " element " << i;
}

// A packed batch against the same jets dense (dense_jet_rows, the padded points copies of the
// padding row), through a dense layer (the parameters W, b) and the max pool: the same z, the same
// dW and db, and the packed input gradient equal to the dense one summed over each padding row's
// copies (test::fold). The padding rows are set to win some channels, and one real row ties with its
// padding row (the real row, first in both layouts, takes it).
TEST(MaxPool, PackedRowsEqualTheDenseJets) {
  Context ctx(test::cpu_options(21));
  const std::int64_t P = 7, Cin = 3, C = 4;
  const I real = {0, 1, 3, std::int32_t(P), 5, 6};
  const std::int64_t B = std::int64_t(real.size());
  const JetRows packed = make_jet_rows(ctx, real, P, DType::F64, Device::cpu());
  const JetRows dense_layout = dense_jet_rows(ctx, B, P, DType::F64, Device::cpu());
  D x(static_cast<std::size_t>(packed.rows * Cin));
  for (double& v : x) v = ctx.rng().uniform(-1, 1);
  // Padding rows large in input channel 0 (W below makes output channel 0 follow it).
  for (std::int64_t b = 0; b < B; ++b)
    if (real[b] < P) x[std::size_t((packed.host_offsets[b] + real[b]) * Cin)] = 3.0 + b;
  // Jet 4: its real row 2 copies its padding row (a tie between a real row and the padded points).
  const std::int64_t pad4 = packed.host_offsets[4] + real[4];
  for (std::int64_t f = 0; f < Cin; ++f) x[std::size_t((packed.host_offsets[4] + 2) * Cin + f)] = x[std::size_t(pad4 * Cin + f)];
  const Tensor w = ctx.from_vector<double>({Cin, C}, {1.0, 0.3, -0.2, 0.5, 0.1, -0.7, 0.9, 0.4, -0.1, 0.6, 0.2, -0.8});
  const Tensor bias = ctx.from_vector<double>({C}, {0.1, -0.2, 0.3, 0.05});
  const Tensor seed = test::random_tensor(ctx, {B, C});
  struct Run {
    D z, dx, dw, db;
    I argmax;
  };
  auto run = [&](const D& input, const JetRows& rows) {
    Tape t(ctx);
    Var xv = make_var(ctx.from_vector<double>({rows.rows, Cin}, input), true);
    Var wv = make_var(w, true), bv = make_var(bias, true);
    Var h = dense(t, xv, wv, bv);
    Var z = max_pool(t, h, rows);
    t.backward(z, seed);
    Tensor y = ctx.empty({B, C}, DType::F64), argmax = ctx.empty({B, C}, DType::I32);
    max_pool_forward(ctx, h->value, rows, y, argmax);
    return Run{test::values(ctx, z->value), test::values(ctx, xv->grad), test::values(ctx, wv->grad),
               test::values(ctx, bv->grad), ctx.to_vector<std::int32_t>(argmax)};
  };
  const Run p = run(x, packed), d = run(test::expand(x, packed, Cin), dense_layout);
  // The max is exact; the gradients go through the dense layer's sums (in another order for
  // another number of rows): 1e-14 is far below one missing or extra term (of order 0.1).
  EXPECT_EQ(p.z, d.z);
  expect_near_all("dx", p.dx, test::fold(d.dx, packed, Cin));
  expect_near_all("dW", p.dw, d.dw);
  expect_near_all("db", p.db, d.db);
  // The padding rows did win channel 0, the tie of jet 4 went to its real row 2, and in the dense
  // layout the padded points' win went to the first padded point.
  int padding_wins = 0;
  for (std::int64_t b = 0; b < B; ++b)
    if (real[b] < P && b != 4) {
      EXPECT_EQ(p.argmax[b * C], packed.host_offsets[b] + real[b]) << "jet " << b;
      EXPECT_EQ(d.argmax[b * C], b * P + real[b]) << "jet " << b;
      ++padding_wins;
    }
  EXPECT_EQ(padding_wins, 4);
  EXPECT_EQ(p.argmax[4 * C], packed.host_offsets[4] + 2);
  EXPECT_EQ(d.argmax[4 * C], 4 * P + 2);
}

TEST(MaxPool, GradCheck) {
  Context ctx(test::cpu_options(22));
  // Random float64 inputs (no ties) on packed rows with padding rows: the padding row is one input
  // whose every copy moves with it, so its numeric derivative is the whole dy when it is the max.
  const JetRows rows = make_jet_rows(ctx, {0, 2, 5, 4}, 5, DType::F64, Device::cpu());
  auto report = test::gradcheck(ctx, {test::random_tensor(ctx, {rows.rows, 6})}, {true},
                                [&](Tape& t, const std::vector<Var>& v) { return max_pool(t, v[0], rows); });
  EXPECT_LT(report.max_error, test::kGradCheckTolerance) << report.worst;
}

TEST(MaxPool, ResultsAreIdenticalForOneAndThreeThreads) {
  const std::function<std::vector<float>(Context&)> pool = [](Context& ctx) {
    std::vector<std::int32_t> real(300);
    for (std::size_t b = 0; b < real.size(); ++b) real[b] = static_cast<std::int32_t>((b * 7) % 31);
    const JetRows rows = make_jet_rows(ctx, real, 30, DType::F32, Device::cpu());
    Tape tape(ctx);
    // Values on a coarse grid: many ties, which must go to the first row whatever the threads.
    Tensor x = test::random_tensor(ctx, {rows.rows, 16}, DType::F32, -4, 4);
    for (std::int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = std::round(x.data<float>()[i]);
    Var xv = make_var(x, true);
    Var out = max_pool(tape, xv, rows);
    tape.backward(out, test::random_tensor(ctx, out->value.shape(), DType::F32));
    return test::float_values(ctx, {out->value, xv->grad});
  };
  EXPECT_EQ(test::with_threads(1, pool), test::with_threads(3, pool));
}

TEST(MaxPool, RejectsBadShapesWithAClearMessage) {
  Context ctx(test::cpu_options());
  const JetRows rows = dense_rows(ctx, 2, 3);
  const Tensor x = ctx.zeros({6, 4});
  std::string msg = test::error_of([&] { max_pool_forward(ctx, x, rows, ctx.empty({2, 4}), ctx.empty({2, 4})); });
  EXPECT_NE(msg.find("argmax float32[2,4]@cpu must be int32"), std::string::npos) << msg;
  msg = test::error_of(
      [&] { max_pool_forward(ctx, x, rows, ctx.empty({2, 4}), ctx.empty({2, 3}, DType::I32)); });
  EXPECT_NE(msg.find("argmax int32[2,3]@cpu"), std::string::npos) << msg;
  msg = test::error_of([&] { max_pool_forward(ctx, x, rows, ctx.empty({6, 4}), ctx.empty({6, 4}, DType::I32)); });
  EXPECT_NE(msg.find("of 2 jets"), std::string::npos) << msg;
  msg = test::error_of(
      [&] { max_pool_forward(ctx, ctx.zeros({5, 4}), rows, ctx.empty({2, 4}), ctx.empty({2, 4}, DType::I32)); });
  EXPECT_NE(msg.find("does not have the R = 6 rows"), std::string::npos) << msg;
  msg = test::error_of(
      [&] { max_pool_backward(ctx, ctx.zeros({2, 4}, DType::I32), ctx.zeros({2, 4}), ctx.zeros({6, 5})); });
  EXPECT_NE(msg.find("differ in channels"), std::string::npos) << msg;
  msg = test::error_of(
      [&] { max_pool_backward(ctx, ctx.zeros({2, 3}, DType::I32), ctx.zeros({2, 4}), ctx.zeros({6, 4})); });
  EXPECT_NE(msg.find("does not match the output gradient"), std::string::npos) << msg;
  EXPECT_THROW(max_pool_backward(ctx, ctx.zeros({2, 4}, DType::I32), ctx.zeros({2, 4}), ctx.zeros({6, 4}, DType::F64)),
               Error);
  Tape tape(ctx);
  EXPECT_THROW(max_pool(tape, make_var(ctx.zeros({2, 3, 4})), rows), Error);
}

}  // namespace
}  // namespace ucluster
