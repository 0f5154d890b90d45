// The backwards of the fused edge path on the GPU (kernels/edge_attention.h): the consumers'
// per-jet sums, the coefficients of de and the scatter to dprojected through per-jet inverse
// neighbour lists. The layout of the work and the reduction order are those of
// kernels/cuda/edge_attention.cu, whose kernels' building blocks are in edge_attention_layer.cuh.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/edge_attention_layer.cuh"
#include "kernels/cuda/neighbour_lists.cuh"

namespace ucluster::cuda {

namespace {

// ---- backwards -------------------------------------------------------------------------------

// The consumers' upstream gradient dy of y[e, c] (before the ReLU mask).
struct ScoreUpstream {
  const float* dscore;
  const float* w;
  __device__ float operator()(std::int64_t e, std::int64_t point, int c, int C, float y) const {
    return edge_math::mul(dscore[e], w[c]);
  }
};

// alpha dout (if dout) + dg / ties where y is one of the tied maxima (if dg; dg_share = dg / ties).
struct AggregateUpstream {
  const float* alpha;
  const float* dout;
  const float* g;
  const float* dg_share;
  __device__ float operator()(std::int64_t e, std::int64_t point, int c, int C, float y) const {
    const std::int64_t pc = point * C + c;
    float d = dout ? edge_math::mul(alpha[e], dout[pc]) : 0.0f;
    if (dg_share && y == g[pc]) d = edge_math::add(d, dg_share[pc]);
    return d;
  }
};

// Per-channel coefficients of de: scale = gamma inv_std; in training mode also mdy = S1 / M and
// mdx = S2 / M (M the synced, weighted edge count), rounded to float.
struct Coefficients {
  float scale, mdy, mdx;
};

// The gradient of e for one edge and channel: de = scale (dyh - w mdy - w x_hat mdx) in training
// mode (w the row's weight, edge_math::edge_train_grad), scale dyh in inference mode; dyh = dy
// where pre > 0 (TF's ReLU gradient at 0 is 0).
template <typename Up>
__device__ float edge_grad(const Layer& L, const Channel& ch, const Up& up, const Coefficients& cf, bool training,
                           std::int64_t point, int j, int c) {
  const EdgeEval v = evaluate(L, ch, point, j, c);
  const float dy = up(point * L.k + j, point, c, L.C, v.y);
  const float dyh = v.pre > 0.0f ? dy : 0.0f;
  return training ? edge_math::edge_train_grad(cf.scale, dyh, weight_of(L, point), cf.mdy, v.xh, cf.mdx)
                  : edge_math::mul(cf.scale, dyh);
}

// The number of per-jet sums of each backward (the sums kernels below, finish_backward's NT).
constexpr int kScoreTerms = 4;
constexpr int kAggregateTerms = 3;

// Per-jet sums of the score's backward, terms [S1 = sum dyh, S2 = sum dyh x_hat, sum dscore y,
// sum dscore (channel 0's threads only)].
__global__ void __launch_bounds__(kMaxChannels) score_backward_sums_kernel(Layer L, ScoreUpstream up,
                                                                           double* partial) {
  extern __shared__ double jet_smem[];
  const int C = L.C, c = threadIdx.x % C, slots = blockDim.x / C;
  const JetSpan jet = jet_span(L);
  const Channel ch = channel_of(L, c);
  double acc[kScoreTerms] = {};
  for (int i = threadIdx.x / C; i < jet.n; i += slots) {
    const std::int64_t point = jet.first + i;
    for (int j = 0; j < L.k; ++j) {
      const std::int64_t e = point * L.k + j;
      const EdgeEval v = evaluate(L, ch, point, j, c);
      const float dy = up(e, point, c, C, v.y);
      const float dyh = v.pre > 0.0f ? dy : 0.0f;
      acc[0] += dyh;
      acc[1] += double(dyh) * double(v.xh);
      acc[2] += double(up.dscore[e]) * double(v.y);
      if (c == 0) acc[3] += up.dscore[e];
    }
  }
  store_jet_partials<kScoreTerms>(acc, jet_smem, C, partial);
}

// Per-jet sums of the aggregate's backward, terms [S1, S2, sum over points of dout]. With dg, each
// thread first counts the tied maxima of its (point, channel) and writes dg_share = dg / ties,
// which it reads back in its own dy (no other thread touches that element in this kernel).
__global__ void __launch_bounds__(kMaxChannels) aggregate_backward_sums_kernel(Layer L, AggregateUpstream up,
                                                                               const float* dg, float* dg_share,
                                                                               double* partial) {
  extern __shared__ double jet_smem[];
  const int C = L.C, c = threadIdx.x % C, slots = blockDim.x / C;
  const JetSpan jet = jet_span(L);
  const Channel ch = channel_of(L, c);
  double acc[kAggregateTerms] = {};
  for (int i = threadIdx.x / C; i < jet.n; i += slots) {
    const std::int64_t point = jet.first + i, pc = point * C + c;
    if (dg) {
      int ties = 0;
      for (int j = 0; j < L.k; ++j) ties += evaluate(L, ch, point, j, c).y == up.g[pc];
      // ties == 0 only when g is not this y's maximum (not the forward's output): nothing to share.
      dg_share[pc] = ties > 0 ? dg[pc] / float(ties) : 0.0f;
    }
    for (int j = 0; j < L.k; ++j) {
      const EdgeEval v = evaluate(L, ch, point, j, c);
      const float dy = up(point * L.k + j, point, c, C, v.y);
      const float dyh = v.pre > 0.0f ? dy : 0.0f;
      acc[0] += dyh;
      acc[1] += double(dyh) * double(v.xh);
    }
    if (up.dout) acc[2] += up.dout[pc];
  }
  store_jet_partials<kAggregateTerms>(acc, jet_smem, C, partial);
}

// Adds the LOCAL sums to the parameter gradients (before the sync call overwrites anything: the
// data-parallel gradient all-reduce averages them later) and fills the sync buffer [S1, S2, M].
// sums: [NT][C] from finish_column_sums; third: per-channel output of term 2; fourth: scalar output of
// term 3, channel 0. M = *weighted_count (device memory) when the rows are weighted, else edges.
__global__ void apply_local_sums_kernel(const double* sums, int C, double edges, const double* weighted_count,
                                        float* dbeta, float* dgamma, float* third, float* fourth, double* buf) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= C) return;
  if (dbeta) dbeta[c] += static_cast<float>(sums[c]);
  if (dgamma) dgamma[c] += static_cast<float>(sums[C + c]);
  if (third) third[c] += static_cast<float>(sums[2 * C + c]);
  if (fourth && c == 0) fourth[0] += static_cast<float>(sums[3 * C]);
  buf[c] = sums[c];
  buf[C + c] = sums[C + c];
  if (c == 0) buf[2 * C] = weighted_count ? *weighted_count : edges;
}

