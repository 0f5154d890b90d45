// The fused edge path of a GAP block on the GPU (kernels/edge_attention.h): y is
// recomputed wherever it is needed and never stored (except by edge_layer_forward, for captures).
//
// Layout of the work. Per-edge work runs in "jet kernels": one thread block per jet, blockDim a
// multiple of C, thread t owning channel c = t % C and the points i = t / C, t / C + T / C, ... of
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
// needed after a sync are written to device memory and read there.
#include <algorithm>
#include <limits>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/edge_attention.h"
#include "kernels/cuda/neighbour_lists.cuh"
#include "kernels/cuda/reduce.cuh"

namespace ucluster::cuda {

namespace {

// At least one thread per channel in a jet block: CUDA's block-size limit. The jet kernels are
// compiled with __launch_bounds__(kMaxChannels) so that such a block fits the register file.
constexpr int kMaxChannels = 1024;
constexpr int kJetThreads = 256;  // block size of the jet kernels when C <= 256
constexpr int kWarp = 32;
constexpr int kWarpThreads = 256;  // block size of the warp-per-edge kernels (8 warps)
constexpr unsigned kFullMask = 0xffffffffu;

// The edge layer as the kernels see it. inv is inv_std(var, eps) per channel, computed once by
// inv_std_kernel; mean, inv, gamma and beta are nullptr in the statistics kernels.
struct Layer {
  const float* projected;
  const std::int32_t* idx;
  const float *bias, *gamma, *beta, *mean, *inv;
  int n, k, C;
};

// One channel's constants of the edge layer.
struct Channel {
  float bias, mean, inv, gamma, beta;
};

__device__ Channel channel_of(const Layer& L, int c) {
  return {L.bias[c], L.mean[c], L.inv[c], L.gamma[c], L.beta[c]};
}

// P[neighbour of edge e, c]; NaN for an index outside [0, n). The indices are not checked on CUDA
// (kernels/edge_attention.h), but a bad one must not read outside the tensor.
__device__ float neighbour_value(const Layer& L, std::int64_t jet, std::int64_t e, int c) {
  const std::int32_t p = L.idx[e];
  if (p < 0 || p >= L.n) return __int_as_float(0x7fffffff);
  return L.projected[(jet * L.n + p) * L.C + c];
}

struct EdgeEval {
  float xh, pre, y;
};

// x_hat, the pre-ReLU value and y of edge (point, j) in channel c, with the shared per-element
// arithmetic of kernels/edge_attention_math.h (same bits as every other recomputation and as the
// CPU body). point = jet * n + i.
__device__ EdgeEval evaluate(const Layer& L, const Channel& ch, std::int64_t jet, std::int64_t point, int j, int c) {
  const float p_i = L.projected[point * L.C + c];
  const float p_j = neighbour_value(L, jet, point * L.k + j, c);
  const float xh = edge_math::edge_x_hat(p_i, p_j, ch.bias, ch.mean, ch.inv);
  const float pre = edge_math::edge_pre_relu(xh, ch.gamma, ch.beta);
  return {xh, pre, edge_math::relu(pre)};
}

// Adds acc[q] of the T / C threads of each channel in thread order and writes the jet's partial
// sums partial[(jet * NT + q) * C + c]. red: NT * blockDim doubles of shared memory. Every thread of
// the block must call it (it synchronises the block).
template <int NT>
__device__ void store_jet_partials(const double (&acc)[NT], double* red, int C, double* partial) {
  const int t = threadIdx.x, T = blockDim.x;
  for (int q = 0; q < NT; ++q) red[q * T + t] = acc[q];
  __syncthreads();
  if (t < C) {  // the channel's first thread (slot 0)
    for (int q = 0; q < NT; ++q) {
      double s = 0.0;
      for (int slot = 0; slot < T / C; ++slot) s += red[q * T + slot * C + t];
      partial[(std::int64_t(blockIdx.x) * NT + q) * C + t] = s;
    }
  }
}

__global__ void inv_std_kernel(const float* var, double eps, int C, float* inv) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c < C) inv[c] = edge_math::inv_std(var[c], eps);
}

// ---- statistics ------------------------------------------------------------------------------

