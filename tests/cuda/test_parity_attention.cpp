// CUDA-vs-CPU parity of the GAP attention ops (spec 2.3): attention_softmax, attention_aggregate,
// neighbour_max.
//
// Tolerances (k neighbours, A channels, eps32 = 2^-23; derivations to first order in eps32):
//  * softmax forward: z = LeakyReLU(a + c) and the row max are bit-identical; expf differs by at
//    most 2 ulp (CUDA) + 1 ulp (glibc); the k-term sums differ by the input differences plus
//    2 gamma_k of their value; 1/sum and the final multiply add one rounding each. In all
//    |alpha_gpu - alpha_cpu| <= (k + 8) eps32 alpha; the bound used is (k + 10) eps32 |alpha|
//    plus the effect of one rounding of z (see check_softmax).
//  * softmax backward, with S = sum_j |g_j alpha_j| and M_j = |alpha_j| (|g_j| + S):
//    dot = sum g alpha differs by (k + 2) eps32 S, dl = (g - dot) alpha and dz by (k + 5) eps32 M_j,
//    so dc (+= dz) within (k + 6) eps32 (|dc0| + M_j) and da (+= sum_j dz) within
//    (2k + 6) eps32 (|da0| + sum_j M_j). Bounds used: twice these.
//  * aggregate forward: a (k + 1)-term dot product: (k + 3) eps32 (sum_j |alpha y| + |bias|).
//    backward: dalpha is a (A + 1)-term dot product: (A + 2) eps32 (|dalpha0| + sum |dout y|);
//    dy += alpha dout (possibly one FMA): 2 eps32 (|dy0| + |alpha dout|); dbias is a double sum
//    rounded once: (2 eps32 + 1e-11) (|dbias0| + sum |dout|).
//  * neighbour_max forward is a selection: bit for bit. Backward dy += (1 / ties) dg:
//    2 eps32 (|dy0| + |dg|); exact ties are planted to exercise the equal split (spec 8 #16).
#include <algorithm>
#include <limits>

#include "kernels/activation.h"
#include "kernels/attention.h"
#include "tests/cuda/parity_support.h"

namespace ucluster {
namespace {

using parity::kEps32;

class AttentionParity : public parity::CudaParity {
 protected:
  void check_softmax(std::int64_t B, std::int64_t N, std::int64_t k, double lo, double hi) {
    const Tensor a = rand({B, N}, lo, hi), c = rand({B, N, k}, lo, hi);
    const Shape s{B, N, k};
    Tensor al_c = poisoned_cpu(s), al_g = poisoned_gpu(s);
    attention_softmax_forward(ctx(), a, c, al_c, kAttentionLeakySlope);
    attention_softmax_forward(ctx(), to_gpu(a), to_gpu(c), al_g, kAttentionLeakySlope);
    // Plus 2 eps32 (|z_j| + |max z|) alpha_j: the sensitivity of exp(z - max z) to one rounding of
    // z. Zero extra risk for the shared float32 z of both backends; it keeps the bound valid for a
    // kernel that forms a + c differently (and for the float64 stand-in of parity_support.h).
    const std::vector<double> av = values(a), cv = values(c), alv = values(al_c);
    std::vector<double> fwd_bound(alv.size());
    const double slope = kAttentionLeakySlope;
    for (std::int64_t r = 0; r < B * N; ++r) {
      double m = -std::numeric_limits<double>::infinity();
      std::vector<double> z(k);
      for (std::int64_t j = 0; j < k; ++j) {
        const double v = av[r] + cv[r * k + j];
        z[j] = v > 0 ? v : slope * v;
        m = std::max(m, z[j]);
      }
      for (std::int64_t j = 0; j < k; ++j)
        fwd_bound[r * k + j] = (double(k + 10) + 2 * (std::abs(z[j]) + std::abs(m))) * kEps32 * std::abs(alv[r * k + j]);
    }
    UCLUSTER_EXPECT_PARITY(ctx(), "attention_softmax forward", al_g, al_c, fwd_bound);

    // Backward from the CPU's alpha on both sides.
    const Tensor dalpha = randn(s), da0 = randn({B, N}), dc0 = randn(s);
    Tensor da_c = clone_cpu(da0), dc_c = clone_cpu(dc0), da_g = to_gpu(da0), dc_g = to_gpu(dc0);
    attention_softmax_backward(ctx(), a, c, al_c, dalpha, da_c, dc_c, kAttentionLeakySlope);
    attention_softmax_backward(ctx(), to_gpu(a), to_gpu(c), to_gpu(al_c), to_gpu(dalpha), da_g, dc_g,
                               kAttentionLeakySlope);
    const std::vector<double> al = values(al_c), g = values(dalpha), a0 = values(da0), c0 = values(dc0);
    std::vector<double> dc_bound(al.size()), da_bound(B * N);
    for (std::int64_t r = 0; r < B * N; ++r) {
      double S = 0.0, sumM = 0.0;
      for (std::int64_t j = 0; j < k; ++j) S += std::abs(g[r * k + j] * al[r * k + j]);
      for (std::int64_t j = 0; j < k; ++j) {
        const double M = std::abs(al[r * k + j]) * (std::abs(g[r * k + j]) + S);
        sumM += M;
        dc_bound[r * k + j] = 2 * double(k + 6) * kEps32 * (std::abs(c0[r * k + j]) + M);
      }
      da_bound[r] = 2 * double(2 * k + 6) * kEps32 * (std::abs(a0[r]) + sumM);
    }
    UCLUSTER_EXPECT_PARITY(ctx(), "attention_softmax backward dc", dc_g, dc_c, dc_bound);
    UCLUSTER_EXPECT_PARITY(ctx(), "attention_softmax backward da", da_g, da_c, da_bound);
  }

