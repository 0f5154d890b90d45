#include "kernels/cpu/activation.h"
#include "kernels/cpu/parallel.h"

namespace ucluster::cpu {

template <typename T>
void leaky_relu_forward(const T* x, T* y, std::int64_t n, T slope) {
#pragma omp parallel for simd schedule(static) if(parallel_worth(n))
  for (std::int64_t i = 0; i < n; ++i) y[i] = x[i] > T(0) ? x[i] : slope * x[i];
}

template <typename T>
void leaky_relu_backward(const T* x, const T* dy, T* dx, std::int64_t n, T slope) {
#pragma omp parallel for simd schedule(static) if(parallel_worth(n))
  for (std::int64_t i = 0; i < n; ++i) dx[i] += x[i] > T(0) ? dy[i] : slope * dy[i];
}

template void leaky_relu_forward<float>(const float*, float*, std::int64_t, float);
template void leaky_relu_forward<double>(const double*, double*, std::int64_t, double);
template void leaky_relu_backward<float>(const float*, const float*, float*, std::int64_t, float);
template void leaky_relu_backward<double>(const double*, const double*, double*, std::int64_t, double);

}  // namespace ucluster::cpu
