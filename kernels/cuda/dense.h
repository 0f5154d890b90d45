// CUDA entry points of the dense family (float32, row-major, cuBLAS). Same contract as cpu/dense.h.
#pragma once

#include <cstdint>

namespace ucluster {
class Context;
}

namespace ucluster::cuda {

void dense_forward(Context& ctx, const float* x, const float* w, const float* bias, float* y, std::int64_t rows,
                   std::int64_t cin, std::int64_t cout);
void dense_backward(Context& ctx, const float* x, const float* w, const float* dy, float* dx, float* dw,
                    float* dbias, std::int64_t rows, std::int64_t cin, std::int64_t cout);

void add_bias(Context& ctx, float* y, const float* bias, std::int64_t rows, std::int64_t cout);
void bias_grad(Context& ctx, const float* dy, float* dbias, std::int64_t rows, std::int64_t cout);

}  // namespace ucluster::cuda
