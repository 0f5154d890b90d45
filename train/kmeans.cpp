#include "train/kmeans.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "engine/error.h"
#include "engine/rng.h"

namespace ucluster {
namespace {

// Reductions over rows use fixed blocks of kBlock rows: block partials are computed in parallel
// and added in block order, so sums do not depend on the number of threads.
constexpr std::int64_t kBlock = 2048;

std::int64_t block_count(std::int64_t n) { return (n + kBlock - 1) / kBlock; }

// sum_{i < n} f(i), in a fixed order.
template <typename F>
double ordered_sum(std::int64_t n, F&& f) {
  const std::int64_t blocks = block_count(n);
  std::vector<double> partial(static_cast<std::size_t>(blocks), 0.0);
#pragma omp parallel for schedule(static)
  for (std::int64_t b = 0; b < blocks; ++b) {
    const std::int64_t end = std::min(n, (b + 1) * kBlock);
    double s = 0.0;
    for (std::int64_t i = b * kBlock; i < end; ++i) s += f(i);
    partial[b] = s;
  }
  double total = 0.0;
  for (double p : partial) total += p;
  return total;
}

double sq_dist(const double* a, const double* b, std::int64_t d) {
  double s = 0.0;
  for (std::int64_t c = 0; c < d; ++c) {
    const double t = a[c] - b[c];
    s += t * t;
  }
  return s;
}

// Nearest centre of every row (lowest index on ties) and the squared distance to it. When `offset`
// is given the rows are x - offset (centring on the fly).
template <typename T>
void assign_rows(const T* x, std::int64_t n, std::int64_t d, const double* offset, const double* centers, int k,
                 int* labels, double* dist) {
#pragma omp parallel
  {
    std::vector<double> row(static_cast<std::size_t>(d));
#pragma omp for schedule(static)
    for (std::int64_t i = 0; i < n; ++i) {
      for (std::int64_t c = 0; c < d; ++c)
        row[c] = static_cast<double>(x[i * d + c]) - (offset ? offset[c] : 0.0);
      int best = 0;
      double best_d = sq_dist(row.data(), centers, d);
      for (int j = 1; j < k; ++j) {
        const double dj = sq_dist(row.data(), centers + j * d, d);
        if (dj < best_d) {
          best_d = dj;
          best = j;
        }
      }
      labels[i] = best;
      dist[i] = best_d;
    }
  }
}

// The centred rows being fitted.
struct Data {
  const double* x;
  std::int64_t n;
  std::int64_t d;
  const double* row(std::int64_t i) const { return x + i * d; }
};

// sklearn's greedy k-means++ (_k_init): 2 + floor(ln k) candidates per centre after the first.
std::vector<double> kmeans_plusplus(const Data& data, int k, Rng& rng) {
  const std::int64_t n = data.n, d = data.d;
  std::vector<double> centers(static_cast<std::size_t>(k * d));
  const int trials = 2 + static_cast<int>(std::log(static_cast<double>(k)));

  const std::int64_t first = static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(n)));
  std::copy(data.row(first), data.row(first) + d, centers.begin());

  std::vector<double> closest(static_cast<std::size_t>(n));
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < n; ++i) closest[i] = sq_dist(data.row(i), data.row(first), d);
  double potential = ordered_sum(n, [&](std::int64_t i) { return closest[i]; });

  std::vector<double> cumulative(static_cast<std::size_t>(n));
  std::vector<double> candidate_dist(static_cast<std::size_t>(trials * n));
  std::vector<std::int64_t> candidates(static_cast<std::size_t>(trials));
  for (int c = 1; c < k; ++c) {
    // Inverse-CDF draw on the running sum (np.searchsorted, side 'left'), clipped to the last row.
    double run = 0.0;
    for (std::int64_t i = 0; i < n; ++i) cumulative[i] = (run += closest[i]);
    for (int t = 0; t < trials; ++t) {
      const double r = rng.uniform() * potential;
      const auto it = std::lower_bound(cumulative.begin(), cumulative.end(), r);
      candidates[t] = std::min<std::int64_t>(it - cumulative.begin(), n - 1);
    }
    int best = 0;
    double best_potential = std::numeric_limits<double>::infinity();
    for (int t = 0; t < trials; ++t) {
      double* cd = candidate_dist.data() + t * n;
      const double* cand = data.row(candidates[t]);
#pragma omp parallel for schedule(static)
      for (std::int64_t i = 0; i < n; ++i) cd[i] = std::min(closest[i], sq_dist(data.row(i), cand, d));
      const double pot = ordered_sum(n, [&](std::int64_t i) { return cd[i]; });
      if (pot < best_potential) {
        best_potential = pot;
        best = t;
      }
    }
    potential = best_potential;
    std::copy(candidate_dist.begin() + best * n, candidate_dist.begin() + (best + 1) * n, closest.begin());
    std::copy(data.row(candidates[best]), data.row(candidates[best]) + d, centers.begin() + c * d);
  }
  return centers;
}

