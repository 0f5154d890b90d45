// CUDA entry points of the batch_norm family (float32, x [rows, C] row-major). Same contract as
// cpu/batch_norm.h; statistics are accumulated in double with a fixed reduction order, so the
// results do not depend on scheduling (no atomics).
#pragma once

#include <cstdint>

#include "kernels/replica_sum.h"

namespace ucluster {
class Context;
}

namespace ucluster::cuda {

// With sync (kernels/batch_norm.h), sync is called on device pointers, between the kernels on the
// context's stream, with the interleaved per-channel pairs of the reduction and the local row count
// after them: forward [sum x, 0] x C + [rows] (2C + 1 doubles), then [sum (x - mean)^2, 0] x C
// (2C doubles); backward [sum dy, sum dy x_hat] x C + [rows] (2C + 1 doubles). The kernels after
// a call read the global row count from device memory: no host synchronisation. relu / relu_output:
// the fused ReLU of kernels/batch_norm.h.
void batch_norm_train_forward(Context& ctx, const float* x, const float* gamma, const float* beta, float* y,
                              float* batch_mean, float* batch_var, float* inv_std, std::int64_t rows,
                              std::int64_t channels, double eps, const ReplicaSum& sync, bool relu = false);
void batch_norm_train_backward(Context& ctx, const float* x, const float* gamma, const float* batch_mean,
                               const float* inv_std, const float* dy, float* dx, float* dgamma, float* dbeta,
                               std::int64_t rows, std::int64_t channels, const ReplicaSum& sync,
                               const float* relu_output = nullptr);
void batch_norm_inference_forward(Context& ctx, const float* x, const float* gamma, const float* beta,
                                  const float* mean, const float* var, float* y, std::int64_t rows,
                                  std::int64_t channels, double eps, bool relu = false);
void batch_norm_inference_backward(Context& ctx, const float* x, const float* gamma, const float* mean,
                                   const float* var, const float* dy, float* dx, float* dgamma, float* dbeta,
                                   std::int64_t rows, std::int64_t channels, double eps,
                                   const float* relu_output = nullptr);
void batch_norm_update_moving(Context& ctx, float* moving_mean, float* moving_var, const float* batch_mean,
                              const float* batch_var, std::int64_t channels, double decay);

}  // namespace ucluster::cuda
