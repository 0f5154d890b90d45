#include "kernels/cpu/adam.h"
#include "kernels/cpu/parallel.h"

#include <cmath>

namespace ucluster::cpu {

template <typename T>
void adam_update(T* params, const T* grads, T* m, T* v, std::int64_t n, double lr_t, double beta1, double beta2,
                 double epsilon) {
  // TF's ApplyAdam computes (1 - beta) and lr_t in the variable's dtype: T(1) - T(0.9) in float32 is
  // 0.100000024, not 0.1. Element-wise, so trivially deterministic.
  const T one_minus_beta1 = T(1) - T(beta1);
  const T one_minus_beta2 = T(1) - T(beta2);
  const T lr = T(lr_t), eps = T(epsilon);
#pragma omp parallel for schedule(static) if(parallel_worth(n))
  for (std::int64_t i = 0; i < n; ++i) {
    const T g = grads[i];
    m[i] += (g - m[i]) * one_minus_beta1;
    v[i] += (g * g - v[i]) * one_minus_beta2;
    params[i] -= (m[i] * lr) / (std::sqrt(v[i]) + eps);
  }
}

template void adam_update<float>(float*, const float*, float*, float*, std::int64_t, double, double, double, double);
template void adam_update<double>(double*, const double*, double*, double*, std::int64_t, double, double, double,
                                  double);

}  // namespace ucluster::cpu