// coef [3][C] = scale, mdy, mdx (Coefficients); M = buf[2C], the synced edge count when synchronised.
__global__ void coefficients_kernel(const double* buf, const float* gamma, const float* inv, int C, bool training,
                                    float* coef) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= C) return;
  coef[c] = edge_math::mul(gamma[c], inv[c]);
  const double m = buf[2 * C];
  coef[C + c] = training ? static_cast<float>(buf[c] / m) : 0.0f;
  coef[2 * C + c] = training ? static_cast<float>(buf[C + c] / m) : 0.0f;
}

// dprojected[point, c] += sum_j de(point, j) - sum over the edges (i', j') with idx == point of
// de(i', j'), and the per-jet sums of de for dbias (partial, may be nullptr). Shared memory, sized
// for the largest jet: red [blockDim] doubles, then the jet's local indices [n k], offsets [n + 1]
// and incoming edges [n k] (int32), as in kernels/cuda/edge.cu.
template <typename Up>
__global__ void __launch_bounds__(kMaxChannels) scatter_kernel(Layer L, Up up, const float* coef, bool training,
                                                               float* dprojected, double* partial) {
  extern __shared__ double jet_smem[];
  const JetSpan jet = jet_span(L);
  const int n = jet.n, k = L.k, C = L.C, edges = n * k;
  double* red = jet_smem;
  std::int32_t* jidx = reinterpret_cast<std::int32_t*>(jet_smem + blockDim.x);
  std::int32_t* offsets = jidx + edges;
  std::int32_t* incoming = offsets + n + 1;
  const std::int32_t* ib = L.idx + jet.first * k;

  build_inverse_neighbour_lists(ib, jet.first, n, edges, jidx, offsets, incoming);

  const int c = threadIdx.x % C, slots = blockDim.x / C;
  const Channel ch = channel_of(L, c);
  const Coefficients kc{coef[c], coef[C + c], coef[2 * C + c]};
  double acc[1] = {0.0};
  for (int i = threadIdx.x / C; i < n; i += slots) {
    const std::int64_t point = jet.first + i;
    float own = 0.0f, gathered = 0.0f;
    for (int j = 0; j < k; ++j) {
      const float de = edge_grad(L, ch, up, kc, training, point, j, c);
      own += de;
      acc[0] += de;
    }
    for (int q = offsets[i]; q < offsets[i + 1]; ++q) {
      const int edge = incoming[q];
      gathered += edge_grad(L, ch, up, kc, training, jet.first + edge / k, edge % k, c);
    }
    if (dprojected) dprojected[point * C + c] += own - gathered;
  }
  if (partial) store_jet_partials<1>(acc, red, C, partial);
}

