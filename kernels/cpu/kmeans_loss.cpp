#include "kernels/cpu/kmeans_loss.h"
#include "kernels/cpu/parallel.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/reduce.h"

namespace ucluster::cpu {

namespace {
// One jet: d[j] = |z_b - mu_j|^2 and w[j] = softmax_j(-alpha d_j), in double; returns sum_j w_j d_j.
// spec 3.2 stabilises with m_b = min_j d_bj, i.e. w_j = exp(-alpha (d_j - m_b)) / sum. For alpha < 0
// (fed, irrelevant, during pre-training, spec 4.4) the row max plays that role, so the exponent is
// always <= 0 and nothing overflows for any finite alpha.
template <typename T>
double soft_assign(const T* zb, const T* mu, std::int64_t clusters, std::int64_t dim, double alpha, double* d,
                   double* w) {
  for (std::int64_t j = 0; j < clusters; ++j) {
    double s = 0.0;
    for (std::int64_t c = 0; c < dim; ++c) {
      const double diff = double(zb[c]) - double(mu[j * dim + c]);
      s += diff * diff;
    }
    d[j] = s;
  }
  double shift = d[0];
  for (std::int64_t j = 1; j < clusters; ++j) shift = alpha >= 0.0 ? std::min(shift, d[j]) : std::max(shift, d[j]);
  double sum = 0.0;
  for (std::int64_t j = 0; j < clusters; ++j) {
    w[j] = std::exp(-alpha * (d[j] - shift));
    sum += w[j];
  }
  double mean_d = 0.0;
  for (std::int64_t j = 0; j < clusters; ++j) {
    w[j] /= sum;
    mean_d += w[j] * d[j];
  }
  return mean_d;
}
}  // namespace

template <typename T>
void kmeans_loss_forward(const T* z, const T* mu, T* loss, T* dist, std::int64_t batch, std::int64_t clusters,
                         std::int64_t dim, double alpha) {
  std::vector<double> row_loss(static_cast<std::size_t>(batch));
#pragma omp parallel if(parallel_worth(batch * clusters * dim))
  {
    std::vector<double> d(static_cast<std::size_t>(clusters)), w(static_cast<std::size_t>(clusters));
#pragma omp for schedule(static)
    for (std::int64_t b = 0; b < batch; ++b) {
      row_loss[b] = soft_assign(z + b * dim, mu, clusters, dim, alpha, d.data(), w.data());
      if (dist)
        for (std::int64_t j = 0; j < clusters; ++j) dist[b * clusters + j] = static_cast<T>(d[j]);
    }
  }
  // Batch mean summed in jet order: independent of the thread count.
  double total = 0.0;
  for (std::int64_t b = 0; b < batch; ++b) total += row_loss[b];
  loss[0] = static_cast<T>(total / double(batch));
}

template <typename T>
void kmeans_loss_backward(const T* z, const T* mu, const T* dloss, T* dz, T* dmu, std::int64_t batch,
                          std::int64_t clusters, std::int64_t dim, double alpha) {
  const double scale = double(dloss[0]) / double(batch);
  // g_bj = dL/dd_bj = (1/B) w_bj [1 - alpha (d_bj - sum_l w_bl d_bl)]  (spec 3.2, the m_b terms cancel).
  std::vector<double> g(static_cast<std::size_t>(batch * clusters));
#pragma omp parallel if(parallel_worth(batch * clusters * dim))
  {
    std::vector<double> d(static_cast<std::size_t>(clusters)), w(static_cast<std::size_t>(clusters));
#pragma omp for schedule(static)
    for (std::int64_t b = 0; b < batch; ++b) {
      const T* zb = z + b * dim;
      const double mean_d = soft_assign(zb, mu, clusters, dim, alpha, d.data(), w.data());
      double* gb = g.data() + b * clusters;
      // A weight that underflowed to 0 contributes nothing (avoids 0 * inf for huge alpha).
      for (std::int64_t j = 0; j < clusters; ++j)
        gb[j] = w[j] == 0.0 ? 0.0 : scale * w[j] * (1.0 - alpha * (d[j] - mean_d));
      if (dz)
        for (std::int64_t c = 0; c < dim; ++c) {
          double acc = 0.0;
          for (std::int64_t j = 0; j < clusters; ++j) acc += gb[j] * 2.0 * (double(zb[c]) - double(mu[j * dim + c]));
          dz[b * dim + c] += static_cast<T>(acc);
        }
    }
  }
  if (dmu) {
    // dL/dmu_jc = -sum_b g_bj 2 (z_bc - mu_jc), a deterministic column sum over the jets.
    std::vector<double> sums(static_cast<std::size_t>(clusters * dim));
    column_sums(
        batch, clusters * dim,
        [&](std::int64_t b, std::int64_t jc) {
          const std::int64_t j = jc / dim, c = jc % dim;
          return -g[b * clusters + j] * 2.0 * (double(z[b * dim + c]) - double(mu[jc]));
        },
        sums.data());
    for (std::int64_t jc = 0; jc < clusters * dim; ++jc) dmu[jc] += static_cast<T>(sums[jc]);
  }
}

template <typename T>
void kmeans_assign(const T* dist, std::int32_t* assign, std::int64_t batch, std::int64_t clusters) {
#pragma omp parallel for schedule(static) if(parallel_worth(batch * clusters))
  for (std::int64_t b = 0; b < batch; ++b) {
    const T* db = dist + b * clusters;
    std::int64_t best = 0;
    for (std::int64_t j = 1; j < clusters; ++j)
      if (db[j] < db[best]) best = j;  // strict: ties keep the lower index
    assign[b] = static_cast<std::int32_t>(best);
  }
}

template void kmeans_loss_forward<float>(const float*, const float*, float*, float*, std::int64_t, std::int64_t,
                                         std::int64_t, double);
template void kmeans_loss_forward<double>(const double*, const double*, double*, double*, std::int64_t,
                                          std::int64_t, std::int64_t, double);
template void kmeans_loss_backward<float>(const float*, const float*, const float*, float*, float*, std::int64_t,
                                          std::int64_t, std::int64_t, double);
template void kmeans_loss_backward<double>(const double*, const double*, const double*, double*, double*,
                                           std::int64_t, std::int64_t, std::int64_t, double);
template void kmeans_assign<float>(const float*, std::int32_t*, std::int64_t, std::int64_t);
template void kmeans_assign<double>(const double*, std::int32_t*, std::int64_t, std::int64_t);

}  // namespace ucluster::cpu
