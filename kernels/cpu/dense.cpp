#include "kernels/cpu/dense.h"

#include <vector>

#include "kernels/cpu/gemm.h"
#include "kernels/cpu/reduce.h"

namespace ucluster::cpu {

template <typename T>
void dense_forward(const T* x, const T* w, const T* bias, T* y, std::int64_t rows, std::int64_t cin,
                   std::int64_t cout) {
  gemm<T>(false, false, rows, cout, cin, T(1), x, cin, w, cout, T(0), y, cout);
  if (bias) add_bias(y, bias, rows, cout);
}

template <typename T>
void add_bias(T* y, const T* bias, std::int64_t rows, std::int64_t cout) {
#pragma omp parallel for schedule(static)
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
  if (dx) gemm<T>(false, true, rows, cin, cout, T(1), dy, cout, w, cout, T(1), dx, cin);
  if (dw) gemm<T>(true, false, cin, cout, rows, T(1), x, cin, dy, cout, T(1), dw, cout);
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
