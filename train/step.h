// One training step of the UCluster model, the one sequence the trainer, the benchmarks and the
// tests run: forward in training mode, the losses of the phase (spec 3.3), backward of the total
// into the ParamStore's flat gradient buffer, the gradients' reduction over the ranks of a
// data-parallel run (one all-reduce of the flat buffer), the Adam update (spec 4.2) and the
// batch-norm moving-average update.
//
// The step is an object so that a caller can look at the forward and the losses before the update
// (the trainer sums the step's metrics over the ranks and stops on a non-finite loss there):
//   TrainingStep step(ctx, model, store, data, targets, settings);   // forward + losses
//   ... step.losses() ...
//   step.update(optimizer, reduce_gradients);                        // backward, Adam, BN
// update() is backward() then apply(), which tests call apart to look at the gradients;
// train_step() runs the whole step at once.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "model/losses.h"
#include "model/ucluster_model.h"
#include "train/optimizer.h"

namespace ucluster {

struct StepSettings {
  double inverse_temperature = 10.0;  // of the clustering loss (schedules.h alpha)
  model::LossConfig losses;
  bool joint = true;  // joint training; false: pre-training, the centroids `mu` get no update
  double learning_rate = 1e-3;
  double bn_decay = 0.9;  // of the moving-average update
  ReplicaSum bn_sync;     // synchronised batch norm over the ranks; empty: this batch's jets only
  model::Capture* capture = nullptr;  // named intermediates of the forward, when wanted
};

// Called with the flat gradient buffer after backward, before Adam (data-parallel: the mean over
// the ranks, in place).
using GradientReduce = std::function<void(const Tensor& flat_grads)>;

class TrainingStep {
 public:
  // Runs the training-mode forward of the jets (packed rows, engine/jet_rows.h) and the losses
  // against `targets` ([B] int32 mass bins). The references must outlive the step.
  TrainingStep(Context& ctx, const model::UClusterModel& model, const ParamStore& store, const JetBatch& jets,
               const Tensor& targets, StepSettings settings);
  // The same for jets [B, N, F] as stored (padding included), packed first.
  TrainingStep(Context& ctx, const model::UClusterModel& model, const ParamStore& store, const Tensor& data,
               const Tensor& targets, StepSettings settings);
  TrainingStep(const TrainingStep&) = delete;
  TrainingStep& operator=(const TrainingStep&) = delete;

  const model::ForwardOutput& output() const { return output_; }
  const model::Losses& losses() const { return losses_; }

  // backward(reduce_gradients), then apply(optimizer). Once per step.
  void update(AdamOptimizer& optimizer, const GradientReduce& reduce_gradients = {});
  // Backward of the total loss into the zeroed flat gradient buffer, then reduce_gradients.
  void backward(const GradientReduce& reduce_gradients = {});
  // One Adam update at the optimiser's step (the centroids frozen in pre-training) and the
  // moving statistics' update.
  void apply(AdamOptimizer& optimizer);

 private:
  Context& ctx_;
  const model::UClusterModel& model_;
  const ParamStore& store_;
  StepSettings settings_;
  Tape tape_;
  model::ForwardOutput output_;
  model::Losses losses_;
};

// Both halves of a TrainingStep; returns the step's losses (values of before the update).
model::Losses train_step(Context& ctx, const model::UClusterModel& model, const ParamStore& store,
                         AdamOptimizer& optimizer, const Tensor& data, const Tensor& targets,
                         const StepSettings& settings);

}  // namespace ucluster
