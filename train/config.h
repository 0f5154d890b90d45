// Training configuration: every number of the reference method (spec 0.1, 4) settable from a JSON
// file and `--set key=value` overrides, with presets for configs A and B. Unknown keys, wrong
// types and out-of-range values are rejected with a message naming the key.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/layers.h"
#include "model/losses.h"
#include "train/schedules.h"

namespace ucluster {

struct TrainConfig {
  // "A" or "B" (spec 0.1), or "AD": the anomaly-detection event model with the schedules of
  // train_kmeans_seg.py (ucluster-ad-spec.md 2.4). Applied before the other keys.
  std::string preset = "B";
  // "jets" (the W/Z/top jet model) or "events" (the event model of ucluster-ad-spec.md 2; set by
  // preset AD). Events need prepared event files (prepare-data --task lhco).
  std::string task = "jets";
  int clusters = 3;  // k-means centroids (the jet task: 3; events: 2 in the original, any 2..8)

  // Data: UCluster-layout files (prepare-data). Both empty: toy jets made by the built-in generator.
  std::string train_file, test_file;
  std::int64_t toy_jets = 20000;  // jets generated (W, Z, top in turn) before selection and split
  std::uint64_t toy_seed = 1;
  bool shuffle = false;           // per-epoch seeded shuffle of the batch order (the reference: none)

  // Schedule (spec 4.1-4.4).
  std::int64_t batch_size = 512;
  int epochs = 200;
  int pretrain_epochs = 21;       // epochs 0 .. pretrain_epochs-1 minimise the focal loss only
  double learning_rate = 1e-3;
  std::int64_t lr_decay_samples = 500000;
  double lr_decay_rate = 0.5;
  double lr_floor = 1e-5;
  double bn_init_decay = 0.5;
  std::int64_t bn_decay_samples = 500000;
  double bn_decay_rate = 0.5;
  double bn_decay_clip = 0.99;
  double km_alpha_train_slope = 5.0;  // inverse temperature = slope * (e - max_pretrain + 1)
  double km_alpha_eval_slope = 2.0;
  // Added to the epoch in the training inverse temperature: the event script evaluates before it
  // trains, so its epoch counter is one ahead in training (ucluster-ad-spec.md 2.4: 10 (e - 8)).
  int km_alpha_train_shift = 0;

  // Losses (spec 3).
  double focal_gamma = 2.0;
  double focal_alpha = 1.0;
  double beta = 10.0;
  // Events: the per-particle focal loss's reduction, "per_point" (the intended mean over points)
  // or "max_points" (the original's max over points, ucluster-ad-spec.md Q11).
  std::string focal_reduction = "per_point";

  // k-means initialisation of the centroids (spec 4.1 step 3, 8 #7).
  int kmeans_n_init = 10;
  int kmeans_max_iter = 300;
  double kmeans_tol = 1e-4;
  std::int64_t kmeans_max_samples = 0;  // 0: all embeddings of the epoch

  // Data-parallel training over R ranks (mpirun -np R ./train).
  //   batch_split "global":   batch_size is the batch of one optimiser step over all ranks; each
  //                           rank takes batch_size / R, so the method (and, with batch-norm
  //                           statistics over all ranks, the numbers up to reduction order) do
  //                           not depend on R.
  //   batch_split "per_rank": every rank takes batch_size; one step sees R * batch_size jets and
  //                           the learning rate follows lr_scaling ("linear": x R, Goyal et al.
  //                           2017, reached after lr_warmup_steps of linear warm-up; "none").
  std::string batch_split = "global";
  std::string lr_scaling = "linear";
  std::int64_t lr_warmup_steps = 0;
  // Batch-norm batch statistics over "global": every rank's jets of the step (synchronised batch
  // norm, 3 small all-reduces per BN layer and step), "local": this rank's jets, "auto": global
  // with batch_split "global" (the statistics of the method's batch), local with "per_rank" (each
  // rank's batch is the method's batch).
  std::string batch_norm_stats = "auto";
  std::string collectives = "auto";  // "auto" (NCCL for GPU ranks, MPI for CPU ranks), "mpi", "nccl", "single"
  double timeout_s = 600;            // a collective not complete within this ends the job on every rank

  // How the GAP blocks compute their edge part (model/ucluster_model.h EdgePath): "fused" (no
  // per-edge tensor stored: less memory), "unfused" or "auto" (model::EdgePath::Auto: unfused for
  // training, fused for inference on the CPU, where each is the faster).
  std::string edge_path = "auto";

  // Run.
  std::uint64_t seed = 1;
  std::string device = "auto";
  int threads = 0;
  std::string output_dir = "runs/ucluster";
  std::int64_t checkpoint_every = 0;  // also checkpoint every N steps inside an epoch (0: epoch ends only)
  std::int64_t max_steps = 0;         // stop after this many global steps (0: no limit; for tests)

  int max_pretrain() const { return pretrain_epochs - 1; }
  // Jets each rank takes per step, and jets per optimiser step over all `world` ranks.
  std::int64_t rank_batch(int world) const;
  std::int64_t global_batch(int world) const;
  // Learning-rate factor of the linear scaling rule at `step` (1 unless batch_split = "per_rank").
  double lr_scale(int world, std::int64_t step) const;
  // Whether batch statistics are taken over all ranks (batch_norm_stats resolved).
  bool synchronised_batch_norm(int world) const;
  TrainingSchedules schedules(int world = 1) const;
  model::LossConfig losses() const {
    return {focal_gamma, focal_alpha, beta, resolve_point_focal_reduction(focal_reduction)};
  }
  bool events() const { return task == "events"; }
  model::ModelDims model_dims() const;
  bool toy_data() const { return train_file.empty() && test_file.empty(); }

  nlohmann::json to_json() const;
};

// Applies `preset` first (when present), then every other key; throws ucluster::Error naming an
// unknown key, a wrong type or an invalid value.
TrainConfig config_from_json(const nlohmann::json& j);
TrainConfig load_config(const std::string& path, const std::vector<std::string>& overrides);
// "key=value" with value parsed as JSON when possible (numbers, true/false), else as a string.
void apply_override(nlohmann::json& j, const std::string& assignment);
void validate(const TrainConfig& c);

}  // namespace ucluster
