#include "kernels/cpu/batch_norm.h"

#include <vector>

#include "engine/error.h"
#include "kernels/batch_norm_math.h"
#include "kernels/cpu/parallel.h"
#include "kernels/cpu/reduce.h"
#include "kernels/relu_branchless.h"

namespace ucluster::cpu {

namespace {
using Doubles = std::vector<double>;

Doubles doubles(std::int64_t n) { return Doubles(static_cast<std::size_t>(n)); }

// dbeta += s_dy, dgamma += s_dy_xhat, where the sums run over rows in double.
template <typename T>
void add_parameter_grads(const double* s_dy, const double* s_dy_xhat, T* dgamma, T* dbeta, std::int64_t channels) {
  for (std::int64_t c = 0; c < channels; ++c) {
    if (dbeta) dbeta[c] += static_cast<T>(s_dy[c]);
    if (dgamma) dgamma[c] += static_cast<T>(s_dy_xhat[c]);
  }
}

// The fused ReLU (kernels/batch_norm.h): the element loops are templates on it, compiled once with and
// once without, and branch-free (kernels/relu_branchless.h).
template <bool kRelu, typename T>
T relu_if(T v) {
  if constexpr (kRelu) return relu_value(v);
  else return v;
}

// dy[i] through that ReLU given its output y (y > 0 exactly where its input was), as leaky_relu's
// backward computes it: dy where y > 0, else 0 * dy.
template <bool kRelu, typename T>
T grad_through_relu(const T* relu_output, const T* dy, std::int64_t i) {
  if constexpr (kRelu) return grad_where_positive(relu_output[i], dy[i]);
  else return dy[i];
}

// y = ReLU?(gamma (x - mean) inv + beta) row by row, in double, rounded to T (mean: T or double).
template <bool kRelu, typename T, typename M>
void normalise_rows(const T* x, const T* gamma, const T* beta, const M* mean, const double* inv, T* y,
                    std::int64_t rows, std::int64_t C) {
#pragma omp parallel for schedule(static) if(parallel_worth(rows * C))
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < C; ++c)
      y[r * C + c] = relu_if<kRelu>(static_cast<T>(
          bn_math::normalised(double(x[r * C + c]), double(mean[c]), inv[c], double(gamma[c]), double(beta[c]))));
}

// Calls body.template operator()<kRelu>() with kRelu = relu: the element loops are compiled once
// with and once without the fused ReLU.
template <typename F>
void with_relu(bool relu, F&& body) {
  if (relu)
    body.template operator()<true>();
  else
    body.template operator()<false>();
}

template <typename T, typename M>
void normalise(bool relu, const T* x, const T* gamma, const T* beta, const M* mean, const double* inv, T* y,
               std::int64_t rows, std::int64_t C) {
  with_relu(relu, [&]<bool kRelu>() { normalise_rows<kRelu>(x, gamma, beta, mean, inv, y, rows, C); });
}
}  // namespace

template <typename T>
void batch_norm_train_forward(const T* x, const T* gamma, const T* beta, T* y, T* batch_mean, T* batch_var,
                              T* inv_std, std::int64_t rows, std::int64_t channels, double eps,
                              const ReplicaSum& sync, bool relu, RowWeights<T> weights) {
  const std::int64_t C = channels;
  // mean holds the C column sums and, for the sync call, the (weighted) row count after them.
  Doubles mean = doubles(C + 1), var = doubles(C), inv = doubles(C);
  row_sums(
      rows, C,
      [&](std::int64_t r, double* p) {
        const double w = weights.of(r);
        const T* xr = x + r * C;
        for (std::int64_t c = 0; c < C; ++c) p[c] += w * double(xr[c]);
      },
      mean.data());
  mean[C] = weights.total(rows);
  if (sync) {
    sync(mean.data(), C + 1);
    UCLUSTER_CHECK(mean[C] > 0, "batch_norm (training): no rows on any replica to take batch statistics over");
  }
  const double m = mean[C];
  for (std::int64_t c = 0; c < C; ++c) mean[c] /= m;
  // Two-pass biased variance, spec 2.1 (tf.nn.moments: mean of squared differences from the mean);
  // with sync, around the global mean.
  row_sums(
      rows, C,
      [&](std::int64_t r, double* p) {
        const double w = weights.of(r);
        const T* xr = x + r * C;
        for (std::int64_t c = 0; c < C; ++c) p[c] += w * bn_math::centered_square(double(xr[c]), mean[c]);
      },
      var.data());
  if (sync) sync(var.data(), C);
  for (std::int64_t c = 0; c < C; ++c) {
    var[c] /= m;
    inv[c] = bn_math::inv_std(var[c], eps);
    batch_mean[c] = static_cast<T>(mean[c]);
    batch_var[c] = static_cast<T>(var[c]);
    inv_std[c] = static_cast<T>(inv[c]);
  }
  normalise(relu, x, gamma, beta, mean.data(), inv.data(), y, rows, C);
}

