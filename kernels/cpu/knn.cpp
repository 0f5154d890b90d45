#include "kernels/cpu/knn.h"
#include "kernels/cpu/parallel.h"
#include "kernels/knn_distance.h"

#include <algorithm>
#include <cmath>
#include <limits>
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

// Writes row i's k nearest of its jet to out, as absolute rows: the jet's rows in order of
// (distance, row), which is TF's top_k order on -D (spec 2.2), a padding row (local index
// `padding`, -1 if none, always the jet's last row) filling up to `copies` consecutive places
// (kernels/knn.h). NaN distances rank as +inf (then by index). The k best are kept sorted while
// the rows are scanned in index order, so an equal distance goes after the entries already there
// (ties -> lower index); the same insertion as kernels/cuda/knn.cu.
template <typename T>
void select_row(const T* dist, std::int64_t n, std::int64_t padding, std::int64_t copies, std::int64_t k,
                std::int32_t first, std::int32_t* out, std::vector<T>& best_d, std::vector<std::int32_t>& best_i) {
  best_d.resize(static_cast<std::size_t>(k));
  best_i.resize(static_cast<std::size_t>(k));
  std::int64_t m = 0;  // entries held
  for (std::int64_t j = 0; j < n; ++j) {
    const T d = std::isnan(dist[j]) ? std::numeric_limits<T>::infinity() : dist[j];
    if (m == k && !(d < best_d[k - 1])) continue;
    std::int64_t p = m;
    while (p > 0 && best_d[p - 1] > d) --p;
    const std::int64_t take = j == padding ? std::min(copies, k - p) : 1;
    // Shift the entries from p on by `take`, dropping those pushed past k.
    for (std::int64_t q = std::min(m, k - take) - 1; q >= p; --q) {
      best_d[q + take] = best_d[q];
      best_i[q + take] = best_i[q];
    }
    for (std::int64_t q = p; q < p + take; ++q) {
      best_d[q] = d;
      best_i[q] = static_cast<std::int32_t>(j);
    }
    m = std::min(k, m + take);
  }
  for (std::int64_t q = 0; q < m; ++q) out[q] = first + best_i[q];
}

// The jet's rows: first row, row count, the padding row's local index (-1 without) and the number
// of padded points it stands for.
struct Jet {
  std::int32_t first;
  std::int64_t n, padding, copies;
};

Jet jet_of(const PackedRows& rows, std::int64_t b) {
  const std::int32_t first = rows.offsets[b];
  const std::int64_t real = rows.real[b];
  const bool padded = real < rows.slots;
  return {first, rows.offsets[b + 1] - first, padded ? real : -1, padded ? rows.slots - real : 0};
}

}  // namespace

template <typename T>
void knn_coordinates(const T* x, const PackedRows& rows, std::int32_t* idx, std::int64_t features, std::int64_t k) {
  const T penalty = T(kKnnPaddingPenalty);
  const std::int64_t mean_rows = rows.jets > 0 ? rows.rows / rows.jets : 0;
#pragma omp parallel if(parallel_worth(rows.rows * mean_rows))
  {
    std::vector<T> sq(static_cast<std::size_t>(rows.max_jet_rows)), pen(sq.size()), dist(sq.size()), best_d;
    std::vector<std::int32_t> best_i;
#pragma omp for schedule(dynamic, 8)
    for (std::int64_t b = 0; b < rows.jets; ++b) {
      const Jet jet = jet_of(rows, b);
      const T* xb = x + std::int64_t(jet.first) * features;
      for (std::int64_t j = 0; j < jet.n; ++j) {
        const T* p = xb + j * features;
        sq[j] = knn_math::coordinate_square(p);
        // Padding flag: feature 2 (log pT/pT_jet) exactly 0 (spec 2.2, 8 #11).
        pen[j] = p[2] == T(0) ? penalty : T(0);
      }
      for (std::int64_t i = 0; i < jet.n; ++i) {
        const T* pi = xb + i * features;
        for (std::int64_t j = 0; j < jet.n; ++j)
          dist[j] = knn_math::coordinate_distance(pi, xb + j * features, sq[i], sq[j], pen[i], pen[j]);
        select_row(dist.data(), jet.n, jet.padding, jet.copies, k, jet.first, idx + (jet.first + i) * k, best_d,
                   best_i);
      }
    }
  }
}

template <typename T>
void knn_features(const T* h, const PackedRows& rows, std::int32_t* idx, std::int64_t channels, std::int64_t k) {
  const std::int64_t mean_rows = rows.jets > 0 ? rows.rows / rows.jets : 0;
#pragma omp parallel if(parallel_worth(rows.rows * mean_rows * channels))
  {
    const std::size_t most = static_cast<std::size_t>(rows.max_jet_rows);
    std::vector<T> ht(static_cast<std::size_t>(channels) * most), sq(most), acc(most), dist(most), best_d;
    std::vector<std::int32_t> best_i;
#pragma omp for schedule(dynamic, 8)
    for (std::int64_t b = 0; b < rows.jets; ++b) {
      const Jet jet = jet_of(rows, b);
      const std::int64_t n = jet.n;
      const T* hb = h + std::int64_t(jet.first) * channels;
      for (std::int64_t j = 0; j < n; ++j)
        for (std::int64_t c = 0; c < channels; ++c) ht[c * n + j] = hb[j * channels + c];
      for (std::int64_t j = 0; j < n; ++j) sq[j] = knn_math::feature_square(hb + j * channels, channels);
      for (std::int64_t i = 0; i < n; ++i) {
        // <h_i, h_j> for all j: each entry is a sequential sum over c (the order of a plain GEMM
        // inner loop); the loop over j vectorises without changing any rounding.
        std::fill(acc.begin(), acc.begin() + n, T(0));
        for (std::int64_t c = 0; c < channels; ++c) {
          const T hic = hb[i * channels + c];
          const T* row = ht.data() + c * n;
          for (std::int64_t j = 0; j < n; ++j) {
            const T p = hic * row[j];
            acc[j] = acc[j] + p;
          }
        }
        for (std::int64_t j = 0; j < n; ++j) dist[j] = knn_math::feature_distance(sq[i], acc[j], sq[j]);
        select_row(dist.data(), n, jet.padding, jet.copies, k, jet.first, idx + (jet.first + i) * k, best_d, best_i);
      }
    }
  }
}

template void knn_coordinates<float>(const float*, const PackedRows&, std::int32_t*, std::int64_t, std::int64_t);
template void knn_coordinates<double>(const double*, const PackedRows&, std::int32_t*, std::int64_t, std::int64_t);
template void knn_features<float>(const float*, const PackedRows&, std::int32_t*, std::int64_t, std::int64_t);
template void knn_features<double>(const double*, const PackedRows&, std::int32_t*, std::int64_t, std::int64_t);

}  // namespace ucluster::cpu
