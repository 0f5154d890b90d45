// Per-step and per-epoch schedules of the reference training loop (spec 4.2-4.4), each parameterised
// by its numbers so that configs A and B of spec 0.1 are presets. Computed in double (the reference
// evaluated them in float32 inside TensorFlow; the golden data hold the double values).
#pragma once

#include <cstdint>

namespace ucluster {

// Number of completed decay intervals: floor(step * batch_size / decay_samples). The schedules
// are defined in samples (spec 4.2), so they keep their meaning when the batch size changes.
std::int64_t decay_intervals(std::int64_t step, std::int64_t batch_size, std::int64_t decay_samples);

// spec 4.2: lr(step) = max(floor, base * rate^floor(step * batch / decay_samples)), step = global
// step before the update. With the defaults: 1e-3 for steps 0-976, 5e-4 from 977, ..., 1e-5 from
// 6836 on (spec 8 #20: full training runs entirely at the floor).
struct LearningRateSchedule {
  double base = 1e-3;
  std::int64_t decay_samples = 500000;
  double decay_rate = 0.5;
  double floor = 1e-5;
  std::int64_t batch_size = 512;

  double at(std::int64_t step) const;
};

// spec 4.3: bn_decay(step) = min(clip, 1 - init * rate^floor(step * batch / decay_samples)).
// With the defaults: 0.5, 0.75, ..., 0.984375, then 0.99 from step 5860 on.
struct BnDecaySchedule {
  double init = 0.5;  // BN_INIT_DECAY: the initial momentum, bn_decay starts at 1 - init
  std::int64_t decay_samples = 500000;
  double decay_rate = 0.5;
  double clip = 0.99;
  std::int64_t batch_size = 512;

  double at(std::int64_t step) const;
};

// spec 4.4: the DKM inverse temperature, linear in the epoch and constant within it:
// alpha(e) = slope * (e - max_pretrain + 1), fed for every epoch (values before full training are
// not used by the loss). Config A: max_pretrain 10, slope 2 for training and evaluation. Config B:
// max_pretrain 20, slope 5 in training but 2 in evaluation (the archived script).
struct AlphaSchedule {
  int max_pretrain = 20;  // last pre-training epoch index
  double train_slope = 5.0;
  double eval_slope = 2.0;
  int train_shift = 0;  // training uses alpha at e + train_shift (the event script: 1, ucluster-ad-spec.md 2.4)

  bool full_training(int epoch) const { return epoch > max_pretrain; }
  double train(int epoch) const;
  double eval(int epoch) const;
};

struct TrainingSchedules {
  LearningRateSchedule lr;
  BnDecaySchedule bn_decay;
  AlphaSchedule alpha;
};

// Spec 0.1: config A (scripts/train_kmeans.py as committed) and config B (the archived run
// logs/wztop_100p_test). lr and bn-decay schedules are the same in both.
AlphaSchedule alpha_schedule_config_a();
AlphaSchedule alpha_schedule_config_b();
TrainingSchedules schedules_config_a();
TrainingSchedules schedules_config_b();

}  // namespace ucluster
