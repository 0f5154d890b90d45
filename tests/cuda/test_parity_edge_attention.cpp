// CUDA-vs-CPU parity of the fused edge path of a GAP block (kernels/edge_attention.h):
// edge_batch_statistics, edge_layer_forward, edge_score and edge_aggregate, forward and
// backward, in training mode (the CPU's batch statistics given to both sides, gradient through
// them) and inference mode (given moving statistics).
//
// Inputs. UCluster's shapes (spec 2.4): N = 100, k = 10, C = 16 (GAP0's edge layer) and 128
// (GAP1's), B = 4 or 8, plus odd and wide (C > 256) shapes, as packed rows of B jets of N real
// rows each (engine/jet_rows.h's dense layout: no padding row, every row weight 1; the weighted
// statistics of padding rows are checked by tools/cuda-emu's edge_attention check). Indices are
// absolute rows, random within each jet ([bN, bN + N)) with
// planted self-neighbours (e = bias), repeated neighbours (two edges with the same y: exact ties in
// the max) and one point that is many points' neighbour (a long incoming list in the scatter).
// The projected features and the edge bias are multiples of 2^-6, so every e = (P_i - P_j) + b is
// exact in float32, and beta puts each channel's ReLU threshold halfway between two such values:
// distinct y differ by at least gamma inv_std / 64, and no pre-ReLU value lies within rounding
// distance of 0. expect_robust_decisions() checks this, so the discontinuous decisions (ReLU mask,
// tie sets of the max) are the same for any correct implementation, and element-wise bounds apply.
//
// Tolerances (eps32 = 2^-23; u = eps32 / 2 per rounding; first order in eps32). Per edge and
// channel, xmag = (|P_i| + |P_j| + |b| + |mean|) inv_std >= |x_hat| and ymag = |gamma| xmag + |beta|
// >= |y|. Any correct float32 implementation of the edge_math operations computes x_hat within
// 2.5 eps32 xmag and y within 3.5 eps32 ymag of the exact values, so two differ by at most
// kYFactor = 8 eps32 ymag; a correct CUDA kernel uses the same operations as the CPU body and gives
// the same bits, which is what y and g are checked for (the float64 stand-in of parity_support.h is
// held to the 8 eps32 ymag bound instead). Sums (parity_support.h: (n + 1) eps32 sum|terms| for n
// float32 terms, 2 eps32 + 1e-11 for a double sum rounded once and accumulated):
//  * statistics: double sums rounded once: 2 eps32 |cpu| + 1e-11 sum|terms| / M.
//  * score = sum_c y w + w_bias: (C + 2 + 8) eps32 (sum_c |w| ymag + |w_bias|).
//  * o = sum_j alpha y + out_bias: (k + 3 + 8) eps32 (sum_j |alpha| ymag + |out_bias|) (the +3 as in
//    test_parity_attention.cpp); g is a selection: bit for bit.
//  * dw += sum_e dscore y (double): (2 + 8) eps32 (|dw0| + sum |dscore| ymag); dw_bias and
//    dout_bias: (2 eps32 + 1e-11) (|g0| + sum |terms|); dalpha += sum_c y dout (float):
//    (C + 2 + 8) eps32 (|dalpha0| + sum_c |dout| ymag).
//  * the upstream gradient dy (dscore w, or alpha dout + dg / ties) is within eps32 dymag of exact
//    in any implementation, dymag = its terms' absolute values where the ReLU passes, 0 elsewhere.
//    dbeta += sum dy_hat: (2 + 2) eps32 (|dbeta0| + sum dymag); dgamma += sum dy_hat x_hat:
//    (2 + 2 + 5 + 1) eps32 (|dgamma0| + sum dymag xmag).
//  * de = scale (dy_hat - mdy - x_hat mdx), scale = gamma inv_std, mdy = S1 / M and mdx = S2 / M
//    rounded to float (0 in inference mode): counting each operation's rounding, the roundings of
//    scale, mdy and mdx, and the x_hat and dy errors above, one implementation is within
//    6 eps32 demag of exact, demag = |gamma| inv_std (dymag + sum dymag / M + xmag sum dymag xmag / M)
//    >= |de|; two within 12 eps32 demag. dprojected (+= the k own de minus the incoming ones, n =
//    k + in-degree + 1 float32 terms with the initial value): (n + 1 + 12) eps32 (|dP0| + sum demag);
//    dbias (double sum rounded once): (2 + 12) eps32 (|dbias0| + sum_e demag) + 1e-11.
// A wrong index, a missing term, a wrong mask or a race gives errors of the order of the values,
// far beyond these bounds.
#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/cuda_runtime.h"
#include "kernels/batch_norm.h"
#include "kernels/edge_attention.h"
#include "kernels/edge_attention_math.h"
#include "tests/cuda/parity_support.h"

