// CUDA-vs-CPU parity of batch normalisation (training and inference mode, moving-average update).
//
// Tolerances: both backends compute statistics and outputs in double from float32 inputs and
// round once (parity_support.h):
//   statistics and y:        |gpu - cpu| <= 2 eps32 |cpu| + 1e-11 * magnitude
//   dx, dgamma, dbeta (+=):  |gpu - cpu| <= (2 eps32 + 1e-11) * (|g0| + sum|terms|)
// with magnitude / sum|terms| written out per quantity below. The moving-average update is float32
// arithmetic, m -= (m - b)(1 - decay), which the GPU may contract into a fused multiply-add:
// |gpu - cpu| <= 2 eps32 (|m0| + |b|).
// The fused ReLU (relu = true) changes none of these bounds: ReLU(y) is within the bound of y when y
// is, and both backwards take dy through the ReLU with the same (CPU) forward output, so the same
// elements are masked; the magnitudes below then use the masked dy.
// Row weights (packed rows, kernels/batch_norm.h): the same bounds with every row's terms counted
// with its weight and M the sum of the weights.
#include "kernels/batch_norm.h"
#include "tests/cuda/parity_support.h"

namespace ucluster {
namespace {

using parity::accumulated;
using parity::rounded_once;

class BatchNormParity : public parity::CudaParity {
 protected:
  struct Inputs {
    Tensor x, gamma, beta;
    std::int64_t rows, C;
  };

  Inputs make(const Shape& shape) {
    Inputs in;
    in.C = shape.last();
    in.rows = shape.rows();
    // A non-zero mean (3) makes the two-pass variance matter; gamma near 1 as after training.
    in.x = randn(shape, 2.0);
    float* p = in.x.data<float>();
    for (std::int64_t i = 0; i < in.x.numel(); ++i) p[i] += 3.0f;
    in.gamma = rand({in.C}, 0.5, 1.5);
    in.beta = rand({in.C}, -0.5, 0.5);
    return in;
  }

  // dy through the ReLU given its output y (the magnitudes of the backward's terms), or dy.
  static std::vector<double> masked(const std::vector<double>& dy, const std::vector<double>& y, bool relu) {
    std::vector<double> d = dy;
    if (relu)
      for (std::size_t i = 0; i < d.size(); ++i) d[i] = y[i] > 0 ? d[i] : 0.0;
    return d;
  }

  // weight: the row weights [W] of packed rows (W divides the rows), or undefined.
  void check_train(const Shape& shape, bool relu = false, const Tensor& weight = {}) {
    const Inputs in = make(shape);
    const std::int64_t C = in.C, rows = in.rows;
    const std::vector<double> wv = weight.defined() ? values(weight) : std::vector<double>{};
    const std::int64_t repeat = weight.defined() ? rows / weight.numel() : 1;
    const auto w = [&](std::int64_t r) { return weight.defined() ? wv[r / repeat] : 1.0; };
    double m = 0;  // the (weighted) row count
    for (std::int64_t r = 0; r < rows; ++r) m += w(r);
    const Tensor weight_g = weight.defined() ? to_gpu(weight) : Tensor();
    Tensor y_c = poisoned_cpu(shape), mean_c = poisoned_cpu({C}), var_c = poisoned_cpu({C}), inv_c = poisoned_cpu({C});
    Tensor y_g = poisoned_gpu(shape), mean_g = poisoned_gpu({C}), var_g = poisoned_gpu({C}), inv_g = poisoned_gpu({C});
    batch_norm_train_forward(ctx(), in.x, in.gamma, in.beta, kBatchNormEpsilon, y_c, mean_c, var_c, inv_c, {}, relu,
                             weight);
    batch_norm_train_forward(ctx(), to_gpu(in.x), to_gpu(in.gamma), to_gpu(in.beta), kBatchNormEpsilon, y_g, mean_g,
                             var_g, inv_g, {}, relu, weight_g);

    const std::vector<double> x = values(in.x), g = values(in.gamma), b = values(in.beta);
    const std::vector<double> mean = values(mean_c), var = values(var_c), inv = values(inv_c);
    std::vector<double> mean_abs(C, 0.0);  // sum w|x| / M: magnitude of the mean's terms
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t c = 0; c < C; ++c) mean_abs[c] += w(r) * std::abs(x[r * C + c]) / m;
    std::vector<double> y_mag(x.size());
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t c = 0; c < C; ++c)
        y_mag[r * C + c] = std::abs(g[c]) * (std::abs(x[r * C + c]) + mean_abs[c]) * inv[c] + std::abs(b[c]);
    UCLUSTER_EXPECT_PARITY(ctx(), "batch_norm train batch_mean", mean_g, mean_c, rounded_once(mean, mean_abs));
    UCLUSTER_EXPECT_PARITY(ctx(), "batch_norm train batch_var", var_g, var_c, rounded_once(var, var));
    UCLUSTER_EXPECT_PARITY(ctx(), "batch_norm train inv_std", inv_g, inv_c, rounded_once(inv, inv));
    UCLUSTER_EXPECT_PARITY(ctx(), "batch_norm train y", y_g, y_c, rounded_once(values(y_c), y_mag));

