#include "kernels/cpu/focal_loss.h"
#include "kernels/cpu/parallel.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/focal_loss_math.h"

namespace ucluster::cpu {


template <typename T>
void focal_loss_forward(const T* logits, const std::int32_t* target, T* loss, std::int64_t batch,
                        std::int64_t classes, double gamma, double alpha) {
  std::vector<double> fl(static_cast<std::size_t>(batch));
#pragma omp parallel for schedule(static) if(parallel_worth(batch * classes))
  for (std::int64_t b = 0; b < batch; ++b) {
    const T* l = logits + b * classes;
    double mx, sum;
    focal_softmax_stats(l, classes, &mx, &sum);
    fl[b] = focal_value(std::exp(double(l[target[b]]) - mx) / sum, gamma, alpha);
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
    focal_softmax_stats(l, classes, &mx, &sum);
    const double pt = std::exp(double(l[t]) - mx) / sum;
    // dq/dl_c = p_t ([c==t] - p_c).
    const double coef = scale * focal_dvalue_dq(pt, gamma, alpha) * pt;
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