namespace {
template <bool kRelu, typename T>
void train_backward(const T* x, const T* gamma, const T* batch_mean, const T* inv_std, const T* dy, T* dx,
                    T* dgamma, T* dbeta, std::int64_t rows, std::int64_t C, const ReplicaSum& sync,
                    const T* relu_output, RowWeights<T> weights) {
  // dy through the ReLU, in double.
  auto g = [&](std::int64_t i) { return double(grad_through_relu<kRelu>(relu_output, dy, i)); };
  Doubles mean = doubles(C), inv = doubles(C), gamma_d = doubles(C);
  for (std::int64_t c = 0; c < C; ++c) {
    mean[c] = double(batch_mean[c]);
    inv[c] = double(inv_std[c]);
    gamma_d[c] = double(gamma[c]);
  }
  // sums = [sum dy (C), sum dy x_hat (C), rows]: one pass over the data, one buffer for the one
  // sync call.
  Doubles sums = doubles(2 * C + 1);
  double* s_dy = sums.data();
  double* s_dy_xhat = s_dy + C;
  row_sums(
      rows, 2 * C,
      [&](std::int64_t r, double* p) {
        for (std::int64_t c = 0; c < C; ++c) {
          const double gi = g(r * C + c);
          p[c] += gi;
          p[C + c] += gi * bn_math::x_hat(double(x[r * C + c]), mean[c], inv[c]);
        }
      },
      sums.data());
  // Local: the data-parallel gradient all-reduce averages the parameter gradients later.
  add_parameter_grads(s_dy, s_dy_xhat, dgamma, dbeta, C);
  sums[2 * C] = weights.total(rows);
  if (sync) sync(sums.data(), 2 * C + 1);
  if (!dx) return;
  const double m = sums[2 * C];
#pragma omp parallel for schedule(static) if(parallel_worth(rows * C))
  for (std::int64_t r = 0; r < rows; ++r) {
    const double w = weights.of(r);
    for (std::int64_t c = 0; c < C; ++c) {
      const std::int64_t i = r * C + c;
      dx[i] += static_cast<T>(bn_math::train_input_grad(gamma_d[c], inv[c], m, g(i), s_dy[c],
                                                         bn_math::x_hat(double(x[i]), mean[c], inv[c]), s_dy_xhat[c],
                                                         w));
    }
  }
}
}  // namespace

template <typename T>
void batch_norm_train_backward(const T* x, const T* gamma, const T* batch_mean, const T* inv_std, const T* dy,
                               const BatchNormGradArgs<T>& grads, std::int64_t rows, std::int64_t channels,
                               const ReplicaSum& sync, RowWeights<T> weights) {
  const auto [dx, dgamma, dbeta, relu_output] = grads;
  with_relu(relu_output != nullptr, [&]<bool kRelu>() {
    train_backward<kRelu>(x, gamma, batch_mean, inv_std, dy, dx, dgamma, dbeta, rows, channels, sync, relu_output,
                          weights);
  });
}

