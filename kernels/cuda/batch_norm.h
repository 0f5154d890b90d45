// CUDA entry points of the batch_norm family (float32, x [rows, C] row-major). Same contract as
// cpu/batch_norm.h; statistics are accumulated in double with a fixed reduction order, so the
// results do not depend on scheduling (no atomics).
#pragma once

#include <cstdint>

namespace ucluster {
class Context;
}

namespace ucluster::cuda {

void batch_norm_train_forward(Context& ctx, const float* x, const float* gamma, const float* beta, float* y,
                              float* batch_mean, float* batch_var, float* inv_std, std::int64_t rows,
                              std::int64_t channels, double eps);
void batch_norm_train_backward(Context& ctx, const float* x, const float* gamma, const float* batch_mean,
                               const float* inv_std, const float* dy, float* dx, float* dgamma, float* dbeta,
                               std::int64_t rows, std::int64_t channels);
void batch_norm_inference_forward(Context& ctx, const float* x, const float* gamma, const float* beta,
                                  const float* mean, const float* var, float* y, std::int64_t rows,
                                  std::int64_t channels, double eps);
void batch_norm_inference_backward(Context& ctx, const float* x, const float* gamma, const float* mean,
                                   const float* var, const float* dy, float* dx, float* dgamma, float* dbeta,
                                   std::int64_t rows, std::int64_t channels, double eps);
void batch_norm_update_moving(Context& ctx, float* moving_mean, float* moving_var, const float* batch_mean,
                              const float* batch_var, std::int64_t channels, double decay);

}  // namespace ucluster::cuda