    // Backward with the same (CPU) statistics on both sides, accumulating into random gradients.
    const Tensor dy = randn(shape), dx0 = randn(shape), dg0 = randn({C}), db0 = randn({C});
    Tensor dx_c = clone_cpu(dx0), dg_c = clone_cpu(dg0), db_c = clone_cpu(db0);
    Tensor dx_g = to_gpu(dx0), dg_g = to_gpu(dg0), db_g = to_gpu(db0);
    const Tensor relu_c = relu ? y_c : Tensor(), relu_g = relu ? to_gpu(y_c) : Tensor();
    batch_norm_train_backward(ctx(), in.x, in.gamma, mean_c, inv_c, dy, dx_c, dg_c, db_c, {}, relu_c, weight);
    batch_norm_train_backward(ctx(), to_gpu(in.x), to_gpu(in.gamma), to_gpu(mean_c), to_gpu(inv_c), to_gpu(dy), dx_g,
                              dg_g, db_g, {}, relu_g, weight_g);
    const std::vector<double> d = masked(values(dy), values(y_c), relu), dx0v = values(dx0), dg0v = values(dg0),
                              db0v = values(db0);
    std::vector<double> s_dy(C, 0.0), s_dyxhat(C, 0.0);  // sum|dy|, sum|dy xhat|
    std::vector<double> xhat(x.size());
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t c = 0; c < C; ++c) {
        const std::int64_t i = r * C + c;
        xhat[i] = (x[i] - mean[c]) * inv[c];
        s_dy[c] += std::abs(d[i]);
        s_dyxhat[c] += std::abs(d[i] * xhat[i]);
      }
    std::vector<double> dx_mag(x.size()), dg_mag(C), db_mag(C);
    for (std::int64_t c = 0; c < C; ++c) {
      dg_mag[c] = std::abs(dg0v[c]) + s_dyxhat[c];
      db_mag[c] = std::abs(db0v[c]) + s_dy[c];
    }
    // dx = gamma inv / M (M dy - w sum dy - w xhat sum dy xhat): its terms' magnitudes.
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t c = 0; c < C; ++c) {
        const std::int64_t i = r * C + c;
        dx_mag[i] = std::abs(dx0v[i]) + std::abs(g[c]) * inv[c] *
                                            (std::abs(d[i]) + w(r) * (s_dy[c] + std::abs(xhat[i]) * s_dyxhat[c]) / m);
      }
    UCLUSTER_EXPECT_PARITY(ctx(), "batch_norm train backward dx", dx_g, dx_c, accumulated(dx_mag));
    UCLUSTER_EXPECT_PARITY(ctx(), "batch_norm train backward dgamma", dg_g, dg_c, accumulated(dg_mag));
    UCLUSTER_EXPECT_PARITY(ctx(), "batch_norm train backward dbeta", db_g, db_c, accumulated(db_mag));
  }

  void check_inference(const Shape& shape, bool relu = false) {
    const Inputs in = make(shape);
    const std::int64_t C = in.C, rows = in.rows;
    const Tensor mm = rand({C}, 2.0, 4.0), mv = rand({C}, 0.5, 5.0);
    Tensor y_c = poisoned_cpu(shape), y_g = poisoned_gpu(shape);
    batch_norm_inference_forward(ctx(), in.x, in.gamma, in.beta, mm, mv, kBatchNormEpsilon, y_c, relu);
    batch_norm_inference_forward(ctx(), to_gpu(in.x), to_gpu(in.gamma), to_gpu(in.beta), to_gpu(mm), to_gpu(mv),
                                 kBatchNormEpsilon, y_g, relu);
    const std::vector<double> x = values(in.x), g = values(in.gamma), b = values(in.beta);
    const std::vector<double> mean = values(mm), var = values(mv);
    std::vector<double> inv(C);
    for (std::int64_t c = 0; c < C; ++c) inv[c] = 1.0 / std::sqrt(var[c] + kBatchNormEpsilon);
    std::vector<double> y_mag(x.size());
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t c = 0; c < C; ++c)
        y_mag[r * C + c] = std::abs(g[c]) * (std::abs(x[r * C + c]) + std::abs(mean[c])) * inv[c] + std::abs(b[c]);
    UCLUSTER_EXPECT_PARITY(ctx(), "batch_norm inference y", y_g, y_c, rounded_once(values(y_c), y_mag));

    const Tensor dy = randn(shape), dx0 = randn(shape), dg0 = randn({C}), db0 = randn({C});
    Tensor dx_c = clone_cpu(dx0), dg_c = clone_cpu(dg0), db_c = clone_cpu(db0);
    Tensor dx_g = to_gpu(dx0), dg_g = to_gpu(dg0), db_g = to_gpu(db0);
    const Tensor relu_c = relu ? y_c : Tensor(), relu_g = relu ? to_gpu(y_c) : Tensor();
    batch_norm_inference_backward(ctx(), in.x, in.gamma, mm, mv, kBatchNormEpsilon, dy, dx_c, dg_c, db_c, relu_c);
    batch_norm_inference_backward(ctx(), to_gpu(in.x), to_gpu(in.gamma), to_gpu(mm), to_gpu(mv), kBatchNormEpsilon,
                                  to_gpu(dy), dx_g, dg_g, db_g, relu_g);
    const std::vector<double> d = masked(values(dy), values(y_c), relu), dx0v = values(dx0), dg0v = values(dg0),
                              db0v = values(db0);
    std::vector<double> dx_mag(x.size()), dg_mag(C), db_mag(C);
    for (std::int64_t c = 0; c < C; ++c) {
      dg_mag[c] = std::abs(dg0v[c]);
      db_mag[c] = std::abs(db0v[c]);
    }
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t c = 0; c < C; ++c) {
        const std::int64_t i = r * C + c;
        dx_mag[i] = std::abs(dx0v[i]) + std::abs(g[c]) * inv[c] * std::abs(d[i]);
        dg_mag[c] += std::abs(d[i] * (x[i] - mean[c]) * inv[c]);
        db_mag[c] += std::abs(d[i]);
      }
    UCLUSTER_EXPECT_PARITY(ctx(), "batch_norm inference backward dx", dx_g, dx_c, accumulated(dx_mag));
    UCLUSTER_EXPECT_PARITY(ctx(), "batch_norm inference backward dgamma", dg_g, dg_c, accumulated(dg_mag));
    UCLUSTER_EXPECT_PARITY(ctx(), "batch_norm inference backward dbeta", db_g, db_c, accumulated(db_mag));
  }
};

