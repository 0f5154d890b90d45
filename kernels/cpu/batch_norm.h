// Batch normalisation over x [rows, C] (all leading axes flattened into rows), spec 2.1.
//
// Statistics are accumulated in double with the deterministic column_sums of cpu/reduce.h; the
// variance is the biased one, computed in a second pass around the mean (as tf.nn.moments does).
#pragma once

#include <cstdint>

#include "kernels/batch_norm_math.h"
#include "kernels/replica_sum.h"

namespace ucluster::cpu {

// weights: the rows' weights (kernels/batch_norm_math.h); the statistics and M are weighted.
// Training mode: batch_mean[c], batch_var[c] (biased), inv_std[c] = 1/sqrt(var + eps) and
// y = gamma (x - mean) inv_std + beta. rows must be > 0 unless sync is given. With sync
// (kernels/batch_norm.h), the statistics are global: sync is called on [sum_r x (C), rows] (C + 1
// doubles), then on [sum_r (x - mean)^2] (C doubles); throws if the replicas have no row at all.
// relu: y = ReLU(...) in the same pass (kernels/batch_norm.h).
template <typename T>
void batch_norm_train_forward(const T* x, const T* gamma, const T* beta, T* y, T* batch_mean, T* batch_var,
                              T* inv_std, std::int64_t rows, std::int64_t channels, double eps,
                              const ReplicaSum& sync, bool relu = false, RowWeights<T> weights = {});

// Training-mode gradient with x_hat = (x - mean) inv_std, M = rows:
//   dbeta += sum_r dy, dgamma += sum_r dy x_hat,
//   dx += gamma inv_std / M (M dy - sum_r dy - x_hat sum_r dy x_hat).
// With sync, dbeta and dgamma stay local and dx uses the global sums and M, from one sync call on
// [sum_r dy (C), sum_r dy x_hat (C), rows] (2C + 1 doubles). grads: kernels/batch_norm_math.h.
template <typename T>
void batch_norm_train_backward(const T* x, const T* gamma, const T* batch_mean, const T* inv_std, const T* dy,
                               const BatchNormGradArgs<T>& grads, std::int64_t rows, std::int64_t channels,
                               const ReplicaSum& sync, RowWeights<T> weights = {});

// Inference mode: y = gamma (x - mean) / sqrt(var + eps) + beta with the moving statistics.
template <typename T>
void batch_norm_inference_forward(const T* x, const T* gamma, const T* beta, const T* mean, const T* var, T* y,
                                  std::int64_t rows, std::int64_t channels, double eps, bool relu = false);

// Inference-mode gradient (statistics are constants): dx += gamma inv_std dy, dgamma += sum dy x_hat,
// dbeta += sum dy. grads: kernels/batch_norm_math.h.
template <typename T>
void batch_norm_inference_backward(const T* x, const T* gamma, const T* mean, const T* var, const T* dy,
                                   const BatchNormGradArgs<T>& grads, std::int64_t rows, std::int64_t channels,
                                   double eps);

// TF's assign_moving_average: shadow -= (1 - decay) * (shadow - value), for mean and variance.
template <typename T>
void batch_norm_update_moving(T* moving_mean, T* moving_var, const T* batch_mean, const T* batch_var,
                              std::int64_t channels, double decay);

}  // namespace ucluster::cpu
