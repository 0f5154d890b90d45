// Attention of the GAP layer on the GPU: one thread per point for the softmax over k, one thread
// per (point, channel) for the weighted sum and the max, per-channel row sums for the bias
// gradient. Every sum runs in a fixed order: deterministic, no atomics.
#include "kernels/cuda/attention.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/dense.h"

namespace ucluster::cuda {

namespace {

constexpr unsigned kThreads = 256;

__device__ __forceinline__ float leaky(float z, float slope) { return z > 0.0f ? z : slope * z; }

#define UCLUSTER_GRID_LOOP(i, n)                                                            \
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < (n); \
       i += std::int64_t(gridDim.x) * blockDim.x)

__global__ void softmax_forward_kernel(const float* a, const float* c, float* alpha, std::int64_t rows,
                                       std::int64_t k, float slope) {
  UCLUSTER_GRID_LOOP(r, rows) {
    const float* cr = c + r * k;
    float* out = alpha + r * k;
    float m = leaky(a[r] + cr[0], slope);
    for (std::int64_t j = 0; j < k; ++j) {
      out[j] = leaky(a[r] + cr[j], slope);
      m = out[j] > m ? out[j] : m;
    }
    float sum = 0.0f;
    for (std::int64_t j = 0; j < k; ++j) {
      out[j] = expf(out[j] - m);
      sum += out[j];
    }
    const float inv = 1.0f / sum;
    for (std::int64_t j = 0; j < k; ++j) out[j] *= inv;
  }
}

__global__ void softmax_backward_kernel(const float* a, const float* c, const float* alpha, const float* dalpha,
                                        float* da, float* dc, std::int64_t rows, std::int64_t k, float slope) {
  UCLUSTER_GRID_LOOP(r, rows) {
    const float* al = alpha + r * k;
    const float* g = dalpha + r * k;
    float dot = 0.0f;
    for (std::int64_t j = 0; j < k; ++j) dot += g[j] * al[j];
    float dsum = 0.0f;
    for (std::int64_t j = 0; j < k; ++j) {
      const float dl = (g[j] - dot) * al[j];
      const float dz = a[r] + c[r * k + j] > 0.0f ? dl : slope * dl;
      if (dc) dc[r * k + j] += dz;
      dsum += dz;
    }
    if (da) da[r] += dsum;
  }
}

__global__ void aggregate_forward_kernel(const float* alpha, const float* y, const float* bias, float* o,
                                         std::int64_t rows, std::int64_t k, std::int64_t channels) {
  UCLUSTER_GRID_LOOP(e, rows * channels) {
    const std::int64_t r = e / channels, ch = e % channels;
    float s = 0.0f;
    for (std::int64_t j = 0; j < k; ++j) s += alpha[r * k + j] * y[(r * k + j) * channels + ch];
    o[e] = bias ? s + bias[ch] : s;
  }
}

__global__ void aggregate_dalpha_kernel(const float* y, const float* dout, float* dalpha, std::int64_t rows,
                                        std::int64_t k, std::int64_t channels) {
  UCLUSTER_GRID_LOOP(e, rows * k) {
    const float* g = dout + (e / k) * channels;
    const float* ye = y + e * channels;
    float s = 0.0f;
    for (std::int64_t ch = 0; ch < channels; ++ch) s += g[ch] * ye[ch];
    dalpha[e] += s;
  }
}

__global__ void aggregate_dy_kernel(const float* alpha, const float* dout, float* dy, std::int64_t rows,
                                    std::int64_t k, std::int64_t channels) {
  UCLUSTER_GRID_LOOP(e, rows * k * channels) {
    const std::int64_t edge = e / channels, ch = e % channels;
    dy[e] += alpha[edge] * dout[(edge / k) * channels + ch];
  }
}

__global__ void max_forward_kernel(const float* y, float* g, std::int64_t rows, std::int64_t k,
                                   std::int64_t channels) {
  UCLUSTER_GRID_LOOP(e, rows * channels) {
    const float* yr = y + (e / channels) * k * channels + e % channels;
    float m = yr[0];
    for (std::int64_t j = 1; j < k; ++j) m = yr[j * channels] > m ? yr[j * channels] : m;
    g[e] = m;
  }
}

// TF's reduce_max gradient: split equally among exact ties (spec 8 #16).
__global__ void max_backward_kernel(const float* y, const float* g, const float* dg, float* dy, std::int64_t rows,
                                    std::int64_t k, std::int64_t channels) {
  UCLUSTER_GRID_LOOP(e, rows * channels) {
    const std::int64_t offset = (e / channels) * k * channels + e % channels;
    const float* yr = y + offset;
    float* dyr = dy + offset;
    const float m = g[e];
    int ties = 0;
    for (std::int64_t j = 0; j < k; ++j) ties += yr[j * channels] == m;
    if (ties == 0) continue;
    const float share = (1.0f / float(ties)) * dg[e];
    for (std::int64_t j = 0; j < k; ++j)
      if (yr[j * channels] == m) dyr[j * channels] += share;
  }
}

#undef UCLUSTER_GRID_LOOP

}  // namespace

