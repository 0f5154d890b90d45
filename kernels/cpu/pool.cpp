#include "kernels/cpu/pool.h"
#include "kernels/cpu/parallel.h"

#include <vector>

namespace ucluster::cpu {

template <typename T>
void mean_pool_forward(const T* x, T* y, std::int64_t batch, std::int64_t points, std::int64_t channels) {
  const std::int64_t C = channels;
#pragma omp parallel for schedule(static) if(parallel_worth(batch * points * channels))
  for (std::int64_t b = 0; b < batch; ++b) {
    std::vector<double> sums(static_cast<std::size_t>(C), 0.0);
    const T* xb = x + b * points * C;
    for (std::int64_t n = 0; n < points; ++n)
      for (std::int64_t c = 0; c < C; ++c) sums[c] += double(xb[n * C + c]);
    for (std::int64_t c = 0; c < C; ++c) y[b * C + c] = static_cast<T>(sums[c] / double(points));
  }
}

template <typename T>
void mean_pool_backward(const T* dy, T* dx, std::int64_t batch, std::int64_t points, std::int64_t channels) {
  const std::int64_t C = channels;
  const T n_points = static_cast<T>(points);
#pragma omp parallel for schedule(static) if(parallel_worth(batch * points * channels))
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::int64_t n = 0; n < points; ++n)
      for (std::int64_t c = 0; c < C; ++c) dx[(b * points + n) * C + c] += dy[b * C + c] / n_points;
}

template void mean_pool_forward<float>(const float*, float*, std::int64_t, std::int64_t, std::int64_t);
template void mean_pool_forward<double>(const double*, double*, std::int64_t, std::int64_t, std::int64_t);
template void mean_pool_backward<float>(const float*, float*, std::int64_t, std::int64_t, std::int64_t);
template void mean_pool_backward<double>(const double*, double*, std::int64_t, std::int64_t, std::int64_t);

}  // namespace ucluster::cpu
