#include "kernels/cuda/common.cuh"
#include "kernels/cuda/elementwise.h"

namespace ucluster::cuda {

namespace {
__global__ void add_scaled_kernel(const float* a, const float* b, float* out, std::int64_t n, float alpha,
                                  float beta) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x)
    out[i] = b ? alpha * a[i] + beta * b[i] : alpha * a[i];
}

__global__ void accumulate_scaled_kernel(const float* x, float* y, std::int64_t n, float alpha) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x)
    y[i] += alpha * x[i];
}
}  // namespace

void add_scaled(Context& ctx, const float* a, const float* b, float* out, std::int64_t n, float alpha, float beta) {
  if (n == 0) return;
  add_scaled_kernel<<<grid_for(n, 256), 256, 0, stream(ctx)>>>(a, b, out, n, alpha, beta);
  check_launch("add_scaled");
}

void accumulate_scaled(Context& ctx, const float* x, float* y, std::int64_t n, float alpha) {
  if (n == 0) return;
  accumulate_scaled_kernel<<<grid_for(n, 256), 256, 0, stream(ctx)>>>(x, y, n, alpha);
  check_launch("add_scaled backward");
}

}  // namespace ucluster::cuda
