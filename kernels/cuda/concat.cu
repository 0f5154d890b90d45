#include "kernels/cuda/common.cuh"
#include "kernels/cuda/concat.h"

namespace ucluster::cuda {

namespace {
__global__ void copy_in_kernel(const float* in, float* out, std::int64_t n, std::int64_t width, std::int64_t offset,
                               std::int64_t total) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x)
    out[(i / width) * total + offset + i % width] = in[i];
}

__global__ void add_out_kernel(const float* dout, float* din, std::int64_t n, std::int64_t width,
                               std::int64_t offset, std::int64_t total) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x)
    din[i] += dout[(i / width) * total + offset + i % width];
}
}  // namespace

void concat_copy_in(Context& ctx, const float* in, float* out, std::int64_t rows, std::int64_t width,
                    std::int64_t offset, std::int64_t total) {
  const std::int64_t n = rows * width;
  if (n == 0) return;
  copy_in_kernel<<<grid_for(n, 256), 256, 0, stream(ctx)>>>(in, out, n, width, offset, total);
  check_launch("concat");
}

void concat_add_out(Context& ctx, const float* dout, float* din, std::int64_t rows, std::int64_t width,
                    std::int64_t offset, std::int64_t total) {
  const std::int64_t n = rows * width;
  if (n == 0) return;
  add_out_kernel<<<grid_for(n, 256), 256, 0, stream(ctx)>>>(dout, din, n, width, offset, total);
  check_launch("concat backward");
}

}  // namespace ucluster::cuda
