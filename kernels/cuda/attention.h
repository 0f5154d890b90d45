// CUDA entry points of the attention family (float32). Same contract as cpu/attention.h.
#pragma once

#include <cstdint>

namespace ucluster {
class Context;
}

namespace ucluster::cuda {

void attention_softmax_forward(Context& ctx, const float* a, const float* c, float* alpha, std::int64_t rows,
                               std::int64_t k, float slope);
void attention_softmax_backward(Context& ctx, const float* a, const float* c, const float* alpha,
                                const float* dalpha, float* da, float* dc, std::int64_t rows, std::int64_t k,
                                float slope);
void attention_aggregate_forward(Context& ctx, const float* alpha, const float* y, const float* bias, float* o,
                                 std::int64_t rows, std::int64_t k, std::int64_t channels);
void attention_aggregate_backward(Context& ctx, const float* alpha, const float* y, const float* dout, float* dalpha,
                                  float* dy, float* dbias, std::int64_t rows, std::int64_t k, std::int64_t channels);
void neighbour_max_forward(Context& ctx, const float* y, float* g, std::int64_t rows, std::int64_t k,
                           std::int64_t channels);
void neighbour_max_backward(Context& ctx, const float* y, const float* g, const float* dg, float* dy, std::int64_t rows,
                            std::int64_t k, std::int64_t channels);

}  // namespace ucluster::cuda