// sklearn's _relocate_empty_clusters_dense: each empty cluster (in index order) takes the next
// farthest point from its own centre; `sums` are per-cluster coordinate sums, `weight` the counts.
void relocate_empty(const Data& data, int k, const int* labels, const double* dist, double* sums,
                    std::vector<double>& weight) {
  std::vector<int> empty;
  for (int j = 0; j < k; ++j)
    if (weight[j] == 0.0) empty.push_back(j);
  if (empty.empty()) return;
  const std::int64_t n = data.n, d = data.d;
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) order[i] = i;
  const auto farther = [&](std::int64_t a, std::int64_t b) {
    return dist[a] > dist[b] || (dist[a] == dist[b] && a < b);
  };
  std::partial_sort(order.begin(), order.begin() + static_cast<std::int64_t>(empty.size()), order.end(), farther);
  for (std::size_t e = 0; e < empty.size(); ++e) {
    const int to = empty[e];
    const std::int64_t far = order[e];
    const int from = labels[far];
    for (std::int64_t c = 0; c < d; ++c) {
      sums[from * d + c] -= data.row(far)[c];
      sums[to * d + c] = data.row(far)[c];
    }
    weight[to] = 1.0;
    weight[from] -= 1.0;
  }
}

// One Lloyd iteration: labels and distances from `centers`, the new means into `next`. Returns the
// sum over clusters of the squared centre shift.
double lloyd_step(const Data& data, int k, const double* centers, double* next, int* labels, double* dist) {
  const std::int64_t n = data.n, d = data.d;
  assign_rows(data.x, n, d, nullptr, centers, k, labels, dist);

  const std::int64_t stride = k * (d + 1);  // per cluster: count, then d coordinate sums
  const std::int64_t blocks = block_count(n);
  std::vector<double> partial(static_cast<std::size_t>(blocks * stride), 0.0);
#pragma omp parallel for schedule(static)
  for (std::int64_t b = 0; b < blocks; ++b) {
    double* p = partial.data() + b * stride;
    const std::int64_t end = std::min(n, (b + 1) * kBlock);
    for (std::int64_t i = b * kBlock; i < end; ++i) {
      double* q = p + labels[i] * (d + 1);
      q[0] += 1.0;
      for (std::int64_t c = 0; c < d; ++c) q[1 + c] += data.row(i)[c];
    }
  }
  std::vector<double> total(static_cast<std::size_t>(stride), 0.0);
  for (std::int64_t b = 0; b < blocks; ++b)
    for (std::int64_t s = 0; s < stride; ++s) total[s] += partial[b * stride + s];

  std::vector<double> weight(static_cast<std::size_t>(k));
  for (int j = 0; j < k; ++j) {
    weight[j] = total[j * (d + 1)];
    for (std::int64_t c = 0; c < d; ++c) next[j * d + c] = total[j * (d + 1) + 1 + c];
  }
  relocate_empty(data, k, labels, dist, next, weight);
  double shift = 0.0;
  for (int j = 0; j < k; ++j) {
    // sklearn's _average_centers: a cluster whose weight dropped to 0 keeps its (zero) sum.
    if (weight[j] > 0.0) {
      const double alpha = 1.0 / weight[j];
      for (std::int64_t c = 0; c < d; ++c) next[j * d + c] *= alpha;
    }
    shift += sq_dist(next + j * d, centers + j * d, d);
  }
  return shift;
}

struct Run {
  std::vector<double> centers;
  std::vector<int> labels;
  double inertia = 0.0;
  int iterations = 0;
};

