// The per-element arithmetic of batch normalisation, shared by the CPU body (kernels/cpu/batch_norm.cpp)
// and the CUDA kernels (kernels/cuda/batch_norm.cu) so both compute it in the same order, in double.
// Plain C++ that nvcc also compiles for the device (kernels/host_device.h).
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/host_device.h"

namespace ucluster {

// Raw gradient outputs of the batch-norm backwards (each may be nullptr; all accumulate with +=) and
// the forward's output when it fused a ReLU (nullptr: no ReLU; else dy is first taken through it).
template <typename T>
struct BatchNormGradArgs {
  T* dx = nullptr;
  T* dgamma = nullptr;
  T* dbeta = nullptr;
  const T* relu_output = nullptr;
};

// Row weights of packed rows (engine/jet_rows.h): row r of x [M, C] stands for weight[r / repeat]
// rows of the reference in the training-mode statistics (repeat = k for the edge tensors [R, k, C],
// whose edges carry their point's weight); weight == nullptr: every row once.
template <typename T>
struct RowWeights {
  const T* weight = nullptr;
  std::int64_t repeat = 1;
  UCLUSTER_HOST_DEVICE double of(std::int64_t r) const { return weight ? double(weight[r / repeat]) : 1.0; }
  // The rows [0, rows) of x count for (host pointers): the sum of their weights, or `rows`.
  double total(std::int64_t rows) const {
    if (!weight) return double(rows);
    double m = 0.0;
    for (std::int64_t r = 0; r < rows; r += repeat) m += of(r) * double(repeat);
    return m;
  }
};

namespace bn_math {

// 1 / sqrt(var + eps).
UCLUSTER_HOST_DEVICE inline double inv_std(double var, double eps) {
#ifdef __CUDA_ARCH__
  return 1.0 / ::sqrt(var + eps);
#else
  return 1.0 / std::sqrt(var + eps);
#endif
}

// (x - mean)^2, the term of the two-pass biased variance (spec 2.1).
UCLUSTER_HOST_DEVICE inline double centered_square(double x, double mean) {
  const double d = x - mean;
  return d * d;
}

// x_hat = (x - mean) inv.
UCLUSTER_HOST_DEVICE inline double x_hat(double x, double mean, double inv) { return (x - mean) * inv; }

// gamma x_hat + beta, before rounding to the element type (and before the fused ReLU, if any).
UCLUSTER_HOST_DEVICE inline double normalised(double x, double mean, double inv, double gamma, double beta) {
  return gamma * x_hat(x, mean, inv) + beta;
}

// The training-mode input gradient of one element: gamma inv / m (m g - w sum_dy - w x_hat sum_dy_xhat),
// m the (global) weighted row count, w the element's row weight and g its output gradient (through
// the ReLU). With weights, g is the gradient of the row, i.e. the sum over the w reference rows it
// stands for, so the sums stay unweighted and only the statistics' share carries w.
UCLUSTER_HOST_DEVICE inline double train_input_grad(double gamma, double inv, double m, double g, double sum_dy,
                                                    double x_hat, double sum_dy_xhat, double w = 1.0) {
  const double scale = gamma * inv / m;
  return scale * (m * g - w * sum_dy - w * (x_hat * sum_dy_xhat));
}

// The inference-mode input gradient of one element: gamma inv g.
UCLUSTER_HOST_DEVICE inline double inference_input_grad(double gamma, double inv, double g) { return gamma * inv * g; }

// TF's assign_moving_average order (spec 2.1, golden README section 5): shadow - (shadow - value)
// (1 - decay), in the tensors' precision.
template <typename T>
UCLUSTER_HOST_DEVICE inline T moving_average(T shadow, T value, T one_minus_decay) {
  return shadow - (shadow - value) * one_minus_decay;
}

}  // namespace bn_math
}  // namespace ucluster
