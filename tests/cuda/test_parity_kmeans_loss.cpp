// CUDA-vs-CPU parity of the deep k-means loss and the hard assignment (spec 3.2).
//
// Tolerances: both backends compute in double and round once (parity_support.h). The double
// distances d_bj may differ by a few eps64 d (the GPU may fuse the squared-difference sum into
// FMAs), which exp(-alpha (d - shift)) turns into a relative difference of about |alpha| d eps64 in
// the weights; per jet we allow
//   slack_b = 64 eps64 (1 + |alpha| max_j d_bj) + 1e-11   (the 1e-11: summation orders, B <= 4.5e4)
// relative to the magnitude of every double result:
//   loss:   2 eps32 |loss| + sum_b slack_b L_b / B            (L_b = sum_j w_bj d_bj >= 0)
//   dist:   2 eps32 |d| + 64 eps64 d
//   dz_bc:  2 eps32 (2 |g0| + |cpu|) + slack_b T_bc,  T_bc = sum_j |g_bj| 2 |z_bc - mu_jc|
//   dmu_jc: 2 eps32 (2 |g0| + |cpu|) + sum_b slack_b |g_bj| 2 |z_bc - mu_jc|
// with |g_bj| <= |s| w_bj (1 + |alpha| (d_bj + L_b)), s = dloss / B. The assignment is compared
// exactly from the same (CPU) distances.
#include <algorithm>
#include <cmath>

#include "kernels/kmeans_loss.h"
#include "tests/cuda/parity_support.h"

namespace ucluster {
namespace {

using parity::kEps64;

class KMeansParity : public parity::CudaParity {
 protected:
  // Inputs of the repeatability tests: z and mu in [0, 3) and dloss = 0.7 on the GPU, and small
  // random gradients (on the CPU) to accumulate into.
  struct BackwardInputs {
    Tensor z, mu, dloss, dz0, dmu0;
  };
  BackwardInputs backward_inputs(std::int64_t B, std::int64_t K, std::int64_t D) {
    return {to_gpu(rand({B, D}, 0.0, 3.0)), to_gpu(rand({K, D}, 0.0, 3.0)),
            to_gpu(ctx().from_vector<float>({1}, {0.7f}, Device::cpu())), randn({B, D}, 1e-2), randn({K, D}, 1e-2)};
  }