// sklearn 0.23 _kmeans_single_lloyd (see the header for the convergence rule).
Run single_run(const Data& data, int k, int max_iter, double tol, std::vector<double> init) {
  Run run;
  run.centers = std::move(init);
  std::vector<double> next(run.centers.size());
  run.labels.assign(static_cast<std::size_t>(data.n), -1);
  std::vector<double> dist(static_cast<std::size_t>(data.n));
  double shift = 0.0;
  int it = 0;
  for (; it < max_iter; ++it) {
    shift = lloyd_step(data, k, run.centers.data(), next.data(), run.labels.data(), dist.data());
    if (shift <= tol) break;
    std::swap(run.centers, next);
  }
  run.iterations = std::min(it + 1, max_iter);
  if (shift > 0.0)  // labels of the centres kept (a no-op after a converged break)
    assign_rows(data.x, data.n, data.d, nullptr, run.centers.data(), k, run.labels.data(), dist.data());
  run.inertia = ordered_sum(data.n, [&](std::int64_t i) { return dist[i]; });
  return run;
}

// A uniform sample of m distinct rows out of n (Floyd's algorithm), in increasing order.
std::vector<std::int64_t> sample_rows(std::int64_t n, std::int64_t m, Rng& rng) {
  std::vector<char> chosen(static_cast<std::size_t>(n), 0);
  for (std::int64_t j = n - m; j < n; ++j) {
    const auto t = static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(j + 1)));
    chosen[chosen[t] ? j : t] = 1;
  }
  std::vector<std::int64_t> rows;
  rows.reserve(static_cast<std::size_t>(m));
  for (std::int64_t i = 0; i < n; ++i)
    if (chosen[i]) rows.push_back(i);
  return rows;
}

template <typename T>
KMeansResult kmeans_impl(const T* x, std::int64_t n, std::int64_t d, const KMeansOptions& opt) {
  UCLUSTER_CHECK(x != nullptr || n == 0, "kmeans: null data pointer");
  UCLUSTER_CHECK(n > 0 && d > 0, "kmeans: data must be [n, d] with n, d > 0, got [", n, ", ", d, "]");
  UCLUSTER_CHECK(opt.clusters >= 1, "kmeans: clusters = ", opt.clusters, " must be >= 1");
  UCLUSTER_CHECK(opt.n_init >= 1, "kmeans: n_init = ", opt.n_init, " must be >= 1");
  UCLUSTER_CHECK(opt.max_iter >= 1, "kmeans: max_iter = ", opt.max_iter, " must be >= 1");
  UCLUSTER_CHECK(opt.tol >= 0.0 && std::isfinite(opt.tol), "kmeans: tol = ", opt.tol, " must be finite and >= 0");
  UCLUSTER_CHECK(opt.max_samples >= 0, "kmeans: max_samples = ", opt.max_samples, " must be >= 0");
  const bool given_init = !opt.init_centroids.empty();
  UCLUSTER_CHECK(!given_init || opt.init_centroids.size() == static_cast<std::size_t>(opt.clusters * d),
                 "kmeans: init_centroids has ", opt.init_centroids.size(), " values, expected clusters * d = ",
                 opt.clusters, " * ", d);
  for (std::size_t k = 0; k < opt.init_centroids.size(); ++k)
    UCLUSTER_CHECK(std::isfinite(opt.init_centroids[k]), "kmeans: non-finite init_centroids[", k, "]");

  const Rng base(opt.seed);
  const bool sampled = opt.max_samples > 0 && n > opt.max_samples;
  std::vector<std::int64_t> rows;
  if (sampled) {
    Rng rng = base.derive(0);
    rows = sample_rows(n, opt.max_samples, rng);
  }
  const std::int64_t m = sampled ? opt.max_samples : n;
  UCLUSTER_CHECK(m >= opt.clusters, "kmeans: ", m, " rows to fit (of n = ", n, ", max_samples = ", opt.max_samples,
                 ") < clusters = ", opt.clusters);
  const auto source = [&](std::int64_t i) { return x + (sampled ? rows[i] : i) * d; };

  // sklearn centres the data before fitting and adds the mean back to the centroids.
  std::vector<double> mean(static_cast<std::size_t>(d));
  for (std::int64_t c = 0; c < d; ++c)
    mean[c] = ordered_sum(m, [&](std::int64_t i) { return static_cast<double>(source(i)[c]); }) /
              static_cast<double>(m);
  std::vector<double> xc(static_cast<std::size_t>(m * d));
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t c = 0; c < d; ++c) {
      const double v = static_cast<double>(source(i)[c]);
      UCLUSTER_CHECK(std::isfinite(v), "kmeans: non-finite value ", v, " at row ", sampled ? rows[i] : i,
                     ", column ", c);
      xc[i * d + c] = v - mean[c];
    }
  const Data data{xc.data(), m, d};
  const double tol = opt.tol == 0.0 ? 0.0 : opt.tol * mean_feature_variance(xc.data(), m, d);

  Run best;
  KMeansResult result;
  const int runs = given_init ? 1 : opt.n_init;
  for (int r = 0; r < runs; ++r) {
    std::vector<double> init;
    if (given_init) {
      init = opt.init_centroids;  // centred like the data, as sklearn does
      for (int j = 0; j < opt.clusters; ++j)
        for (std::int64_t c = 0; c < d; ++c) init[j * d + c] -= mean[c];
    } else {
      Rng rng = base.derive(1 + static_cast<std::uint64_t>(r));
      init = kmeans_plusplus(data, opt.clusters, rng);
    }
    Run run = single_run(data, opt.clusters, opt.max_iter, tol, std::move(init));
    if (r == 0 || run.inertia < best.inertia) {
      best = std::move(run);
      result.best_run = r;
    }
  }

  result.iterations = best.iterations;
  result.fitted_rows = m;
  if (sampled) {
    result.labels.resize(static_cast<std::size_t>(n));
    std::vector<double> dist(static_cast<std::size_t>(n));
    assign_rows(x, n, d, mean.data(), best.centers.data(), opt.clusters, result.labels.data(), dist.data());
    result.inertia = ordered_sum(n, [&](std::int64_t i) { return dist[i]; });
  } else {
    result.labels = std::move(best.labels);
    result.inertia = best.inertia;
  }
  result.centroids = std::move(best.centers);
  for (int j = 0; j < opt.clusters; ++j)
    for (std::int64_t c = 0; c < d; ++c) result.centroids[j * d + c] += mean[c];
  return result;
}