  void check_aggregate(std::int64_t B, std::int64_t N, std::int64_t k, std::int64_t A, bool with_bias) {
    // alpha: rows of a softmax (positive, summing to 1); y: post-ReLU edge features.
    Tensor alpha = rand({B, N, k}, 0.01, 1.0);
    float* pa = alpha.data<float>();
    for (std::int64_t r = 0; r < B * N; ++r) {
      float s = 0.0f;
      for (std::int64_t j = 0; j < k; ++j) s += pa[r * k + j];
      for (std::int64_t j = 0; j < k; ++j) pa[r * k + j] /= s;
    }
    const Tensor y = rand({B, N, k, A}, 0.0, 2.0);
    const Tensor bias = with_bias ? randn({A}) : Tensor();
    const Shape os{B, N, A};
    Tensor o_c = poisoned_cpu(os), o_g = poisoned_gpu(os);
    attention_aggregate_forward(ctx(), alpha, y, bias, o_c);
    attention_aggregate_forward(ctx(), to_gpu(alpha), to_gpu(y), with_bias ? to_gpu(bias) : Tensor(), o_g);
    const std::vector<double> av = values(alpha), yv = values(y);
    const std::vector<double> bv = with_bias ? values(bias) : std::vector<double>(A, 0.0);
    std::vector<double> o_bound(B * N * A);
    for (std::int64_t r = 0; r < B * N; ++r)
      for (std::int64_t ch = 0; ch < A; ++ch) {
        double m = std::abs(bv[ch]);
        for (std::int64_t j = 0; j < k; ++j) m += std::abs(av[r * k + j] * yv[(r * k + j) * A + ch]);
        o_bound[r * A + ch] = double(k + 3) * kEps32 * m;
      }
    UCLUSTER_EXPECT_PARITY(ctx(), "attention_aggregate forward", o_g, o_c, o_bound);

    const Tensor dout = randn(os), dal0 = randn({B, N, k}), dy0 = randn({B, N, k, A}), db0 = randn({A});
    Tensor dal_c = clone_cpu(dal0), dy_c = clone_cpu(dy0), db_c = clone_cpu(db0);
    Tensor dal_g = to_gpu(dal0), dy_g = to_gpu(dy0), db_g = to_gpu(db0);
    attention_aggregate_backward(ctx(), alpha, y, dout, dal_c, dy_c, with_bias ? db_c : Tensor());
    attention_aggregate_backward(ctx(), to_gpu(alpha), to_gpu(y), to_gpu(dout), dal_g, dy_g,
                                 with_bias ? db_g : Tensor());
    const std::vector<double> g = values(dout), dal0v = values(dal0), dy0v = values(dy0), db0v = values(db0);
    std::vector<double> dal_bound(B * N * k), dy_bound(B * N * k * A), db_mag(A);
    for (std::int64_t ch = 0; ch < A; ++ch) db_mag[ch] = std::abs(db0v[ch]);
    for (std::int64_t r = 0; r < B * N; ++r) {
      for (std::int64_t ch = 0; ch < A; ++ch) db_mag[ch] += std::abs(g[r * A + ch]);
      for (std::int64_t j = 0; j < k; ++j) {
        const std::int64_t e = r * k + j;
        double m = std::abs(dal0v[e]);
        for (std::int64_t ch = 0; ch < A; ++ch) {
          m += std::abs(g[r * A + ch] * yv[e * A + ch]);
          dy_bound[e * A + ch] = 2 * kEps32 * (std::abs(dy0v[e * A + ch]) + std::abs(av[e] * g[r * A + ch]));
        }
        dal_bound[e] = double(A + 2) * kEps32 * m;
      }
    }
    UCLUSTER_EXPECT_PARITY(ctx(), "attention_aggregate backward dalpha", dal_g, dal_c, dal_bound);
    UCLUSTER_EXPECT_PARITY(ctx(), "attention_aggregate backward dy", dy_g, dy_c, dy_bound);
    if (with_bias)
      UCLUSTER_EXPECT_PARITY(ctx(), "attention_aggregate backward dbias", db_g, db_c, parity::accumulated(db_mag));
  }

