#include "kernels/cpu/dense.h"
#include "kernels/cpu/parallel.h"

#include <algorithm>
#include <vector>

#include "kernels/cpu/gemm.h"
#include "kernels/cpu/reduce.h"

namespace ucluster::cpu {

// The GEMMs run on fixed blocks of kGemmBlockRows rows, one BLAS call per block inside an OpenMP
// loop (OpenBLAS's OpenMP build computes single-threaded inside a parallel region). Every output
// element is then computed by the same code whatever the number of threads, and the weight
// gradient's sum over rows is added block by block in a fixed order: the results do not depend on
// the thread count (OpenBLAS's own threading splits the row sum differently for 1 and 2 threads).
constexpr std::int64_t kGemmBlockRows = 2048;

namespace {
std::int64_t row_blocks(std::int64_t rows) { return (rows + kGemmBlockRows - 1) / kGemmBlockRows; }
}  // namespace

template <typename T>
void dense_forward(const T* x, const T* w, const T* bias, T* y, std::int64_t rows, std::int64_t cin,
                   std::int64_t cout) {
#pragma omp parallel for schedule(static) if(parallel_worth(rows * cout * cin))
  for (std::int64_t blk = 0; blk < row_blocks(rows); ++blk) {
    const std::int64_t r0 = blk * kGemmBlockRows, n = std::min(kGemmBlockRows, rows - r0);
    gemm<T>(false, false, n, cout, cin, T(1), x + r0 * cin, cin, w, cout, T(0), y + r0 * cout, cout);
  }
  if (bias) add_bias(y, bias, rows, cout);
}

template <typename T>
void add_bias(T* y, const T* bias, std::int64_t rows, std::int64_t cout) {
#pragma omp parallel for schedule(static) if(parallel_worth(rows * cout))
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < cout; ++c) y[r * cout + c] += bias[c];
}

template <typename T>
void bias_grad(const T* dy, T* dbias, std::int64_t rows, std::int64_t cout) {
  std::vector<double> sums(static_cast<std::size_t>(cout));
  column_sums(rows, cout, [&](std::int64_t r, std::int64_t c) { return double(dy[r * cout + c]); }, sums.data());
  for (std::int64_t c = 0; c < cout; ++c) dbias[c] += static_cast<T>(sums[c]);
}

template <typename T>
void dense_backward(const T* x, const T* w, const T* dy, T* dx, T* dw, T* dbias, std::int64_t rows,
                    std::int64_t cin, std::int64_t cout) {
  const std::int64_t blocks = row_blocks(rows);
  if (dx) {
#pragma omp parallel for schedule(static) if(parallel_worth(rows * cin * cout))
    for (std::int64_t blk = 0; blk < blocks; ++blk) {
      const std::int64_t r0 = blk * kGemmBlockRows, n = std::min(kGemmBlockRows, rows - r0);
      gemm<T>(false, true, n, cin, cout, T(1), dy + r0 * cout, cout, w, cout, T(1), dx + r0 * cin, cin);
    }
  }
  if (dw) {
    // Per-block partial products, then their sum in block order (in double).
    const std::int64_t size = cin * cout;
    std::vector<T> partial(static_cast<std::size_t>(blocks * size));
#pragma omp parallel for schedule(static) if(parallel_worth(rows * cin * cout))
    for (std::int64_t blk = 0; blk < blocks; ++blk) {
      const std::int64_t r0 = blk * kGemmBlockRows, n = std::min(kGemmBlockRows, rows - r0);
      gemm<T>(true, false, cin, cout, n, T(1), x + r0 * cin, cin, dy + r0 * cout, cout, T(0),
              partial.data() + blk * size, cout);
    }
#pragma omp parallel for schedule(static) if(parallel_worth(size * blocks))
    for (std::int64_t i = 0; i < size; ++i) {
      double sum = 0.0;
      for (std::int64_t blk = 0; blk < blocks; ++blk) sum += partial[blk * size + i];
      dw[i] += static_cast<T>(sum);
    }
  }
  if (dbias) bias_grad(dy, dbias, rows, cout);
}

template void dense_forward<float>(const float*, const float*, const float*, float*, std::int64_t, std::int64_t,
                                   std::int64_t);
template void dense_forward<double>(const double*, const double*, const double*, double*, std::int64_t,
                                    std::int64_t, std::int64_t);
template void dense_backward<float>(const float*, const float*, const float*, float*, float*, float*, std::int64_t,
                                    std::int64_t, std::int64_t);
template void add_bias<float>(float*, const float*, std::int64_t, std::int64_t);
template void add_bias<double>(double*, const double*, std::int64_t, std::int64_t);
template void bias_grad<float>(const float*, float*, std::int64_t, std::int64_t);
template void bias_grad<double>(const double*, double*, std::int64_t, std::int64_t);
template void dense_backward<double>(const double*, const double*, const double*, double*, double*, double*,
                                     std::int64_t, std::int64_t, std::int64_t);

}  // namespace ucluster::cpu
