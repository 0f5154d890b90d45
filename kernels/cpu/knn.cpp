#include "kernels/cpu/knn.h"
#include "kernels/cpu/parallel.h"
#include "kernels/knn_distance.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

// The distances must be rounded after every multiply and add, as TF's (non-FMA) CPU kernels do
// (spec 8 #9): forbid contraction into fused multiply-adds where the target has them.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__) && defined(__FMA__)
#pragma GCC optimize("fp-contract=off")
#endif

namespace ucluster::cpu {

namespace {

// Writes the k smallest entries of dist (ascending, ties -> lower index) to out. This is the order
// of TF's top_k on -D (spec 2.2). NaN distances sort last (as +inf, then by index) so that the
// comparison stays a strict weak order.
template <typename T>
void select_row(const T* dist, std::int64_t n, std::int64_t k, std::int32_t* out, std::vector<std::int32_t>& order) {
  order.resize(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  auto key = [dist](std::int32_t j) {
    const T d = dist[j];
    return std::isnan(d) ? std::numeric_limits<T>::infinity() : d;
  };
  std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](std::int32_t a, std::int32_t b) {
    const T da = key(a), db = key(b);
    return da < db || (da == db && a < b);
  });
  std::copy(order.begin(), order.begin() + k, out);
}

}  // namespace

template <typename T>
void knn_coordinates(const T* x, std::int32_t* idx, std::int64_t batch, std::int64_t n, std::int64_t features,
                     std::int64_t k) {
  const T penalty = T(kKnnPaddingPenalty);
#pragma omp parallel if(parallel_worth(batch * n * n))
  {
    std::vector<T> sq(static_cast<std::size_t>(n)), pen(sq.size()), dist(sq.size());
    std::vector<std::int32_t> order;
#pragma omp for schedule(static)
    for (std::int64_t b = 0; b < batch; ++b) {
      const T* xb = x + b * n * features;
      for (std::int64_t j = 0; j < n; ++j) {
        const T* p = xb + j * features;
        sq[j] = knn_math::coordinate_square(p);
        // Padding flag: feature 2 (log pT/pT_jet) exactly 0 (spec 2.2, 8 #11).
        pen[j] = p[2] == T(0) ? penalty : T(0);
      }
      for (std::int64_t i = 0; i < n; ++i) {
        const T* pi = xb + i * features;
        for (std::int64_t j = 0; j < n; ++j)
          dist[j] = knn_math::coordinate_distance(pi, xb + j * features, sq[i], sq[j], pen[i], pen[j]);
        select_row(dist.data(), n, k, idx + (b * n + i) * k, order);
      }
    }
  }
}

template <typename T>
void knn_features(const T* h, std::int32_t* idx, std::int64_t batch, std::int64_t n, std::int64_t channels,
                  std::int64_t k) {
#pragma omp parallel if(parallel_worth(batch * n * n * channels))
  {
    std::vector<T> ht(static_cast<std::size_t>(channels * n)), sq(static_cast<std::size_t>(n)), acc(sq.size()),
        dist(sq.size());
    std::vector<std::int32_t> order;
#pragma omp for schedule(static)
    for (std::int64_t b = 0; b < batch; ++b) {
      const T* hb = h + b * n * channels;
      for (std::int64_t j = 0; j < n; ++j)
        for (std::int64_t c = 0; c < channels; ++c) ht[c * n + j] = hb[j * channels + c];
      for (std::int64_t j = 0; j < n; ++j) sq[j] = knn_math::feature_square(hb + j * channels, channels);
      for (std::int64_t i = 0; i < n; ++i) {
        // <h_i, h_j> for all j: each entry is a sequential sum over c (the order of a plain GEMM
        // inner loop); the loop over j vectorises without changing any rounding.
        std::fill(acc.begin(), acc.end(), T(0));
        for (std::int64_t c = 0; c < channels; ++c) {
          const T hic = hb[i * channels + c];
          const T* row = ht.data() + c * n;
          for (std::int64_t j = 0; j < n; ++j) {
            const T p = hic * row[j];
            acc[j] = acc[j] + p;
          }
        }
        for (std::int64_t j = 0; j < n; ++j) dist[j] = knn_math::feature_distance(sq[i], acc[j], sq[j]);
        select_row(dist.data(), n, k, idx + (b * n + i) * k, order);
      }
    }
  }
}

template void knn_coordinates<float>(const float*, std::int32_t*, std::int64_t, std::int64_t, std::int64_t,
                                     std::int64_t);
template void knn_coordinates<double>(const double*, std::int32_t*, std::int64_t, std::int64_t, std::int64_t,
                                      std::int64_t);
template void knn_features<float>(const float*, std::int32_t*, std::int64_t, std::int64_t, std::int64_t,
                                  std::int64_t);
template void knn_features<double>(const double*, std::int32_t*, std::int64_t, std::int64_t, std::int64_t,
                                   std::int64_t);

}  // namespace ucluster::cpu
