#include "kernels/cuda/common.cuh"
#include "kernels/cuda/concat.h"

namespace ucluster::cuda {

namespace {
// One input's [rows, width] block at columns [offset, offset + width) of the [rows, total] output:
// forward out[r, offset + c] = part[r, c]; backward part[r, c] += out[r, offset + c].
template <bool kBackward>
__global__ void concat_block_kernel(const float* src, float* dst, std::int64_t n, std::int64_t width,
                                    std::int64_t offset, std::int64_t total) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int64_t whole = (i / width) * total + offset + i % width;
    if constexpr (kBackward)
      dst[i] += src[whole];
    else
      dst[whole] = src[i];
  }
}

template <bool kBackward>
void launch_block(Context& ctx, const float* src, float* dst, std::int64_t rows, std::int64_t width,
                  std::int64_t offset, std::int64_t total) {
  const std::int64_t n = rows * width;
  if (n == 0) return;
  concat_block_kernel<kBackward><<<grid_for(n, 256), 256, 0, stream(ctx)>>>(src, dst, n, width, offset, total);
  check_launch(kBackward ? "concat backward" : "concat");
}
}  // namespace

void concat_forward(Context& ctx, const float* const* inputs, const std::int64_t* widths, int count, float* out,
                    std::int64_t rows, std::int64_t total) {
  std::int64_t offset = 0;
  for (int i = 0; i < count; offset += widths[i++])
    launch_block<false>(ctx, inputs[i], out, rows, widths[i], offset, total);
}

void concat_backward(Context& ctx, const float* dout, float* const* dinputs, const std::int64_t* widths, int count,
                     std::int64_t rows, std::int64_t total) {
  std::int64_t offset = 0;
  for (int i = 0; i < count; offset += widths[i++])
    if (dinputs[i]) launch_block<true>(ctx, dout, dinputs[i], rows, widths[i], offset, total);
}

}  // namespace ucluster::cuda