  void check(std::int64_t B, std::int64_t K, std::int64_t D, double alpha) {
    // z >= 0 (average of ReLU outputs, spec 2.4 row 23); centroids in the same range.
    const Tensor z = rand({B, D}, 0.0, 3.0), mu = rand({K, D}, 0.0, 3.0);
    Tensor loss_c = poisoned_cpu({1}), loss_g = poisoned_gpu({1});
    Tensor dist_c = poisoned_cpu({B, K}), dist_g = poisoned_gpu({B, K});
    kmeans_loss_forward(ctx(), z, mu, alpha, loss_c, dist_c);
    kmeans_loss_forward(ctx(), to_gpu(z), to_gpu(mu), alpha, loss_g, dist_g);

    // Reference quantities in double for the bounds.
    const std::vector<double> zv = values(z), mv = values(mu);
    std::vector<double> d(B * K), w(B * K), L(B), slack(B);
    for (std::int64_t b = 0; b < B; ++b) {
      double dmax = 0.0;
      for (std::int64_t j = 0; j < K; ++j) {
        double s = 0.0;
        for (std::int64_t c = 0; c < D; ++c) s += (zv[b * D + c] - mv[j * D + c]) * (zv[b * D + c] - mv[j * D + c]);
        d[b * K + j] = s;
        dmax = std::max(dmax, s);
      }
      double shift = d[b * K];
      for (std::int64_t j = 1; j < K; ++j) shift = alpha >= 0 ? std::min(shift, d[b * K + j]) : std::max(shift, d[b * K + j]);
      double sum = 0.0;
      for (std::int64_t j = 0; j < K; ++j) sum += (w[b * K + j] = std::exp(-alpha * (d[b * K + j] - shift)));
      L[b] = 0.0;
      for (std::int64_t j = 0; j < K; ++j) L[b] += (w[b * K + j] /= sum) * d[b * K + j];
      slack[b] = 64 * kEps64 * (1 + std::abs(alpha) * dmax) + parity::kDoubleOrderSlack;
    }
    double loss_extra = 0.0;
    for (std::int64_t b = 0; b < B; ++b) loss_extra += slack[b] * L[b] / double(B);
    const std::vector<double> lc = values(loss_c);
    UCLUSTER_EXPECT_PARITY(ctx(), "kmeans_loss forward (alpha " << alpha << ")", loss_g, loss_c,
                           std::vector<double>{2 * parity::kEps32 * std::abs(lc[0]) + loss_extra});
    const std::vector<double> dc = values(dist_c);
    std::vector<double> dist_bound(dc.size());
    for (std::size_t i = 0; i < dc.size(); ++i) dist_bound[i] = 2 * parity::kEps32 * std::abs(dc[i]) + 64 * kEps64 * d[i];
    UCLUSTER_EXPECT_PARITY(ctx(), "kmeans_loss distances", dist_g, dist_c, dist_bound);

    // Backward, accumulating into random gradients; dloss != 1 checks the scaling.
    const double dl = 0.7;
    const Tensor dloss = ctx().from_vector<float>({1}, {float(dl)}, Device::cpu());
    const Tensor dz0 = randn({B, D}, 1e-2), dmu0 = randn({K, D}, 1e-2);
    Tensor dz_c = clone_cpu(dz0), dmu_c = clone_cpu(dmu0), dz_g = to_gpu(dz0), dmu_g = to_gpu(dmu0);
    kmeans_loss_backward(ctx(), z, mu, alpha, dloss, dz_c, dmu_c);
    kmeans_loss_backward(ctx(), to_gpu(z), to_gpu(mu), alpha, to_gpu(dloss), dz_g, dmu_g);
    const double s = std::abs(dl / double(float(B)));
    std::vector<double> dz_extra(B * D, 0.0), dmu_extra(K * D, 0.0);
    for (std::int64_t b = 0; b < B; ++b)
      for (std::int64_t j = 0; j < K; ++j) {
        const double g = s * w[b * K + j] * (1 + std::abs(alpha) * (d[b * K + j] + L[b]));
        for (std::int64_t c = 0; c < D; ++c) {
          const double term = g * 2 * std::abs(zv[b * D + c] - mv[j * D + c]);
          dz_extra[b * D + c] += slack[b] * term;
          dmu_extra[j * D + c] += slack[b] * term;
        }
      }
    UCLUSTER_EXPECT_PARITY(ctx(), "kmeans_loss backward dz (alpha " << alpha << ")", dz_g, dz_c,
                           parity::accumulated_into(values(dz0), values(dz_c), dz_extra));
    UCLUSTER_EXPECT_PARITY(ctx(), "kmeans_loss backward dmu (alpha " << alpha << ")", dmu_g, dmu_c,
                           parity::accumulated_into(values(dmu0), values(dmu_c), dmu_extra));

    // Hard assignment from the same distances: exact.
    Tensor a_c = ctx().empty({B}, DType::I32, Device::cpu()), a_g = ctx().empty({B}, DType::I32, gpu_device());
    kmeans_assign(ctx(), dist_c, a_c);
    kmeans_assign(ctx(), to_gpu(dist_c), a_g);
    EXPECT_EQ(ctx().to_vector<std::int32_t>(a_g), ctx().to_vector<std::int32_t>(a_c)) << "kmeans_assign";
  }
};

// UCluster: K = 3 centroids in the D = 3 embedding (spec 2.4), B = 8 and 512, the alpha schedule's
// ends for both configurations (spec 4.4: 4 .. 380 for A, 10 .. 900 for B) and a pre-training value.
TEST_F(KMeansParity, AlphaZeroUniformWeights) { check(8, 3, 3, 0.0); }
TEST_F(KMeansParity, ConfigAFirstEpochB8) { check(8, 3, 3, 4.0); }
TEST_F(KMeansParity, ConfigALastEpochB512) { check(512, 3, 3, 380.0); }
TEST_F(KMeansParity, ConfigBLastEpochB512) { check(512, 3, 3, 900.0); }
TEST_F(KMeansParity, NegativeAlphaDuringPretraining) { check(64, 3, 3, -18.0); }
// More jets than one 256-row chunk of the batch reduction, and a non-UCluster K, D.
TEST_F(KMeansParity, ManyJetsOtherShapes) { check(1000, 5, 7, 10.0); }
// The batch sums (loss, dmu) run as per-jet terms + fixed-order two-stage column sums over chunks of
// 256 jets: one jet, a partial first chunk, 4 chunks (last one partial), 16 full chunks; and
// K * D = 35 columns (two 32-column tiles) with a last chunk of one jet.
TEST_F(KMeansParity, OneJet) { check(1, 3, 3, 4.0); }
TEST_F(KMeansParity, SevenJets) { check(7, 3, 3, 10.0); }
TEST_F(KMeansParity, ThousandJetsConfigA) { check(1000, 3, 3, 380.0); }
TEST_F(KMeansParity, ManyChunksConfigB4096) { check(4096, 3, 3, 900.0); }
TEST_F(KMeansParity, TwoColumnTilesOddChunk) { check(257, 7, 5, 6.0); }

// Run to run: the same inputs give the same bits (no atomics in the batch sums).
TEST_F(KMeansParity, RepeatableBits) {
  const std::int64_t B = 4096, K = 3, D = 3;
  const double alpha = 380.0;
  const auto [z, mu, dloss, dz0, dmu0] = backward_inputs(B, K, D);
  Tensor loss[2], dist[2], dz[2], dmu[2];
  for (int run = 0; run < 2; ++run) {
    loss[run] = poisoned_gpu({1});
    dist[run] = poisoned_gpu({B, K});
    dz[run] = to_gpu(dz0);
    dmu[run] = to_gpu(dmu0);
    kmeans_loss_forward(ctx(), z, mu, alpha, loss[run], dist[run]);
    kmeans_loss_backward(ctx(), z, mu, alpha, dloss, dz[run], dmu[run]);
  }
  UCLUSTER_EXPECT_SAME_BITS(ctx(), "kmeans_loss forward", loss[0], loss[1]);
  UCLUSTER_EXPECT_SAME_BITS(ctx(), "kmeans_loss distances", dist[0], dist[1]);
  UCLUSTER_EXPECT_SAME_BITS(ctx(), "kmeans_loss backward dz", dz[0], dz[1]);
  UCLUSTER_EXPECT_SAME_BITS(ctx(), "kmeans_loss backward dmu", dmu[0], dmu[1]);
}

// dmu alone and dz alone (the other gradient undefined) give the same values as both together.
TEST_F(KMeansParity, EachGradientAlone) {
  const std::int64_t B = 600, K = 3, D = 3;
  const double alpha = 10.0;
  const auto [z, mu, dloss, dz0, dmu0] = backward_inputs(B, K, D);
  Tensor dz_both = to_gpu(dz0), dmu_both = to_gpu(dmu0), dz_alone = to_gpu(dz0), dmu_alone = to_gpu(dmu0);
  kmeans_loss_backward(ctx(), z, mu, alpha, dloss, dz_both, dmu_both);
  kmeans_loss_backward(ctx(), z, mu, alpha, dloss, dz_alone, Tensor());
  kmeans_loss_backward(ctx(), z, mu, alpha, dloss, Tensor(), dmu_alone);
  UCLUSTER_EXPECT_SAME_BITS(ctx(), "kmeans_loss backward dz alone", dz_alone, dz_both);
  UCLUSTER_EXPECT_SAME_BITS(ctx(), "kmeans_loss backward dmu alone", dmu_alone, dmu_both);
}

TEST_F(KMeansParity, AssignmentTiesKeepTheLowerIndex) {
  const Tensor dist = ctx().from_vector<float>({3, 3}, {1, 1, 2, 3, 2, 2, 5, 5, 5}, Device::cpu());
  Tensor a = ctx().empty({3}, DType::I32, gpu_device());
  kmeans_assign(ctx(), to_gpu(dist), a);
  EXPECT_EQ(ctx().to_vector<std::int32_t>(a), (std::vector<std::int32_t>{0, 1, 0}));
}

}  // namespace
}  // namespace ucluster
