#include "kernels/cpu/pool.h"
#include "kernels/cpu/parallel.h"

#include <vector>

namespace ucluster::cpu {

template <typename T>
void mean_pool_forward(const T* x, const PackedRows& rows, const T* weight, T* y, std::int64_t channels) {
  const std::int64_t C = channels;
#pragma omp parallel for schedule(static) if(parallel_worth(rows.rows * channels))
  for (std::int64_t b = 0; b < rows.jets; ++b) {
    std::vector<double> sums(static_cast<std::size_t>(C), 0.0);
    for (std::int64_t r = rows.offsets[b]; r < rows.offsets[b + 1]; ++r) {
      const double w = double(weight[r]);
      for (std::int64_t c = 0; c < C; ++c) sums[c] += w * double(x[r * C + c]);
    }
    for (std::int64_t c = 0; c < C; ++c) y[b * C + c] = static_cast<T>(sums[c] / double(rows.slots));
  }
}

template <typename T>
void mean_pool_backward(const PackedRows& rows, const T* weight, const T* dy, T* dx, std::int64_t channels) {
  const std::int64_t C = channels;
  const double slots = double(rows.slots);
#pragma omp parallel for schedule(static) if(parallel_worth(rows.rows * channels))
  for (std::int64_t b = 0; b < rows.jets; ++b)
    for (std::int64_t r = rows.offsets[b]; r < rows.offsets[b + 1]; ++r) {
      const double w = double(weight[r]);
      for (std::int64_t c = 0; c < C; ++c) dx[r * C + c] += static_cast<T>(w * double(dy[b * C + c]) / slots);
    }
}

template <typename T>
void max_pool_forward(const T* x, const PackedRows& rows, T* y, std::int32_t* argmax, std::int64_t channels) {
  const std::int64_t C = channels;
#pragma omp parallel for schedule(static) if(parallel_worth(rows.rows * channels))
  for (std::int64_t b = 0; b < rows.jets; ++b)
    for (std::int64_t c = 0; c < C; ++c) {
      std::int64_t best = rows.offsets[b];
      for (std::int64_t r = best + 1; r < rows.offsets[b + 1]; ++r)
        if (x[r * C + c] > x[best * C + c]) best = r;
      y[b * C + c] = x[best * C + c];
      argmax[b * C + c] = static_cast<std::int32_t>(best);
    }
}

template <typename T>
void max_pool_backward(const std::int32_t* argmax, const T* dy, T* dx, std::int64_t jets, std::int64_t channels) {
  for (std::int64_t i = 0; i < jets * channels; ++i) dx[std::int64_t(argmax[i]) * channels + i % channels] += dy[i];
}

template void mean_pool_forward<float>(const float*, const PackedRows&, const float*, float*, std::int64_t);
template void mean_pool_forward<double>(const double*, const PackedRows&, const double*, double*, std::int64_t);
template void mean_pool_backward<float>(const PackedRows&, const float*, const float*, float*, std::int64_t);
template void mean_pool_backward<double>(const PackedRows&, const double*, const double*, double*, std::int64_t);

template void max_pool_forward<float>(const float*, const PackedRows&, float*, std::int32_t*, std::int64_t);
template void max_pool_forward<double>(const double*, const PackedRows&, double*, std::int32_t*, std::int64_t);
template void max_pool_backward<float>(const std::int32_t*, const float*, float*, std::int64_t, std::int64_t);
template void max_pool_backward<double>(const std::int32_t*, const double*, double*, std::int64_t, std::int64_t);

}  // namespace ucluster::cpu
