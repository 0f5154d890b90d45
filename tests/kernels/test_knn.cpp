#include <algorithm>
#include <array>
#include <numeric>

#include "kernels/knn.h"
#include "tests/kernels/packed_jets.h"
#include "tests/test_support.h"

namespace ucluster {
namespace {

using I = std::vector<std::int32_t>;

// One jet of points given as (eta, phi, flag) triples; flag 0 marks padding (spec 2.2).
template <typename T = float>
Tensor jet(Context& ctx, const std::vector<std::array<double, 3>>& points) {
  std::vector<T> v;
  for (const auto& p : points) v.insert(v.end(), {T(p[0]), T(p[1]), T(p[2])});
  return ctx.from_vector<T>({1, std::int64_t(points.size()), 3}, v);
}

using test::error_of;

// These tests are about the kNN ops themselves, so they run on the reference's own layout
// (dense_jet_rows: every one of a jet's N points is a row, padded points included as the all-zero
// rows they are in the reference) and compare indices within the jet: x [B, N, F] is passed as its
// rows [B N, F] and the absolute rows come back as local indices. The packed layout's padding row is
// tested against this one in test_packed_rows.cpp.
JetRows dense_rows_of(Context& ctx, const Tensor& x) {
  return dense_jet_rows(ctx, x.dim(0), x.dim(1), x.dtype(), Device::cpu());
}

I local(Context& ctx, const Tensor& x, const Tensor& idx) {
  return test::local_indices(ctx.to_vector<std::int32_t>(idx), x.dim(1), idx.dim(1));
}

I knn_coordinates(Context& ctx, const Tensor& x, std::int64_t k) {
  const Tensor rows = x.reshape({x.dim(0) * x.dim(1), x.dim(2)});
  return local(ctx, x, knn_coordinates(ctx, rows, dense_rows_of(ctx, x), k));
}

I knn_features(Context& ctx, const Tensor& h, std::int64_t k) {
  const Tensor rows = h.reshape({h.dim(0) * h.dim(1), h.dim(2)});
  return local(ctx, h, knn_features(ctx, rows, dense_rows_of(ctx, h), k));
}

TEST(Knn, CoordinateModeTiesGoToTheLowerIndex) {
  Context ctx(test::cpu_options());
  // Integer coordinates: every Gram-form distance is exact, so the ties below are exact.
  Tensor x = jet(ctx, {{0, 0, -1}, {1, 0, -1}, {-1, 0, -1}, {0, 1, -1}, {2, 0, -1}});
  // Squared distances: row 0 [0,1,1,1,4], row 1 [1,0,4,2,1], row 2 [1,4,0,2,9], row 3 [1,2,2,0,5],
  // row 4 [4,1,9,5,0].
  EXPECT_EQ(knn_coordinates(ctx, x, 5),
            (I{0, 1, 2, 3, 4, 1, 0, 4, 3, 2, 2, 0, 3, 1, 4, 3, 0, 1, 2, 4, 4, 1, 0, 3, 2}));
  EXPECT_EQ(knn_coordinates(ctx, x, 2), (I{0, 1, 1, 0, 2, 0, 3, 0, 4, 1}));
}

TEST(Knn, PaddingPenaltyRealRowsThenLowestPaddedIndex) {
  Context ctx(test::cpu_options());
  // Real particles 0..2 (flag != 0), padded 3..5 (all zero), k = 4 > 3 real particles.
  for (DType dtype : {DType::F32, DType::F64}) {
    const std::vector<std::array<double, 3>> pts = {
        {0.5, 0, -0.7}, {0, 0.25, -1.2}, {-1, 0, -2.5}, {0, 0, 0}, {0, 0, 0}, {0, 0, 0}};
    Tensor x = dtype == DType::F32 ? jet<float>(ctx, pts) : jet<double>(ctx, pts);
    // Real rows: all real particles by distance, then the padded ones tie at 1000 + |x_i|^2 and the
    // lowest padded index 3 wins. Padded rows: D = 1000 + |x_j|^2 to real j, 2000 to padded j, so
    // they take the real particles closest to the axis (|x|^2 = 0.0625, 0.25, 1), then index 3.
    EXPECT_EQ(knn_coordinates(ctx, x, 4),
              (I{0, 1, 2, 3, 1, 0, 2, 3, 2, 1, 0, 3, 1, 0, 2, 3, 1, 0, 2, 3, 1, 0, 2, 3}));
    EXPECT_EQ(knn_coordinates(ctx, x, 5),
              (I{0, 1, 2, 3, 4, 1, 0, 2, 3, 4, 2, 1, 0, 3, 4, 1, 0, 2, 3, 4, 1, 0, 2, 3, 4, 1, 0, 2, 3, 4}));
  }
}

TEST(Knn, SingleParticleJetIsAllPaddingEveryRowGetsTheFirstTenIndices) {
  Context ctx(test::cpu_options());
  // Golden jet 0: one particle on the axis with ptrel = 1, so feature 2 = log 1 = 0 and kNN #1
  // treats it as padding (spec 8 #11); every distance is 2000.
  const std::int64_t n = 12;
  std::vector<float> v(n * 8, 0.0f);
  v[3] = 0.5f;  // other features of particle 0 are non-zero
  v[4] = 2.0f;
  v[7] = 1.0f;
  Tensor x = ctx.from_vector<float>({1, n, 8}, v);
  const auto idx = knn_coordinates(ctx, x, 10);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int32_t q = 0; q < 10; ++q) EXPECT_EQ(idx[i * 10 + q], q) << "row " << i;
}

TEST(Knn, DuplicateCoordinatesTieAtTheCutAndOnlyTheLowerIndexIsTaken) {
  Context ctx(test::cpu_options());
  // Particles 3 and 4 share (eta, phi) (as golden jet 4's 3 and 7).
  Tensor x = jet(ctx, {{0, 0, -1}, {0.25, 0, -1}, {3, 0, -1}, {1, 1, -1}, {1, 1, -2}, {-2, 0, -1}});
  const auto idx = knn_coordinates(ctx, x, 3);
  // Row 0: D = [0, 0.0625, 9, 2, 2, 4]: 3 and 4 tie for the last place, 3 is taken.
  EXPECT_EQ(I(idx.begin(), idx.begin() + 3), (I{0, 1, 3}));
  // Rows 3 and 4: D(3,3) = D(3,4) = D(4,3) = D(4,4) = 0 exactly: both rows list 3 before 4
  // (self is not necessarily first in TF order), then particle 1 (D = 1.5625).
  EXPECT_EQ(I(idx.begin() + 9, idx.begin() + 12), (I{3, 4, 1}));
  EXPECT_EQ(I(idx.begin() + 12, idx.begin() + 15), (I{3, 4, 1}));
}

TEST(Knn, PhiWrapCorrectionAppliesFromTwoPi) {
  Context ctx(test::cpu_options());
  // |dphi(0,1)| = 7 >= 2 pi: D = 49 + 4 pi^2 - 28 pi = (2 pi - 7)^2 ~ 0.514 < D(0,2) = 1 (spec 8 #10).
  Tensor x = jet(ctx, {{0, -3.5, -1}, {0, 3.5, -1}, {1, -3.5, -1}});
  EXPECT_EQ(knn_coordinates(ctx, x, 3), (I{0, 1, 2, 1, 0, 2, 2, 0, 1}));
  // |dphi| = 6 < 2 pi: no correction, the plain squared distance 36 > 1.
  Tensor y = jet(ctx, {{0, -3, -1}, {0, 3, -1}, {1, -3, -1}});
  EXPECT_EQ(knn_coordinates(ctx, y, 3), (I{0, 2, 1, 1, 0, 2, 2, 0, 1}));
}

TEST(Knn, FeatureModeUsesAllChannelsWithoutMask) {
  Context ctx(test::cpu_options());
  // Two jets; channel 2 is 0 for most points, which feature mode must not read as padding.
  Tensor h = ctx.from_vector<float>({2, 4, 3}, {1, 0, 0, 0, 1, 0, 1, 1, 0, 1, 0, 1,  // jet 0
                                                0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 2});  // jet 1
  // Jet 0: D(0,1) = 2, D(0,2) = 1, D(0,3) = 1, D(1,2) = 1, D(1,3) = 3, D(2,3) = 2.
  // Jet 1: points 0 and 1 coincide; D(0,2) = 9, D(0,3) = 4, D(2,3) = 13.
  EXPECT_EQ(knn_features(ctx, h, 4),
            (I{0, 2, 3, 1, 1, 2, 0, 3, 2, 0, 1, 3, 3, 0, 2, 1, 0, 1, 3, 2, 0, 1, 3, 2, 2, 0, 1, 3, 3, 0, 1, 2}));
  Tensor hd = ctx.zeros({2, 4, 3}, DType::F64);
  const auto hv = ctx.to_vector<float>(h);
  std::copy(hv.begin(), hv.end(), hd.data<double>());
  EXPECT_EQ(knn_features(ctx, hd, 2), (knn_features(ctx, h, 2)));
}

// Reference: the same Gram-form distances, then a stable sort by distance.
template <typename T>
std::vector<std::int32_t> reference_knn(const std::vector<T>& h, std::int64_t batch, std::int64_t n,
                                        std::int64_t channels, std::int64_t k) {
  std::vector<std::int32_t> out;
  for (std::int64_t b = 0; b < batch; ++b) {
    const T* hb = h.data() + b * n * channels;
    std::vector<T> sq(n, T(0));
    for (std::int64_t j = 0; j < n; ++j)
      for (std::int64_t c = 0; c < channels; ++c) sq[j] = sq[j] + hb[j * channels + c] * hb[j * channels + c];
    for (std::int64_t i = 0; i < n; ++i) {
      std::vector<T> d(n);
      for (std::int64_t j = 0; j < n; ++j) {
        T inner = T(0);
        for (std::int64_t c = 0; c < channels; ++c) inner = inner + hb[i * channels + c] * hb[j * channels + c];
        d[j] = (sq[i] + T(-2) * inner) + sq[j];
      }
      std::vector<std::int32_t> order(n);
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), [&](std::int32_t a, std::int32_t c) { return d[a] < d[c]; });
      out.insert(out.end(), order.begin(), order.begin() + k);
    }
  }
  return out;
}

