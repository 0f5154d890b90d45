// CUDA entry points of the batch_norm family (float32, x [rows, C] row-major). Same contract as
// cpu/batch_norm.h; statistics are accumulated in double with a fixed reduction order, so the
// results do not depend on scheduling (no atomics).
#pragma once

#include <cstdint>

#include "kernels/batch_norm_math.h"
#include "kernels/replica_sum.h"

namespace ucluster {
class Context;
}

namespace ucluster::cuda {

// With sync (kernels/batch_norm.h), sync is called on device pointers, between the kernels on the
// context's stream, with the buffers of cpu/batch_norm.h: forward [sum x (C), rows] (C + 1 doubles),
// then [sum (x - mean)^2 (C)] (C doubles); backward [sum dy (C), sum dy x_hat (C), rows] (2C + 1
// doubles). The kernels after a call read the global row count from device memory: no host
// synchronisation. relu / grads.relu_output: the fused ReLU of kernels/batch_norm.h.
void batch_norm_train_forward(Context& ctx, const float* x, const float* gamma, const float* beta, float* y,
                              float* batch_mean, float* batch_var, float* inv_std, std::int64_t rows,
                              std::int64_t channels, double eps, const ReplicaSum& sync, bool relu = false,
                              RowWeights<float> weights = {});
void batch_norm_train_backward(Context& ctx, const float* x, const float* gamma, const float* batch_mean,
                               const float* inv_std, const float* dy, const BatchNormGradArgs<float>& grads,
                               std::int64_t rows, std::int64_t channels, const ReplicaSum& sync,
                               RowWeights<float> weights = {});
void batch_norm_inference_forward(Context& ctx, const float* x, const float* gamma, const float* beta,
                                  const float* mean, const float* var, float* y, std::int64_t rows,
                                  std::int64_t channels, double eps, bool relu = false);
void batch_norm_inference_backward(Context& ctx, const float* x, const float* gamma, const float* mean,
                                   const float* var, const float* dy, const BatchNormGradArgs<float>& grads,
                                   std::int64_t rows, std::int64_t channels, double eps);
void batch_norm_update_moving(Context& ctx, float* moving_mean, float* moving_var, const float* batch_mean,
                              const float* batch_var, std::int64_t channels, double decay);

}  // namespace ucluster::cuda
