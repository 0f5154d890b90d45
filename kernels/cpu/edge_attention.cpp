#include "kernels/cpu/edge_attention.h"

#include <algorithm>
#include <vector>

#include "engine/error.h"
#include "kernels/batch_norm_math.h"
#include "kernels/relu_branchless.h"

namespace ucluster::cpu {

namespace {

using Doubles = std::vector<double>;
using edge_math::edge_pre_relu;
using edge_math::edge_value;
using edge_math::edge_x_hat;

// out[0..width) = sum over jets b of the partial sums that jet_sums(b, p) adds into p[0..width),
// each jet's in double and the jets in order: the same bits whatever the thread count.
template <typename F>
void sum_over_jets(std::int64_t batch, std::int64_t width, F&& jet_sums, double* out) {
  Doubles partial(static_cast<std::size_t>(batch * width), 0.0);
#pragma omp parallel for schedule(static) if(batch > 1)
  for (std::int64_t b = 0; b < batch; ++b) jet_sums(b, partial.data() + b * width);
  std::fill(out, out + width, 0.0);
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::int64_t c = 0; c < width; ++c) out[c] += partial[b * width + c];
}

// Walks the edges of jet b: visit(e, row_i, p_i, p_j) with e the edge number, row_i the point's
// row and p_i, p_j the projected features of the point and of its neighbour.
template <typename T, typename F>
void for_each_edge(const EdgeLayerArgs<T>& a, std::int64_t b, F&& visit) {
  const std::int64_t C = a.channels;
  for (std::int64_t row = a.offsets[b]; row < a.offsets[b + 1]; ++row) {
    const T* p_i = a.projected + row * C;
    for (std::int64_t j = 0; j < a.k; ++j) {
      const std::int64_t e = row * a.k + j;
      visit(e, row, p_i, a.projected + std::int64_t(a.idx[e]) * C);
    }
  }
}

// How many reference points row r stands for (engine/jet_rows.h): its edges count that often.
template <typename T>
T weight_of(const EdgeLayerArgs<T>& a, std::int64_t row) {
  return a.weight ? a.weight[row] : T(1);
}

// The edges the statistics run over: each of a row's k edges counts its weight.
template <typename T>
double weighted_edges(const EdgeLayerArgs<T>& a) {
  return RowWeights<T>{a.weight, a.k}.total(a.rows * a.k);
}

template <typename T>
std::vector<T> inverse_std(const EdgeLayerArgs<T>& a) {
  std::vector<T> inv(static_cast<std::size_t>(a.channels));
  for (std::int64_t c = 0; c < a.channels; ++c) inv[c] = edge_math::inv_std(a.var[c], a.eps);
  return inv;
}

// y of one edge, all channels, into y_e.
template <typename T>
void edge_y(const EdgeLayerArgs<T>& a, const T* inv, const T* p_i, const T* p_j, T* y_e) {
  for (std::int64_t c = 0; c < a.channels; ++c)
    y_e[c] = edge_math::relu(
        edge_pre_relu(edge_x_hat(p_i[c], p_j[c], a.bias[c], a.mean[c], inv[c]), a.gamma[c], a.beta[c]));
}

template <typename T>
struct RecomputedEdge {
  T x_hat, y, dy_hat;
};

// The batch-norm and edge-difference part of both backward passes, for an upstream gradient
// dy(e, row_i, c, y) formed on the fly. extra(e, row_i, y_e, partial) may add per-edge sums of its
// own into partial[0..extra_width) (after S1 and S2 in the per-jet buffer) and write per-edge
// outputs; their totals come back in extra_sums. See kernels/edge_attention.h for the math.
template <typename T, typename DY, typename Extra>
void edge_layer_backward(const EdgeLayerArgs<T>& a, const EdgeLayerGradArgs<T>& grads, DY&& dy, Extra&& extra,
                         std::int64_t extra_width, double* extra_sums, const ReplicaSum& sync) {
  const std::int64_t C = a.channels;
  const std::vector<T> inv = inverse_std(a);
  // x_hat, y and dy_hat (dy through the ReLU) of edge e in channel c: the same bits in both passes.
  auto recompute = [&](std::int64_t e, std::int64_t row, std::int64_t c, const T* p_i, const T* p_j) {
    const T x_hat = edge_x_hat(p_i[c], p_j[c], a.bias[c], a.mean[c], inv[c]);
    const T pre = edge_pre_relu(x_hat, a.gamma[c], a.beta[c]);
    const T y = edge_math::relu(pre);
    return RecomputedEdge<T>{x_hat, y, grad_where_positive(pre, dy(e, row, c, y))};
  };
  // sums = [S1 (C), S2 (C), extra (extra_width)]; the sync buffer is [S1, S2, rows].
  Doubles sums(static_cast<std::size_t>(2 * C + extra_width));
  sum_over_jets(
      a.jets, 2 * C + extra_width,
      [&](std::int64_t b, double* p) {
        std::vector<T> y_e(static_cast<std::size_t>(C));
        for_each_edge(a, b, [&](std::int64_t e, std::int64_t row, const T* p_i, const T* p_j) {
          for (std::int64_t c = 0; c < C; ++c) {
            const RecomputedEdge<T> r = recompute(e, row, c, p_i, p_j);
            y_e[c] = r.y;
            p[c] += double(r.dy_hat);
            p[C + c] += double(r.dy_hat) * double(r.x_hat);
          }
          extra(e, row, y_e.data(), p + 2 * C);
        });
      },
      sums.data());
  if (extra_width > 0) std::copy(sums.begin() + 2 * C, sums.end(), extra_sums);
  // Local: the data-parallel gradient all-reduce averages the parameter gradients later.
  for (std::int64_t c = 0; c < C; ++c) {
    if (grads.dbeta) grads.dbeta[c] += static_cast<T>(sums[c]);
    if (grads.dgamma) grads.dgamma[c] += static_cast<T>(sums[C + c]);
  }
  Doubles global(sums.begin(), sums.begin() + 2 * C);
  global.push_back(weighted_edges(a));
  if (grads.batch_statistics && sync) {
    sync(global.data(), 2 * C + 1);
    UCLUSTER_CHECK(global[2 * C] > 0, "edge_attention backward: no edges on any replica");
  }
  if (!grads.dprojected && !grads.dbias) return;
  // de = scale (dy_hat - w mean_dy - w x_hat mean_dy_x_hat) with the batch statistics (w the row's
  // weight, kernels/edge_attention.h), scale dy_hat without.
  std::vector<T> scale(static_cast<std::size_t>(C)), mean_dy(scale.size(), T(0)), mean_dyx(scale.size(), T(0));
  for (std::int64_t c = 0; c < C; ++c) {
    scale[c] = a.gamma[c] * inv[c];
    if (grads.batch_statistics) {
      mean_dy[c] = static_cast<T>(global[c] / global[2 * C]);
      mean_dyx[c] = static_cast<T>(global[C + c] / global[2 * C]);
    }
  }
  Doubles dbias(static_cast<std::size_t>(C));
  sum_over_jets(
      a.jets, C,
      [&](std::int64_t b, double* p) {
        std::vector<T> de(static_cast<std::size_t>(C));
        for_each_edge(a, b, [&](std::int64_t e, std::int64_t row, const T* p_i, const T* p_j) {
          const T w = grads.batch_statistics ? weight_of(a, row) : T(1);
          for (std::int64_t c = 0; c < C; ++c) {
            const RecomputedEdge<T> r = recompute(e, row, c, p_i, p_j);
            de[c] = edge_math::edge_train_grad(scale[c], r.dy_hat, w, mean_dy[c], r.x_hat, mean_dyx[c]);
            p[c] += double(de[c]);
          }
          // e_ij = P_i - P_j + b: the point gets +de, its neighbour -de (both rows are this jet's).
          if (grads.dprojected) {
            T* d_i = grads.dprojected + row * C;
            T* d_j = grads.dprojected + std::int64_t(a.idx[e]) * C;
            for (std::int64_t c = 0; c < C; ++c) {
              d_i[c] += de[c];
              d_j[c] -= de[c];
            }
          }
        });
      },
      dbias.data());
  if (grads.dbias)
    for (std::int64_t c = 0; c < C; ++c) grads.dbias[c] += static_cast<T>(dbias[c]);
}

}  // namespace

