#include "kernels/cpu/broadcast.h"
#include "kernels/cpu/parallel.h"

#include <vector>

namespace ucluster::cpu {

template <typename T>
void broadcast_rows_forward(const T* x, const PackedRows& rows, T* y, std::int64_t channels) {
  const std::int64_t C = channels;
#pragma omp parallel for schedule(static) if(parallel_worth(rows.rows * channels))
  for (std::int64_t r = 0; r < rows.rows; ++r) {
    const T* src = x + std::int64_t(rows.row_jet[r]) * C;
    for (std::int64_t c = 0; c < C; ++c) y[r * C + c] = src[c];
  }
}

template <typename T>
void broadcast_rows_backward(const PackedRows& rows, const T* dy, T* dx, std::int64_t channels) {
  const std::int64_t C = channels;
#pragma omp parallel for schedule(static) if(parallel_worth(rows.rows * channels))
  for (std::int64_t b = 0; b < rows.jets; ++b) {
    std::vector<double> sums(static_cast<std::size_t>(C), 0.0);
    for (std::int64_t r = rows.offsets[b]; r < rows.offsets[b + 1]; ++r)
      for (std::int64_t c = 0; c < C; ++c) sums[c] += double(dy[r * C + c]);
    for (std::int64_t c = 0; c < C; ++c) dx[b * C + c] += static_cast<T>(sums[c]);
  }
}

template void broadcast_rows_forward<float>(const float*, const PackedRows&, float*, std::int64_t);
template void broadcast_rows_forward<double>(const double*, const PackedRows&, double*, std::int64_t);
template void broadcast_rows_backward<float>(const PackedRows&, const float*, float*, std::int64_t);
template void broadcast_rows_backward<double>(const PackedRows&, const double*, double*, std::int64_t);

}  // namespace ucluster::cpu
