// The fused edge path of a GAP block on the GPU (kernels/edge_attention.h): y is
// recomputed wherever it is needed and never stored (except by edge_layer_forward, for captures).
//
// Packed rows (engine/jet_rows.h): jet b is rows [offsets[b], offsets[b + 1]), the neighbour indices
// are absolute rows, and a row of weight w (a jet's padding row) counts w times in the batch
// statistics; the backward's de carries w in its statistics terms (edge_math::edge_train_grad).
//
// Layout of the work. Per-edge work runs in "jet kernels": one thread block per jet, blockDim a
// multiple of C, thread t owning channel c = t % C and the rows i = t / C, t / C + T / C, ... of
// its jet (T = blockDim). A thread loops over its points in increasing order and, for each, over
// the k edges in increasing j, so it keeps one channel's constants in registers and can accumulate
// per-channel sums. Sums that run over channels (score, dalpha) use one warp per edge instead.
//
// Reductions, all in a fixed order (same bits every run, no atomics):
//   * per-channel sums over edges (statistics, S1/S2, dw, dbias, ...): each thread sums its own
//     edges in double in loop order; the T / C threads of a channel are added in thread order by
//     the channel's first thread (store_jet_partials) into partial[(jet * NT + term) * C + c];
//     kernels/cuda/reduce.cuh's finish_column_sums then adds the jets of each channel: thread t of a
//     256-thread block sums jets t, t + 256, ... in order, and a fixed binary tree combines them.
//   * sums over channels (score, dalpha): lane l of the edge's warp adds channels l, l + 32, ... in
//     order in float, then a fixed shuffle tree (offsets 16, 8, 4, 2, 1).
//   * sums over neighbours (aggregate o, dprojected): one thread, j (or the incoming edge) in order.
// The backward's scatter to dprojected is the inverse-neighbour-list scheme of kernels/cuda/edge.cu:
// the jet's indices in shared memory, each point's incoming edges listed in edge order.
//
// No host synchronisation: scratch comes from the context's caching allocator; the row counts
// needed after a sync (weighted: summed on the device) are written to device memory and read there.
//
// This file: the statistics and the forwards; kernels/cuda/edge_attention_backward.cu: the
// backwards; kernels/cuda/edge_attention_layer.cuh: what both use.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/edge_attention_layer.cuh"

namespace ucluster::cuda {

namespace {

// ---- statistics ------------------------------------------------------------------------------

// Per-jet sums of e (kSquares false) or of (e - mean_d)^2 (kSquares true), in double; kWeighted:
// each edge times its row's weight (a separate instantiation, so that the unweighted one keeps its
// arithmetic, FMA contractions included, and its bits).
template <bool kSquares, bool kWeighted>
__global__ void __launch_bounds__(kMaxChannels) stats_partials_kernel(Layer L, const double* mean_d,
                                                                      double* partial) {
  extern __shared__ double jet_smem[];
  const int C = L.C, c = threadIdx.x % C, slots = blockDim.x / C;
  const JetSpan jet = jet_span(L);
  const float bias = L.bias[c];
  const double m = kSquares ? mean_d[c] : 0.0;
  double acc[1] = {0.0};
  for (int i = threadIdx.x / C; i < jet.n; i += slots) {
    const std::int64_t point = jet.first + i;
    const float p_i = L.projected[point * C + c];
    const double w = kWeighted ? double(L.weight[point]) : 1.0;
    for (int j = 0; j < L.k; ++j) {
      const double e = edge_math::edge_value(p_i, neighbour_value(L, point * L.k + j, c), bias);
      if (kSquares) {
        const double d = e - m;
        if (kWeighted)
          acc[0] += w * (d * d);
        else
          acc[0] += d * d;
      } else {
        if (kWeighted)
          acc[0] += w * e;
        else
          acc[0] += e;
      }
    }
  }
  store_jet_partials<1>(acc, jet_smem, C, partial);
}

// M = *count (the synced row count when synchronised); mean_d = sums / M.
__global__ void mean_kernel(const double* sums, const double* count, int C, double* mean_d, float* batch_mean) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= C) return;
  const double m = sums[c] / *count;
  mean_d[c] = m;
  batch_mean[c] = static_cast<float>(m);
}

__global__ void variance_kernel(const double* squares, const double* count, int C, float* batch_var) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c < C) batch_var[c] = static_cast<float>(squares[c] / *count);
}

// ---- forwards --------------------------------------------------------------------------------

__global__ void __launch_bounds__(kMaxChannels) layer_forward_kernel(Layer L, float* y) {
  const int C = L.C, c = threadIdx.x % C, slots = blockDim.x / C;
  const JetSpan jet = jet_span(L);
  const Channel ch = channel_of(L, c);
  for (int i = threadIdx.x / C; i < jet.n; i += slots) {
    const std::int64_t point = jet.first + i;
    for (int j = 0; j < L.k; ++j) y[(point * L.k + j) * C + c] = evaluate(L, ch, point, j, c).y;
  }
}

