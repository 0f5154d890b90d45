#include "train/schedules.h"

#include <algorithm>
#include <cmath>

#include "engine/error.h"

namespace ucluster {

std::int64_t decay_intervals(std::int64_t step, std::int64_t batch_size, std::int64_t decay_samples) {
  UCLUSTER_CHECK(step >= 0, "schedule: step = ", step, " must be >= 0");
  UCLUSTER_CHECK(batch_size >= 1, "schedule: batch_size = ", batch_size, " must be >= 1");
  UCLUSTER_CHECK(decay_samples >= 1, "schedule: decay_samples = ", decay_samples, " must be >= 1");
  // Integer arithmetic: the staircase boundary (e.g. 977 * 512 >= 500000) is exact.
  return step * batch_size / decay_samples;
}

double LearningRateSchedule::at(std::int64_t step) const {
  const double k = static_cast<double>(decay_intervals(step, batch_size, decay_samples));
  return std::max(floor, base * std::pow(decay_rate, k));
}

double BnDecaySchedule::at(std::int64_t step) const {
  const double k = static_cast<double>(decay_intervals(step, batch_size, decay_samples));
  return std::min(clip, 1.0 - init * std::pow(decay_rate, k));
}

double AlphaSchedule::train(int epoch) const { return train_slope * (epoch + train_shift - max_pretrain + 1); }

double AlphaSchedule::eval(int epoch) const { return eval_slope * (epoch - max_pretrain + 1); }

AlphaSchedule alpha_schedule_config_a() { return AlphaSchedule{10, 2.0, 2.0, 0}; }

AlphaSchedule alpha_schedule_config_b() { return AlphaSchedule{20, 5.0, 2.0, 0}; }

TrainingSchedules schedules_config_a() { return TrainingSchedules{{}, {}, alpha_schedule_config_a()}; }

TrainingSchedules schedules_config_b() { return TrainingSchedules{{}, {}, alpha_schedule_config_b()}; }

}  // namespace ucluster