// Per-jet sums of e (kSquares false) or of (e - mean_d)^2 (kSquares true), in double.
template <bool kSquares>
__global__ void __launch_bounds__(kMaxChannels) stats_partials_kernel(Layer L, const double* mean_d,
                                                                      double* partial) {
  extern __shared__ double jet_smem[];
  const int C = L.C, c = threadIdx.x % C, slots = blockDim.x / C;
  const std::int64_t jet = blockIdx.x;
  const float bias = L.bias[c];
  const double m = kSquares ? mean_d[c] : 0.0;
  double acc[1] = {0.0};
  for (int i = threadIdx.x / C; i < L.n; i += slots) {
    const std::int64_t point = jet * L.n + i;
    const float p_i = L.projected[point * C + c];
    for (int j = 0; j < L.k; ++j) {
      const double e = edge_math::edge_value(p_i, neighbour_value(L, jet, point * L.k + j, c), bias);
      if (kSquares) {
        const double d = e - m;
        acc[0] += d * d;
      } else {
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
  const std::int64_t jet = blockIdx.x;
  const Channel ch = channel_of(L, c);
  for (int i = threadIdx.x / C; i < L.n; i += slots) {
    const std::int64_t point = jet * L.n + i;
    for (int j = 0; j < L.k; ++j) y[(point * L.k + j) * C + c] = evaluate(L, ch, jet, point, j, c).y;
  }
}

// sum_c y[e, c] v[c] by edge e's warp: lane l adds channels l, l + 32, ... in order in float, then
// a fixed shuffle tree; lane 0 holds the sum. v(c) gives the channel's factor. Every lane of the
// warp must call it (the loop bounds are the same for the whole warp, so all reach the shuffles).
template <typename V>
__device__ float warp_edge_dot(const Layer& L, std::int64_t e, V v) {
  const std::int64_t point = e / L.k, jet = point / L.n;
  const int j = int(e % L.k);
  float s = 0.0f;
  for (int c = threadIdx.x % kWarp; c < L.C; c += kWarp) s += evaluate(L, channel_of(L, c), jet, point, j, c).y * v(c);
  for (int offset = kWarp / 2; offset > 0; offset /= 2) s += __shfl_down_sync(kFullMask, s, offset);
  return s;
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
  const std::int64_t jet = blockIdx.x;
  const Channel ch = channel_of(L, c);
  for (int i = threadIdx.x / C; i < L.n; i += slots) {
    const std::int64_t point = jet * L.n + i;
    float s = 0.0f, m = 0.0f;
    for (int j = 0; j < L.k; ++j) {
      const float y = evaluate(L, ch, jet, point, j, c).y;
      s += alpha[point * L.k + j] * y;
      m = (j == 0 || y > m) ? y : m;
    }
    o[point * C + c] = out_bias ? s + out_bias[c] : s;
    g[point * C + c] = m;
  }
}

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
// mdx = S2 / M (M the synced row count), rounded to float.
struct Coefficients {
  float scale, mdy, mdx;
};

// The gradient of e for one edge and channel: de = scale (dyh - mdy - x_hat mdx) in training mode,
// scale dyh in inference mode; dyh = dy where pre > 0 (TF's ReLU gradient at 0 is 0).
template <typename Up>
__device__ float edge_grad(const Layer& L, const Channel& ch, const Up& up, const Coefficients& cf, bool training,
                           std::int64_t jet, std::int64_t point, int j, int c) {
  using namespace edge_math;
  const EdgeEval v = evaluate(L, ch, jet, point, j, c);
  const float dy = up(point * L.k + j, point, c, L.C, v.y);
  const float dyh = v.pre > 0.0f ? dy : 0.0f;
  return training ? mul(cf.scale, sub(sub(dyh, cf.mdy), mul(v.xh, cf.mdx))) : mul(cf.scale, dyh);
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
  const std::int64_t jet = blockIdx.x;
  const Channel ch = channel_of(L, c);
  double acc[kScoreTerms] = {};
  for (int i = threadIdx.x / C; i < L.n; i += slots) {
    const std::int64_t point = jet * L.n + i;
    for (int j = 0; j < L.k; ++j) {
      const std::int64_t e = point * L.k + j;
      const EdgeEval v = evaluate(L, ch, jet, point, j, c);
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
  const std::int64_t jet = blockIdx.x;
  const Channel ch = channel_of(L, c);
  double acc[kAggregateTerms] = {};
  for (int i = threadIdx.x / C; i < L.n; i += slots) {
    const std::int64_t point = jet * L.n + i, pc = point * C + c;
    if (dg) {
      int ties = 0;
      for (int j = 0; j < L.k; ++j) ties += evaluate(L, ch, jet, point, j, c).y == up.g[pc];
      // ties == 0 only when g is not this y's maximum (not the forward's output): nothing to share.
      dg_share[pc] = ties > 0 ? dg[pc] / float(ties) : 0.0f;
    }
    for (int j = 0; j < L.k; ++j) {
      const EdgeEval v = evaluate(L, ch, jet, point, j, c);
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
// data-parallel gradient all-reduce averages them later) and fills the sync buffer [S1, S2, rows].
// sums: [NT][C] from finish_column_sums; third: per-channel output of term 2; fourth: scalar output of
// term 3, channel 0.
__global__ void apply_local_sums_kernel(const double* sums, int C, double rows, float* dbeta, float* dgamma,
                                        float* third, float* fourth, double* buf) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= C) return;
  if (dbeta) dbeta[c] += static_cast<float>(sums[c]);
  if (dgamma) dgamma[c] += static_cast<float>(sums[C + c]);
  if (third) third[c] += static_cast<float>(sums[2 * C + c]);
  if (fourth && c == 0) fourth[0] += static_cast<float>(sums[3 * C]);
  buf[c] = sums[c];
  buf[C + c] = sums[C + c];
  if (c == 0) buf[2 * C] = rows;
}

// coef [3][C] = scale, mdy, mdx (Coefficients); M = buf[2C], the synced row count when synchronised.
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
// de(i', j'), and the per-jet sums of de for dbias (partial, may be nullptr). Shared memory: red
// [blockDim] doubles, then the jet's indices [n k], offsets [n + 1] and incoming edges [n k]
// (int32), as in kernels/cuda/edge.cu.
template <typename Up>
__global__ void __launch_bounds__(kMaxChannels) scatter_kernel(Layer L, Up up, const float* coef, bool training,
                                                               float* dprojected, double* partial) {
  extern __shared__ double jet_smem[];
  const int n = L.n, k = L.k, C = L.C, edges = n * k;
  double* red = jet_smem;
  std::int32_t* jidx = reinterpret_cast<std::int32_t*>(jet_smem + blockDim.x);
  std::int32_t* offsets = jidx + edges;
  std::int32_t* incoming = offsets + n + 1;
  const std::int64_t jet = blockIdx.x;
  const std::int32_t* ib = L.idx + jet * edges;

  build_inverse_neighbour_lists(ib, n, edges, jidx, offsets, incoming);

  const int c = threadIdx.x % C, slots = blockDim.x / C;
  const Channel ch = channel_of(L, c);
  const Coefficients kc{coef[c], coef[C + c], coef[2 * C + c]};
  double acc[1] = {0.0};
  for (int i = threadIdx.x / C; i < n; i += slots) {
    const std::int64_t point = jet * n + i;
    float own = 0.0f, gathered = 0.0f;
    for (int j = 0; j < k; ++j) {
      const float de = edge_grad(L, ch, up, kc, training, jet, point, j, c);
      own += de;
      acc[0] += de;
    }
    for (int q = offsets[i]; q < offsets[i + 1]; ++q) {
      const int edge = incoming[q];
      gathered += edge_grad(L, ch, up, kc, training, jet, jet * n + edge / k, edge % k, c);
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

// ---- host side -------------------------------------------------------------------------------

struct Geometry {
  std::int64_t batch, n, k, C, points, edges;
  unsigned jets;     // grid of the jet kernels: batch, or 0 when there are no edges
  int threads;       // block of the jet kernels: a multiple of C
};

Geometry geometry_of(const EdgeLayerArgs<float>& a, const char* op) {
  UCLUSTER_CHECK(a.channels >= 1 && a.channels <= kMaxChannels, op, ": C = ", a.channels,
                 " channels; the CUDA kernels support 1 to ", kMaxChannels);
  UCLUSTER_CHECK(a.k >= 1, op, ": k = ", a.k, " neighbours; at least 1 is needed");
  UCLUSTER_CHECK(a.batch >= 0 && a.n >= 0, op, ": negative sizes B = ", a.batch, ", N = ", a.n);
  UCLUSTER_CHECK(a.batch <= std::numeric_limits<int>::max() && a.n * a.k < std::numeric_limits<int>::max(), op,
                 ": sizes B = ", a.batch, ", N = ", a.n, ", k = ", a.k, " too large");
  const std::int64_t points = a.batch * a.n, edges = points * a.k, C = a.channels;
  const int threads = C >= kJetThreads ? int(C) : int(C * (kJetThreads / C));
  return {a.batch, a.n, a.k, C, points, edges, edges > 0 ? unsigned(a.batch) : 0u, threads};
}

Layer layer_of(const EdgeLayerArgs<float>& a, const float* inv) {
  return {a.projected, a.idx, a.bias, a.gamma, a.beta, a.mean, inv, int(a.n), int(a.k), int(a.channels)};
}

Device device_of(Context& ctx) { return Device::cuda(ctx.cuda()->device); }

unsigned channel_grid(std::int64_t C) { return grid_for(C, 128); }

// inv_std per channel into a float scratch tensor (kept alive by the caller).
Tensor inverse_std(Context& ctx, const EdgeLayerArgs<float>& a, const char* op) {
  Tensor inv = ctx.empty(Shape{a.channels}, DType::F32, device_of(ctx));
  inv_std_kernel<<<channel_grid(a.channels), 128, 0, stream(ctx)>>>(a.var, a.eps, int(a.channels),
                                                                  inv.data<float>());
  check_launch(op);
  return inv;
}

// The layer as the kernels see it, with its inverse standard deviations (owned by inv).
struct PreparedLayer {
  Tensor inv;
  Layer L;
};

PreparedLayer prepare(Context& ctx, const EdgeLayerArgs<float>& args, const char* op) {
  Tensor inv = inverse_std(ctx, args, op);
  const Layer L = layer_of(args, inv.data<float>());
  return {std::move(inv), L};
}

// Reserves the scatter kernel's shared memory (opt-in above 48 KiB, as kernels/cuda/edge.cu does).
template <typename Up>
std::size_t reserve_scatter_memory(Context& ctx, const Geometry& g, const char* op) {
  const std::size_t lists = 2 * std::size_t(g.n * g.k) + std::size_t(g.n) + 1;
  const std::size_t bytes = std::size_t(g.threads) * sizeof(double) + lists * sizeof(std::int32_t);
  int optin = 0;
  UCLUSTER_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, ctx.cuda()->device) ==
                     cudaSuccess,
                 op, ": cannot query the shared-memory limit");
  UCLUSTER_CHECK(bytes <= std::size_t(optin), op, ": a jet of N = ", g.n, " points, k = ", g.k, " and C = ", g.C,
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
  // sums [NT C], buf [2C + 1], dbias sums [C]
  Tensor scratch = ctx.empty(Shape{NT * g.C + 3 * g.C + 1}, DType::F64, device_of(ctx));
  double* sums = scratch.data<double>();
  double* buf = sums + NT * g.C;
  double* dbias_sums = buf + 2 * g.C + 1;
  Tensor coef_t = ctx.empty(Shape{3 * g.C}, DType::F32, device_of(ctx));
  float* coef = coef_t.data<float>();

  finish_column_sums<NT>(ctx, partial, g.jets, C, sums, op);
  apply_local_sums_kernel<<<channel_grid(C), 128, 0, stream(ctx)>>>(sums, C, double(g.edges), grads.dbeta,
                                                                    grads.dgamma, third, fourth, buf);
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

unsigned warp_grid(std::int64_t edges) { return grid_for(edges * kWarp, kWarpThreads); }

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

void edge_batch_statistics(Context& ctx, const EdgeLayerArgs<float>& args, float* batch_mean, float* batch_var,
                           const ReplicaSum& sync) {
  const char* op = "edge_batch_statistics";
  const Geometry g = geometry_of(args, op);
  // Statistics of zero rows are undefined; with sync, a replica without rows still makes its calls.
  if (g.edges == 0 && !sync) return;
  const int C = int(g.C);
  // partial [B C], sums [C] + row count [1], mean_d [C], squares [C]
  Tensor scratch = ctx.empty(Shape{g.batch * g.C + 3 * g.C + 1}, DType::F64, device_of(ctx));
  double* partial = scratch.data<double>();
  double* sums = partial + g.batch * g.C;
  double* count = sums + g.C;
  double* mean_d = count + 1;
  double* squares = mean_d + g.C;
  const Layer L = layer_of(args, nullptr);
  const std::size_t red_bytes = std::size_t(g.threads) * sizeof(double);

  if (g.jets > 0) {
    stats_partials_kernel<false><<<g.jets, unsigned(g.threads), red_bytes, stream(ctx)>>>(L, nullptr, partial);
    check_launch(op);
  }
  finish_column_sums<1>(ctx, partial, g.jets, C, sums, op);
  store_count(ctx, count, g.edges, op);
  if (sync) sync(sums, g.C + 1);
  mean_kernel<<<channel_grid(C), 128, 0, stream(ctx)>>>(sums, count, C, mean_d, batch_mean);
  check_launch(op);
  if (g.jets > 0) {
    stats_partials_kernel<true><<<g.jets, unsigned(g.threads), red_bytes, stream(ctx)>>>(L, mean_d, partial);
    check_launch(op);
  }
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

void edge_aggregate_forward(Context& ctx, const EdgeLayerArgs<float>& args, const float* alpha,
                            const float* out_bias, float* o, float* g_out) {
  const char* op = "edge_aggregate_forward";
  const Geometry g = geometry_of(args, op);
  if (g.jets == 0) return;
  const PreparedLayer layer = prepare(ctx, args, op);
  aggregate_forward_kernel<<<g.jets, unsigned(g.threads), 0, stream(ctx)>>>(layer.L, alpha, out_bias, o, g_out);
  check_launch(op);
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
