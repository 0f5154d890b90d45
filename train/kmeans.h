// k-means on CPU embeddings, as sklearn's KMeans(n_clusters=3) computed it when the reference ran
// (spec 4.1 step 3, spec 8 #6/#7): k-means++ seeding (greedy variant), n_init runs keeping the lowest
// inertia, Lloyd iterations, tolerance relative to the mean per-feature variance, empty clusters
// relocated to the farthest points. Unlike the reference it is seeded: the same seed gives the same
// bits, whatever the number of OpenMP threads.
//
// Behaviour copied from sklearn 0.23 (the release current in autumn 2020, when the archived run of
// spec 0.1 was made):
//   - the data are centred on their column means before fitting and the means are added back to the
//     centroids (sklearn does this for precision; results equal the uncentred ones up to rounding);
//   - k-means++: the first centre is a uniform random row; each further centre is the best of
//     2 + floor(ln k) candidates drawn with probability proportional to the squared distance to the
//     closest chosen centre ("best" = lowest resulting potential; inverse-CDF draw on the running sum);
//   - tolerance = tol * mean_j var(x[:, j]) (population variance), compared with the sum over
//     clusters of the squared centre shift of one iteration;
//   - a run stops at the first iteration whose centre shift is <= the tolerance and then keeps the
//     centres that produced that iteration's labels (0.23 does not swap in the new centres on
//     convergence); after max_iter iterations without convergence the labels are recomputed from the
//     last centres; `iterations` counts Lloyd iterations as sklearn's n_iter_ does;
//   - a cluster left empty by an assignment step takes the point farthest from its own centre
//     (farthest first; that point's weight is removed from its old cluster, its label is unchanged);
//   - among n_init runs the first one with the strictly lowest inertia wins.
// sklearn 0.23's default algorithm ('auto') ran Elkan's variant on dense data; it computes the same
// assignments as these Lloyd iterations (it only skips distance evaluations), up to exact ties.
// Deliberate differences: everything is computed in double (sklearn kept float32 input in float32);
// distances are computed directly as sum (x - c)^2 rather than through |c|^2 - 2 x.c, so exact ties
// may break differently; each run's random stream is Rng(seed).derive(1 + run), so run r does not
// depend on n_init; ties in the nearest centre go to the lowest cluster index; among equally far
// points the relocation takes the lowest row index first.
#pragma once

#include <cstdint>
#include <vector>

namespace ucluster {

struct KMeansOptions {
  int clusters = 3;
  int n_init = 10;
  int max_iter = 300;
  // Relative tolerance: the absolute one is tol times the mean per-feature variance of the fitted rows.
  double tol = 1e-4;
  std::uint64_t seed = 1;
  // 0: fit on all rows. Otherwise, when there are more rows than this, the centroids are fitted on a
  // seeded uniform sample of max_samples distinct rows (kept in their original order).
  std::int64_t max_samples = 0;
  // Optional [clusters * d] starting centroids used instead of k-means++; then there is one run
  // (sklearn's init=array, which also forces n_init = 1).
  std::vector<double> init_centroids;
};

struct KMeansResult {
  std::vector<double> centroids;  // [clusters * d], row-major
  // Nearest centroid of every input row [n] and the sum over all n rows of the squared distance to
  // it. Without sampling these are the fitted run's final labels and inertia.
  std::vector<int> labels;
  double inertia = 0.0;
  int iterations = 0;             // Lloyd iterations of the winning run
  int best_run = 0;               // index of the winning run in [0, n_init)
  std::int64_t fitted_rows = 0;   // rows the centroids were fitted on (n, or the sample size)
};

// x: row-major [n, d]. Throws ucluster::Error on bad options or n < clusters (after sampling).
KMeansResult kmeans(const float* x, std::int64_t n, std::int64_t d, const KMeansOptions& options);
KMeansResult kmeans(const double* x, std::int64_t n, std::int64_t d, const KMeansOptions& options);
KMeansResult kmeans(const std::vector<double>& x, std::int64_t d, const KMeansOptions& options);

// Nearest centroid of each row (lowest index on ties) into labels[n]; returns the inertia. For
// assigning new embeddings to fitted centroids.
double kmeans_assign(const float* x, std::int64_t n, std::int64_t d, const double* centroids, int clusters,
                     int* labels);
double kmeans_assign(const double* x, std::int64_t n, std::int64_t d, const double* centroids, int clusters,
                     int* labels);

// sklearn's _tolerance without the tol factor: the mean over columns of the population variance.
double mean_feature_variance(const double* x, std::int64_t n, std::int64_t d);

}  // namespace ucluster
