#include "kernels/cuda/common.cuh"
#include "kernels/cuda/pool.h"

namespace ucluster::cuda {

namespace {
// One thread per (b, c); points summed in order in double (deterministic, as the CPU body).
__global__ void mean_pool_forward_kernel(const float* x, float* y, std::int64_t batch, std::int64_t points,
                                         std::int64_t C) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < batch * C;
       i += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int64_t b = i / C, c = i % C;
    const float* xb = x + b * points * C + c;
    double s = 0.0;
    for (std::int64_t n = 0; n < points; ++n) s += xb[n * C];
    y[i] = static_cast<float>(s / double(points));
  }
}

__global__ void mean_pool_backward_kernel(const float* dy, float* dx, std::int64_t n_total, std::int64_t points,
                                          std::int64_t C) {
  const float n_points = static_cast<float>(points);
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n_total;
       i += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int64_t b = i / (points * C), c = i % C;
    dx[i] += dy[b * C + c] / n_points;
  }
}
}  // namespace

void mean_pool_forward(Context& ctx, const float* x, float* y, std::int64_t batch, std::int64_t points,
                       std::int64_t channels) {
  if (batch * channels == 0) return;
  mean_pool_forward_kernel<<<grid_for(batch * channels, 128), 128, 0, stream(ctx)>>>(x, y, batch, points, channels);
  check_launch("mean_pool");
}

void mean_pool_backward(Context& ctx, const float* dy, float* dx, std::int64_t batch, std::int64_t points,
                        std::int64_t channels) {
  const std::int64_t n = batch * points * channels;
  if (n == 0) return;
  mean_pool_backward_kernel<<<grid_for(n, 256), 256, 0, stream(ctx)>>>(dy, dx, n, points, channels);
  check_launch("mean_pool backward");
}

}  // namespace ucluster::cuda
