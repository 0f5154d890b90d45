// The packed-row layout (engine/jet_rows.h, shared/design/padding-compression.md): one row stands
// for all of a jet's padded points. The key property: every packed op equals the same op on the
// reference's dense layout (dense_jet_rows: all P points of a jet as rows), with the jets expanded
// so that each padded point is an identical copy of its jet's padding row, and
//   - kNN: unpack_neighbours(packed indices) == the dense indices, exactly;
//   - forward values: the dense value of each padded copy == the padding row's value;
//   - backward: given a random upstream gradient on every dense output row, and on each packed row
//     the SUM of the upstream gradients of the dense rows it stands for (the adjoint of the
//     expansion, test::fold), the packed input gradient of a padding row == the sum of the dense
//     input gradients over its padded copies, and the parameter gradients are equal.
// The jets have real multiplicities 0 (only a padding row), 1 and 3 (fewer than k: real rows list
// the padding row several times), P (no padding row) and typical ones.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/jet_rows.h"
#include "kernels/batch_norm.h"
#include "kernels/edge.h"
#include "kernels/edge_attention.h"
#include "kernels/knn.h"
#include "kernels/pool.h"
#include "tests/kernels/packed_jets.h"
#include "tests/test_support.h"

namespace ucluster {
namespace {

using I = std::vector<std::int32_t>;
using D = std::vector<double>;
using test::error_of;

constexpr std::int64_t kSlots = 18;  // P
constexpr std::int64_t kK = 5;       // neighbours
// 0: only a padding row; 1, 3: fewer than k real points; P: no padding row; the rest typical.
const I kReal = {0, 1, 3, std::int32_t(kSlots), 9, 14, std::int32_t(kSlots - 1)};
const std::int64_t kJets = std::int64_t(kReal.size());

// Tolerance of the float64 comparisons of sums. Packed and dense add the same terms in another
// order (a padding row's w-fold term once, times w, instead of w equal terms); each of the at most
// M = B P k = 630 terms of a sum contributes a rounding of at most eps64 = 1.1e-16 of the running
// magnitude, so the results differ by at most ~M eps64 = 7e-14 of the terms' scale, and the batch
// norm's backward amplifies that by inv_std (about 2 here, never more than 1/sqrt(eps) = 31.6).
// 1e-12 relative to the largest compared value leaves room for that; a missing, extra or wrongly
// weighted term is of the size of one term, orders of magnitude above it.
constexpr double kSumTolerance = 1e-12;

struct Layouts {
  JetRows packed, dense;
};

Layouts layouts(Context& ctx, DType dtype) {
  return {make_jet_rows(ctx, kReal, kSlots, dtype, Device::cpu()),
          dense_jet_rows(ctx, kJets, kSlots, dtype, Device::cpu())};
}

D uniform(Context& ctx, std::int64_t n, double lo = -1.0, double hi = 1.0) {
  D v(static_cast<std::size_t>(n));
  for (double& x : v) x = ctx.rng().uniform(lo, hi);
  return v;
}

Tensor f64(Context& ctx, const Shape& shape, const D& v) { return ctx.from_vector<double>(shape, v); }

// The shape of a packed [R, ...] tensor's expansion [B P, ...].
Shape dense_shape(const Tensor& packed, const JetRows& rows) {
  std::vector<std::int64_t> dims{rows.jets * rows.slots};
  for (int a = 1; a < packed.rank(); ++a) dims.push_back(packed.dim(a));
  return Shape(dims);
}

// A packed float64 tensor's dense expansion (padded points: copies of the padding row).
Tensor expanded(Context& ctx, const Tensor& packed, const JetRows& rows) {
  const std::int64_t width = packed.numel() / packed.dim(0);
  return f64(ctx, dense_shape(packed, rows), test::expand(test::values(ctx, packed), rows, width));
}

// A dense float64 tensor [B P, ...] folded onto packed rows [R, ...] (padding rows: sums of copies).
D folded(Context& ctx, const Tensor& dense, const JetRows& rows) {
  return test::fold(test::values(ctx, dense), rows, dense.numel() / dense.dim(0));
}

Tensor folded_tensor(Context& ctx, const Tensor& dense, const JetRows& rows) {
  std::vector<std::int64_t> dims{rows.rows};
  for (int a = 1; a < dense.rank(); ++a) dims.push_back(dense.dim(a));
  return f64(ctx, Shape(dims), folded(ctx, dense, rows));
}

// max_i |got_i - want_i| / scale, scale = max(max_i |want_i|, floor).
double relative_error(const D& got, const D& want, double floor = 1e-300) {
  EXPECT_EQ(got.size(), want.size());
  if (got.size() != want.size()) return INFINITY;
  double scale = floor, worst = 0.0;
  for (double w : want) scale = std::max(scale, std::abs(w));
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (!std::isfinite(got[i])) return INFINITY;
    worst = std::max(worst, std::abs(got[i] - want[i]) / scale);
  }
  return worst;
}

double max_abs(const D& v) {
  double s = 0.0;
  for (double x : v) s = std::max(s, std::abs(x));
  return s;
}

// --- engine/jet_rows -------------------------------------------------------------------------

TEST(JetRows, CountRealPointsCountsOnlyTrailingAllZeroPointsAsPadding) {
  Context ctx(test::cpu_options());
  for (DType dtype : {DType::F32, DType::F64}) {
    // [3 jets, 5 points, 2 features].
    const D v = {1, 2, 0, 0, 3, 4, 0, 0, 0, 0,    // jet 0: point 1 all zero in the middle stays real: 3
                 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,    // jet 1: all padding: 0
                 1, 1, 1, 1, 1, 1, 1, 1, 0, 5};   // jet 2: the last point has one non-zero feature: 5
    Tensor x = dtype == DType::F64 ? f64(ctx, {3, 5, 2}, v)
                                   : ctx.from_vector<float>({3, 5, 2}, std::vector<float>(v.begin(), v.end()));
    EXPECT_EQ(count_real_points(x), (I{3, 0, 5})) << dtype_name(dtype);
  }
  EXPECT_THROW(count_real_points(ctx.zeros({5, 2})), Error);
  EXPECT_THROW(count_real_points(ctx.zeros({1, 5, 2}, DType::I32)), Error);
}

TEST(JetRows, MakeJetRowsOffsetsWeightsAndRowJets) {
  Context ctx(test::cpu_options());
  // P = 4: jet 0 two real rows + padding row (weight 2), jet 1 only a padding row (weight 4), jet 2
  // four real rows and no padding row, jet 3 three real rows + padding row (weight 1).
  for (DType dtype : {DType::F32, DType::F64}) {
    const JetRows r = make_jet_rows(ctx, {2, 0, 4, 3}, 4, dtype, Device::cpu());
    EXPECT_EQ(r.jets, 4);
    EXPECT_EQ(r.slots, 4);
    EXPECT_EQ(r.rows, 12);
    EXPECT_EQ(r.host_offsets, (I{0, 3, 4, 8, 12}));
    EXPECT_EQ(ctx.to_vector<std::int32_t>(r.offsets), (I{0, 3, 4, 8, 12}));
    EXPECT_EQ(ctx.to_vector<std::int32_t>(r.real), (I{2, 0, 4, 3}));
    EXPECT_EQ(ctx.to_vector<std::int32_t>(r.row_jet), (I{0, 0, 0, 1, 2, 2, 2, 2, 3, 3, 3, 3}));
    EXPECT_EQ(r.weight.dtype(), dtype);
    EXPECT_EQ(test::values(ctx, r.weight), (D{1, 1, 2, 4, 1, 1, 1, 1, 1, 1, 1, 1}));
    EXPECT_EQ(r.max_jet_rows(), 4);
    EXPECT_EQ(r.jet_rows(1), 1);
  }
  // The dense layout: P real rows per jet, weights 1, no padding row.
  const JetRows d = dense_jet_rows(ctx, 3, 4, DType::F64, Device::cpu());
  EXPECT_EQ(d.rows, 12);
  EXPECT_EQ(d.host_offsets, (I{0, 4, 8, 12}));
  EXPECT_EQ(test::values(ctx, d.weight), D(12, 1.0));
}

TEST(JetRows, RejectsBadRealCountsWithAMessage) {
  Context ctx(test::cpu_options());
  std::string msg = error_of([&] { make_jet_rows(ctx, {2, 5}, 4, DType::F32, Device::cpu()); });
  EXPECT_NE(msg.find("jet 1 has 5 real points, not between 0 and 4"), std::string::npos) << msg;
  msg = error_of([&] { make_jet_rows(ctx, {-1}, 4, DType::F32, Device::cpu()); });
  EXPECT_NE(msg.find("jet 0 has -1 real points"), std::string::npos) << msg;
  msg = error_of([&] { make_jet_rows(ctx, {0}, 0, DType::F32, Device::cpu()); });
  EXPECT_NE(msg.find("0 points per jet is out of range"), std::string::npos) << msg;
  msg = error_of([&] { make_jet_rows(ctx, {1}, 4, DType::I32, Device::cpu()); });
  EXPECT_NE(msg.find("must be float32 or float64"), std::string::npos) << msg;
}

// Jets [B, P, F] with kReal real points (uniform in [-2, 2), so never all zero) then zeros; jet 4
// has an all-zero point in the middle, which stays real.
template <typename T>
Tensor random_jets(Context& ctx, std::int64_t features) {
  Tensor x = ctx.zeros({kJets, kSlots, features}, DTypeOf<T>::value, Device::cpu());
  T* p = x.data<T>();
  for (std::int64_t b = 0; b < kJets; ++b)
    for (std::int64_t i = 0; i < kReal[b]; ++i)
      for (std::int64_t f = 0; f < features; ++f)
        p[(b * kSlots + i) * features + f] = (b == 4 && i == 4) ? T(0) : T(ctx.rng().uniform(-2, 2));
  return x;
}

template <typename T>
void check_pack_round_trip() {
  Context ctx(test::cpu_options());
  const std::int64_t F = 3;
  const Tensor x = random_jets<T>(ctx, F);
  EXPECT_EQ(count_real_points(x), kReal);
  const JetBatch batch = pack_jets(ctx, x, Device::cpu());
  EXPECT_EQ(batch.rows.host_real, kReal);
  EXPECT_EQ(batch.rows.slots, kSlots);
  ASSERT_EQ(batch.points.shape(), (Shape{batch.rows.rows, F}));
  const std::vector<T> xs = ctx.to_vector<T>(x), packed = ctx.to_vector<T>(batch.points);
  for (std::int64_t b = 0; b < kJets; ++b) {
    const std::int64_t first = batch.rows.host_offsets[b];
    for (std::int64_t i = 0; i < kReal[b]; ++i)
      for (std::int64_t f = 0; f < F; ++f)
        EXPECT_EQ(packed[(first + i) * F + f], xs[(b * kSlots + i) * F + f]) << "jet " << b << " point " << i;
    if (kReal[b] < kSlots) {
      for (std::int64_t f = 0; f < F; ++f) EXPECT_EQ(packed[(first + kReal[b]) * F + f], T(0)) << "jet " << b;
    }
  }
  // unpack_rows puts every padded point back as the (zero) padding row: the original jets exactly.
  const Tensor back = unpack_rows(ctx, batch.points, batch.rows);
  EXPECT_EQ(back.shape(), x.shape());
  EXPECT_EQ(ctx.to_vector<T>(back), xs);
}

TEST(JetRows, PackAndUnpackRoundTripFloat32) { check_pack_round_trip<float>(); }
TEST(JetRows, PackAndUnpackRoundTripFloat64) { check_pack_round_trip<double>(); }

TEST(JetRows, PackFromHostFloatsEqualsPackFromATensor) {
  Context ctx(test::cpu_options());
  const Tensor x = random_jets<float>(ctx, 4);
  const JetBatch a = pack_jets(ctx, x, Device::cpu());
  const JetBatch b = pack_jets(ctx, x.data<float>(), kJets, kSlots, 4, Device::cpu());
  EXPECT_EQ(b.rows.host_offsets, a.rows.host_offsets);
  EXPECT_EQ(b.rows.host_real, a.rows.host_real);
  EXPECT_EQ(ctx.to_vector<float>(b.points), ctx.to_vector<float>(a.points));
}

TEST(JetRows, UnpackRowsCopiesThePaddingRowOfAnyRowShape) {
  Context ctx(test::cpu_options());
  // P = 3: jet 0 one real row + padding row (rows 0, 1), jet 1 three real rows (2..4); rows [5, 2].
  const JetRows rows = make_jet_rows(ctx, {1, 3}, 3, DType::F64, Device::cpu());
  const Tensor packed = ctx.from_vector<std::int32_t>({5, 2}, {1, 2, 7, 8, 3, 4, 5, 6, 9, 0});
  const Tensor dense = unpack_rows(ctx, packed, rows);
  EXPECT_EQ(dense.shape(), (Shape{2, 3, 2}));
  EXPECT_EQ(ctx.to_vector<std::int32_t>(dense), (I{1, 2, 7, 8, 7, 8, 3, 4, 5, 6, 9, 0}));
  EXPECT_THROW(unpack_rows(ctx, ctx.zeros({4, 2}), rows), Error);
}

TEST(JetRows, UnpackNeighboursNumbersThePaddedPointsInOrder) {
  Context ctx(test::cpu_options());
  // P = 3, k = 2: jet 0 rows 0 (real), 1 (padding, 2 points); jet 1 rows 2, 3 (real), 4 (padding).
  const JetRows rows = make_jet_rows(ctx, {1, 2}, 3, DType::F32, Device::cpu());
  const Tensor idx = ctx.from_vector<std::int32_t>({5, 2}, {0, 1, 1, 1, 3, 2, 3, 4, 4, 2});
  // The padding row's appearances in a list are the padded points n, n + 1, ... (TF's tie order),
  // and every padded point has the padding row's list.
  EXPECT_EQ(ctx.to_vector<std::int32_t>(unpack_neighbours(ctx, idx, rows)), (I{0, 1, 1, 2, 1, 2,  // jet 0
                                                                                1, 0, 1, 2, 2, 0}));  // jet 1
}

// --- kNN -------------------------------------------------------------------------------------

// Dense indices [B P, k] (absolute rows of the dense layout) as the reference's [B, P, k] within
// the jet.
I dense_local(Context& ctx, const Tensor& idx) {
  return test::local_indices(ctx.to_vector<std::int32_t>(idx), kSlots, idx.dim(1));
}

TEST(PackedRows, KnnCoordinatesEqualsTheDenseGraph) {
  Context ctx(test::cpu_options(11));
  // The reference's input: real points, then all-zero padded points (identical rows, which the
  // packed form keeps as one zero padding row). Jet 5's point 2 has flag (feature 2) exactly 0, so
  // kNN #1 treats it as padding although it is real (spec 8 #11): the penalty is per value.
  Tensor x = random_jets<float>(ctx, 4);
  x.data<float>()[(5 * kSlots + 2) * 4 + 2] = 0.0f;
  const JetBatch packed = pack_jets(ctx, x, Device::cpu());
  const Layouts L = layouts(ctx, DType::F32);
  const Tensor dense_x = x.reshape({kJets * kSlots, 4});
  for (std::int64_t k : {std::int64_t(1), kK, kSlots}) {
    const Tensor pi = knn_coordinates(ctx, packed.points, packed.rows, k);
    const Tensor di = knn_coordinates(ctx, dense_x, L.dense, k);
    EXPECT_EQ(ctx.to_vector<std::int32_t>(unpack_neighbours(ctx, pi, packed.rows)), dense_local(ctx, di))
        << "k = " << k;
  }
}

// Packed float32 features [R, C], every row random (a padding row's value is a learned feature
// after the first layers), expanded to the dense layout; jet 4's real row 2 equals its padding
// row, so distances tie between a real row and the padding row (the real row, the lower index, must
// come first).
struct FeatureRows {
  Tensor packed, dense;
};

FeatureRows random_features(Context& ctx, const Layouts& L, std::int64_t C) {
  D v = uniform(ctx, L.packed.rows * C);
  const std::int64_t first = L.packed.host_offsets[4];
  std::copy_n(v.begin() + (first + kReal[4]) * C, C, v.begin() + (first + 2) * C);
  const std::vector<float> f(v.begin(), v.end());
  Tensor packed = ctx.from_vector<float>({L.packed.rows, C}, f);
  const D dense = test::expand(D(f.begin(), f.end()), L.packed, C);
  return {packed, ctx.from_vector<float>({kJets * kSlots, C}, std::vector<float>(dense.begin(), dense.end()))};
}

TEST(PackedRows, KnnFeaturesEqualsTheDenseGraphBitForBit) {
  Context ctx(test::cpu_options(12));
  const Layouts L = layouts(ctx, DType::F32);
  const FeatureRows h = random_features(ctx, L, 6);
  for (std::int64_t k : {std::int64_t(1), kK, kSlots}) {
    const Tensor pi = knn_features(ctx, h.packed, L.packed, k);
    const Tensor di = knn_features(ctx, h.dense, L.dense, k);
    EXPECT_EQ(ctx.to_vector<std::int32_t>(unpack_neighbours(ctx, pi, L.packed)), dense_local(ctx, di)) << "k = " << k;
    // Every packed index is a row of its own jet.
    const I p = ctx.to_vector<std::int32_t>(pi), row_jet = ctx.to_vector<std::int32_t>(L.packed.row_jet);
    for (std::size_t e = 0; e < p.size(); ++e) ASSERT_EQ(row_jet[p[e]], row_jet[e / std::size_t(k)]) << e;
  }
}

// --- The float64 graph the remaining ops run on ------------------------------------------------

// Packed rows and their dense expansion, and the kNN graph of both (the packed and the dense kNN of
// the same features; the test above shows they are the same graph).
struct Graph {
  Layouts L;
  Tensor idx_packed, idx_dense;
};

Graph graph(Context& ctx) {
  Graph g{layouts(ctx, DType::F64), {}, {}};
  const JetRows f32_packed = make_jet_rows(ctx, kReal, kSlots, DType::F32, Device::cpu());
  const JetRows f32_dense = dense_jet_rows(ctx, kJets, kSlots, DType::F32, Device::cpu());
  const FeatureRows h = random_features(ctx, {f32_packed, f32_dense}, 4);
  g.idx_packed = knn_features(ctx, h.packed, f32_packed, kK);
  g.idx_dense = knn_features(ctx, h.dense, f32_dense, kK);
  EXPECT_EQ(ctx.to_vector<std::int32_t>(unpack_neighbours(ctx, g.idx_packed, g.L.packed)),
            dense_local(ctx, g.idx_dense));
  // Jets 1 and 2 have fewer than k real rows: their real rows list the padding row several times
  // (duplicate indices, exactly tied edges).
  const I p = ctx.to_vector<std::int32_t>(g.idx_packed);
  const std::int64_t row = g.L.packed.host_offsets[1], padding = row + 1;
  EXPECT_EQ(std::count(p.begin() + row * kK, p.begin() + (row + 1) * kK, std::int32_t(padding)), kK - 1);
  return g;
}

TEST(PackedRows, EdgeDiffForwardAndBackwardEqualTheDenseGraph) {
  Context ctx(test::cpu_options(13));
  const Graph g = graph(ctx);
  const std::int64_t C = 3;
  const Tensor x = f64(ctx, {g.L.packed.rows, C}, uniform(ctx, g.L.packed.rows * C));
  const Tensor xd = expanded(ctx, x, g.L.packed);
  Tensor e = ctx.empty({g.L.packed.rows, kK, C}, DType::F64), ed = ctx.empty({kJets * kSlots, kK, C}, DType::F64);
  edge_diff_forward(ctx, x, g.idx_packed, e);
  edge_diff_forward(ctx, xd, g.idx_dense, ed);
  // The same subtractions of the same values: exactly equal.
  EXPECT_EQ(test::values(ctx, expanded(ctx, e, g.L.packed)), test::values(ctx, ed));

  const Tensor de_dense = f64(ctx, ed.shape(), uniform(ctx, ed.numel()));
  Tensor dx = ctx.zeros(x.shape(), DType::F64), dxd = ctx.zeros(xd.shape(), DType::F64);
  edge_diff_backward(ctx, g.L.packed, g.idx_packed, folded_tensor(ctx, de_dense, g.L.packed), dx);
  edge_diff_backward(ctx, g.L.dense, g.idx_dense, de_dense, dxd);
  EXPECT_LT(relative_error(test::values(ctx, dx), folded(ctx, dxd, g.L.packed)), kSumTolerance);
}

TEST(PackedRows, MeanPoolForwardAndBackwardEqualTheDenseGraph) {
  Context ctx(test::cpu_options(14));
  const Layouts L = layouts(ctx, DType::F64);
  const std::int64_t C = 5;
  const Tensor x = f64(ctx, {L.packed.rows, C}, uniform(ctx, L.packed.rows * C));
  Tensor y = ctx.empty({kJets, C}, DType::F64), yd = ctx.empty({kJets, C}, DType::F64);
  mean_pool_forward(ctx, x, L.packed, y);
  mean_pool_forward(ctx, expanded(ctx, x, L.packed), L.dense, yd);
  EXPECT_LT(relative_error(test::values(ctx, y), test::values(ctx, yd)), kSumTolerance);
  // The pool's output is per jet: its upstream gradient is the same for both.
  const Tensor dy = f64(ctx, {kJets, C}, uniform(ctx, kJets * C));
  Tensor dx = ctx.zeros(x.shape(), DType::F64), dxd = ctx.zeros({kJets * kSlots, C}, DType::F64);
  mean_pool_backward(ctx, L.packed, dy, dx);
  mean_pool_backward(ctx, L.dense, dy, dxd);
  EXPECT_LT(relative_error(test::values(ctx, dx), folded(ctx, dxd, L.packed)), kSumTolerance);
}

// Training-mode batch norm on packed rows x [R, C] (per_row = 1) or edges [R, k, C] (per_row = k)
// with the row weights, against the dense rows without weights (the reference: every row once).
void check_batch_norm(bool relu, std::int64_t per_row) {
  SCOPED_TRACE(std::string(relu ? "with" : "without") + " ReLU, " + std::to_string(per_row) + " rows per point");
  Context ctx(test::cpu_options(15));
  const Layouts L = layouts(ctx, DType::F64);
  const std::int64_t C = 4;
  const Shape shape = per_row == 1 ? Shape{L.packed.rows, C} : Shape{L.packed.rows, per_row, C};
  const Tensor x = f64(ctx, shape, uniform(ctx, shape.numel(), -1.0, 2.0));
  const Tensor xd = expanded(ctx, x, L.packed);
  const Tensor gamma = f64(ctx, {C}, uniform(ctx, C, 0.5, 1.5)), beta = f64(ctx, {C}, uniform(ctx, C, -0.3, 0.3));
  auto stats = [&] { return ctx.empty({C}, DType::F64); };
  Tensor y = ctx.empty(x.shape(), DType::F64), mean = stats(), var = stats(), inv = stats();
  Tensor yd = ctx.empty(xd.shape(), DType::F64), meand = stats(), vard = stats(), invd = stats();
  batch_norm_train_forward(ctx, x, gamma, beta, kBatchNormEpsilon, y, mean, var, inv, {}, relu, L.packed.weight);
  batch_norm_train_forward(ctx, xd, gamma, beta, kBatchNormEpsilon, yd, meand, vard, invd, {}, relu);
  EXPECT_LT(relative_error(test::values(ctx, mean), test::values(ctx, meand)), kSumTolerance);
  EXPECT_LT(relative_error(test::values(ctx, var), test::values(ctx, vard)), kSumTolerance);
  EXPECT_LT(relative_error(test::values(ctx, expanded(ctx, y, L.packed)), test::values(ctx, yd)), kSumTolerance);

  const Tensor dyd = f64(ctx, yd.shape(), uniform(ctx, yd.numel()));
  Tensor dx = ctx.zeros(x.shape(), DType::F64), dgamma = ctx.zeros({C}, DType::F64), dbeta = ctx.zeros({C}, DType::F64);
  Tensor dxd = ctx.zeros(xd.shape(), DType::F64), dgammad = ctx.zeros({C}, DType::F64),
         dbetad = ctx.zeros({C}, DType::F64);
  batch_norm_train_backward(ctx, x, gamma, mean, inv, folded_tensor(ctx, dyd, L.packed), dx, dgamma, dbeta, {},
                            relu ? y : Tensor(), L.packed.weight);
  batch_norm_train_backward(ctx, xd, gamma, meand, invd, dyd, dxd, dgammad, dbetad, {}, relu ? yd : Tensor());
  EXPECT_LT(relative_error(test::values(ctx, dx), folded(ctx, dxd, L.packed)), kSumTolerance);
  EXPECT_LT(relative_error(test::values(ctx, dgamma), test::values(ctx, dgammad)), kSumTolerance);
  EXPECT_LT(relative_error(test::values(ctx, dbeta), test::values(ctx, dbetad)), kSumTolerance);
  // The padding rows' gradients are not trivially zero.
  EXPECT_GT(max_abs(test::values(ctx, dx)), 0.0);
}

TEST(PackedRows, BatchNormTrainForwardAndBackwardEqualTheDenseGraph) {
  for (bool relu : {false, true})
    for (std::int64_t per_row : {std::int64_t(1), kK}) check_batch_norm(relu, per_row);
}

// --- The fused edge path -----------------------------------------------------------------------

struct EdgeCase {
  Graph g;
  std::int64_t A = 6;
  Tensor P, Pd, bias, gamma, beta;
};

EdgeCase edge_case(Context& ctx) {
  EdgeCase c;
  c.g = graph(ctx);
  const std::int64_t A = c.A;
  c.P = f64(ctx, {c.g.L.packed.rows, A}, uniform(ctx, c.g.L.packed.rows * A));
  c.Pd = expanded(ctx, c.P, c.g.L.packed);
  c.bias = f64(ctx, {A}, uniform(ctx, A, -0.3, 0.3));
  c.gamma = f64(ctx, {A}, uniform(ctx, A, 0.5, 1.5));
  c.beta = f64(ctx, {A}, uniform(ctx, A, -0.2, 0.4));
  return c;
}

// The packed and the dense edge layer, normalised with the same statistics (mean, var) so that their
// forward values are computed by the same operations on the same values.
struct EdgeLayers {
  EdgeLayer packed, dense;
};

EdgeLayers edge_layers(const EdgeCase& c, const Tensor& mean, const Tensor& var) {
  return {EdgeLayer{c.P, c.g.idx_packed, c.bias, c.gamma, c.beta, mean, var, kBatchNormEpsilon, c.g.L.packed},
          EdgeLayer{c.Pd, c.g.idx_dense, c.bias, c.gamma, c.beta, mean, var, kBatchNormEpsilon, c.g.L.dense}};
}

// Zero gradients of the edge layer's inputs, for the packed (dense = false) or the dense rows.
EdgeLayerGrads zero_grads(Context& ctx, const EdgeCase& c, bool dense, bool batch_statistics) {
  return {ctx.zeros((dense ? c.Pd : c.P).shape(), DType::F64), ctx.zeros({c.A}, DType::F64),
          ctx.zeros({c.A}, DType::F64), ctx.zeros({c.A}, DType::F64), batch_statistics};
}

// The gradients of the packed layer against those of the dense one (dprojected folded). Compared at
// the scale of the largest gradient: in training mode the edge bias's gradient vanishes in exact
// arithmetic (the batch norm subtracts it out) and is rounding noise, no scale of its own.
void expect_grads_match(Context& ctx, const EdgeCase& c, const EdgeLayerGrads& got, const EdgeLayerGrads& want,
                        double floor) {
  EXPECT_LT(relative_error(test::values(ctx, got.dprojected), folded(ctx, want.dprojected, c.g.L.packed), floor),
            kSumTolerance);
  EXPECT_LT(relative_error(test::values(ctx, got.dbias), test::values(ctx, want.dbias), floor), kSumTolerance);
  EXPECT_LT(relative_error(test::values(ctx, got.dgamma), test::values(ctx, want.dgamma), floor), kSumTolerance);
  EXPECT_LT(relative_error(test::values(ctx, got.dbeta), test::values(ctx, want.dbeta), floor), kSumTolerance);
}

double grads_scale(Context& ctx, const EdgeLayerGrads& g, std::initializer_list<Tensor> more) {
  double s = 0.0;
  for (const Tensor& t : {g.dprojected, g.dbias, g.dgamma, g.dbeta}) s = std::max(s, max_abs(test::values(ctx, t)));
  for (const Tensor& t : more) s = std::max(s, max_abs(test::values(ctx, t)));
  return s;
}

TEST(PackedRows, EdgeBatchStatisticsEqualTheDenseGraph) {
  Context ctx(test::cpu_options(16));
  const EdgeCase c = edge_case(ctx);
  Tensor mean = ctx.empty({c.A}, DType::F64), var = ctx.empty({c.A}, DType::F64);
  Tensor meand = ctx.empty({c.A}, DType::F64), vard = ctx.empty({c.A}, DType::F64);
  edge_batch_statistics(ctx, c.P, c.g.idx_packed, c.g.L.packed, c.bias, mean, var);
  edge_batch_statistics(ctx, c.Pd, c.g.idx_dense, c.g.L.dense, c.bias, meand, vard);
  EXPECT_LT(relative_error(test::values(ctx, mean), test::values(ctx, meand)), kSumTolerance);
  EXPECT_LT(relative_error(test::values(ctx, var), test::values(ctx, vard)), kSumTolerance);
}

TEST(PackedRows, EdgeScoreForwardAndBackwardEqualTheDenseGraph) {
  Context ctx(test::cpu_options(17));
  const EdgeCase c = edge_case(ctx);
  Tensor mean = ctx.empty({c.A}, DType::F64), var = ctx.empty({c.A}, DType::F64);
  edge_batch_statistics(ctx, c.Pd, c.g.idx_dense, c.g.L.dense, c.bias, mean, var);
  const EdgeLayers layers = edge_layers(c, mean, var);
  const Tensor w = f64(ctx, {c.A, 1}, uniform(ctx, c.A)), wb = f64(ctx, {1}, {0.1});
  Tensor score = ctx.empty({c.g.L.packed.rows, kK, 1}, DType::F64);
  Tensor scored = ctx.empty({kJets * kSlots, kK, 1}, DType::F64);
  edge_score_forward(ctx, layers.packed, w, wb, score);
  edge_score_forward(ctx, layers.dense, w, wb, scored);
  EXPECT_EQ(test::values(ctx, expanded(ctx, score, c.g.L.packed)), test::values(ctx, scored));

  const Tensor dscored = f64(ctx, scored.shape(), uniform(ctx, scored.numel()));
  const Tensor dscore = folded_tensor(ctx, dscored, c.g.L.packed);
  for (bool batch_statistics : {true, false}) {
    SCOPED_TRACE(batch_statistics ? "training" : "inference");
    EdgeLayerGrads grads = zero_grads(ctx, c, false, batch_statistics);
    EdgeLayerGrads gradsd = zero_grads(ctx, c, true, batch_statistics);
    Tensor dw = ctx.zeros(w.shape(), DType::F64), dwb = ctx.zeros({1}, DType::F64);
    Tensor dwd = ctx.zeros(w.shape(), DType::F64), dwbd = ctx.zeros({1}, DType::F64);
    edge_score_backward(ctx, layers.packed, grads, w, dscore, dw, dwb);
    edge_score_backward(ctx, layers.dense, gradsd, w, dscored, dwd, dwbd);
    const double floor = grads_scale(ctx, gradsd, {dwd, dwbd});
    expect_grads_match(ctx, c, grads, gradsd, floor);
    EXPECT_LT(relative_error(test::values(ctx, dw), test::values(ctx, dwd), floor), kSumTolerance);
    EXPECT_LT(relative_error(test::values(ctx, dwb), test::values(ctx, dwbd), floor), kSumTolerance);
  }
}

TEST(PackedRows, EdgeAggregateForwardAndBackwardEqualTheDenseGraph) {
  Context ctx(test::cpu_options(18));
  const EdgeCase c = edge_case(ctx);
  Tensor mean = ctx.empty({c.A}, DType::F64), var = ctx.empty({c.A}, DType::F64);
  edge_batch_statistics(ctx, c.Pd, c.g.idx_dense, c.g.L.dense, c.bias, mean, var);
  const EdgeLayers layers = edge_layers(c, mean, var);
  // Attention weights per point: a padding row's are those of each of its padded points.
  const std::int64_t R = c.g.L.packed.rows, RD = kJets * kSlots;
  const Tensor alpha = f64(ctx, {R, kK}, uniform(ctx, R * kK, 0.0, 1.0));
  const Tensor alphad = expanded(ctx, alpha, c.g.L.packed);
  const Tensor out_bias = f64(ctx, {c.A}, uniform(ctx, c.A, -0.2, 0.2));
  Tensor o = ctx.empty({R, c.A}, DType::F64), g = ctx.empty({R, c.A}, DType::F64);
  Tensor od = ctx.empty({RD, c.A}, DType::F64), gd = ctx.empty({RD, c.A}, DType::F64);
  edge_aggregate_forward(ctx, layers.packed, alpha, out_bias, o, g);
  edge_aggregate_forward(ctx, layers.dense, alphad, out_bias, od, gd);
  EXPECT_EQ(test::values(ctx, expanded(ctx, o, c.g.L.packed)), test::values(ctx, od));
  EXPECT_EQ(test::values(ctx, expanded(ctx, g, c.g.L.packed)), test::values(ctx, gd));

  const Tensor doutd = f64(ctx, {RD, c.A}, uniform(ctx, RD * c.A)), dgd = f64(ctx, {RD, c.A}, uniform(ctx, RD * c.A));
  const Tensor dout = folded_tensor(ctx, doutd, c.g.L.packed), dg = folded_tensor(ctx, dgd, c.g.L.packed);
  for (bool batch_statistics : {true, false}) {
    SCOPED_TRACE(batch_statistics ? "training" : "inference");
    EdgeLayerGrads grads = zero_grads(ctx, c, false, batch_statistics);
    EdgeLayerGrads gradsd = zero_grads(ctx, c, true, batch_statistics);
    Tensor dalpha = ctx.zeros({R, kK}, DType::F64), dob = ctx.zeros({c.A}, DType::F64);
    Tensor dalphad = ctx.zeros({RD, kK}, DType::F64), dobd = ctx.zeros({c.A}, DType::F64);
    edge_aggregate_backward(ctx, layers.packed, grads, alpha, g, dout, dg, dalpha, dob);
    edge_aggregate_backward(ctx, layers.dense, gradsd, alphad, gd, doutd, dgd, dalphad, dobd);
    const double floor = grads_scale(ctx, gradsd, {dalphad, dobd});
    expect_grads_match(ctx, c, grads, gradsd, floor);
    // alpha is per point, like P: a padding row's gradient is the sum over its padded points'.
    EXPECT_LT(relative_error(test::values(ctx, dalpha), folded(ctx, dalphad, c.g.L.packed), floor), kSumTolerance);
    EXPECT_LT(relative_error(test::values(ctx, dob), test::values(ctx, dobd), floor), kSumTolerance);
  }
}

// The differentiable forms, chained as in a block of the model: edge features of the kNN graph,
// batch norm with fused ReLU over the edges (the row weights in the packed graph), mean pool. The
// pool's output is per jet, so both graphs get the same upstream gradient; the tape must carry the
// layout and the row weights into every backward step.
TEST(PackedRows, TapeChainEqualsTheDenseGraph) {
  Context ctx(test::cpu_options(19));
  const Graph g = graph(ctx);
  const std::int64_t C = 3;
  const Tensor x = f64(ctx, {g.L.packed.rows, C}, uniform(ctx, g.L.packed.rows * C));
  const Tensor gamma = f64(ctx, {C}, uniform(ctx, C, 0.5, 1.5)), beta = f64(ctx, {C}, uniform(ctx, C, -0.3, 0.3));
  const Tensor seed = f64(ctx, {kJets, kK * C}, uniform(ctx, kJets * kK * C));
  struct Run {
    D out, dx, dgamma, dbeta;
  };
  auto run = [&](const Tensor& input, const Tensor& idx, const JetRows& rows, const Tensor& row_weight) {
    Tape t(ctx);
    Var xv = make_var(input, true), gv = make_var(gamma, true), bv = make_var(beta, true);
    Var e = edge_diff(t, xv, idx, rows);
    Var y = batch_norm_train(t, e, gv, bv, kBatchNormEpsilon, {}, true, row_weight).y;
    Var out = mean_pool(t, reshape(t, y, {rows.rows, kK * C}), rows);
    t.backward(out, seed);
    return Run{test::values(ctx, out->value), test::values(ctx, xv->grad), test::values(ctx, gv->grad),
               test::values(ctx, bv->grad)};
  };
  const Run packed = run(x, g.idx_packed, g.L.packed, g.L.packed.weight);
  const Run dense = run(expanded(ctx, x, g.L.packed), g.idx_dense, g.L.dense, Tensor());
  EXPECT_LT(relative_error(packed.out, dense.out), kSumTolerance);
  EXPECT_LT(relative_error(packed.dx, test::fold(dense.dx, g.L.packed, C)), kSumTolerance);
  EXPECT_LT(relative_error(packed.dgamma, dense.dgamma), kSumTolerance);
  EXPECT_LT(relative_error(packed.dbeta, dense.dbeta), kSumTolerance);
  EXPECT_GT(max_abs(packed.dx), 0.0);
}

}  // namespace
}  // namespace ucluster