template <typename T>
double assign_impl(const T* x, std::int64_t n, std::int64_t d, const double* centroids, int clusters, int* labels) {
  UCLUSTER_CHECK(n >= 0 && d > 0, "kmeans_assign: data must be [n, d] with d > 0, got [", n, ", ", d, "]");
  UCLUSTER_CHECK(clusters >= 1, "kmeans_assign: clusters = ", clusters, " must be >= 1");
  UCLUSTER_CHECK(n == 0 || (x && centroids && labels), "kmeans_assign: null pointer");
  std::vector<double> dist(static_cast<std::size_t>(n));
  assign_rows(x, n, d, nullptr, centroids, clusters, labels, dist.data());
  return ordered_sum(n, [&](std::int64_t i) { return dist[i]; });
}

}  // namespace

double mean_feature_variance(const double* x, std::int64_t n, std::int64_t d) {
  UCLUSTER_CHECK(n > 0 && d > 0, "mean_feature_variance: data must be [n, d] with n, d > 0, got [", n, ", ", d, "]");
  double total = 0.0;
  for (std::int64_t c = 0; c < d; ++c) {
    const double mu = ordered_sum(n, [&](std::int64_t i) { return x[i * d + c]; }) / static_cast<double>(n);
    total += ordered_sum(n, [&](std::int64_t i) {
               const double t = x[i * d + c] - mu;
               return t * t;
             }) /
             static_cast<double>(n);
  }
  return total / static_cast<double>(d);
}

KMeansResult kmeans(const float* x, std::int64_t n, std::int64_t d, const KMeansOptions& options) {
  return kmeans_impl(x, n, d, options);
}

KMeansResult kmeans(const double* x, std::int64_t n, std::int64_t d, const KMeansOptions& options) {
  return kmeans_impl(x, n, d, options);
}

KMeansResult kmeans(const std::vector<double>& x, std::int64_t d, const KMeansOptions& options) {
  UCLUSTER_CHECK(d > 0 && x.size() % static_cast<std::size_t>(d) == 0, "kmeans: ", x.size(),
                 " values do not form rows of d = ", d);
  return kmeans_impl(x.data(), static_cast<std::int64_t>(x.size()) / d, d, options);
}

double kmeans_assign(const float* x, std::int64_t n, std::int64_t d, const double* centroids, int clusters,
                     int* labels) {
  return assign_impl(x, n, d, centroids, clusters, labels);
}

double kmeans_assign(const double* x, std::int64_t n, std::int64_t d, const double* centroids, int clusters,
                     int* labels) {
  return assign_impl(x, n, d, centroids, clusters, labels);
}

}  // namespace ucluster