namespace ucluster {
namespace {

using parity::kDoubleOrderSlack;
using parity::kEps32;
using parity::scaled;

constexpr double kGrid = 1.0 / 64;  // P and the edge bias are multiples of this
constexpr double kYFactor = 8.0;    // two correct float32 computations of y: within 8 eps32 ymag
constexpr double kEps = kBatchNormEpsilon;

struct Problem {
  std::int64_t B = 0, N = 0, k = 0, C = 0;
  bool training = false;
  Tensor projected, idx, bias, gamma, beta, mean, var;  // float32 / int32 on the CPU
  JetRows rows_c, rows_g;  // the layout of B jets of N rows each (engine/jet_rows.h), CPU and GPU side
  std::int64_t points() const { return B * N; }
  std::int64_t edges() const { return B * N * k; }
};

// Per edge and channel (element e * C + c) from the CPU's inputs: the magnitudes of the header
// comment and the CPU's y; per point the in-degree.
struct EdgeView {
  Tensor y_cpu;
  std::vector<double> y, xmag, ymag, inv;
  std::vector<std::int32_t> idx;
  std::vector<double> indegree;
};

struct LayerGrads {
  Tensor dprojected, dbias, dgamma, dbeta;
};

class EdgeAttentionParity : public parity::CudaParity {
 protected:
  // Normal(0, scale) values rounded to multiples of kGrid (exact in float32 at these sizes).
  Tensor grid_values(const Shape& shape, double scale) {
    Tensor t = randn(shape, scale);
    float* p = t.data<float>();
    for (std::int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<float>(std::nearbyint(p[i] / kGrid) * kGrid);
    return t;
  }

  Problem make(std::int64_t B, std::int64_t N, std::int64_t k, std::int64_t C, bool training) {
    Problem p;
    p.B = B, p.N = N, p.k = k, p.C = C, p.training = training;
    p.rows_c = dense_jet_rows(ctx(), B, N, DType::F32, Device::cpu());
    p.rows_g = dense_jet_rows(ctx(), B, N, gpu_float(), gpu_device());
    p.projected = grid_values({B * N, C}, 1.0);
    // Absolute rows (kernels/knn.h), each within its row's jet.
    std::vector<std::int32_t> idx(static_cast<std::size_t>(B * N * k));
    for (std::int64_t e = 0; e < B * N * k; ++e)
      idx[e] = static_cast<std::int32_t>(e / (N * k) * N + ctx().rng().below(static_cast<std::uint64_t>(N)));
    for (std::int64_t b = 0; b < B; ++b)
      for (std::int64_t i = 0; i < N; ++i) {
        std::int32_t* row = idx.data() + (b * N + i) * k;
        const auto first = static_cast<std::int32_t>(b * N);
        if (i % 4 == 0) row[0] = first + static_cast<std::int32_t>(i);  // self-neighbour (kNN lists start with it)
        if (k >= 3 && i % 3 == 0) row[2] = row[1];                       // repeated neighbour: tied y
        if (i % 5 == 1) row[k - 1] = first;                              // the jet's row 0: a long incoming list
      }
    p.idx = ctx().from_vector<std::int32_t>({B * N, k}, idx, Device::cpu());
    p.bias = grid_values({C}, 0.25);
    p.gamma = rand({C}, 0.5, 1.5);
    if (training) {
      p.mean = poisoned_cpu({C});
      p.var = poisoned_cpu({C});
      edge_batch_statistics(ctx(), p.projected, p.idx, p.rows_c, p.bias, p.mean, p.var);
    } else {
      p.mean = rand({C}, -0.3, 0.3);
      p.var = rand({C}, 0.5, 3.0);
    }
    // pre = gamma inv (e - h) with the threshold h halfway between two grid values, within 16 grid
    // steps of the mean (about half the edges active, as after batch norm).
    const std::vector<double> mean = values(p.mean), var = values(p.var), gamma = values(p.gamma);
    std::vector<float> beta(static_cast<std::size_t>(C));
    for (std::int64_t c = 0; c < C; ++c) {
      const double inv = edge_math::inv_std(static_cast<float>(var[c]), kEps);
      const double steps = double(ctx().rng().below(33)) - 16.0;
      const double h = (std::floor(mean[c] / kGrid) + 0.5 + steps) * kGrid;
      beta[c] = static_cast<float>(gamma[c] * inv * (mean[c] - h));
    }
    p.beta = ctx().from_vector<float>({C}, beta, Device::cpu());
    return p;
  }

  EdgeLayer cpu_layer(const Problem& p) {
    return {p.projected, p.idx, p.bias, p.gamma, p.beta, p.mean, p.var, kEps, p.rows_c};
  }
  EdgeLayer gpu_layer(const Problem& p) {
    return {to_gpu(p.projected), to_gpu(p.idx), to_gpu(p.bias), to_gpu(p.gamma), to_gpu(p.beta),
            to_gpu(p.mean),      to_gpu(p.var), kEps,           p.rows_g};
  }

  EdgeView view(const Problem& p) {
    EdgeView v;
    const std::int64_t N = p.N, k = p.k, C = p.C;
    v.y_cpu = poisoned_cpu({p.B * N, k, C});
    edge_layer_forward(ctx(), cpu_layer(p), v.y_cpu);
    v.y = values(v.y_cpu);
    v.idx = ctx().to_vector<std::int32_t>(p.idx);
    const std::vector<double> P = values(p.projected), bias = values(p.bias), gamma = values(p.gamma),
                              beta = values(p.beta), mean = values(p.mean), var = values(p.var);
    v.inv.resize(C);
    for (std::int64_t c = 0; c < C; ++c) v.inv[c] = edge_math::inv_std(static_cast<float>(var[c]), kEps);
    v.xmag.resize(v.y.size());
    v.ymag.resize(v.y.size());
    v.indegree.assign(static_cast<std::size_t>(p.points()), 0.0);
    for (std::int64_t e = 0; e < p.edges(); ++e) {
      const std::int64_t point = e / k, nb = v.idx[e];
      v.indegree[nb] += 1;
      for (std::int64_t c = 0; c < C; ++c) {
        const double x = (std::abs(P[point * C + c]) + std::abs(P[nb * C + c]) + std::abs(bias[c]) +
                          std::abs(mean[c])) * v.inv[c];
        v.xmag[e * C + c] = x;
        v.ymag[e * C + c] = std::abs(gamma[c]) * x + std::abs(beta[c]);
      }
    }
    return v;
  }

  // The inputs leave every pre-ReLU value and every pair of distinct y of a (point, channel) far
  // (> 64 eps32 ymag) from a tie, and do contain ReLU zeros and exact ties (see make()).
  void expect_robust_decisions(const Problem& p, const EdgeView& v) {
    const std::int64_t k = p.k, C = p.C;
    const std::vector<double> P = values(p.projected), bias = values(p.bias), gamma = values(p.gamma),
                              beta = values(p.beta), mean = values(p.mean);
    std::int64_t near_kink = 0, near_tie = 0, zeros = 0, exact_ties = 0;
    for (std::int64_t e = 0; e < p.edges(); ++e) {
      const std::int64_t point = e / k, nb = v.idx[e];
      for (std::int64_t c = 0; c < C; ++c) {
        const double pre = gamma[c] * ((P[point * C + c] - P[nb * C + c] + bias[c] - mean[c]) * v.inv[c]) + beta[c];
        near_kink += std::abs(pre) <= 64 * kEps32 * v.ymag[e * C + c];
        zeros += v.y[e * C + c] == 0.0;
      }
    }
    for (std::int64_t point = 0; point < p.points(); ++point)
      for (std::int64_t c = 0; c < C; ++c)
        for (std::int64_t j = 0; j < k; ++j)
          for (std::int64_t l = j + 1; l < k; ++l) {
            const std::int64_t a = (point * k + j) * C + c, b = (point * k + l) * C + c;
            if (v.y[a] == v.y[b]) {
              exact_ties += v.y[a] > 0.0;
            } else {
              near_tie += std::abs(v.y[a] - v.y[b]) <= 64 * kEps32 * (v.ymag[a] + v.ymag[b]);
            }
          }
    EXPECT_EQ(near_kink, 0) << "pre-ReLU values within rounding distance of 0";
    EXPECT_EQ(near_tie, 0) << "distinct y within rounding distance of each other";
    EXPECT_GT(zeros, 0) << "no ReLU zeros in the test data";
    EXPECT_GT(exact_ties, 0) << "no exactly tied positive y in the test data";
  }

  // y and g are the same float32 operations on both backends: bit for bit; the float64 stand-in is
  // held to kYFactor eps32 mag instead (see the header comment).
  void expect_same_y(const std::string& what, const Tensor& gpu, const Tensor& cpu, const std::vector<double>& mag) {
    if (mode_ == parity::StandIn::Cpu64)
      UCLUSTER_EXPECT_PARITY(ctx(), what, gpu, cpu, scaled(mag, kYFactor));
    else
      UCLUSTER_EXPECT_SAME_BITS(ctx(), what, gpu, cpu);
  }

  LayerGrads initial_grads(const Problem& p) {
    return {randn({p.B * p.N, p.C}), randn({p.C}), randn({p.C}), randn({p.C})};
  }
  LayerGrads cpu_copy(const LayerGrads& g) {
    return {clone_cpu(g.dprojected), clone_cpu(g.dbias), clone_cpu(g.dgamma), clone_cpu(g.dbeta)};
  }
  LayerGrads gpu_copy(const LayerGrads& g) {
    return {to_gpu(g.dprojected), to_gpu(g.dbias), to_gpu(g.dgamma), to_gpu(g.dbeta)};
  }
  static EdgeLayerGrads as_grads(const LayerGrads& g, bool batch_statistics) {
    return {g.dprojected, g.dbias, g.dgamma, g.dbeta, batch_statistics};
  }

  // The edge layer's gradients against the bounds of the header comment; dymag per edge and channel.
  void check_layer_grads(const std::string& what, const Problem& p, const EdgeView& v,
                         const std::vector<double>& dymag, const LayerGrads& g0, const LayerGrads& cpu,
                         const LayerGrads& gpu) {
    const std::int64_t k = p.k, C = p.C;
    const double M = double(p.edges());
    const std::vector<double> gamma = values(p.gamma), dp0 = values(g0.dprojected), db0 = values(g0.dbias),
                              dgam0 = values(g0.dgamma), dbet0 = values(g0.dbeta);
    std::vector<double> s_dy(C, 0.0), s_dyx(C, 0.0);
    for (std::int64_t e = 0; e < p.edges(); ++e)
      for (std::int64_t c = 0; c < C; ++c) {
        s_dy[c] += dymag[e * C + c];
        s_dyx[c] += dymag[e * C + c] * v.xmag[e * C + c];
      }
    std::vector<double> dbeta_mag(C), dgamma_mag(C), dbias_mag(C);
    for (std::int64_t c = 0; c < C; ++c) {
      dbeta_mag[c] = std::abs(dbet0[c]) + s_dy[c];
      dgamma_mag[c] = std::abs(dgam0[c]) + s_dyx[c];
      dbias_mag[c] = std::abs(db0[c]);
    }
    std::vector<double> dp_mag(dp0.size()), dp_terms(p.points());
    for (std::size_t i = 0; i < dp0.size(); ++i) dp_mag[i] = std::abs(dp0[i]);
    for (std::int64_t point = 0; point < p.points(); ++point) dp_terms[point] = double(k) + v.indegree[point] + 1;
    for (std::int64_t e = 0; e < p.edges(); ++e) {
      const std::int64_t point = e / k, nb = v.idx[e];
      for (std::int64_t c = 0; c < C; ++c) {
        const double mdy = p.training ? s_dy[c] / M : 0.0, mdx = p.training ? s_dyx[c] / M : 0.0;
        const double demag = std::abs(gamma[c]) * v.inv[c] * (dymag[e * C + c] + mdy + v.xmag[e * C + c] * mdx);
        dp_mag[point * C + c] += demag;
        dp_mag[nb * C + c] += demag;
        dbias_mag[c] += demag;
      }
    }
    std::vector<double> dp_bound(dp_mag.size());
    for (std::int64_t point = 0; point < p.points(); ++point)
      for (std::int64_t c = 0; c < C; ++c)
        dp_bound[point * C + c] = (dp_terms[point] + 13) * kEps32 * dp_mag[point * C + c];
    UCLUSTER_EXPECT_PARITY(ctx(), what << " dprojected", gpu.dprojected, cpu.dprojected, dp_bound);
    UCLUSTER_EXPECT_PARITY(ctx(), what << " dbias", gpu.dbias, cpu.dbias, scaled(dbias_mag, 14, kDoubleOrderSlack));
    UCLUSTER_EXPECT_PARITY(ctx(), what << " dgamma", gpu.dgamma, cpu.dgamma, scaled(dgamma_mag, 10, kDoubleOrderSlack));
    UCLUSTER_EXPECT_PARITY(ctx(), what << " dbeta", gpu.dbeta, cpu.dbeta, scaled(dbeta_mag, 4, kDoubleOrderSlack));
  }

  std::string label(const char* op, const Problem& p) {
    std::ostringstream os;
    os << op << (p.training ? " training" : " inference") << " B=" << p.B << " N=" << p.N << " k=" << p.k
       << " C=" << p.C;
    return os.str();
  }

  // Softmax-like attention weights: positive, each point's k summing to 1.
  Tensor attention_weights(const Problem& p) {
    Tensor alpha = rand({p.B * p.N, p.k}, 0.01, 1.0);
    float* a = alpha.data<float>();
    for (std::int64_t r = 0; r < p.points(); ++r) {
      float s = 0.0f;
      for (std::int64_t j = 0; j < p.k; ++j) s += a[r * p.k + j];
      for (std::int64_t j = 0; j < p.k; ++j) a[r * p.k + j] /= s;
    }
    return alpha;
  }

  void check_statistics(std::int64_t B, std::int64_t N, std::int64_t k, std::int64_t C) {
    const Problem p = make(B, N, k, C, true);  // p.mean, p.var: the CPU's statistics
    Tensor mean_g = poisoned_gpu({C}), var_g = poisoned_gpu({C});
    edge_batch_statistics(ctx(), to_gpu(p.projected), to_gpu(p.idx), p.rows_g, to_gpu(p.bias), mean_g, var_g);
    const std::vector<double> P = values(p.projected), bias = values(p.bias), mean = values(p.mean),
                              var = values(p.var);
    const std::vector<std::int32_t> idx = ctx().to_vector<std::int32_t>(p.idx);
    const double M = double(p.edges());
    std::vector<double> mean_mag(C, 0.0), var_mag(C, 0.0);  // sum|e| / M, sum (|e| + |mean|)^2 / M
    for (std::int64_t e = 0; e < p.edges(); ++e) {
      const std::int64_t point = e / k, nb = idx[e];
      for (std::int64_t c = 0; c < C; ++c) {
        const double ev = std::abs(P[point * C + c] - P[nb * C + c] + bias[c]);
        mean_mag[c] += ev / M;
        var_mag[c] += (ev + std::abs(mean[c])) * (ev + std::abs(mean[c])) / M;
      }
    }
    const std::string what = label("edge_batch_statistics", p);
    UCLUSTER_EXPECT_PARITY(ctx(), what << " mean", mean_g, p.mean, parity::rounded_once(mean, mean_mag));
    UCLUSTER_EXPECT_PARITY(ctx(), what << " var", var_g, p.var, parity::rounded_once(var, var_mag));
  }

  void check_layer(std::int64_t B, std::int64_t N, std::int64_t k, std::int64_t C, bool training) {
    const Problem p = make(B, N, k, C, training);
    const EdgeView v = view(p);
    expect_robust_decisions(p, v);
    Tensor y_g = poisoned_gpu({B * N, k, C});
    edge_layer_forward(ctx(), gpu_layer(p), y_g);
    expect_same_y(label("edge_layer y", p), y_g, v.y_cpu, v.ymag);
  }

  void check_score(std::int64_t B, std::int64_t N, std::int64_t k, std::int64_t C, bool training) {
    const Problem p = make(B, N, k, C, training);
    const EdgeView v = view(p);
    expect_robust_decisions(p, v);
    const std::string what = label("edge_score", p);
    const EdgeLayer lc = cpu_layer(p), lg = gpu_layer(p);
    const Tensor w = randn({C, 1}, 1.0 / std::sqrt(double(C))), wb = randn({1});
    const Shape ss{B * N, k, 1};
    Tensor s_c = poisoned_cpu(ss), s_g = poisoned_gpu(ss);
    edge_score_forward(ctx(), lc, w, wb, s_c);
    edge_score_forward(ctx(), lg, to_gpu(w), to_gpu(wb), s_g);
    const std::vector<double> wv = values(w), wbv = values(wb);
    std::vector<double> s_bound(static_cast<std::size_t>(p.edges()));
    for (std::int64_t e = 0; e < p.edges(); ++e) {
      double m = std::abs(wbv[0]);
      for (std::int64_t c = 0; c < C; ++c) m += std::abs(wv[c]) * v.ymag[e * C + c];
      s_bound[e] = double(C + 2 + kYFactor) * kEps32 * m;
    }
    UCLUSTER_EXPECT_PARITY(ctx(), what << " forward", s_g, s_c, s_bound);

    const Tensor dscore = randn(ss), dw0 = randn({C, 1}), dwb0 = randn({1});
    const LayerGrads g0 = initial_grads(p), gc = cpu_copy(g0), gg = gpu_copy(g0);
    Tensor dw_c = clone_cpu(dw0), dwb_c = clone_cpu(dwb0), dw_g = to_gpu(dw0), dwb_g = to_gpu(dwb0);
    edge_score_backward(ctx(), lc, as_grads(gc, training), w, dscore, dw_c, dwb_c);
    edge_score_backward(ctx(), lg, as_grads(gg, training), to_gpu(w), to_gpu(dscore), dw_g, dwb_g);
    const std::vector<double> ds = values(dscore), dw0v = values(dw0), dwb0v = values(dwb0);
    std::vector<double> dymag(v.y.size()), dw_mag(C), dwb_mag{std::abs(dwb0v[0])};
    for (std::int64_t c = 0; c < C; ++c) dw_mag[c] = std::abs(dw0v[c]);
    for (std::int64_t e = 0; e < p.edges(); ++e) {
      dwb_mag[0] += std::abs(ds[e]);
      for (std::int64_t c = 0; c < C; ++c) {
        dymag[e * C + c] = v.y[e * C + c] > 0.0 ? std::abs(ds[e] * wv[c]) : 0.0;
        dw_mag[c] += std::abs(ds[e]) * v.ymag[e * C + c];
      }
    }
    UCLUSTER_EXPECT_PARITY(ctx(), what << " dw", dw_g, dw_c, scaled(dw_mag, 2 + kYFactor, kDoubleOrderSlack));
    UCLUSTER_EXPECT_PARITY(ctx(), what << " dw_bias", dwb_g, dwb_c, parity::accumulated(dwb_mag));
    check_layer_grads(what, p, v, dymag, g0, gc, gg);
  }

  void check_aggregate(std::int64_t B, std::int64_t N, std::int64_t k, std::int64_t C, bool training, bool with_dout,
                       bool with_dg, bool with_bias) {
    const Problem p = make(B, N, k, C, training);
    const EdgeView v = view(p);
    expect_robust_decisions(p, v);
    const std::string what = label("edge_aggregate", p);
    const EdgeLayer lc = cpu_layer(p), lg = gpu_layer(p);
    const Tensor alpha = attention_weights(p), out_bias = with_bias ? randn({C}) : Tensor();
    const Shape ps{B * N, C};
    Tensor o_c = poisoned_cpu(ps), g_c = poisoned_cpu(ps), o_g = poisoned_gpu(ps), g_g = poisoned_gpu(ps);
    edge_aggregate_forward(ctx(), lc, alpha, out_bias, o_c, g_c);
    edge_aggregate_forward(ctx(), lg, to_gpu(alpha), with_bias ? to_gpu(out_bias) : Tensor(), o_g, g_g);
    const std::vector<double> av = values(alpha), gv = values(g_c);
    const std::vector<double> obv = with_bias ? values(out_bias) : std::vector<double>(C, 0.0);
    std::vector<double> o_bound(gv.size()), g_mag(gv.size(), 0.0);
    for (std::int64_t point = 0; point < p.points(); ++point)
      for (std::int64_t c = 0; c < C; ++c) {
        double m = std::abs(obv[c]);
        for (std::int64_t j = 0; j < k; ++j) {
          const std::int64_t e = point * k + j;
          m += std::abs(av[e]) * v.ymag[e * C + c];
          g_mag[point * C + c] = std::max(g_mag[point * C + c], v.ymag[e * C + c]);
        }
        o_bound[point * C + c] = double(k + 3 + kYFactor) * kEps32 * m;
      }
    UCLUSTER_EXPECT_PARITY(ctx(), what << " o", o_g, o_c, o_bound);
    expect_same_y(what + " g", g_g, g_c, g_mag);

    // Backward: each side gets its own forward's g (the contract); the bits are the same (above).
    const Tensor dout = with_dout ? randn(ps) : Tensor(), dg = with_dg ? randn(ps) : Tensor();
    const Tensor dal0 = randn({B * N, k}), dob0 = randn({C});
    const LayerGrads g0 = initial_grads(p), gc = cpu_copy(g0), gg = gpu_copy(g0);
    Tensor dal_c = clone_cpu(dal0), dob_c = clone_cpu(dob0), dal_g = to_gpu(dal0), dob_g = to_gpu(dob0);
    edge_aggregate_backward(ctx(), lc, as_grads(gc, training), alpha, g_c, dout, dg, dal_c, dob_c);
    edge_aggregate_backward(ctx(), lg, as_grads(gg, training), to_gpu(alpha), g_g,
                            with_dout ? to_gpu(dout) : Tensor(), with_dg ? to_gpu(dg) : Tensor(), dal_g, dob_g);
    const std::vector<double> dov = with_dout ? values(dout) : std::vector<double>(gv.size(), 0.0);
    const std::vector<double> dgv = with_dg ? values(dg) : std::vector<double>(gv.size(), 0.0);
    const std::vector<double> dal0v = values(dal0), dob0v = values(dob0);
    std::vector<double> dymag(v.y.size()), dal_bound(static_cast<std::size_t>(p.edges())), dob_mag(C);
    for (std::int64_t c = 0; c < C; ++c) dob_mag[c] = std::abs(dob0v[c]);
    for (std::int64_t point = 0; point < p.points(); ++point)
      for (std::int64_t c = 0; c < C; ++c) {
        const std::int64_t pc = point * C + c;
        dob_mag[c] += std::abs(dov[pc]);
        double ties = 0;
        for (std::int64_t j = 0; j < k; ++j) ties += v.y[(point * k + j) * C + c] == gv[pc];
        for (std::int64_t j = 0; j < k; ++j) {
          const std::int64_t e = point * k + j, ec = e * C + c;
          const double share = v.y[ec] == gv[pc] ? std::abs(dgv[pc]) / ties : 0.0;
          dymag[ec] = v.y[ec] > 0.0 ? std::abs(av[e] * dov[pc]) + share : 0.0;
        }
      }
    for (std::int64_t e = 0; e < p.edges(); ++e) {
      double m = std::abs(dal0v[e]);
      for (std::int64_t c = 0; c < C; ++c) m += std::abs(dov[(e / k) * C + c]) * v.ymag[e * C + c];
      dal_bound[e] = double(C + 2 + kYFactor) * kEps32 * m;
    }
    if (with_dout) {
      UCLUSTER_EXPECT_PARITY(ctx(), what << " dalpha", dal_g, dal_c, dal_bound);
      UCLUSTER_EXPECT_PARITY(ctx(), what << " dout_bias", dob_g, dob_c, parity::accumulated(dob_mag));
    } else {  // without dout, dalpha and dout_bias are left alone
      UCLUSTER_EXPECT_SAME_BITS(ctx(), what << " dalpha untouched", dal_g, dal0);
      UCLUSTER_EXPECT_SAME_BITS(ctx(), what << " dout_bias untouched", dob_g, dob0);
    }
    check_layer_grads(what, p, v, dymag, g0, gc, gg);
  }

  // A sync over two identical replicas doubles every sum and the row count: every quotient, so
  // every output, keeps its bits (doubling is exact); the local dgamma and dbeta are not synced.
  // Records the sizes of the calls. On the GPU the sums are device memory: copied to the host and
  // back (the test may synchronise; the kernels may not).
  ReplicaSum doubling_sync(std::vector<std::int64_t>& calls) {
    Context* c = &ctx();
    const bool device = mode_ == parity::StandIn::None;
    return [c, device, &calls](double* values, std::int64_t n) {
      calls.push_back(n);
      std::vector<double> h(static_cast<std::size_t>(n));
      const std::size_t bytes = h.size() * sizeof(double);
      if (device) cuda_runtime::copy(h.data(), values, bytes, false, true, c->cuda());
      else std::copy(values, values + n, h.begin());
      for (double& x : h) x *= 2;
      if (device) {
        cuda_runtime::copy(values, h.data(), bytes, true, false, c->cuda());
        c->synchronize();  // h must outlive the copy
      } else {
        std::copy(h.begin(), h.end(), values);
      }
    };
  }
};

TEST_F(EdgeAttentionParity, StatisticsGap0) { check_statistics(8, 100, 10, 16); }
TEST_F(EdgeAttentionParity, StatisticsGap1) { check_statistics(8, 100, 10, 128); }
TEST_F(EdgeAttentionParity, StatisticsOddShape) { check_statistics(3, 37, 5, 3); }

TEST_F(EdgeAttentionParity, LayerForwardTrainingGap1) { check_layer(4, 100, 10, 128, true); }
TEST_F(EdgeAttentionParity, LayerForwardInferenceGap0) { check_layer(8, 100, 10, 16, false); }
// C > 256: one thread per channel and jet block (blockDim = C).
TEST_F(EdgeAttentionParity, LayerForwardWideChannels) { check_layer(2, 30, 4, 300, true); }

TEST_F(EdgeAttentionParity, ScoreTrainingGap0B4) { check_score(4, 100, 10, 16, true); }
TEST_F(EdgeAttentionParity, ScoreTrainingGap1) { check_score(8, 100, 10, 128, true); }
TEST_F(EdgeAttentionParity, ScoreInferenceGap1) { check_score(4, 100, 10, 128, false); }
TEST_F(EdgeAttentionParity, ScoreTrainingWideChannels) { check_score(2, 30, 4, 300, true); }
TEST_F(EdgeAttentionParity, ScoreInferenceOddShape) { check_score(3, 37, 5, 3, false); }

TEST_F(EdgeAttentionParity, AggregateTrainingGap0B4) { check_aggregate(4, 100, 10, 16, true, true, true, true); }
TEST_F(EdgeAttentionParity, AggregateTrainingGap1) { check_aggregate(8, 100, 10, 128, true, true, true, true); }
TEST_F(EdgeAttentionParity, AggregateInferenceGap0) { check_aggregate(8, 100, 10, 16, false, true, true, true); }
TEST_F(EdgeAttentionParity, AggregateMaxGradientOnly) { check_aggregate(3, 37, 5, 3, true, false, true, false); }
TEST_F(EdgeAttentionParity, AggregateWeightedSumGradientOnly) {
  check_aggregate(4, 100, 10, 128, false, true, false, false);
}

TEST_F(EdgeAttentionParity, SyncOfTwoIdenticalReplicasChangesNothing) {
  const std::int64_t B = 4, N = 100, k = 10, C = 16;
  const Problem p = make(B, N, k, C, true);
  const EdgeLayer lg = gpu_layer(p);
  std::vector<std::int64_t> calls;
  const ReplicaSum twice = doubling_sync(calls);

  Tensor mean[2] = {poisoned_gpu({C}), poisoned_gpu({C})}, var[2] = {poisoned_gpu({C}), poisoned_gpu({C})};
  for (int synced = 0; synced < 2; ++synced)
    edge_batch_statistics(ctx(), lg.projected, lg.idx, lg.rows, lg.bias, mean[synced], var[synced],
                          synced ? twice : ReplicaSum());
  EXPECT_EQ(calls, (std::vector<std::int64_t>{C + 1, C}));
  UCLUSTER_EXPECT_SAME_BITS(ctx(), "synced batch mean", mean[1], mean[0]);
  UCLUSTER_EXPECT_SAME_BITS(ctx(), "synced batch var", var[1], var[0]);

  const Tensor w = to_gpu(randn({C})), dscore = to_gpu(randn({B * N, k, 1}));
  const Tensor alpha = to_gpu(attention_weights(p)), dout = to_gpu(randn({B * N, C})), dg = to_gpu(randn({B * N, C}));
  Tensor o = poisoned_gpu({B * N, C}), g = poisoned_gpu({B * N, C});
  edge_aggregate_forward(ctx(), lg, alpha, Tensor(), o, g);
  for (bool training : {true, false}) {
    calls.clear();
    LayerGrads grads[2];
    Tensor dw[2], dwb[2], dalpha[2], dob[2];
    for (int synced = 0; synced < 2; ++synced) {
      grads[synced] = {zeros_gpu({B * N, C}), zeros_gpu({C}), zeros_gpu({C}), zeros_gpu({C})};
      dw[synced] = zeros_gpu({C});
      dwb[synced] = zeros_gpu({1});
      dalpha[synced] = zeros_gpu({B * N, k});
      dob[synced] = zeros_gpu({C});
      const ReplicaSum& sync = synced ? twice : ReplicaSum();
      edge_score_backward(ctx(), lg, as_grads(grads[synced], training), w, dscore, dw[synced], dwb[synced], sync);
      edge_aggregate_backward(ctx(), lg, as_grads(grads[synced], training), alpha, g, dout, dg, dalpha[synced],
                              dob[synced], sync);
    }
    // Training: one call per backward on [S1, S2, rows]; inference: none.
    const std::vector<std::int64_t> expected =
        training ? std::vector<std::int64_t>{2 * C + 1, 2 * C + 1} : std::vector<std::int64_t>();
    EXPECT_EQ(calls, expected);
    const char* mode = training ? "training" : "inference";
    UCLUSTER_EXPECT_SAME_BITS(ctx(), "synced dprojected, " << mode, grads[1].dprojected, grads[0].dprojected);
    UCLUSTER_EXPECT_SAME_BITS(ctx(), "synced dbias, " << mode, grads[1].dbias, grads[0].dbias);
    UCLUSTER_EXPECT_SAME_BITS(ctx(), "synced dgamma, " << mode, grads[1].dgamma, grads[0].dgamma);
    UCLUSTER_EXPECT_SAME_BITS(ctx(), "synced dbeta, " << mode, grads[1].dbeta, grads[0].dbeta);
    UCLUSTER_EXPECT_SAME_BITS(ctx(), "synced dw, " << mode, dw[1], dw[0]);
    UCLUSTER_EXPECT_SAME_BITS(ctx(), "synced dw_bias, " << mode, dwb[1], dwb[0]);
    UCLUSTER_EXPECT_SAME_BITS(ctx(), "synced dalpha, " << mode, dalpha[1], dalpha[0]);
    UCLUSTER_EXPECT_SAME_BITS(ctx(), "synced dout_bias, " << mode, dob[1], dob[0]);
  }
}

}  // namespace
}  // namespace ucluster