template <typename T>
void edge_batch_statistics(const EdgeLayerArgs<T>& a, T* batch_mean, T* batch_var, const ReplicaSum& sync) {
  const std::int64_t C = a.channels;
  Doubles mean(static_cast<std::size_t>(C + 1)), var(static_cast<std::size_t>(C));
  sum_over_jets(
      a.jets, C,
      [&](std::int64_t b, double* p) {
        for_each_edge(a, b, [&](std::int64_t, std::int64_t row, const T* p_i, const T* p_j) {
          const double w = double(weight_of(a, row));
          for (std::int64_t c = 0; c < C; ++c) p[c] += w * double(edge_value(p_i[c], p_j[c], a.bias[c]));
        });
      },
      mean.data());
  mean[C] = weighted_edges(a);
  if (sync) sync(mean.data(), C + 1);
  UCLUSTER_CHECK(mean[C] > 0, "edge_batch_statistics: no edges", sync ? " on any replica" : "",
                 " to take batch statistics over");
  const double m = mean[C];
  for (std::int64_t c = 0; c < C; ++c) mean[c] /= m;
  // Two-pass biased variance around the (global) mean, spec 2.1.
  sum_over_jets(
      a.jets, C,
      [&](std::int64_t b, double* p) {
        for_each_edge(a, b, [&](std::int64_t, std::int64_t row, const T* p_i, const T* p_j) {
          const double w = double(weight_of(a, row));
          for (std::int64_t c = 0; c < C; ++c) {
            const double d = double(edge_value(p_i[c], p_j[c], a.bias[c])) - mean[c];
            p[c] += w * (d * d);
          }
        });
      },
      var.data());
  if (sync) sync(var.data(), C);
  for (std::int64_t c = 0; c < C; ++c) {
    batch_mean[c] = static_cast<T>(mean[c]);
    batch_var[c] = static_cast<T>(var[c] / m);
  }
}

