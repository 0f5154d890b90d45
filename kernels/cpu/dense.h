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

}  // namespace ucluster::cpu
