// The UCluster training run (spec 4.1): pre-training on the focal loss, k-means++ initialisation of
// the centroids on the embeddings of the last pre-training epoch, then joint training on
// beta * L_km + L_focal with one optimiser throughout; evaluation on the test split after every
// epoch; metrics appended to a JSON-lines file; checkpoints that make a resumed run bit-identical.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/loader.h"
#include "model/losses.h"
#include "model/ucluster_model.h"
#include "train/config.h"
#include "train/hungarian.h"
#include "train/optimizer.h"

namespace ucluster {

// Output files inside TrainConfig::output_dir.
struct RunPaths {
  std::string dir, metrics, checkpoint;
  explicit RunPaths(const std::string& output_dir);
};

// Running sums of one pass over a split (training or evaluation).
struct PassStats {
  double focal_sum = 0, kmeans_sum = 0, total_sum = 0;
  std::int64_t batches = 0, jets = 0;
  double per_batch_accuracy_sum = 0;  // reference metric: Hungarian per full batch (spec 4.5)
  std::int64_t full_batches = 0;
  ConfusionCounts confusion{3};

  // Adds one batch: its losses, cluster assignment against the truth, per-batch accuracy when full.
  void add(Context& ctx, const model::Losses& losses, const Batch& b, std::int64_t batch_size);
  nlohmann::json to_json() const;
  static PassStats from_json(const nlohmann::json& j);
  nlohmann::json summary() const;  // means and both accuracies
};

class Trainer {
 public:
  using Log = std::function<void(const std::string&)>;

  Trainer(TrainConfig config, Context& ctx, std::unique_ptr<Loader> train, std::unique_ptr<Loader> test, Log log);

  // Runs until config.epochs (or config.max_steps). With resume, continues from the run's latest
  // checkpoint. Returns the metrics of the last completed epoch.
  nlohmann::json run(bool resume);

  const ParamStore& store() const { return store_; }
  const model::UClusterModel& model() const { return model_; }

 private:
  void train_epoch(int epoch);
  PassStats evaluate(int epoch);
  void initialise_centroids(int epoch);
  void save(const std::string& path);
  void resume_from(const std::string& path);
  void write_metrics_file() const;
  // The batch's jets as a [B, P, F] tensor on the context's device, and its mass-bin targets.
  Tensor batch_tensor(const Batch& b, Tensor& targets);

  TrainConfig config_;
  Context& ctx_;
  std::unique_ptr<Loader> train_, test_;
  Log log_;
  RunPaths paths_;
  model::UClusterModel model_;
  ParamStore store_;
  std::unique_ptr<AdamOptimizer> optimizer_;
  TrainingSchedules schedules_;

  // State of the epoch in progress (checkpointed mid-epoch).
  int epoch_ = 0;
  PassStats running_;
  std::vector<float> embeddings_;  // z of every training batch in the k-means epoch
  std::vector<nlohmann::json> history_;  // metrics of completed epochs
  double last_lr_ = 0, last_bn_decay_ = 0;
  bool stop_requested_ = false;
};

}  // namespace ucluster