TEST(Knn, FeatureModeMatchesAStableSortOnRandomJets) {
  Context ctx(test::cpu_options());
  Tensor h = test::random_tensor(ctx, {3, 37, 5}, DType::F32);
  EXPECT_EQ(knn_features(ctx, h, 7), reference_knn(ctx.to_vector<float>(h), 3, 37, 5, 7));
  Tensor hd = test::random_tensor(ctx, {2, 23, 128}, DType::F64);
  EXPECT_EQ(knn_features(ctx, hd, 10),
            reference_knn(ctx.to_vector<double>(hd), 2, 23, 128, 10));
}

TEST(Knn, TapeFormsReturnTheSameIndices) {
  Context ctx(test::cpu_options());
  Tape tape(ctx);
  const Tensor points = jet(ctx, {{0, 0, -1}, {1, 0, -1}, {-1, 0, -1}, {0, 1, 0}});
  const JetRows rows = dense_rows_of(ctx, points);
  Var x = make_var(points.reshape({4, 3}), true);
  EXPECT_EQ(ctx.to_vector<std::int32_t>(knn_coordinates(tape, x, rows, 3)),
            ctx.to_vector<std::int32_t>(knn_coordinates(ctx, x->value, rows, 3)));
  EXPECT_EQ(ctx.to_vector<std::int32_t>(knn_features(tape, x, rows, 2)),
            ctx.to_vector<std::int32_t>(knn_features(ctx, x->value, rows, 2)));
  EXPECT_EQ(tape.size(), 0u);  // indices carry no gradient (spec 2.2)
}

