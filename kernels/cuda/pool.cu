// Pools over the points of each jet on the GPU. Mean pool, on packed rows (engine/jet_rows.h): a jet's
// padding row counts as the P - n padded points it stands for (its row weight), so the result is
// the reference's mean over all P points. Same formulas as the CPU body, in double, rounded once.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/pool.h"

namespace ucluster::cuda {

namespace {
// One thread per (jet, c): the jet's rows summed in row order in double (deterministic, as the CPU
// body), weight[r] x[r, c] each, divided by P.
__global__ void mean_pool_forward_kernel(const float* x, PackedRows rows, const float* weight, float* y,
                                         std::int64_t C) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < rows.jets * C;
       i += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int64_t b = i / C, c = i % C;
    double s = 0.0;
    for (std::int64_t r = rows.offsets[b]; r < rows.offsets[b + 1]; ++r) s += double(weight[r]) * double(x[r * C + c]);
    y[i] = static_cast<float>(s / double(rows.slots));
  }
}

// One thread per (row, c): dx[r, c] += weight[r] dy[b, c] / P, in double, rounded once.
__global__ void mean_pool_backward_kernel(PackedRows rows, const float* weight, const float* dy, float* dx,
                                          std::int64_t C) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < rows.rows * C;
       i += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int64_t r = i / C, c = i % C;
    dx[i] += static_cast<float>(double(weight[r]) * double(dy[rows.row_jet[r] * C + c]) / double(rows.slots));
  }
}

// One thread per (jet, c): the first row in row order holding the maximum (as the CPU body).
__global__ void max_pool_forward_kernel(const float* x, PackedRows rows, float* y, std::int32_t* argmax,
                                        std::int64_t C) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < rows.jets * C;
       i += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int64_t b = i / C, c = i % C;
    std::int64_t best = rows.offsets[b];
    for (std::int64_t r = best + 1; r < rows.offsets[b + 1]; ++r)
      if (x[r * C + c] > x[best * C + c]) best = r;
    y[i] = x[best * C + c];
    argmax[i] = static_cast<std::int32_t>(best);
  }
}

// One thread per (jet, c); the targets (argmax[i], c) are distinct, so no two threads collide.
__global__ void max_pool_backward_kernel(const std::int32_t* argmax, const float* dy, float* dx, std::int64_t n,
                                         std::int64_t C) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x)
    dx[std::int64_t(argmax[i]) * C + i % C] += dy[i];
}
}  // namespace

void mean_pool_forward(Context& ctx, const float* x, const PackedRows& rows, const float* weight, float* y,
                       std::int64_t channels) {
  if (rows.jets * channels == 0) return;
  mean_pool_forward_kernel<<<grid_for(rows.jets * channels, 128), 128, 0, stream(ctx)>>>(x, rows, weight, y,
                                                                                        channels);
  check_launch("mean_pool");
}

void mean_pool_backward(Context& ctx, const PackedRows& rows, const float* weight, const float* dy, float* dx,
                        std::int64_t channels) {
  const std::int64_t n = rows.rows * channels;
  if (n == 0) return;
  mean_pool_backward_kernel<<<grid_for(n, 256), 256, 0, stream(ctx)>>>(rows, weight, dy, dx, channels);
  check_launch("mean_pool backward");
}

void max_pool_forward(Context& ctx, const float* x, const PackedRows& rows, float* y, std::int32_t* argmax,
                      std::int64_t channels) {
  if (rows.jets * channels == 0) return;
  max_pool_forward_kernel<<<grid_for(rows.jets * channels, 128), 128, 0, stream(ctx)>>>(x, rows, y, argmax,
                                                                                       channels);
  check_launch("max_pool");
}

void max_pool_backward(Context& ctx, const std::int32_t* argmax, const float* dy, float* dx, std::int64_t jets,
                       std::int64_t channels) {
  const std::int64_t n = jets * channels;
  if (n == 0) return;
  max_pool_backward_kernel<<<grid_for(n, 256), 256, 0, stream(ctx)>>>(argmax, dy, dx, n, channels);
  check_launch("max_pool backward");
}

}  // namespace ucluster::cuda
