#include "train/hungarian.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "engine/error.h"

namespace ucluster {
namespace {

// Shortest augmenting path assignment (Crouse, IEEE TAES 52(4), 2016), the algorithm behind scipy's
// linear_sum_assignment since scipy 1.4, including its tie rules (columns scanned in decreasing
// index order; among equally short paths a free column is preferred), so the pairs chosen on ties
// match scipy's. cost is nr x nc with nr <= nc; returns col4row[nr].
std::vector<int> shortest_augmenting_path(const std::vector<double>& cost, int nr, int nc) {
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> u(nr, 0.0), v(nc, 0.0), shortest(nc);
  std::vector<int> path(nc, -1), col4row(nr, -1), row4col(nc, -1), remaining(nc);
  std::vector<char> row_seen(nr), col_seen(nc);

  for (int cur = 0; cur < nr; ++cur) {
    std::fill(row_seen.begin(), row_seen.end(), 0);
    std::fill(col_seen.begin(), col_seen.end(), 0);
    std::fill(shortest.begin(), shortest.end(), inf);
    int n_remaining = nc;
    for (int k = 0; k < nc; ++k) remaining[k] = nc - 1 - k;

    double min_val = 0.0;
    int i = cur, sink = -1;
    while (sink < 0) {
      row_seen[i] = 1;
      int index = -1;
      double lowest = inf;
      for (int k = 0; k < n_remaining; ++k) {
        const int j = remaining[k];
        const double r = min_val + cost[static_cast<std::size_t>(i) * nc + j] - u[i] - v[j];
        if (r < shortest[j]) {
          path[j] = i;
          shortest[j] = r;
        }
        if (shortest[j] < lowest || (shortest[j] == lowest && row4col[j] < 0)) {
          lowest = shortest[j];
          index = k;
        }
      }
      min_val = lowest;
      UCLUSTER_CHECK(index >= 0 && min_val < inf, "linear_sum_assignment: cost matrix is infeasible");
      const int j = remaining[index];
      if (row4col[j] < 0) sink = j;
      else i = row4col[j];
      col_seen[j] = 1;
      remaining[index] = remaining[--n_remaining];
    }

    // Dual update, then augment along the path back to the current row.
    u[cur] += min_val;
    for (int r = 0; r < nr; ++r)
      if (row_seen[r] && r != cur) u[r] += min_val - shortest[col4row[r]];
    for (int c = 0; c < nc; ++c)
      if (col_seen[c]) v[c] -= min_val - shortest[c];
    for (int j = sink;;) {
      const int r = path[j];
      row4col[j] = r;
      std::swap(col4row[r], j);
      if (r == cur) break;
    }
  }
  return col4row;
}

ClusterAccuracy match_counts(const std::int64_t* w, int dim, std::int64_t total) {
  ClusterAccuracy out;
  out.total = total;
  out.mapping.assign(static_cast<std::size_t>(dim), -1);
  if (dim == 0) return out;
  const std::size_t cells = static_cast<std::size_t>(dim) * dim;
  const std::int64_t wmax = *std::max_element(w, w + cells);
  std::vector<double> cost(cells);
  for (std::size_t k = 0; k < cells; ++k) cost[k] = static_cast<double>(wmax - w[k]);
  const LinearAssignment a = linear_sum_assignment(cost, dim, dim);
  for (std::size_t p = 0; p < a.rows.size(); ++p) {
    out.mapping[a.rows[p]] = a.cols[p];
    out.matched += w[static_cast<std::size_t>(a.rows[p]) * dim + a.cols[p]];
  }
  out.accuracy = total > 0 ? static_cast<double>(out.matched) / static_cast<double>(total) : 0.0;
  return out;
}

void check_labels(std::span<const int> y_true, std::span<const int> y_pred, const char* what) {
  UCLUSTER_CHECK(y_true.size() == y_pred.size(), what, ": y_true has ", y_true.size(), " labels but y_pred has ",
                 y_pred.size());
}

}  // namespace

LinearAssignment linear_sum_assignment(const double* cost, int rows, int cols, bool maximize) {
  UCLUSTER_CHECK(rows >= 0 && cols >= 0, "linear_sum_assignment: bad shape [", rows, ", ", cols, "]");
  LinearAssignment out;
  if (rows == 0 || cols == 0) return out;
  UCLUSTER_CHECK(cost != nullptr, "linear_sum_assignment: null cost matrix");
  // A tall matrix is solved transposed, so that every row of the solved problem is matched.
  const bool transpose = cols < rows;
  const int nr = transpose ? cols : rows, nc = transpose ? rows : cols;
  std::vector<double> c(static_cast<std::size_t>(rows) * cols);
  for (int r = 0; r < rows; ++r)
    for (int k = 0; k < cols; ++k) {
      const double value = cost[static_cast<std::size_t>(r) * cols + k];
      UCLUSTER_CHECK(std::isfinite(value), "linear_sum_assignment: non-finite cost ", value, " at [", r, ", ", k, "]");
      c[transpose ? static_cast<std::size_t>(k) * rows + r : static_cast<std::size_t>(r) * cols + k] =
          maximize ? -value : value;
    }
  const std::vector<int> col4row = shortest_augmenting_path(c, nr, nc);

  out.rows.resize(nr);
  out.cols.resize(nr);
  if (transpose) {
    // Pairs (col4row[k], k) sorted by their original row col4row[k].
    std::vector<int> order(nr);
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](int a, int b) { return col4row[a] < col4row[b]; });
    for (int p = 0; p < nr; ++p) {
      out.rows[p] = col4row[order[p]];
      out.cols[p] = order[p];
    }
  } else {
    for (int p = 0; p < nr; ++p) {
      out.rows[p] = p;
      out.cols[p] = col4row[p];
    }
  }
  for (int p = 0; p < nr; ++p) out.total += cost[static_cast<std::size_t>(out.rows[p]) * cols + out.cols[p]];
  return out;
}