  void check_max(std::int64_t B, std::int64_t N, std::int64_t k, std::int64_t A) {
    Tensor y = rand({B, N, k, A}, 0.0, 1.0);
    float* p = y.data<float>();
    for (std::int64_t r = 0; r < B * N; ++r) {
      float* yr = p + r * k * A;
      if (r % 3 == 0)  // two tied maxima in every channel
        for (std::int64_t ch = 0; ch < A; ++ch) yr[ch] = yr[A + ch] = 2.0f;
      if (r % 7 == 0)  // all k tied, as for padded neighbours after ReLU
        std::fill(yr, yr + k * A, 0.0f);
    }
    const Shape gs{B, N, A};
    Tensor g_c = poisoned_cpu(gs), g_g = poisoned_gpu(gs);
    neighbour_max_forward(ctx(), y, g_c);
    neighbour_max_forward(ctx(), to_gpu(y), g_g);
    UCLUSTER_EXPECT_SAME_BITS(ctx(), "neighbour_max forward", g_g, g_c);

    const Tensor dg = randn(gs), dy0 = randn({B, N, k, A});
    Tensor dy_c = clone_cpu(dy0), dy_g = to_gpu(dy0);
    neighbour_max_backward(ctx(), y, g_c, dg, dy_c);
    neighbour_max_backward(ctx(), to_gpu(y), to_gpu(g_c), to_gpu(dg), dy_g);
    const std::vector<double> dgv = values(dg), d0 = values(dy0);
    std::vector<double> bound(d0.size());
    for (std::int64_t r = 0; r < B * N; ++r)
      for (std::int64_t j = 0; j < k; ++j)
        for (std::int64_t ch = 0; ch < A; ++ch) {
          const std::int64_t i = (r * k + j) * A + ch;
          bound[i] = 2 * kEps32 * (std::abs(d0[i]) + std::abs(dgv[r * A + ch]));
        }
    UCLUSTER_EXPECT_PARITY(ctx(), "neighbour_max backward dy", dy_g, dy_c, bound);
  }
};

// Post-ReLU coefficients (a, c >= 0: the LeakyReLU is the identity, spec 2.3) and signed ones
// (both LeakyReLU branches), at B = 8, N = 100, k = 10.
TEST_F(AttentionParity, SoftmaxPostReluCoefficients) { check_softmax(8, 100, 10, 0.0, 3.0); }
TEST_F(AttentionParity, SoftmaxSignedCoefficients) { check_softmax(8, 100, 10, -3.0, 3.0); }
TEST_F(AttentionParity, SoftmaxSmallOdd) { check_softmax(3, 7, 5, -1.0, 1.0); }
TEST_F(AttentionParity, SoftmaxLargeLogitsStayFinite) { check_softmax(2, 50, 10, -80.0, 80.0); }

TEST_F(AttentionParity, AggregateGap0) { check_aggregate(8, 100, 10, 16, true); }
TEST_F(AttentionParity, AggregateGap1) { check_aggregate(8, 100, 10, 128, true); }
TEST_F(AttentionParity, AggregateNoBias) { check_aggregate(3, 5, 4, 7, false); }

TEST_F(AttentionParity, NeighbourMaxGap0WithTies) { check_max(8, 100, 10, 16); }
TEST_F(AttentionParity, NeighbourMaxGap1WithTies) { check_max(8, 100, 10, 128); }

}  // namespace
}  // namespace ucluster
