// Dense layer / 1x1 convolution over rows: y[r, co] = sum_ci x[r, ci] W[ci, co] + b[co].
#pragma once

#include <cstdint>

namespace ucluster::cpu {

// bias may be nullptr.
template <typename T>
void dense_forward(const T* x, const T* w, const T* bias, T* y, std::int64_t rows, std::int64_t cin,
                   std::int64_t cout);

// Accumulates: dx += dy W^T, dw += x^T dy, dbias += sum_r dy. Any of dx, dw, dbias may be nullptr.
template <typename T>
void dense_backward(const T* x, const T* w, const T* dy, T* dx, T* dw, T* dbias, std::int64_t rows,
                    std::int64_t cin, std::int64_t cout);

// y[r, c] += bias[c] over [rows, cout].
template <typename T>
void add_bias(T* y, const T* bias, std::int64_t rows, std::int64_t cout);
// dbias[c] += sum_r dy[r, c], summed in a fixed order (kernels/cpu/reduce.h).
template <typename T>
void bias_grad(const T* dy, T* dbias, std::int64_t rows, std::int64_t cout);

}  // namespace ucluster::cpu
