#include <gtest/gtest.h>

#include "engine/error.h"
#include "train/schedules.h"

namespace ucluster {
namespace {

TEST(Schedules, LearningRateStaircaseAtSpecBoundaries) {
  // spec 4.2 table (batch 512, 500k samples per halving, floor 1e-5).
  const LearningRateSchedule lr;
  const struct {
    std::int64_t step;
    double lr;
  } rows[] = {{0, 1e-3},         {976, 1e-3},       {977, 5e-4},       {1953, 5e-4},     {1954, 2.5e-4},
              {2929, 2.5e-4},    {2930, 1.25e-4},   {3906, 1.25e-4},   {3907, 6.25e-5},  {4882, 6.25e-5},
              {4883, 3.125e-5},  {5859, 3.125e-5},  {5860, 1.5625e-5}, {6835, 1.5625e-5}, {6836, 1e-5},
              {118199, 1e-5}};
  for (const auto& r : rows) EXPECT_DOUBLE_EQ(lr.at(r.step), r.lr) << "step " << r.step;
}

TEST(Schedules, LearningRateIsDefinedInSamples) {
  LearningRateSchedule lr;
  lr.batch_size = 256;  // the boundaries move to twice the steps
  EXPECT_DOUBLE_EQ(lr.at(1953), 1e-3);
  EXPECT_DOUBLE_EQ(lr.at(1954), 5e-4);
  lr.floor = 2e-4;
  EXPECT_DOUBLE_EQ(lr.at(100000), 2e-4);
  EXPECT_EQ(decay_intervals(977, 512, 500000), 1);
  EXPECT_EQ(decay_intervals(976, 512, 500000), 0);
}

TEST(Schedules, BatchNormDecayAtSpecBoundaries) {
  // spec 4.3: 0.5, 0.75, 0.875, 0.9375, 0.96875, 0.984375, then the 0.99 clip from step 5860.
  const BnDecaySchedule bn;
  const struct {
    std::int64_t step;
    double decay;
  } rows[] = {{0, 0.5},        {976, 0.5},       {977, 0.75},      {1953, 0.75},   {1954, 0.875},
              {2930, 0.9375},  {3906, 0.9375},   {3907, 0.96875},  {4883, 0.984375}, {5859, 0.984375},
              {5860, 0.99},    {6836, 0.99},     {118199, 0.99}};
  for (const auto& r : rows) EXPECT_DOUBLE_EQ(bn.at(r.step), r.decay) << "step " << r.step;
}

TEST(Schedules, AlphaConfigA) {
  const AlphaSchedule a = alpha_schedule_config_a();
  EXPECT_EQ(a.max_pretrain, 10);
  EXPECT_FALSE(a.full_training(10));
  EXPECT_TRUE(a.full_training(11));
  EXPECT_EQ(a.train(11), 4.0);  // first full-training epoch
  EXPECT_EQ(a.train(20), 22.0);
  EXPECT_EQ(a.train(21), 24.0);
  EXPECT_EQ(a.train(199), 380.0);
  for (int e : {0, 11, 20, 21, 199}) EXPECT_EQ(a.eval(e), a.train(e));
}

TEST(Schedules, AlphaConfigBTrainsAt5AndEvaluatesAt2) {
  const AlphaSchedule b = alpha_schedule_config_b();
  EXPECT_EQ(b.max_pretrain, 20);
  EXPECT_FALSE(b.full_training(20));
  EXPECT_TRUE(b.full_training(21));
  EXPECT_EQ(b.train(20), 5.0);
  EXPECT_EQ(b.train(21), 10.0);
  EXPECT_EQ(b.train(199), 900.0);
  EXPECT_EQ(b.eval(20), 2.0);
  EXPECT_EQ(b.eval(21), 4.0);
  EXPECT_EQ(b.eval(199), 360.0);
}

TEST(Schedules, PresetsShareLrAndBnDecay) {
  const TrainingSchedules a = schedules_config_a(), b = schedules_config_b();
  EXPECT_EQ(a.alpha.max_pretrain, 10);
  EXPECT_EQ(b.alpha.max_pretrain, 20);
  for (std::int64_t step : {0, 977, 6836}) {
    EXPECT_EQ(a.lr.at(step), b.lr.at(step));
    EXPECT_EQ(a.bn_decay.at(step), b.bn_decay.at(step));
  }
}

TEST(Schedules, BadInputsThrow) {
  const LearningRateSchedule lr;
  EXPECT_THROW(lr.at(-1), Error);
  LearningRateSchedule zero_batch;
  zero_batch.batch_size = 0;
  EXPECT_THROW(zero_batch.at(0), Error);
  BnDecaySchedule zero_decay;
  zero_decay.decay_samples = 0;
  EXPECT_THROW(zero_decay.at(0), Error);
}

}  // namespace
}  // namespace ucluster
