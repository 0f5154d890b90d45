// Metrics of one pass over a split (a training epoch or an evaluation), step by step.
//
// Each step's numbers are first summed over the ranks (StepRecord, one small all-reduce per step),
// so every rank holds the same, global, running sums: the loss of a step is the mean over all the
// step's jets, the per-batch accuracy (spec 4.5) is matched on all the step's jets, and the global
// accuracy uses every rank's confusion counts — the same numbers one process with the whole batch
// would log.
#pragma once

#include <array>
#include <cstdint>

#include <nlohmann/json.hpp>

#include "io/loader.h"
#include "model/losses.h"
#include "train/communicator.h"
#include "train/hungarian.h"

namespace ucluster {

// One step of one rank, then (after all_reduce) of all ranks: jet-weighted loss sums, jets and
// confusion counts [pred][true].
struct StepRecord {
  // Room for up to 8 clusters (the event task's K scan); the jet task uses 3 (W, Z, top).
  static constexpr int kClusters = 8;
  static constexpr int kFocal = 0, kKMeans = 1, kTotal = 2, kJets = 3, kConfusion = 4;
  // Ranks whose batch holds a jet with a NaN or infinite latent vector, logit or distance (such a
  // batch adds nothing else to the record).
  static constexpr int kNonFinite = kConfusion + kClusters * kClusters;
  std::array<double, kNonFinite + 1> values{};

  // This rank's batch and its losses. A rank without a batch in a step keeps a default (zero)
  // record: it still joins the all-reduce.
  static StepRecord of_batch(Context& ctx, const model::Losses& losses, const Batch& b);
  void all_reduce(Communicator& comm, Context& ctx);

  double jets() const { return values[kJets]; }
  std::int64_t ranks_with_non_finite_jets() const { return static_cast<std::int64_t>(values[kNonFinite]); }
  double mean(int field) const { return values[field] / jets(); }
  ConfusionCounts confusion() const;
};

struct PassStats {
  double focal_sum = 0, kmeans_sum = 0, total_sum = 0;  // sums over steps of the step means
  std::int64_t batches = 0, jets = 0;
  double per_batch_accuracy_sum = 0;  // reference metric: Hungarian per full batch (spec 4.5)
  std::int64_t full_batches = 0;
  ConfusionCounts confusion{StepRecord::kClusters};

  // Adds a step of all ranks; `full_batch` is the jets of a full step (its per-batch accuracy
  // counts; the reference's loop drops the short tail batch, spec 1.7).
  void add(const StepRecord& step, std::int64_t full_batch);
  nlohmann::json to_json() const;
  static PassStats from_json(const nlohmann::json& j);
  // Means and both accuracies; the confusion matrix over the clusters and classes seen (at least 3).
  nlohmann::json summary() const;
};

}  // namespace ucluster