// One warp per edge: score[e] = sum_c y[e, c] w[c] (+ w_bias).
__global__ void score_forward_kernel(Layer L, const float* w, const float* w_bias, float* score, std::int64_t edges) {
  const std::int64_t warps = std::int64_t(gridDim.x) * blockDim.x / kWarp;
  for (std::int64_t e = (std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / kWarp; e < edges; e += warps) {
    const float s = warp_edge_dot(L, e, [w](int c) { return w[c]; });
    if (threadIdx.x % kWarp == 0) score[e] = w_bias ? s + w_bias[0] : s;
  }
}

// o[point, c] = sum_j alpha y (j in order) (+ out_bias), g[point, c] = max_j y.
__global__ void __launch_bounds__(kMaxChannels) aggregate_forward_kernel(Layer L, const float* alpha,
                                                                         const float* out_bias, float* o, float* g) {
  const int C = L.C, c = threadIdx.x % C, slots = blockDim.x / C;
  const JetSpan jet = jet_span(L);
  const Channel ch = channel_of(L, c);
  for (int i = threadIdx.x / C; i < jet.n; i += slots) {
    const std::int64_t point = jet.first + i;
    float s = 0.0f, m = 0.0f;
    for (int j = 0; j < L.k; ++j) {
      const float y = evaluate(L, ch, point, j, c).y;
      s += alpha[point * L.k + j] * y;
      m = (j == 0 || y > m) ? y : m;
    }
    o[point * C + c] = out_bias ? s + out_bias[c] : s;
    g[point * C + c] = m;
  }
}

}  // namespace

void edge_batch_statistics(Context& ctx, const EdgeLayerArgs<float>& args, float* batch_mean, float* batch_var,
                           const ReplicaSum& sync) {
  const char* op = "edge_batch_statistics";
  const Geometry g = geometry_of(args, op);
  // Statistics of zero rows are undefined; with sync, a replica without rows still makes its calls.
  if (g.edges == 0 && !sync) return;
  const int C = int(g.C);
  // partial [B C] (also the weighted count's partials), sums [C] + row count [1], mean_d [C], squares [C]
  const std::int64_t partials = g.weighted ? with_count_scratch(g, g.batch * g.C) : g.batch * g.C;
  Tensor scratch = ctx.empty(Shape{partials + 3 * g.C + 1}, DType::F64, device_of(ctx));
  double* partial = scratch.data<double>();
  double* sums = partial + partials;
  double* count = sums + g.C;
  double* mean_d = count + 1;
  double* squares = mean_d + g.C;
  const Layer L = layer_of(args, nullptr);
  const std::size_t red_bytes = std::size_t(g.threads) * sizeof(double);

  // The weighted and unweighted sums are separate instantiations (stats_partials_kernel).
  const auto stats = [&](auto kernel, const double* mean) {
    if (g.jets == 0) return;
    kernel<<<g.jets, unsigned(g.threads), red_bytes, stream(ctx)>>>(L, mean, partial);
    check_launch(op);
  };
  stats(g.weighted ? stats_partials_kernel<false, true> : stats_partials_kernel<false, false>, nullptr);
  finish_column_sums<1>(ctx, partial, g.jets, C, sums, op);
  if (g.weighted)
    weighted_edge_count(ctx, L, partial, count, op);
  else
    store_count(ctx, count, g.edges, op);
  if (sync) sync(sums, g.C + 1);
  mean_kernel<<<channel_grid(C), 128, 0, stream(ctx)>>>(sums, count, C, mean_d, batch_mean);
  check_launch(op);
  stats(g.weighted ? stats_partials_kernel<true, true> : stats_partials_kernel<true, false>, mean_d);
  finish_column_sums<1>(ctx, partial, g.jets, C, squares, op);
  if (sync) sync(squares, g.C);
  variance_kernel<<<channel_grid(C), 128, 0, stream(ctx)>>>(squares, count, C, batch_var);
  check_launch(op);
}

void edge_layer_forward(Context& ctx, const EdgeLayerArgs<float>& args, float* y) {
  const char* op = "edge_layer_forward";
  const Geometry g = geometry_of(args, op);
  if (g.jets == 0) return;
  const PreparedLayer layer = prepare(ctx, args, op);
  layer_forward_kernel<<<g.jets, unsigned(g.threads), 0, stream(ctx)>>>(layer.L, y);
  check_launch(op);
}

void edge_score_forward(Context& ctx, const EdgeLayerArgs<float>& args, const float* w, const float* w_bias,
                        float* score) {
  const char* op = "edge_score_forward";
  const Geometry g = geometry_of(args, op);
  if (g.edges == 0) return;
  const PreparedLayer layer = prepare(ctx, args, op);
  score_forward_kernel<<<warp_grid(g.edges), kWarpThreads, 0, stream(ctx)>>>(layer.L, w, w_bias, score, g.edges);
  check_launch(op);
}

void edge_aggregate_forward(Context& ctx, const EdgeLayerArgs<float>& args, const float* alpha,
                            const float* out_bias, float* o, float* g_out) {
  const char* op = "edge_aggregate_forward";
  const Geometry g = geometry_of(args, op);
  if (g.jets == 0) return;
  const PreparedLayer layer = prepare(ctx, args, op);
  aggregate_forward_kernel<<<g.jets, unsigned(g.threads), 0, stream(ctx)>>>(layer.L, alpha, out_bias, o, g_out);
  check_launch(op);
}

}  // namespace ucluster::cuda
