// Dense layer on the GPU. Row-major matrices are handed to column-major cuBLAS as their transposes:
// a row-major [R, C] matrix is a column-major [C, R] one, so y = x W becomes y^T = W^T x^T.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/dense.h"
#include "kernels/cuda/reduce.cuh"

namespace ucluster::cuda {

namespace {
__global__ void add_bias_kernel(float* y, const float* bias, std::int64_t rows, std::int64_t cout) {
  const std::int64_t n = rows * cout;
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x)
    y[i] += bias[i % cout];
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

// dbias += the column sums of dy, in kernels/cuda/reduce.cuh's fixed order.
void bias_grad(Context& ctx, const float* dy, float* dbias, std::int64_t rows, std::int64_t cout) {
  if (rows == 0 || cout == 0) return;
  const char* op = "bias gradient";
  // partials, then the sums [cout]
  Tensor scratch =
      ctx.empty(Shape{column_partials_size<1>(rows, cout) + cout}, DType::F64, Device::cuda(ctx.cuda()->device));
  double* partial = scratch.data<double>();
  double* sums = partial + column_partials_size<1>(rows, cout);
  column_sums<1>(ctx, MatrixTerms<float>{dy, cout}, rows, cout, partial, sums, op);
  store_sums(ctx, sums, cout, 1.0, true, dbias, op);
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
