// Broadcast of one row per jet to its packed rows on the GPU (kernels/broadcast.h); the backward
// sums each jet's rows in row order in double, as the CPU body, so both give the same bits.
#include "kernels/cuda/broadcast.h"
#include "kernels/cuda/common.cuh"

namespace ucluster::cuda {

namespace {
__global__ void broadcast_rows_forward_kernel(const float* x, PackedRows rows, float* y, std::int64_t C) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < rows.rows * C;
       i += std::int64_t(gridDim.x) * blockDim.x)
    y[i] = x[std::int64_t(rows.row_jet[i / C]) * C + i % C];
}

// One thread per (jet, c).
__global__ void broadcast_rows_backward_kernel(PackedRows rows, const float* dy, float* dx, std::int64_t C) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < rows.jets * C;
       i += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int64_t b = i / C, c = i % C;
    double s = 0.0;
    for (std::int64_t r = rows.offsets[b]; r < rows.offsets[b + 1]; ++r) s += double(dy[r * C + c]);
    dx[i] += static_cast<float>(s);
  }
}
}  // namespace

void broadcast_rows_forward(Context& ctx, const float* x, const PackedRows& rows, float* y, std::int64_t channels) {
  const std::int64_t n = rows.rows * channels;
  if (n == 0) return;
  broadcast_rows_forward_kernel<<<grid_for(n, 256), 256, 0, stream(ctx)>>>(x, rows, y, channels);
  check_launch("broadcast_rows");
}

void broadcast_rows_backward(Context& ctx, const PackedRows& rows, const float* dy, float* dx, std::int64_t channels) {
  const std::int64_t n = rows.jets * channels;
  if (n == 0) return;
  broadcast_rows_backward_kernel<<<grid_for(n, 128), 128, 0, stream(ctx)>>>(rows, dy, dx, channels);
  check_launch("broadcast_rows backward");
}

}  // namespace ucluster::cuda