// One warp per edge: dalpha[e] += sum_c y[e, c] dout[point, c].
__global__ void dalpha_kernel(Layer L, const float* dout, float* dalpha, std::int64_t edges) {
  const std::int64_t warps = std::int64_t(gridDim.x) * blockDim.x / kWarp;
  for (std::int64_t e = (std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / kWarp; e < edges; e += warps) {
    const float* dout_point = dout + (e / L.k) * L.C;
    const float s = warp_edge_dot(L, e, [dout_point](int c) { return dout_point[c]; });
    if (threadIdx.x % kWarp == 0) dalpha[e] += s;
  }
}

// Reserves the scatter kernel's shared memory (opt-in above 48 KiB, as kernels/cuda/edge.cu does).
template <typename Up>
std::size_t reserve_scatter_memory(Context& ctx, const Geometry& g, const char* op) {
  const std::size_t lists = 2 * std::size_t(g.max_n * g.k) + std::size_t(g.max_n) + 1;
  const std::size_t bytes = std::size_t(g.threads) * sizeof(double) + lists * sizeof(std::int32_t);
  int optin = 0;
  UCLUSTER_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, ctx.cuda()->device) ==
                     cudaSuccess,
                 op, ": cannot query the shared-memory limit");
  UCLUSTER_CHECK(bytes <= std::size_t(optin), op, ": a jet of ", g.max_n, " rows, k = ", g.k, " and C = ", g.C,
                 " needs ", bytes, " bytes of shared memory, more than the device's ", optin);
  UCLUSTER_CHECK(cudaFuncSetAttribute(scatter_kernel<Up>, cudaFuncAttributeMaxDynamicSharedMemorySize, int(bytes)) ==
                     cudaSuccess,
                 op, ": cannot reserve ", bytes, " bytes of shared memory");
  return bytes;
}

// The part common to both backwards, after the consumer's per-jet sums are in `partial` (NT terms):
// the column sums, the local parameter gradients, the sync call, the coefficients and the scatter.
template <int NT, typename Up>
void finish_backward(Context& ctx, const Geometry& g, const Layer& L, const Up& up,
                     const EdgeLayerGradArgs<float>& grads, double* partial, float* third, float* fourth,
                     const ReplicaSum& sync, const char* op) {
  const int C = int(g.C);
  const bool training = grads.batch_statistics;
  // sums [NT C], buf [2C + 1], dbias sums [C], weighted count [1], its partials
  const std::int64_t fixed = NT * g.C + 3 * g.C + 2;
  Tensor scratch = ctx.empty(Shape{fixed + (g.weighted ? with_count_scratch(g, 0) : 0)}, DType::F64, device_of(ctx));
  double* sums = scratch.data<double>();
  double* buf = sums + NT * g.C;
  double* dbias_sums = buf + 2 * g.C + 1;
  double* count = dbias_sums + g.C;
  Tensor coef_t = ctx.empty(Shape{3 * g.C}, DType::F32, device_of(ctx));
  float* coef = coef_t.data<float>();

  finish_column_sums<NT>(ctx, partial, g.jets, C, sums, op);
  if (g.weighted) weighted_edge_count(ctx, L, count + 1, count, op);
  apply_local_sums_kernel<<<channel_grid(C), 128, 0, stream(ctx)>>>(
      sums, C, double(g.edges), g.weighted ? count : nullptr, grads.dbeta, grads.dgamma, third, fourth, buf);
  check_launch(op);
  if (training && sync) sync(buf, 2 * g.C + 1);
  if (g.jets == 0 || (!grads.dprojected && !grads.dbias)) return;
  coefficients_kernel<<<channel_grid(C), 128, 0, stream(ctx)>>>(buf, L.gamma, L.inv, C, training, coef);
  check_launch(op);
  const std::size_t bytes = reserve_scatter_memory<Up>(ctx, g, op);
  // The dbias partials reuse `partial` (at least C doubles per jet; finish_column_sums above has read it
  // earlier in stream order).
  double* dbias_partial = grads.dbias ? partial : nullptr;
  scatter_kernel<Up><<<g.jets, unsigned(g.threads), bytes, stream(ctx)>>>(L, up, coef, training, grads.dprojected,
                                                                          dbias_partial);
  check_launch(op);
  if (grads.dbias) {
    finish_column_sums<1>(ctx, partial, g.jets, C, dbias_sums, op);
    store_sums(ctx, dbias_sums, C, 1.0, true, grads.dbias, op);
  }
}

