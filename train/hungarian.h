// Linear sum assignment (Hungarian method, shortest augmenting paths) and the cluster accuracy of
// spec 4.5: the fraction of jets whose cluster maps to their true class under the best one-to-one
// mapping of cluster ids to class ids.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace ucluster {

// scipy.optimize.linear_sum_assignment for a dense rows x cols matrix (row-major), rectangular
// allowed: min(rows, cols) pairs, every row matched when rows <= cols, every column otherwise.
// O(min^2 max). Pairs are sorted by row. Entries must be finite.
struct LinearAssignment {
  std::vector<int> rows;
  std::vector<int> cols;
  double total = 0.0;  // sum of cost[rows[p]][cols[p]] (of the original, unnegated matrix)
};
LinearAssignment linear_sum_assignment(const double* cost, int rows, int cols, bool maximize = false);
LinearAssignment linear_sum_assignment(const std::vector<double>& cost, int rows, int cols, bool maximize = false);

struct ClusterAccuracy {
  double accuracy = 0.0;     // matched / total
  std::int64_t matched = 0;  // jets whose cluster maps to their class
  std::int64_t total = 0;
  // mapping[cluster id] = the class id it is matched to (dim entries: every id in [0, dim) is matched).
  std::vector<int> mapping;
};

// The reference's cluster_acc (spec 4.5): D = max(max pred, max true) + 1, w[pred][true] counts,
// linear_sum_assignment(w.max() - w), accuracy = matched / n. Labels must be >= 0; n >= 1.
ClusterAccuracy cluster_accuracy(std::span<const int> y_true, std::span<const int> y_pred);

// The reference's logged number (spec 4.5, spec 8 #4): consecutive batches of batch_size jets, each
// with its own matching; the tail batch (fewer than batch_size jets) is dropped; the mean over the
// full batches. Throws when there is no full batch.
double per_batch_mean_accuracy(std::span<const int> y_true, std::span<const int> y_pred, std::int64_t batch_size);

// dim x dim contingency counts [pred][true] for the GLOBAL accuracy (one matching over a whole
// split): add batches as they come, merge across ranks by summing data() element-wise (an
// allreduce of size() int64 values), then accuracy(). With dim >= every label + 1 the accuracy
// equals cluster_accuracy on the concatenated labels (extra all-zero rows/columns match nothing).
class ConfusionCounts {
 public:
  explicit ConfusionCounts(int dim = 0);

  int dim() const { return dim_; }
  void add(int pred, int truth);
  void add(std::span<const int> y_true, std::span<const int> y_pred);
  ConfusionCounts& operator+=(const ConfusionCounts& other);
  void clear();

  std::int64_t count(int pred, int truth) const;
  std::int64_t total() const;
  ClusterAccuracy accuracy() const;

  // Row-major [pred][true], dim * dim entries.
  std::int64_t* data() { return counts_.data(); }
  const std::int64_t* data() const { return counts_.data(); }
  std::size_t size() const { return counts_.size(); }

 private:
  int dim_ = 0;
  std::vector<std::int64_t> counts_;
};

}  // namespace ucluster
