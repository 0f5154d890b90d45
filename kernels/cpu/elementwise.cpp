#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/parallel.h"

namespace ucluster::cpu {

template <typename T>
void add_scaled(const T* a, const T* b, T* out, std::int64_t n, T alpha, T beta) {
  if (b == nullptr) {
#pragma omp parallel for simd schedule(static) if(parallel_worth(n))
    for (std::int64_t i = 0; i < n; ++i) out[i] = alpha * a[i];
    return;
  }
#pragma omp parallel for simd schedule(static) if(parallel_worth(n))
  for (std::int64_t i = 0; i < n; ++i) out[i] = alpha * a[i] + beta * b[i];
}

template <typename T>
void accumulate_scaled(const T* x, T* y, std::int64_t n, T alpha) {
#pragma omp parallel for simd schedule(static) if(parallel_worth(n))
  for (std::int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

template void add_scaled<float>(const float*, const float*, float*, std::int64_t, float, float);
template void add_scaled<double>(const double*, const double*, double*, std::int64_t, double, double);
template void accumulate_scaled<float>(const float*, float*, std::int64_t, float);
template void accumulate_scaled<double>(const double*, double*, std::int64_t, double);

}  // namespace ucluster::cpu
