#include "train/pass_stats.h"

#include <algorithm>
#include <cmath>

namespace ucluster {

namespace {
double scalar(Context& ctx, const Var& v) { return ctx.to_vector<float>(v->value).at(0); }
}  // namespace

StepRecord StepRecord::of_batch(Context& ctx, const model::Losses& losses, const Batch& b) {
  StepRecord r;
  const double n = double(b.size);
  r.values[kFocal] = scalar(ctx, losses.focal) * n;
  r.values[kKMeans] = scalar(ctx, losses.kmeans) * n;
  r.values[kTotal] = scalar(ctx, losses.total) * n;
  r.values[kJets] = n;
  const std::vector<std::int32_t> pred = ctx.to_vector<std::int32_t>(losses.assignment);
  for (std::int64_t i = 0; i < b.size; ++i) {
    const int p = pred[static_cast<std::size_t>(i)], t = b.truth[static_cast<std::size_t>(i)];
    UCLUSTER_CHECK(p >= 0 && p < kClusters && t >= 0 && t < kClusters, "step record: cluster ", p, " or class ", t,
                   " outside [0, ", kClusters, ")");
    r.values[static_cast<std::size_t>(kConfusion + p * kClusters + t)] += 1;
  }
  return r;
}

void StepRecord::all_reduce(Communicator& comm, Context& ctx) {
  if (comm.size() == 1) return;
  comm.all_reduce_sum(ctx, values.data(), static_cast<std::int64_t>(values.size()), DType::F64, false,
                      "step metrics all-reduce");
}

ConfusionCounts StepRecord::confusion() const {
  ConfusionCounts c(kClusters);
  for (int i = 0; i < kClusters * kClusters; ++i) c.data()[i] = static_cast<std::int64_t>(values[kConfusion + i]);
  return c;
}

void PassStats::add(const StepRecord& step, std::int64_t full_batch) {
  if (step.jets() == 0) return;
  focal_sum += step.mean(StepRecord::kFocal);
  kmeans_sum += step.mean(StepRecord::kKMeans);
  total_sum += step.mean(StepRecord::kTotal);
  batches += 1;
  jets += static_cast<std::int64_t>(step.jets());
  const ConfusionCounts c = step.confusion();
  confusion += c;
  if (static_cast<std::int64_t>(step.jets()) == full_batch) {
    per_batch_accuracy_sum += c.accuracy().accuracy;
    full_batches += 1;
  }
}

nlohmann::json PassStats::to_json() const {
  std::vector<std::int64_t> counts(confusion.data(), confusion.data() + confusion.size());
  return {{"focal_sum", focal_sum}, {"kmeans_sum", kmeans_sum}, {"total_sum", total_sum},
          {"batches", batches}, {"jets", jets}, {"per_batch_accuracy_sum", per_batch_accuracy_sum},
          {"full_batches", full_batches}, {"confusion", counts}};
}

PassStats PassStats::from_json(const nlohmann::json& j) {
  PassStats s;
  s.focal_sum = j.at("focal_sum");
  s.kmeans_sum = j.at("kmeans_sum");
  s.total_sum = j.at("total_sum");
  s.batches = j.at("batches");
  s.jets = j.at("jets");
  s.per_batch_accuracy_sum = j.at("per_batch_accuracy_sum");
  s.full_batches = j.at("full_batches");
  const auto counts = j.at("confusion").get<std::vector<std::int64_t>>();
  // Checkpoints written before the room for 8 clusters hold a 3 x 3 matrix.
  const int dim = static_cast<int>(std::lround(std::sqrt(double(counts.size()))));
  UCLUSTER_CHECK(dim * dim == static_cast<int>(counts.size()) && dim <= StepRecord::kClusters,
                 "checkpoint: confusion counts of the wrong size (", counts.size(), ")");
  for (int p = 0; p < dim; ++p)
    for (int t = 0; t < dim; ++t)
      s.confusion.data()[p * StepRecord::kClusters + t] = counts[static_cast<std::size_t>(p * dim + t)];
  return s;
}

nlohmann::json PassStats::summary() const {
  const double n = std::max<std::int64_t>(1, batches);
  int k = 3;
  for (int p = 0; p < StepRecord::kClusters; ++p)
    for (int t = 0; t < StepRecord::kClusters; ++t)
      if (confusion.count(p, t) > 0) k = std::max(k, std::max(p, t) + 1);
  std::vector<std::vector<std::int64_t>> matrix(k, std::vector<std::int64_t>(k));
  for (int p = 0; p < k; ++p)
    for (int t = 0; t < k; ++t) matrix[p][t] = confusion.count(p, t);
  return {{"loss_focal", focal_sum / n},
          {"loss_kmeans", kmeans_sum / n},
          {"loss_total", total_sum / n},
          {"jets", jets},
          {"accuracy_global", confusion.total() > 0 ? confusion.accuracy().accuracy : 0.0},
          {"accuracy_per_batch_mean", full_batches > 0 ? per_batch_accuracy_sum / double(full_batches) : 0.0},
          {"confusion_pred_by_true", matrix}};
}

}  // namespace ucluster
