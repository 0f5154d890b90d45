// The focal loss's formulas (spec 3.1), shared by the CPU bodies and the CUDA kernels of both focal
// families: the jet model's per-jet loss (kernels/focal_loss.h) and the event model's per-point one
// (kernels/point_focal_loss.h). Computed in double.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/focal_loss_constants.h"
#include "kernels/host_device.h"

namespace ucluster {

// Softmax statistics of one row of `classes` logits, in double: the row max and
// sum_c exp(l_c - max), in class order.
template <typename T>
UCLUSTER_HOST_DEVICE inline void focal_softmax_stats(const T* l, std::int64_t classes, double* max_out,
                                                     double* sum_out) {
  double mx = double(l[0]);
  for (std::int64_t c = 1; c < classes; ++c) mx = double(l[c]) > mx ? double(l[c]) : mx;
  double sum = 0.0;
  for (std::int64_t c = 0; c < classes; ++c) sum += ::exp(double(l[c]) - mx);
  *max_out = mx;
  *sum_out = sum;
}

// 1 - q clamped at 0 (q = p_t + 1e-9 exceeds 1 by at most 1e-9 when p_t rounds to 1).
UCLUSTER_HOST_DEVICE inline double focal_one_minus_q(double q) { return 1.0 - q > 0.0 ? 1.0 - q : 0.0; }

// FL = alpha (1 - q)^gamma (-ln q), q = p_t + 1e-9.
UCLUSTER_HOST_DEVICE inline double focal_value(double pt, double gamma, double alpha) {
  const double q = pt + kFocalLossEpsilon;
  return alpha * ::pow(focal_one_minus_q(q), gamma) * (-::log(q));
}

// dFL/dq = alpha [gamma (1-q)^(gamma-1) ln q - (1-q)^gamma / q]; at 1 - q = 0 the first term is
// taken as 0 (as the jet model's focal loss does).
UCLUSTER_HOST_DEVICE inline double focal_dvalue_dq(double pt, double gamma, double alpha) {
  const double q = pt + kFocalLossEpsilon;
  const double base = focal_one_minus_q(q);
  const double first = base > 0.0 ? gamma * ::pow(base, gamma - 1.0) * ::log(q) : 0.0;
  return alpha * (first - ::pow(base, gamma) / q);
}

}  // namespace ucluster