template <typename T>
void edge_layer_forward(const EdgeLayerArgs<T>& a, T* y) {
  const std::vector<T> inv = inverse_std(a);
#pragma omp parallel for schedule(static) if(a.jets > 1)
  for (std::int64_t b = 0; b < a.jets; ++b)
    for_each_edge(a, b, [&](std::int64_t e, std::int64_t, const T* p_i, const T* p_j) {
      edge_y(a, inv.data(), p_i, p_j, y + e * a.channels);
    });
}

template <typename T>
void edge_score_forward(const EdgeLayerArgs<T>& a, const T* w, const T* w_bias, T* score) {
  const std::vector<T> inv = inverse_std(a);
#pragma omp parallel for schedule(static) if(a.jets > 1)
  for (std::int64_t b = 0; b < a.jets; ++b) {
    std::vector<T> y_e(static_cast<std::size_t>(a.channels));
    for_each_edge(a, b, [&](std::int64_t e, std::int64_t, const T* p_i, const T* p_j) {
      edge_y(a, inv.data(), p_i, p_j, y_e.data());
      T s = T(0);
      for (std::int64_t c = 0; c < a.channels; ++c) s += y_e[c] * w[c];
      score[e] = w_bias ? s + w_bias[0] : s;
    });
  }
}

template <typename T>
void edge_score_backward(const EdgeLayerArgs<T>& a, const EdgeLayerGradArgs<T>& grads, const T* w, const T* dscore,
                         T* dw, T* dw_bias, const ReplicaSum& sync) {
  const std::int64_t C = a.channels;
  // Extra sums: dw (C), then dw_bias.
  Doubles extra(static_cast<std::size_t>(C + 1));
  edge_layer_backward(
      a, grads, [&](std::int64_t e, std::int64_t, std::int64_t c, T) { return dscore[e] * w[c]; },
      [&](std::int64_t e, std::int64_t, const T* y_e, double* p) {
        const double ds = double(dscore[e]);
        for (std::int64_t c = 0; c < C; ++c) p[c] += ds * double(y_e[c]);
        p[C] += ds;
      },
      C + 1, extra.data(), sync);
  for (std::int64_t c = 0; c < C; ++c)
    if (dw) dw[c] += static_cast<T>(extra[c]);
  if (dw_bias) dw_bias[0] += static_cast<T>(extra[C]);
}