void attention_softmax_forward(Context& ctx, const float* a, const float* c, float* alpha, std::int64_t rows,
                               std::int64_t k, float slope) {
  if (rows == 0) return;
  softmax_forward_kernel<<<grid_for(rows, kThreads), kThreads, 0, stream(ctx)>>>(a, c, alpha, rows, k, slope);
  check_launch("attention_softmax");
}

void attention_softmax_backward(Context& ctx, const float* a, const float* c, const float* alpha,
                                const float* dalpha, float* da, float* dc, std::int64_t rows, std::int64_t k,
                                float slope) {
  if (rows == 0 || (!da && !dc)) return;
  softmax_backward_kernel<<<grid_for(rows, kThreads), kThreads, 0, stream(ctx)>>>(a, c, alpha, dalpha, da, dc, rows,
                                                                                   k, slope);
  check_launch("attention_softmax backward");
}

void attention_aggregate_forward(Context& ctx, const float* alpha, const float* y, const float* bias, float* o,
                                 std::int64_t rows, std::int64_t k, std::int64_t channels) {
  if (rows * channels == 0) return;
  aggregate_forward_kernel<<<grid_for(rows * channels, kThreads), kThreads, 0, stream(ctx)>>>(alpha, y, bias, o, rows,
                                                                                              k, channels);
  check_launch("attention_aggregate");
}

void attention_aggregate_backward(Context& ctx, const float* alpha, const float* y, const float* dout, float* dalpha,
                                  float* dy, float* dbias, std::int64_t rows, std::int64_t k, std::int64_t channels) {
  if (dalpha && rows * k > 0) {
    aggregate_dalpha_kernel<<<grid_for(rows * k, kThreads), kThreads, 0, stream(ctx)>>>(y, dout, dalpha, rows, k,
                                                                                        channels);
    check_launch("attention_aggregate backward (weights)");
  }
  if (dy && rows * k * channels > 0) {
    aggregate_dy_kernel<<<grid_for(rows * k * channels, kThreads), kThreads, 0, stream(ctx)>>>(alpha, dout, dy, rows,
                                                                                               k, channels);
    check_launch("attention_aggregate backward (edge features)");
  }
  if (dbias && channels > 0) {
    bias_grad(ctx, dout, dbias, rows, channels);  // the dense family's deterministic column sums
  }
}

void neighbour_max_forward(Context& ctx, const float* y, float* g, std::int64_t rows, std::int64_t k,
                           std::int64_t channels) {
  if (rows * channels == 0) return;
  max_forward_kernel<<<grid_for(rows * channels, kThreads), kThreads, 0, stream(ctx)>>>(y, g, rows, k, channels);
  check_launch("neighbour_max");
}

void neighbour_max_backward(Context& ctx, const float* y, const float* g, const float* dg, float* dy, std::int64_t rows,
                            std::int64_t k, std::int64_t channels) {
  if (rows * channels == 0) return;
  max_backward_kernel<<<grid_for(rows * channels, kThreads), kThreads, 0, stream(ctx)>>>(y, g, dg, dy, rows, k,
                                                                                         channels);
  check_launch("neighbour_max backward");
}

}  // namespace ucluster::cuda
