// Deterministic column sums for the CUDA kernels, the twin of kernels/cpu/reduce.h.
//
// Sums over the rows of a [rows, cols] table of terms, NT terms per (row, column), in double and in
// a fixed order that depends only on rows and cols, never on the launch or the scheduling: same
// inputs, same bits; no atomics. Two stages:
//   (1) column_partials_kernel: block (x = slice of kSliceRows rows, y = tile of kTileCols columns)
//       with kRowLanes row lanes, each lane adding rows lane, lane + kRowLanes, ... of its slice in
//       order, the lanes then combined in a fixed tree, into partial[(slice * NT + q) * cols + c];
//   (2) column_finish_kernel: one block per column, thread t adding slices t, t + kFinishThreads,
//       ... in order, then a fixed tree over the threads, into out[q * cols + c].
// Kernels that make their own per-block partials in that layout (kernels/cuda/edge_attention.cu's
// per-jet sums) use stage 2 alone.
#pragma once

#include <cstdint>

#include "kernels/cuda/common.cuh"

namespace ucluster::cuda {

constexpr std::int64_t kSliceRows = 256;
constexpr int kTileCols = 32;
constexpr int kRowLanes = 8;  // a power of two (tree over the lanes)
constexpr int kFinishThreads = 256;
constexpr std::int64_t kMaxColumnTiles = 65535;  // gridDim.y limit

inline std::int64_t slices_for(std::int64_t rows) { return (rows + kSliceRows - 1) / kSliceRows; }

// partial[(slice * NT + q) * cols + c] = sum over the slice's rows r of the terms f(r, c, acc) adds
// into acc[q] (f(r, c, acc) is called once per row and column with the lane's running sums, a
// double[NT] array).
template <int NT, typename F>
__global__ void column_partials_kernel(F f, std::int64_t rows, std::int64_t cols, double* partial) {
  __shared__ double lanes[NT][kRowLanes][kTileCols];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const std::int64_t c = std::int64_t(blockIdx.y) * kTileCols + tx;
  const std::int64_t begin = std::int64_t(blockIdx.x) * kSliceRows;
  const std::int64_t end = begin + kSliceRows < rows ? begin + kSliceRows : rows;
  double acc[NT];
  for (int q = 0; q < NT; ++q) acc[q] = 0.0;
  if (c < cols)
    for (std::int64_t r = begin + ty; r < end; r += kRowLanes) f(r, c, acc);
  for (int q = 0; q < NT; ++q) lanes[q][ty][tx] = acc[q];
  __syncthreads();
  for (int half = kRowLanes / 2; half > 0; half /= 2) {
    if (ty < half)
      for (int q = 0; q < NT; ++q) lanes[q][ty][tx] += lanes[q][ty + half][tx];
    __syncthreads();
  }
  if (ty == 0 && c < cols)
    for (int q = 0; q < NT; ++q) partial[(std::int64_t(blockIdx.x) * NT + q) * cols + c] = lanes[q][0][tx];
}

// out[q * cols + c] = sum over slices of partial[(slice * NT + q) * cols + c]; one block per column.
// slices == 0 gives zeros.
template <int NT>
__global__ void column_finish_kernel(const double* partial, std::int64_t slices, std::int64_t cols, double* out) {
  __shared__ double s[NT][kFinishThreads];
  const std::int64_t c = blockIdx.x;
  const int t = threadIdx.x;
  for (int q = 0; q < NT; ++q) {
    double acc = 0.0;
    for (std::int64_t slice = t; slice < slices; slice += kFinishThreads) acc += partial[(slice * NT + q) * cols + c];
    s[q][t] = acc;
  }
  __syncthreads();
  for (int half = kFinishThreads / 2; half > 0; half /= 2) {
    if (t < half)
      for (int q = 0; q < NT; ++q) s[q][t] += s[q][t + half];
    __syncthreads();
  }
  if (t == 0)
    for (int q = 0; q < NT; ++q) out[q * cols + c] = s[q][0];
}

// Stage 2 alone: out [NT cols] from per-slice partials in stage 1's layout.
template <int NT>
void finish_column_sums(Context& ctx, const double* partial, std::int64_t slices, std::int64_t cols, double* out,
                        const char* op) {
  if (cols == 0) return;  // an empty grid is an invalid launch
  column_finish_kernel<NT><<<static_cast<unsigned>(cols), kFinishThreads, 0, stream(ctx)>>>(partial, slices, cols, out);
  check_launch(op);
}

// Device scratch for column_sums: slices_for(rows) * NT * cols doubles.
template <int NT>
std::int64_t column_partials_size(std::int64_t rows, std::int64_t cols) {
  return slices_for(rows) * NT * cols;
}

// out[q * cols + c] = sum over r of the terms f adds into acc[q] (both stages); partial: scratch of
// column_partials_size<NT>(rows, cols) doubles. rows == 0 gives sums of 0.
template <int NT, typename F>
void column_sums(Context& ctx, F f, std::int64_t rows, std::int64_t cols, double* partial, double* out,
                 const char* op) {
  if (cols == 0) return;
  const std::int64_t slices = slices_for(rows), tiles = (cols + kTileCols - 1) / kTileCols;
  UCLUSTER_CHECK(tiles <= kMaxColumnTiles, op, ": ", cols, " columns exceed the reduction grid");
  if (slices > 0) {
    const dim3 grid(static_cast<unsigned>(slices), static_cast<unsigned>(tiles));
    column_partials_kernel<NT><<<grid, dim3(kTileCols, kRowLanes), 0, stream(ctx)>>>(f, rows, cols, partial);
    check_launch(op);
  }
  finish_column_sums<NT>(ctx, partial, slices, cols, out, op);
}

// The terms of a plain row-major [rows, cols] matrix (float or double), for column_sums<1>.
template <typename T>
struct MatrixTerms {
  const T* m;
  std::int64_t cols;
  __device__ void operator()(std::int64_t r, std::int64_t c, double (&acc)[1]) const { acc[0] += m[r * cols + c]; }
};

namespace {  // the non-template kernels: one copy per translation unit, as for kernels defined there
// out[i] = float(sums[i] / divisor), or out[i] += that value when accumulating (gradients).
__global__ void store_sums_kernel(const double* sums, std::int64_t n, double divisor, bool accumulate, float* out) {
  const std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x;
  if (i >= n) return;
  const float v = static_cast<float>(sums[i] / divisor);
  out[i] = accumulate ? out[i] + v : v;
}

__global__ void store_count_kernel(double* out, double count) { *out = count; }
}  // namespace

// Rounds n double sums to float into out (see store_sums_kernel).
inline void store_sums(Context& ctx, const double* sums, std::int64_t n, double divisor, bool accumulate, float* out,
                       const char* op) {
  if (n == 0) return;
  store_sums_kernel<<<grid_for(n, 128), 128, 0, stream(ctx)>>>(sums, n, divisor, accumulate, out);
  check_launch(op);
}

// Writes this replica's row count into device memory, after the sums it follows in a sync buffer
// (in double: exact up to 2^53 rows).
inline void store_count(Context& ctx, double* out, std::int64_t count, const char* op) {
  store_count_kernel<<<1, 1, 0, stream(ctx)>>>(out, double(count));
  check_launch(op);
}

}  // namespace ucluster::cuda