TEST_F(BatchNormParity, TrainSmall) { check_train({5, 3}); }
TEST_F(BatchNormParity, TrainSingleRow) { check_train({1, 7}); }
// UCluster shapes at B = 8 (spec 2.4): GAP0 edge conv (B*N*k rows, 16 channels), gapnet02, GAP1 edge
// conv (B*N*k rows, 128 channels), agg (3 channels, not a multiple of the 32-channel tile), fc1.
TEST_F(BatchNormParity, TrainGap0EdgeRows) { check_train({8, 100, 10, 16}); }
TEST_F(BatchNormParity, TrainGapnet02) { check_train({8, 100, 128}); }
TEST_F(BatchNormParity, TrainGap1EdgeRows) { check_train({8, 100, 10, 128}); }
TEST_F(BatchNormParity, TrainAgg3Channels) { check_train({8, 100, 3}); }
TEST_F(BatchNormParity, TrainFc1) { check_train({8, 256}); }

// With the fused ReLU (kernels/batch_norm.h), as the model runs every batch norm.
TEST_F(BatchNormParity, TrainReluGapnet02) { check_train({8, 100, 128}, true); }
TEST_F(BatchNormParity, TrainReluGap1EdgeRows) { check_train({8, 100, 10, 128}, true); }
TEST_F(BatchNormParity, TrainReluAgg3Channels) { check_train({8, 100, 3}, true); }

