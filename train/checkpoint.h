// The project's checkpoint: one HDF5 file (readable with h5py) holding
//   params/<name>        every trainable tensor (float32, its model shape)
//   buffers/<name>       every batch-norm moving statistic
//   optimizer/m, /v      Adam moments (flat, in parameter order), and the step in `state`
//   kmeans/embeddings    embeddings collected so far in the k-means epoch (when mid-epoch), of all
//   kmeans/rows          ranks, with the data-set row of each (k-means runs on them in row order)
//   state/history        the metrics of every completed epoch (one JSON string each)
// and two JSON attributes on the root: `config` (the full TrainConfig) and `state` (format
// version, epoch, step in epoch, global step, RNG state, loader position, running metric sums of
// the epoch in progress). Written to a temporary file and renamed, so a crash never leaves a
// partial checkpoint behind.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/param_store.h"
#include "io/loader.h"
#include "train/config.h"
#include "train/pass_stats.h"

namespace ucluster {

// Where a training run stands: the `state` of its checkpoint, one mapping to JSON for the save and
// the resume of train/trainer.cpp.
struct RunState {
  int epoch = 0;                                 // the epoch in progress
  LoaderPosition loader;                         // rank 0's training loader
  int world_size = 1;                            // ranks of the run that wrote it
  std::vector<LoaderPosition> loader_positions;  // every rank's training loader (may be absent)
  std::int64_t global_step = 0;
  std::string rng;                               // the context's RNG state
  PassStats running;                             // metric sums of the epoch in progress
  double last_lr = 0, last_bn_decay = 0;
  std::vector<nlohmann::json> history;           // metrics of the completed epochs

  nlohmann::json to_json() const;
  // A state with a missing or mistyped entry is refused as a damaged checkpoint.
  static RunState from_json(const nlohmann::json& j);

 private:
  static RunState parse_run_state(const nlohmann::json& j);
};

struct CheckpointData {
  nlohmann::json config;
  nlohmann::json state;  // RunState::to_json() for a training run
  Tensor adam_m, adam_v;            // flat; may be undefined (inference-only checkpoints)
  std::vector<float> embeddings;    // [n, latent] rows collected for k-means, may be empty
  std::vector<std::int64_t> embedding_rows;  // [n] data-set row of each embedding
  std::int64_t embedding_dim = 0;
};

constexpr int kCheckpointFormatVersion = 1;

// Writes params, buffers and `data` to `path` atomically. Refuses (throws) when any parameter,
// statistic or moment is NaN or infinite: a checkpoint is always a good state.
void save_checkpoint(Context& ctx, const std::string& path, const ParamStore& store, const CheckpointData& data);

// Reads a checkpoint into the store (shapes must match the model: a checkpoint of another model
// shape is refused with the first mismatching tensor named). Adam moments are read into
// data->adam_m/adam_v when `data` is given and the file has them.
void load_checkpoint(Context& ctx, const std::string& path, const ParamStore& store, CheckpointData* data);

// The training configuration stored in a checkpoint; a key this version does not know or a bad
// value is reported as coming from the checkpoint.
TrainConfig checkpoint_config(const std::string& path, const nlohmann::json& config);
// The same, read from the file alone: which model (task, clusters) to declare before loading it.
TrainConfig read_checkpoint_config(const std::string& path);

// The epoch whose weights a checkpoint holds and the inverse temperature (alpha, spec 4.4) to
// evaluate them with: the weights of a checkpoint written at an epoch boundary (the loader at step
// 0 of the next epoch) belong to the epoch before, which the trainer evaluated with that epoch's
// alpha of the evaluation schedule. `state` is the checkpoint's state attribute.
struct CheckpointEvaluation {
  int epoch = 0;
  double inverse_temperature = 0;
  bool full_training = false;  // the epoch is past pre-training (the joint loss applies)
};
CheckpointEvaluation checkpoint_evaluation(const TrainConfig& config, const nlohmann::json& state);

// True when every element of t (float32 or float64) is finite.
bool all_finite(Context& ctx, const Tensor& t);

}  // namespace ucluster
