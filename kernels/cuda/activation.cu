#include "kernels/cuda/activation.h"
#include "kernels/cuda/common.cuh"

namespace ucluster::cuda {

namespace {
__global__ void leaky_relu_forward_kernel(const float* x, float* y, std::int64_t n, float slope) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x)
    y[i] = x[i] > 0.0f ? x[i] : slope * x[i];
}

__global__ void leaky_relu_backward_kernel(const float* x, const float* dy, float* dx, std::int64_t n,
                                           float slope) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x)
    dx[i] += x[i] > 0.0f ? dy[i] : slope * dy[i];
}
}  // namespace

void leaky_relu_forward(Context& ctx, const float* x, float* y, std::int64_t n, float slope) {
  if (n == 0) return;
  leaky_relu_forward_kernel<<<grid_for(n, 256), 256, 0, stream(ctx)>>>(x, y, n, slope);
  check_launch("leaky_relu");
}

void leaky_relu_backward(Context& ctx, const float* x, const float* dy, float* dx, std::int64_t n, float slope) {
  if (n == 0) return;
  leaky_relu_backward_kernel<<<grid_for(n, 256), 256, 0, stream(ctx)>>>(x, dy, dx, n, slope);
  check_launch("leaky_relu backward");
}

}  // namespace ucluster::cuda