template <typename T>
void batch_norm_inference_forward(const T* x, const T* gamma, const T* beta, const T* mean, const T* var, T* y,
                                  std::int64_t rows, std::int64_t channels, double eps, bool relu) {
  const std::int64_t C = channels;
  Doubles inv = doubles(C);
  for (std::int64_t c = 0; c < C; ++c) inv[c] = bn_math::inv_std(double(var[c]), eps);
  normalise(relu, x, gamma, beta, mean, inv.data(), y, rows, C);
}

namespace {
template <bool kRelu, typename T>
void inference_backward(const T* x, const T* gamma, const T* mean, const T* var, const T* dy, T* dx, T* dgamma,
                        T* dbeta, std::int64_t rows, std::int64_t C, double eps, const T* relu_output) {
  // dy through the ReLU, in double.
  auto g = [&](std::int64_t r, std::int64_t c) {
    return double(grad_through_relu<kRelu>(relu_output, dy, r * C + c));
  };
  Doubles inv = doubles(C);
  for (std::int64_t c = 0; c < C; ++c) inv[c] = bn_math::inv_std(double(var[c]), eps);
  if (dgamma || dbeta) {
    Doubles s_dy = doubles(C), s_dy_xhat = doubles(C);
    column_sums(rows, C, g, s_dy.data());
    column_sums(
        rows, C,
        [&](std::int64_t r, std::int64_t c) { return g(r, c) * (double(x[r * C + c]) - double(mean[c])) * inv[c]; },
        s_dy_xhat.data());
    add_parameter_grads(s_dy.data(), s_dy_xhat.data(), dgamma, dbeta, C);
  }
  if (!dx) return;
#pragma omp parallel for schedule(static) if(parallel_worth(rows * C))
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < C; ++c)
      dx[r * C + c] += static_cast<T>(bn_math::inference_input_grad(double(gamma[c]), inv[c], g(r, c)));
}
}  // namespace

template <typename T>
void batch_norm_inference_backward(const T* x, const T* gamma, const T* mean, const T* var, const T* dy,
                                   const BatchNormGradArgs<T>& grads, std::int64_t rows, std::int64_t channels,
                                   double eps) {
  const auto [dx, dgamma, dbeta, relu_output] = grads;
  with_relu(relu_output != nullptr, [&]<bool kRelu>() {
    inference_backward<kRelu>(x, gamma, mean, var, dy, dx, dgamma, dbeta, rows, channels, eps, relu_output);
  });
}

template <typename T>
void batch_norm_update_moving(T* moving_mean, T* moving_var, const T* batch_mean, const T* batch_var,
                              std::int64_t channels, double decay) {
  const T one_minus_decay = static_cast<T>(1.0 - decay);
  for (std::int64_t c = 0; c < channels; ++c) {
    moving_mean[c] = bn_math::moving_average(moving_mean[c], batch_mean[c], one_minus_decay);
    moving_var[c] = bn_math::moving_average(moving_var[c], batch_var[c], one_minus_decay);
  }
}

#define UCLUSTER_INSTANTIATE_BATCH_NORM(T)                                                                            \
  template void batch_norm_train_forward<T>(const T*, const T*, const T*, T*, T*, T*, T*, std::int64_t, std::int64_t, \
                                            double, const ReplicaSum&, bool, RowWeights<T>);                          \
  template void batch_norm_train_backward<T>(const T*, const T*, const T*, const T*, const T*,                        \
                                             const BatchNormGradArgs<T>&, std::int64_t, std::int64_t,                 \
                                             const ReplicaSum&, RowWeights<T>);                                       \
  template void batch_norm_inference_forward<T>(const T*, const T*, const T*, const T*, const T*, T*, std::int64_t,   \
                                                std::int64_t, double, bool);                                          \
  template void batch_norm_inference_backward<T>(const T*, const T*, const T*, const T*, const T*,                    \
                                                 const BatchNormGradArgs<T>&, std::int64_t, std::int64_t, double);    \
  template void batch_norm_update_moving<T>(T*, T*, const T*, const T*, std::int64_t, double);

UCLUSTER_INSTANTIATE_BATCH_NORM(float)
UCLUSTER_INSTANTIATE_BATCH_NORM(double)

#undef UCLUSTER_INSTANTIATE_BATCH_NORM

}  // namespace ucluster::cpu
