// The edge layer of the edge_attention family as its CUDA kernels see it, shared by
// kernels/cuda/edge_attention.cu (statistics, forwards) and kernels/cuda/edge_attention_backward.cu:
// the per-edge recomputation of y, the per-jet partial sums, the jets' rows and weights, and the
// launch geometry. The layout of the work and the reduction order are described in
// edge_attention.cu. Everything is internal to the two files (an anonymous namespace: one copy per
// file, as reduce.cuh's kernels); tools/cuda-emu/transform.py pastes this header in.
#pragma once

#include <algorithm>
#include <limits>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/edge_attention.h"
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
// inv_std_kernel; mean, inv, gamma and beta are nullptr in the statistics kernels. weight: the
// rows' weights, nullptr for 1.
struct Layer {
  const float* projected;
  const std::int32_t* idx;
  const float *bias, *gamma, *beta, *mean, *inv;
  const std::int32_t* offsets;
  const float* weight;
  std::int64_t rows;
  int k, C;
};

// Jet blockIdx.x: its first row and its number of rows.
struct JetSpan {
  std::int64_t first;
  int n;
};

__device__ JetSpan jet_span(const Layer& L) {
  const std::int64_t first = L.offsets[blockIdx.x];
  return {first, int(L.offsets[blockIdx.x + 1] - first)};
}

__device__ float weight_of(const Layer& L, std::int64_t row) { return L.weight ? L.weight[row] : 1.0f; }

// One channel's constants of the edge layer.
struct Channel {
  float bias, mean, inv, gamma, beta;
};

__device__ Channel channel_of(const Layer& L, int c) {
  return {L.bias[c], L.mean[c], L.inv[c], L.gamma[c], L.beta[c]};
}

// P[neighbour of edge e, c]; NaN for an index outside [0, rows). The indices are not checked on
// CUDA (kernels/edge_attention.h), but a bad one must not read outside the tensor.
__device__ float neighbour_value(const Layer& L, std::int64_t e, int c) {
  const std::int32_t p = L.idx[e];
  if (p < 0 || p >= L.rows) return __int_as_float(0x7fffffff);
  return L.projected[std::int64_t(p) * L.C + c];
}

struct EdgeEval {
  float xh, pre, y;
};

// x_hat, the pre-ReLU value and y of edge (point, j) in channel c, with the shared per-element
// arithmetic of kernels/edge_attention_math.h (same bits as every other recomputation and as the
// CPU body). point: the edge's row.
__device__ EdgeEval evaluate(const Layer& L, const Channel& ch, std::int64_t point, int j, int c) {
  const float p_i = L.projected[point * L.C + c];
  const float p_j = neighbour_value(L, point * L.k + j, c);
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

// The weighted edge count M = k sum_r weight[r] (integers: exact in double in any order).
struct EdgeCountTerms {
  const float* weight;
  double k;
  __device__ void operator()(std::int64_t r, std::int64_t, double (&acc)[1]) const { acc[0] += k * weight[r]; }
};

// sum_c y[e, c] v[c] by edge e's warp: lane l adds channels l, l + 32, ... in order in float, then
// a fixed shuffle tree; lane 0 holds the sum. v(c) gives the channel's factor. Every lane of the
// warp must call it (the loop bounds are the same for the whole warp, so all reach the shuffles).
template <typename V>
__device__ float warp_edge_dot(const Layer& L, std::int64_t e, V v) {
  const std::int64_t point = e / L.k;
  const int j = int(e % L.k);
  float s = 0.0f;
  for (int c = threadIdx.x % kWarp; c < L.C; c += kWarp) s += evaluate(L, channel_of(L, c), point, j, c).y * v(c);
  for (int offset = kWarp / 2; offset > 0; offset /= 2) s += __shfl_down_sync(kFullMask, s, offset);
  return s;
}

// ---- host side -------------------------------------------------------------------------------

struct Geometry {
  std::int64_t batch, max_n, k, C, points, edges;  // batch: jets; max_n: the most rows of one jet
  unsigned jets;     // grid of the jet kernels: batch, or 0 when there are no edges
  int threads;       // block of the jet kernels: a multiple of C
  bool weighted;     // rows with weights (statistics weighted)
};

Geometry geometry_of(const EdgeLayerArgs<float>& a, const char* op) {
  UCLUSTER_CHECK(a.channels >= 1 && a.channels <= kMaxChannels, op, ": C = ", a.channels,
                 " channels; the CUDA kernels support 1 to ", kMaxChannels);
  UCLUSTER_CHECK(a.k >= 1, op, ": k = ", a.k, " neighbours; at least 1 is needed");
  UCLUSTER_CHECK(a.jets >= 0 && a.rows >= 0 && a.max_jet_rows >= 0, op, ": negative sizes B = ", a.jets, ", R = ",
                 a.rows, ", max rows per jet ", a.max_jet_rows);
  UCLUSTER_CHECK(a.rows == 0 || a.max_jet_rows >= 1, op, ": max_jet_rows must be set (JetRows::max_jet_rows)");
  UCLUSTER_CHECK(a.jets <= std::numeric_limits<int>::max() &&
                     a.max_jet_rows * a.k < std::numeric_limits<int>::max() &&
                     a.rows <= std::numeric_limits<std::int32_t>::max(),
                 op, ": sizes B = ", a.jets, ", R = ", a.rows, ", rows per jet ", a.max_jet_rows, ", k = ", a.k,
                 " too large");
  const std::int64_t points = a.rows, edges = points * a.k, C = a.channels;
  const int threads = C >= kJetThreads ? int(C) : int(C * (kJetThreads / C));
  return {a.jets, a.max_jet_rows, a.k, C, points, edges, edges > 0 ? unsigned(a.jets) : 0u, threads,
          a.weight != nullptr};
}

Layer layer_of(const EdgeLayerArgs<float>& a, const float* inv) {
  return {a.projected, a.idx,     a.bias,  a.gamma,    a.beta,          a.mean,
          inv,         a.offsets, a.weight, a.rows,    int(a.k),        int(a.channels)};
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

// M = k sum of the row weights into *count, summed on the device (partial: column_sums scratch of
// at least slices_for(rows) doubles).
void weighted_edge_count(Context& ctx, const Layer& L, double* partial, double* count, const char* op) {
  column_sums<1>(ctx, EdgeCountTerms{L.weight, double(L.k)}, L.rows, 1, partial, count, op);
}

// Scratch of at least `doubles` doubles, also large enough for weighted_edge_count's partials.
std::int64_t with_count_scratch(const Geometry& g, std::int64_t doubles) {
  return std::max(doubles, column_partials_size<1>(g.points, 1));
}

unsigned warp_grid(std::int64_t edges) { return grid_for(edges * kWarp, kWarpThreads); }

}  // namespace

}  // namespace ucluster::cuda