LinearAssignment linear_sum_assignment(const std::vector<double>& cost, int rows, int cols, bool maximize) {
  UCLUSTER_CHECK(rows >= 0 && cols >= 0 && cost.size() == static_cast<std::size_t>(rows) * cols,
                 "linear_sum_assignment: ", cost.size(), " values for a [", rows, ", ", cols, "] matrix");
  return linear_sum_assignment(cost.data(), rows, cols, maximize);
}

ClusterAccuracy cluster_accuracy(std::span<const int> y_true, std::span<const int> y_pred) {
  check_labels(y_true, y_pred, "cluster_accuracy");
  UCLUSTER_CHECK(!y_true.empty(), "cluster_accuracy: no labels");
  int dim = 0;
  for (std::size_t i = 0; i < y_true.size(); ++i) {
    UCLUSTER_CHECK(y_true[i] >= 0 && y_pred[i] >= 0, "cluster_accuracy: negative label at ", i, " (true ",
                   y_true[i], ", pred ", y_pred[i], ")");
    dim = std::max({dim, y_true[i] + 1, y_pred[i] + 1});
  }
  ConfusionCounts counts(dim);
  counts.add(y_true, y_pred);
  return counts.accuracy();
}

double per_batch_mean_accuracy(std::span<const int> y_true, std::span<const int> y_pred, std::int64_t batch_size) {
  check_labels(y_true, y_pred, "per_batch_mean_accuracy");
  UCLUSTER_CHECK(batch_size >= 1, "per_batch_mean_accuracy: batch_size = ", batch_size, " must be >= 1");
  const std::int64_t n = static_cast<std::int64_t>(y_true.size());
  const std::int64_t batches = n / batch_size;
  UCLUSTER_CHECK(batches >= 1, "per_batch_mean_accuracy: ", n, " labels make no full batch of ", batch_size);
  double sum = 0.0;
  for (std::int64_t b = 0; b < batches; ++b) {
    const auto off = static_cast<std::size_t>(b * batch_size);
    const auto len = static_cast<std::size_t>(batch_size);
    sum += cluster_accuracy(y_true.subspan(off, len), y_pred.subspan(off, len)).accuracy;
  }
  return sum / static_cast<double>(batches);
}

ConfusionCounts::ConfusionCounts(int dim) : dim_(dim) {
  UCLUSTER_CHECK(dim >= 0, "ConfusionCounts: dim = ", dim, " must be >= 0");
  counts_.assign(static_cast<std::size_t>(dim) * dim, 0);
}

void ConfusionCounts::add(int pred, int truth) {
  UCLUSTER_CHECK(pred >= 0 && pred < dim_ && truth >= 0 && truth < dim_, "ConfusionCounts: label (pred ", pred,
                 ", true ", truth, ") outside [0, ", dim_, ")");
  ++counts_[static_cast<std::size_t>(pred) * dim_ + truth];
}

void ConfusionCounts::add(std::span<const int> y_true, std::span<const int> y_pred) {
  check_labels(y_true, y_pred, "ConfusionCounts::add");
  for (std::size_t i = 0; i < y_true.size(); ++i) add(y_pred[i], y_true[i]);
}

ConfusionCounts& ConfusionCounts::operator+=(const ConfusionCounts& other) {
  UCLUSTER_CHECK(other.dim_ == dim_, "ConfusionCounts: cannot merge dim ", other.dim_, " into dim ", dim_);
  for (std::size_t k = 0; k < counts_.size(); ++k) counts_[k] += other.counts_[k];
  return *this;
}

void ConfusionCounts::clear() { std::fill(counts_.begin(), counts_.end(), 0); }

std::int64_t ConfusionCounts::count(int pred, int truth) const {
  UCLUSTER_CHECK(pred >= 0 && pred < dim_ && truth >= 0 && truth < dim_, "ConfusionCounts: label (pred ", pred,
                 ", true ", truth, ") outside [0, ", dim_, ")");
  return counts_[static_cast<std::size_t>(pred) * dim_ + truth];
}

std::int64_t ConfusionCounts::total() const { return std::accumulate(counts_.begin(), counts_.end(), std::int64_t{0}); }

ClusterAccuracy ConfusionCounts::accuracy() const { return match_counts(counts_.data(), dim_, total()); }

}  // namespace ucluster
