// The UCluster training run (spec 4.1): pre-training on the focal loss, k-means++ initialisation of
// the centroids on the embeddings of the last pre-training epoch, then joint training on
// beta * L_km + L_focal with one optimiser throughout; evaluation on the test split after every
// epoch; metrics in a JSON-lines file (rewritten atomically after every epoch); checkpoints that make a resumed run bit-identical.
//
// Data parallel over the communicator's ranks: each rank trains on its shard (its
// loaders are opened with its rank), batch norm statistics are taken over all ranks' jets of the
// step (batch_norm_stats), the flat gradient buffer is averaged in one all-reduce per step, and
// rank 0's parameters, statistics and optimiser state are broadcast at start and after a resume,
// so the ranks hold identical models throughout. k-means runs on rank 0 over every rank's
// embeddings in data-set row order; its centroids are broadcast. Only rank 0 logs and writes files.
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
#include "train/communicator.h"
#include "train/pass_stats.h"
#include "train/optimizer.h"
#include "train/step.h"

namespace ucluster {

// Output files inside TrainConfig::output_dir.
// A loader batch as the model takes it, on the context's device: the packed rows
// (engine/jet_rows.h: only the real particles and one row per jet's padding travel) and the focal
// loss's targets, [B] mass bins for the jet model; for the event model (`events`) one target per
// packed row and the event globals. Used by the trainer and by evaluate.
JetBatch model_batch(Context& ctx, const Batch& b, bool events, Tensor& targets);

struct RunPaths {
  std::string dir, metrics, checkpoint;
  explicit RunPaths(const std::string& output_dir);
};

class Trainer {
 public:
  using Log = std::function<void(const std::string&)>;

  // The loaders are this rank's: opened with comm.rank(), comm.size() and config.rank_batch().
  Trainer(TrainConfig config, Context& ctx, Communicator& comm, std::unique_ptr<Loader> train,
          std::unique_ptr<Loader> test, Log log);

  // Runs until config.epochs (or config.max_steps). With resume, continues from the run's latest
  // checkpoint. Returns the metrics of the last completed epoch.
  nlohmann::json run(bool resume);

  const ParamStore& store() const { return store_; }
  const model::UClusterModel& model() const { return model_; }

 private:
  void train_epoch(int epoch);
  PassStats evaluate(int epoch);
  void initialise_centroids(int epoch);
  // Every rank's k-means embeddings and their data-set rows, sorted by row, on rank 0.
  void gather_embeddings(const char* what, std::vector<std::int64_t>& rows, std::vector<float>& z) const;
  // With per-rank batch statistics: the moving averages replaced by their mean over the ranks.
  void average_moving_statistics();
  void save(const std::string& path);
  void resume_from(const std::string& path);
  // Rank 0's parameters, statistics and optimiser moments on every rank.
  void broadcast_state();
  void write_metrics_file() const;
  // The checkpoint a stopped run can be resumed from, or "none", for error messages.
  std::string last_good_checkpoint() const;
  void say(const std::string& message) const;  // rank 0's log
  // The batch's jets as packed rows on the context's device, and its mass-bin targets.

  TrainConfig config_;
  Context& ctx_;
  Communicator& comm_;
  std::unique_ptr<Loader> train_, test_;
  Log log_;
  RunPaths paths_;
  model::UClusterModel model_;
  ParamStore store_;
  std::unique_ptr<AdamOptimizer> optimizer_;
  TrainingSchedules schedules_;
  ReplicaSum bn_sync_;  // empty: per-rank batch statistics

  // State of the epoch in progress (checkpointed mid-epoch).
  int epoch_ = 0;
  PassStats running_;
  std::vector<float> embeddings_;  // z of every training batch in the k-means epoch (this rank's,
  std::vector<std::int64_t> embedding_rows_;  // and on rank 0 after a resume all ranks' so far)
  std::vector<nlohmann::json> history_;  // metrics of completed epochs
  double last_lr_ = 0, last_bn_decay_ = 0;
  bool stop_requested_ = false;
};

}  // namespace ucluster