// Packed rows of B = 8 jets of 100, 49, 22, 7 and 0 real points out of P = 100: the points [R, C]
// and the edge rows [R, k, C], whose rows carry their point's weight.
TEST_F(BatchNormParity, TrainWeightedPoints) {
  const JetRows rows = cpu_rows(8, 100, {100, 49, 22, 7, 0});
  check_train({rows.rows, 128}, false, rows.weight);
}
TEST_F(BatchNormParity, TrainWeightedReluEdgeRows) {
  const JetRows rows = cpu_rows(8, 100, {100, 49, 22, 7, 0});
  check_train({rows.rows, 10, 64}, true, rows.weight);
}

TEST_F(BatchNormParity, InferenceSmall) { check_inference({4, 5}); }
TEST_F(BatchNormParity, InferenceReluGap1EdgeRows) { check_inference({8, 100, 10, 128}, true); }
TEST_F(BatchNormParity, InferenceGap1EdgeRows) { check_inference({8, 100, 10, 128}); }
TEST_F(BatchNormParity, InferenceAgg3Channels) { check_inference({8, 100, 3}); }

TEST_F(BatchNormParity, MovingAverageUpdate) {
  const std::int64_t C = 300;
  const Tensor m0 = randn({C}), v0 = rand({C}, 0.0, 3.0), bm = randn({C}), bv = rand({C}, 0.0, 3.0);
  Tensor m_c = clone_cpu(m0), v_c = clone_cpu(v0), m_g = to_gpu(m0), v_g = to_gpu(v0);
  for (double decay : {0.5, 0.99, 0.0, 1.0}) {
    // Bound from the state before this step: |m0| + |b| bounds |m0 - b|, |(m0 - b)(1 - decay)| and
    // the result, so one step's two roundings stay within 2 eps32 (|m0| + |b|).
    const std::vector<double> m0v = values(m_c), v0v = values(v_c), bmv = values(bm), bvv = values(bv);
    std::vector<double> m_mag(C), v_mag(C);
    for (std::int64_t c = 0; c < C; ++c) {
      m_mag[c] = std::abs(m0v[c]) + std::abs(bmv[c]);
      v_mag[c] = std::abs(v0v[c]) + std::abs(bvv[c]);
    }
    batch_norm_update_moving(ctx(), m_c, v_c, bm, bv, decay);
    batch_norm_update_moving(ctx(), m_g, v_g, to_gpu(bm), to_gpu(bv), decay);
    // Compared after every step; the GPU restarts from the CPU state so the bound stays one step's.
    UCLUSTER_EXPECT_PARITY(ctx(), "moving mean (decay " << decay << ")", m_g, m_c, parity::scaled(m_mag, 2.0));
    UCLUSTER_EXPECT_PARITY(ctx(), "moving var (decay " << decay << ")", v_g, v_c, parity::scaled(v_mag, 2.0));
    m_g = to_gpu(m_c);
    v_g = to_gpu(v_c);
  }
}

}  // namespace
}  // namespace ucluster
