#include "kernels/cpu/edge.h"
#include "kernels/cpu/parallel.h"

#include <algorithm>
#include <vector>

namespace ucluster::cpu {

std::int64_t first_bad_index(const std::int32_t* idx, std::int64_t count, std::int64_t n) {
  for (std::int64_t e = 0; e < count; ++e)
    if (idx[e] < 0 || idx[e] >= n) return e;
  return -1;
}

template <typename T>
void edge_diff_forward(const T* x, const std::int32_t* idx, T* e, std::int64_t rows, std::int64_t k,
                       std::int64_t channels) {
#pragma omp parallel for schedule(static) if(parallel_worth(rows * k * channels))
  for (std::int64_t r = 0; r < rows; ++r) {
    const T* xi = x + r * channels;
    for (std::int64_t j = 0; j < k; ++j) {
      const T* xj = x + std::int64_t(idx[r * k + j]) * channels;
      T* out = e + (r * k + j) * channels;
      for (std::int64_t c = 0; c < channels; ++c) out[c] = xi[c] - xj[c];
    }
  }
}

template <typename T>
void edge_diff_backward(const PackedRows& rows, const std::int32_t* idx, const T* de, T* dx, std::int64_t k,
                        std::int64_t channels) {
#pragma omp parallel if(parallel_worth(rows.rows * k * channels))
  {
    const std::size_t most = static_cast<std::size_t>(rows.max_jet_rows);
    std::vector<std::int64_t> offsets(most + 1), next(most), incoming(most * static_cast<std::size_t>(k));
    std::vector<T> own(static_cast<std::size_t>(channels)), gathered(own.size());
#pragma omp for schedule(dynamic, 8)
    for (std::int64_t b = 0; b < rows.jets; ++b) {
      const std::int64_t first = rows.offsets[b], n = rows.offsets[b + 1] - first;
      const std::int32_t* ib = idx + first * k;
      const T* deb = de + first * k * channels;
      T* dxb = dx + first * channels;
      // Inverse neighbour lists (CSR) within the jet: incoming[offsets[i] .. offsets[i+1]) are the
      // edges (i', j) with idx[i', j] == first + i, in ascending edge order.
      std::fill(offsets.begin(), offsets.begin() + n + 1, 0);
      for (std::int64_t e = 0; e < n * k; ++e) ++offsets[ib[e] - first + 1];
      for (std::int64_t i = 0; i < n; ++i) offsets[i + 1] += offsets[i];
      std::copy(offsets.begin(), offsets.begin() + n, next.begin());
      for (std::int64_t e = 0; e < n * k; ++e) incoming[next[ib[e] - first]++] = e;

      for (std::int64_t i = 0; i < n; ++i) {
        // Gradient through the central term (TF: the tile over k) ...
        std::fill(own.begin(), own.end(), T(0));
        for (std::int64_t j = 0; j < k; ++j) {
          const T* g = deb + (i * k + j) * channels;
          for (std::int64_t c = 0; c < channels; ++c) own[c] += g[c];
        }
        // ... and through the gathered neighbour term (TF: the gather's segment sum).
        std::fill(gathered.begin(), gathered.end(), T(0));
        for (std::int64_t q = offsets[i]; q < offsets[i + 1]; ++q) {
          const T* g = deb + incoming[q] * channels;
          for (std::int64_t c = 0; c < channels; ++c) gathered[c] += g[c];
        }
        for (std::int64_t c = 0; c < channels; ++c) dxb[i * channels + c] += own[c] - gathered[c];
      }
    }
  }
}

template void edge_diff_forward<float>(const float*, const std::int32_t*, float*, std::int64_t, std::int64_t,
                                       std::int64_t);
template void edge_diff_forward<double>(const double*, const std::int32_t*, double*, std::int64_t, std::int64_t,
                                        std::int64_t);
template void edge_diff_backward<float>(const PackedRows&, const std::int32_t*, const float*, float*, std::int64_t,
                                        std::int64_t);
template void edge_diff_backward<double>(const PackedRows&, const std::int32_t*, const double*, double*,
                                         std::int64_t, std::int64_t);

}  // namespace ucluster::cpu