// Whether a backward has work: edges, or the sync call every replica makes in training mode.
bool backward_has_work(const Geometry& g, const EdgeLayerGradArgs<float>& grads, const ReplicaSum& sync) {
  return g.edges > 0 || (grads.batch_statistics && sync);
}

// Per-jet partials of NT terms; at least one jet's worth so the pointer is valid when there are no edges.
template <int NT>
Tensor jet_partials(Context& ctx, const Geometry& g) {
  return ctx.empty(Shape{std::max<std::int64_t>(g.batch, 1) * NT * g.C}, DType::F64, device_of(ctx));
}

}  // namespace

void edge_score_backward(Context& ctx, const EdgeLayerArgs<float>& args, const EdgeLayerGradArgs<float>& grads,
                         const float* w, const float* dscore, float* dw, float* dw_bias, const ReplicaSum& sync) {
  const char* op = "edge_score_backward";
  const Geometry g = geometry_of(args, op);
  if (!backward_has_work(g, grads, sync)) return;
  const PreparedLayer layer = prepare(ctx, args, op);
  const Layer& L = layer.L;
  const ScoreUpstream up{dscore, w};
  const Tensor partial = jet_partials<kScoreTerms>(ctx, g);
  if (g.jets > 0) {
    score_backward_sums_kernel<<<g.jets, unsigned(g.threads), kScoreTerms * g.threads * sizeof(double), stream(ctx)>>>(
        L, up, partial.data<double>());
    check_launch(op);
  }
  finish_backward<kScoreTerms>(ctx, g, L, up, grads, partial.data<double>(), dw, dw_bias, sync, op);
}

void edge_aggregate_backward(Context& ctx, const EdgeLayerArgs<float>& args, const EdgeLayerGradArgs<float>& grads,
                             const float* alpha, const float* g_in, const float* dout, const float* dg, float* dalpha,
                             float* dout_bias, const ReplicaSum& sync) {
  const char* op = "edge_aggregate_backward";
  const Geometry g = geometry_of(args, op);
  if (!backward_has_work(g, grads, sync)) return;
  const PreparedLayer layer = prepare(ctx, args, op);
  const Layer& L = layer.L;
  // dg / ties per (point, channel), written by the sums kernel and read again by the scatter.
  Tensor share;
  if (dg && g.points > 0) share = ctx.empty(Shape{g.points * g.C}, DType::F32, device_of(ctx));
  float* dg_share = ptr_or_null<float>(share);
  const AggregateUpstream up{alpha, dout, g_in, dg_share};
  const Tensor partial = jet_partials<kAggregateTerms>(ctx, g);
  if (g.jets > 0) {
    aggregate_backward_sums_kernel<<<g.jets, unsigned(g.threads), kAggregateTerms * g.threads * sizeof(double),
                                     stream(ctx)>>>(L, up, dg_share ? dg : nullptr, dg_share, partial.data<double>());
    check_launch(op);
  }
  finish_backward<kAggregateTerms>(ctx, g, L, up, grads, partial.data<double>(), dout ? dout_bias : nullptr, nullptr,
                                   sync, op);
  if (dalpha && dout && g.edges > 0) {
    dalpha_kernel<<<warp_grid(g.edges), kWarpThreads, 0, stream(ctx)>>>(L, dout, dalpha, g.edges);
    check_launch(op);
  }
}

}  // namespace ucluster::cuda
