// Dense layer on the GPU. Row-major matrices are handed to column-major cuBLAS as their transposes:
// a row-major [R, C] matrix is a column-major [C, R] one, so y = x W becomes y^T = W^T x^T.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/dense.h"

namespace ucluster::cuda {

namespace {
__global__ void add_bias_kernel(float* y, const float* bias, std::int64_t rows, std::int64_t cout) {
  const std::int64_t n = rows * cout;
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x)
    y[i] += bias[i % cout];
}

// Bias gradient in two deterministic stages: (1) blocks of kBiasChunkRows rows, 32 channels by 8
// row lanes per block, each lane summing its rows in order and the lanes combined in a fixed tree;
// (2) the chunk partials of each channel added in chunk order. No atomics, same bits every run.
constexpr std::int64_t kBiasChunkRows = 4096;
constexpr int kBiasLanes = 8;

__global__ void bias_grad_partial_kernel(const float* dy, double* partial, std::int64_t rows, std::int64_t cout) {
  __shared__ double lanes[kBiasLanes][32];
  const std::int64_t c = blockIdx.y * 32 + threadIdx.x;
  const std::int64_t r0 = blockIdx.x * kBiasChunkRows;
  const std::int64_t r1 = r0 + kBiasChunkRows < rows ? r0 + kBiasChunkRows : rows;
  double s = 0.0;
  if (c < cout)
    for (std::int64_t r = r0 + threadIdx.y; r < r1; r += kBiasLanes) s += dy[r * cout + c];
  lanes[threadIdx.y][threadIdx.x] = s;
  __syncthreads();
  for (int half = kBiasLanes / 2; half > 0; half /= 2) {
    if (threadIdx.y < half) lanes[threadIdx.y][threadIdx.x] += lanes[threadIdx.y + half][threadIdx.x];
    __syncthreads();
  }
  if (threadIdx.y == 0 && c < cout) partial[blockIdx.x * cout + c] = lanes[0][threadIdx.x];
}

__global__ void bias_grad_finish_kernel(const double* partial, float* dbias, std::int64_t chunks, std::int64_t cout) {
  const std::int64_t c = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x;
  if (c >= cout) return;
  double s = 0.0;
  for (std::int64_t k = 0; k < chunks; ++k) s += partial[k * cout + c];
  dbias[c] += static_cast<float>(s);
}
}  // namespace

void dense_forward(Context& ctx, const float* x, const float* w, const float* bias, float* y, std::int64_t rows,
                   std::int64_t cin, std::int64_t cout) {
  if (rows == 0) return;
  const float one = 1.0f, zero = 0.0f;
  check_cublas(cublasSgemm(cublas(ctx), CUBLAS_OP_N, CUBLAS_OP_N, int(cout), int(rows), int(cin), &one, w, int(cout),
                           x, int(cin), &zero, y, int(cout)),
               "dense");
  if (bias) add_bias(ctx, y, bias, rows, cout);
}

void add_bias(Context& ctx, float* y, const float* bias, std::int64_t rows, std::int64_t cout) {
  if (rows == 0) return;
  add_bias_kernel<<<grid_for(rows * cout, 256), 256, 0, stream(ctx)>>>(y, bias, rows, cout);
  check_launch("bias add");
}

void bias_grad(Context& ctx, const float* dy, float* dbias, std::int64_t rows, std::int64_t cout) {
  if (rows == 0 || cout == 0) return;
  const std::int64_t chunks = (rows + kBiasChunkRows - 1) / kBiasChunkRows;
  Tensor partial = ctx.empty(Shape{chunks * cout}, DType::F64, Device::cuda(ctx.cuda()->device));
  const dim3 grid(static_cast<unsigned>(chunks), static_cast<unsigned>((cout + 31) / 32));
  bias_grad_partial_kernel<<<grid, dim3(32, kBiasLanes), 0, stream(ctx)>>>(dy, partial.data<double>(), rows, cout);
  check_launch("bias gradient (partials)");
  bias_grad_finish_kernel<<<grid_for(cout, 128), 128, 0, stream(ctx)>>>(partial.data<double>(), dbias, chunks, cout);
  check_launch("bias gradient (sum)");
}

void dense_backward(Context& ctx, const float* x, const float* w, const float* dy, float* dx, float* dw,
                    float* dbias, std::int64_t rows, std::int64_t cin, std::int64_t cout) {
  if (rows == 0) return;
  const float one = 1.0f;
  if (dx)
    check_cublas(cublasSgemm(cublas(ctx), CUBLAS_OP_T, CUBLAS_OP_N, int(cin), int(rows), int(cout), &one, w,
                             int(cout), dy, int(cout), &one, dx, int(cin)),
                 "dense backward (input)");
  if (dw)
    check_cublas(cublasSgemm(cublas(ctx), CUBLAS_OP_N, CUBLAS_OP_T, int(cout), int(cin), int(rows), &one, dy,
                             int(cout), x, int(cin), &one, dw, int(cout)),
                 "dense backward (weight)");
  if (dbias) bias_grad(ctx, dy, dbias, rows, cout);
}

}  // namespace ucluster::cuda
