// Deep k-means loss on the GPU (spec 3.2), same arithmetic as the CPU body (double inside). K and D
// are small (3 and 3 in UCluster), so every thread recomputes the distances it needs instead of
// keeping per-row arrays. The batch sums (loss, dL/dmu) run in a fixed order: deterministic, no atomics.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/kmeans_loss.h"

namespace ucluster::cuda {

namespace {
constexpr int kSumThreads = 256;  // power of two (tree reduction)

__device__ double sq_distance(const float* zb, const float* muj, std::int64_t dim) {
  double s = 0.0;
  for (std::int64_t c = 0; c < dim; ++c) {
    const double diff = double(zb[c]) - double(muj[c]);
    s += diff * diff;
  }
  return s;
}

// Per-jet constants of the soft assignment: w_j = exp(-alpha (d_j - shift)) / sum, mean_d = sum_j w_j d_j.
// shift is the row min of d (row max for alpha < 0), as in cpu/kmeans_loss.cpp.
struct RowSoftmax {
  double shift, sum, mean_d;
};

__device__ RowSoftmax row_softmax(const float* zb, const float* mu, std::int64_t clusters, std::int64_t dim,
                                  double alpha) {
  RowSoftmax r;
  r.shift = sq_distance(zb, mu, dim);
  for (std::int64_t j = 1; j < clusters; ++j) {
    const double d = sq_distance(zb, mu + j * dim, dim);
    r.shift = alpha >= 0.0 ? fmin(r.shift, d) : fmax(r.shift, d);
  }
  r.sum = 0.0;
  double weighted = 0.0;
  for (std::int64_t j = 0; j < clusters; ++j) {
    const double d = sq_distance(zb, mu + j * dim, dim);
    const double e = exp(-alpha * (d - r.shift));
    r.sum += e;
    weighted += e * d;
  }
  r.mean_d = weighted / r.sum;
  return r;
}

// g_bj = scale w_bj [1 - alpha (d_bj - mean_d)] (spec 3.2); 0 when the weight underflowed.
__device__ double cluster_grad(double d, const RowSoftmax& r, double alpha, double scale) {
  const double w = exp(-alpha * (d - r.shift)) / r.sum;
  return w == 0.0 ? 0.0 : scale * w * (1.0 - alpha * (d - r.mean_d));
}

__global__ void kmeans_forward_kernel(const float* z, const float* mu, float* loss, float* dist, std::int64_t batch,
                                      std::int64_t clusters, std::int64_t dim, double alpha) {
  __shared__ double partial[kSumThreads];
  double acc = 0.0;
  for (std::int64_t b = threadIdx.x; b < batch; b += kSumThreads) {
    const float* zb = z + b * dim;
    const RowSoftmax r = row_softmax(zb, mu, clusters, dim, alpha);
    acc += r.mean_d;
    if (dist)
      for (std::int64_t j = 0; j < clusters; ++j)
        dist[b * clusters + j] = static_cast<float>(sq_distance(zb, mu + j * dim, dim));
  }
  partial[threadIdx.x] = acc;
  __syncthreads();
  for (int s = kSumThreads / 2; s > 0; s /= 2) {
    if (threadIdx.x < s) partial[threadIdx.x] += partial[threadIdx.x + s];
    __syncthreads();
  }
  if (threadIdx.x == 0) loss[0] = static_cast<float>(partial[0] / double(batch));
}

// One thread per jet: dz_bc += sum_j g_bj 2 (z_bc - mu_jc).
__global__ void kmeans_dz_kernel(const float* z, const float* mu, const float* dloss, float* dz, std::int64_t batch,
                                 std::int64_t clusters, std::int64_t dim, double alpha) {
  const double scale = double(dloss[0]) / double(batch);
  for (std::int64_t b = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; b < batch;
       b += std::int64_t(gridDim.x) * blockDim.x) {
    const float* zb = z + b * dim;
    const RowSoftmax r = row_softmax(zb, mu, clusters, dim, alpha);
    for (std::int64_t c = 0; c < dim; ++c) {
      double acc = 0.0;
      for (std::int64_t j = 0; j < clusters; ++j) {
        const float* muj = mu + j * dim;
        acc += cluster_grad(sq_distance(zb, muj, dim), r, alpha, scale) * 2.0 * (double(zb[c]) - double(muj[c]));
      }
      dz[b * dim + c] += static_cast<float>(acc);
    }
  }
}

// One thread per centroid element (j, c), jets summed in order: dmu_jc -= sum_b g_bj 2 (z_bc - mu_jc).
__global__ void kmeans_dmu_kernel(const float* z, const float* mu, const float* dloss, float* dmu,
                                  std::int64_t batch, std::int64_t clusters, std::int64_t dim, double alpha) {
  const std::int64_t jc = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x;
  if (jc >= clusters * dim) return;
  const std::int64_t j = jc / dim, c = jc % dim;
  const double scale = double(dloss[0]) / double(batch);
  double acc = 0.0;
  for (std::int64_t b = 0; b < batch; ++b) {
    const float* zb = z + b * dim;
    const RowSoftmax r = row_softmax(zb, mu, clusters, dim, alpha);
    const double g = cluster_grad(sq_distance(zb, mu + j * dim, dim), r, alpha, scale);
    acc -= g * 2.0 * (double(zb[c]) - double(mu[jc]));
  }
  dmu[jc] += static_cast<float>(acc);
}

__global__ void kmeans_assign_kernel(const float* dist, std::int32_t* assign, std::int64_t batch,
                                     std::int64_t clusters) {
  for (std::int64_t b = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; b < batch;
       b += std::int64_t(gridDim.x) * blockDim.x) {
    const float* db = dist + b * clusters;
    std::int64_t best = 0;
    for (std::int64_t j = 1; j < clusters; ++j)
      if (db[j] < db[best]) best = j;  // strict: ties keep the lower index
    assign[b] = static_cast<std::int32_t>(best);
  }
}
}  // namespace

void kmeans_loss_forward(Context& ctx, const float* z, const float* mu, float* loss, float* dist,
                         std::int64_t batch, std::int64_t clusters, std::int64_t dim, double alpha) {
  kmeans_forward_kernel<<<1, kSumThreads, 0, stream(ctx)>>>(z, mu, loss, dist, batch, clusters, dim, alpha);
  check_launch("kmeans_loss");
}

void kmeans_loss_backward(Context& ctx, const float* z, const float* mu, const float* dloss, float* dz, float* dmu,
                          std::int64_t batch, std::int64_t clusters, std::int64_t dim, double alpha) {
  if (dz && batch > 0) {
    kmeans_dz_kernel<<<grid_for(batch, 128), 128, 0, stream(ctx)>>>(z, mu, dloss, dz, batch, clusters, dim, alpha);
    check_launch("kmeans_loss backward (z)");
  }
  if (dmu && clusters * dim > 0) {
    kmeans_dmu_kernel<<<grid_for(clusters * dim, 64), 64, 0, stream(ctx)>>>(z, mu, dloss, dmu, batch, clusters, dim,
                                                                            alpha);
    check_launch("kmeans_loss backward (mu)");
  }
}

void kmeans_assign(Context& ctx, const float* dist, std::int32_t* assign, std::int64_t batch,
                   std::int64_t clusters) {
  if (batch == 0) return;
  kmeans_assign_kernel<<<grid_for(batch, 128), 128, 0, stream(ctx)>>>(dist, assign, batch, clusters);
  check_launch("kmeans_assign");
}

}  // namespace ucluster::cuda
