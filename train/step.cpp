#include "train/step.h"

namespace ucluster {

TrainingStep::TrainingStep(Context& ctx, const model::UClusterModel& model, const ParamStore& store,
                           const Tensor& data, const Tensor& targets, StepSettings settings)
    : TrainingStep(ctx, model, store, pack_jets(ctx, data, ctx.device()), targets, std::move(settings)) {}

TrainingStep::TrainingStep(Context& ctx, const model::UClusterModel& model, const ParamStore& store,
                           const JetBatch& jets, const Tensor& targets, StepSettings settings)
    : ctx_(ctx), model_(model), store_(store), settings_(std::move(settings)), tape_(ctx) {
  output_ = model_.forward(tape_, store_, jets, model::BatchNormMode::Train, settings_.capture, settings_.bn_sync);
  losses_ = model::compute_losses(tape_, output_, param_var(store_, "mu"), targets, settings_.inverse_temperature,
                                  settings_.losses, settings_.joint);
}

void TrainingStep::update(AdamOptimizer& optimizer, const GradientReduce& reduce_gradients) {
  backward(reduce_gradients);
  apply(optimizer);
}

void TrainingStep::backward(const GradientReduce& reduce_gradients) {
  store_.zero_grad(ctx_);
  tape_.backward(losses_.total);
  if (reduce_gradients) reduce_gradients(store_.flat_grads());
}

void TrainingStep::apply(AdamOptimizer& optimizer) {
  const std::vector<std::string> frozen =
      settings_.joint ? std::vector<std::string>{} : std::vector<std::string>{"mu"};
  optimizer.update(ctx_, store_, settings_.learning_rate, frozen);
  model_.update_moving_statistics(ctx_, store_, output_, settings_.bn_decay);
}

model::Losses train_step(Context& ctx, const model::UClusterModel& model, const ParamStore& store,
                         AdamOptimizer& optimizer, const Tensor& data, const Tensor& targets,
                         const StepSettings& settings) {
  TrainingStep step(ctx, model, store, data, targets, settings);
  step.update(optimizer);
  return step.losses();
}

}  // namespace ucluster