TEST(Knn, RejectsBadArgumentsWithAClearMessage) {
  Context ctx(test::cpu_options());
  // Two jets of P = 5 points: rows [10, 3].
  const JetRows rows = dense_jet_rows(ctx, 2, 5, DType::F32, Device::cpu());
  Tensor x = ctx.zeros({10, 3});
  const std::string msg = error_of([&] { knn_coordinates(ctx, x, rows, 6); });
  EXPECT_NE(msg.find("k = 6"), std::string::npos) << msg;
  EXPECT_NE(msg.find("P = 5"), std::string::npos) << msg;
  const std::string k_msg = error_of([&] {
    knn_features(ctx, ctx.zeros({4, 2}), dense_jet_rows(ctx, 1, 4, DType::F32, Device::cpu()), 5);
  });
  EXPECT_NE(k_msg.find("P = 4"), std::string::npos) << k_msg;
  EXPECT_THROW(knn_coordinates(ctx, x, rows, 0), Error);
  // kNN #1 needs the padding flag, feature 2.
  EXPECT_NE(error_of([&] { knn_coordinates(ctx, ctx.zeros({10, 2}), rows, 3); }).find("float32[10,2]@cpu"),
            std::string::npos);
  // The input is the rows [R, F]: the reference's [B, N, F] is not accepted as such.
  EXPECT_THROW(knn_features(ctx, ctx.zeros({2, 5, 3}), rows, 2), Error);
  EXPECT_THROW(knn_features(ctx, ctx.zeros({10, 3}, DType::I32), rows, 2), Error);
  // Rows that are not the layout's.
  const std::string rows_msg = error_of([&] { knn_coordinates(ctx, ctx.zeros({9, 3}), rows, 3); });
  EXPECT_NE(rows_msg.find("float32[9,3]@cpu does not have the R = 10 rows"), std::string::npos) << rows_msg;
  EXPECT_THROW(knn_coordinates_forward(ctx, x, rows, 3, ctx.zeros({10, 3}, DType::F32)), Error);
  const std::string shape_msg =
      error_of([&] { knn_coordinates_forward(ctx, x, rows, 3, ctx.zeros({10, 4}, DType::I32)); });
  EXPECT_NE(shape_msg.find("[10,4]"), std::string::npos) << shape_msg;
}

}  // namespace
}  // namespace ucluster
