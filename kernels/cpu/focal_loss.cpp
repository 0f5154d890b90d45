#include "kernels/cpu/focal_loss.h"
#include "kernels/cpu/parallel.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/focal_loss_constants.h"

namespace ucluster::cpu {

namespace {
// Softmax statistics of one row, in double: the row max and sum_c exp(l_c - max), in class order.
template <typename T>
void row_softmax_stats(const T* l, std::int64_t classes, double* max_out, double* sum_out) {
  double mx = double(l[0]);
  for (std::int64_t c = 1; c < classes; ++c) mx = std::max(mx, double(l[c]));
  double sum = 0.0;
  for (std::int64_t c = 0; c < classes; ++c) sum += std::exp(double(l[c]) - mx);
  *max_out = mx;
  *sum_out = sum;
}

// 1 - q clamped at 0: when p_t rounds to 1 in double, q = p_t + 1e-9 exceeds 1 by at most 1e-9
// (TF in float32 never sees this: there q rounds to <= 1). The clamp keeps a non-integer gamma
// finite and changes FL by less than alpha * 1e-9.
inline double one_minus_q(double q) { return std::max(0.0, 1.0 - q); }
}  // namespace

template <typename T>
void focal_loss_forward(const T* logits, const std::int32_t* target, T* loss, std::int64_t batch,
                        std::int64_t classes, double gamma, double alpha) {
  std::vector<double> fl(static_cast<std::size_t>(batch));
#pragma omp parallel for schedule(static) if(parallel_worth(batch * classes))
  for (std::int64_t b = 0; b < batch; ++b) {
    const T* l = logits + b * classes;
    double mx, sum;
    row_softmax_stats(l, classes, &mx, &sum);
    const double q = std::exp(double(l[target[b]]) - mx) / sum + kFocalLossEpsilon;
    fl[b] = alpha * std::pow(one_minus_q(q), gamma) * (-std::log(q));
  }
  // Batch mean summed in jet order: the result does not depend on the thread count.
  double total = 0.0;
  for (std::int64_t b = 0; b < batch; ++b) total += fl[b];
  loss[0] = static_cast<T>(total / double(batch));
}

template <typename T>
void focal_loss_backward(const T* logits, const std::int32_t* target, const T* dloss, T* dlogits,
                         std::int64_t batch, std::int64_t classes, double gamma, double alpha) {
  const double scale = double(dloss[0]) / double(batch);
#pragma omp parallel for schedule(static) if(parallel_worth(batch * classes))
  for (std::int64_t b = 0; b < batch; ++b) {
    const T* l = logits + b * classes;
    T* dl = dlogits + b * classes;
    const std::int32_t t = target[b];
    double mx, sum;
    row_softmax_stats(l, classes, &mx, &sum);
    const double pt = std::exp(double(l[t]) - mx) / sum;
    const double q = pt + kFocalLossEpsilon;
    const double base = one_minus_q(q);
    // spec 3.1: dFL/dq = alpha [gamma (1-q)^(gamma-1) ln q - (1-q)^gamma / q]; dq/dl_c = p_t ([c==t] - p_c).
    // At base == 0 (q >= 1) the first term is gamma * 0^(gamma-1) * ln q with ln q <= 1e-9: taken as 0.
    const double first = base > 0.0 ? gamma * std::pow(base, gamma - 1.0) * std::log(q) : 0.0;
    const double dfl_dq = alpha * (first - std::pow(base, gamma) / q);
    const double coef = scale * dfl_dq * pt;
    for (std::int64_t c = 0; c < classes; ++c) {
      const double pc = std::exp(double(l[c]) - mx) / sum;
      dl[c] += static_cast<T>(coef * ((c == t ? 1.0 : 0.0) - pc));
    }
  }
}

template void focal_loss_forward<float>(const float*, const std::int32_t*, float*, std::int64_t, std::int64_t,
                                        double, double);
template void focal_loss_forward<double>(const double*, const std::int32_t*, double*, std::int64_t, std::int64_t,
                                         double, double);
template void focal_loss_backward<float>(const float*, const std::int32_t*, const float*, float*, std::int64_t,
                                         std::int64_t, double, double);
template void focal_loss_backward<double>(const double*, const std::int32_t*, const double*, double*,
                                          std::int64_t, std::int64_t, double, double);

}  // namespace ucluster::cpu