template <typename T>
void edge_aggregate_forward(const EdgeLayerArgs<T>& a, const T* alpha, const T* out_bias, T* o, T* g) {
  const std::int64_t C = a.channels;
  const std::vector<T> inv = inverse_std(a);
#pragma omp parallel for schedule(static) if(a.jets > 1)
  for (std::int64_t b = 0; b < a.jets; ++b) {
    std::vector<T> y_e(static_cast<std::size_t>(C));
    for_each_edge(a, b, [&](std::int64_t e, std::int64_t row, const T* p_i, const T* p_j) {
      edge_y(a, inv.data(), p_i, p_j, y_e.data());
      T* o_i = o + row * C;
      T* g_i = g + row * C;
      const bool first = e % a.k == 0;
      for (std::int64_t c = 0; c < C; ++c) {
        o_i[c] = (first ? T(0) : o_i[c]) + alpha[e] * y_e[c];
        g_i[c] = first ? y_e[c] : std::max(g_i[c], y_e[c]);
      }
      if (out_bias && e % a.k == a.k - 1)
        for (std::int64_t c = 0; c < C; ++c) o_i[c] += out_bias[c];
    });
  }
}

template <typename T>
void edge_aggregate_backward(const EdgeLayerArgs<T>& a, const EdgeLayerGradArgs<T>& grads, const T* alpha,
                             const T* g, const T* dout, const T* dg, T* dalpha, T* dout_bias,
                             const ReplicaSum& sync) {
  const std::int64_t C = a.channels;
  // The max's gradient is split equally among exactly tied maxima (spec 8 #16): share = dg / ties
  // per point and channel, counting the recomputed y that equal the forward's g.
  std::vector<T> share;
  if (dg) {
    const std::vector<T> inv = inverse_std(a);
    share.assign(static_cast<std::size_t>(a.rows * C), T(0));
    std::vector<std::int32_t> ties(share.size(), 0);
#pragma omp parallel for schedule(static) if(a.jets > 1)
    for (std::int64_t b = 0; b < a.jets; ++b) {
      std::vector<T> y_e(static_cast<std::size_t>(C));
      for_each_edge(a, b, [&](std::int64_t e, std::int64_t row, const T* p_i, const T* p_j) {
        edge_y(a, inv.data(), p_i, p_j, y_e.data());
        for (std::int64_t c = 0; c < C; ++c) ties[row * C + c] += y_e[c] == g[row * C + c];
        if (e % a.k == a.k - 1)
          for (std::int64_t c = 0; c < C; ++c)
            if (ties[row * C + c] > 0) share[row * C + c] = dg[row * C + c] / T(ties[row * C + c]);
      });
    }
  }
  edge_layer_backward(
      a, grads,
      [&](std::int64_t e, std::int64_t row, std::int64_t c, T y) {
        T d = dout ? alpha[e] * dout[row * C + c] : T(0);
        if (dg && y == g[row * C + c]) d += share[row * C + c];
        return d;
      },
      [&](std::int64_t e, std::int64_t row, const T* y_e, double*) {
        if (!dalpha || !dout) return;
        T s = T(0);
        for (std::int64_t c = 0; c < C; ++c) s += y_e[c] * dout[row * C + c];
        dalpha[e] += s;
      },
      0, nullptr, sync);
  if (dout_bias && dout) {
    Doubles sums(static_cast<std::size_t>(C));
    sum_over_jets(
        a.jets, C,
        [&](std::int64_t b, double* p) {
          for (std::int64_t row = a.offsets[b]; row < a.offsets[b + 1]; ++row)
            for (std::int64_t c = 0; c < C; ++c) p[c] += double(dout[row * C + c]);
        },
        sums.data());
    for (std::int64_t c = 0; c < C; ++c) dout_bias[c] += static_cast<T>(sums[c]);
  }
}

#define UCLUSTER_INSTANTIATE(T)                                                                                   \
  template void edge_batch_statistics<T>(const EdgeLayerArgs<T>&, T*, T*, const ReplicaSum&);                    \
  template void edge_layer_forward<T>(const EdgeLayerArgs<T>&, T*);                                               \
  template void edge_score_forward<T>(const EdgeLayerArgs<T>&, const T*, const T*, T*);                          \
  template void edge_score_backward<T>(const EdgeLayerArgs<T>&, const EdgeLayerGradArgs<T>&, const T*, const T*, \
                                       T*, T*, const ReplicaSum&);                                                \
  template void edge_aggregate_forward<T>(const EdgeLayerArgs<T>&, const T*, const T*, T*, T*);                  \
  template void edge_aggregate_backward<T>(const EdgeLayerArgs<T>&, const EdgeLayerGradArgs<T>&, const T*,       \
                                           const T*, const T*, const T*, T*, T*, const ReplicaSum&);
UCLUSTER_INSTANTIATE(float)
UCLUSTER_INSTANTIATE(double)
#undef UCLUSTER_INSTANTIATE

}  // namespace ucluster::cpu
