// Training configuration: presets, overrides, and every kind of bad value refused with the key named.
#include <gtest/gtest.h>

#include "engine/error.h"
#include "train/config.h"

namespace ucluster {
namespace {

std::string error_of(const nlohmann::json& j) {
  try {
    config_from_json(j);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// ucluster-ad-spec.md 2.1 and 2.4: the event model's schedules (train_kmeans_seg.py).
TEST(TrainConfig, PresetAdIsTheAnomalyDetectionScript) {
  const TrainConfig c = config_from_json({{"preset", "AD"}, {"train_file", "a.h5"}, {"test_file", "b.h5"}});
  EXPECT_TRUE(c.events());
  EXPECT_EQ(c.clusters, 2);
  EXPECT_EQ(c.epochs, 100);
  EXPECT_EQ(c.pretrain_epochs, 11);  // is_full_training = e > 10
  EXPECT_EQ(c.batch_size, 1024);
  EXPECT_EQ(c.focal_gamma, 2.0);
  EXPECT_EQ(c.focal_alpha, 10.0);
  EXPECT_EQ(c.beta, 1.0);
  EXPECT_EQ(c.focal_reduction, "per_point");
  const TrainingSchedules s = c.schedules();
  EXPECT_EQ(s.alpha.train(11), 30.0);   // 10 (e - 8): the script evaluates before it trains
  EXPECT_EQ(s.alpha.train(99), 910.0);
  EXPECT_EQ(s.alpha.eval(11), 20.0);    // 10 (e - 9)
  EXPECT_DOUBLE_EQ(s.lr.at(0), 1e-2);
  EXPECT_DOUBLE_EQ(s.lr.at(976), 1e-2);  // x 0.5 per 1e6 samples of 1024: boundary at step 977
  EXPECT_DOUBLE_EQ(s.lr.at(977), 5e-3);
  EXPECT_DOUBLE_EQ(s.lr.at(9766), 1e-5);
  EXPECT_DOUBLE_EQ(s.bn_decay.at(0), 0.5);
  EXPECT_DOUBLE_EQ(s.bn_decay.at(5860), 0.99);
  const model::ModelDims d = c.model_dims();
  EXPECT_EQ(d.variant, model::ModelVariant::Events);
  EXPECT_EQ(d.num_features, 7);
  EXPECT_EQ(d.latent, 2);
  EXPECT_EQ(d.num_classes, 21);
  EXPECT_EQ(d.num_globals, 4);
  EXPECT_EQ(c.losses().point_reduction, PointFocalReduction::PerPoint);
}

TEST(TrainConfig, AnomalyConfigFilesLoad) {
  const std::string dir = std::string(UCLUSTER_SOURCE_DIR) + "/configs/";
  const TrainConfig reference = load_config(dir + "anomaly-reference.json", {});
  EXPECT_EQ(reference.preset, "AD");
  EXPECT_EQ(reference.epochs, 100);
  EXPECT_EQ(reference.km_alpha_train_shift, 1);
  const TrainConfig quick = load_config(dir + "anomaly-quickstart.json", {});
  EXPECT_TRUE(quick.events());
  EXPECT_LT(quick.epochs, reference.epochs);
}

TEST(TrainConfig, EventTaskErrorsNameTheKey) {
  const nlohmann::json files = {{"train_file", "a.h5"}, {"test_file", "b.h5"}};
  nlohmann::json j = files;
  j["preset"] = "AD";
  j["clusters"] = 1;
  EXPECT_NE(error_of(j).find("'clusters' must be in [2, 8]"), std::string::npos) << error_of(j);
  j["clusters"] = 4;
  j["focal_reduction"] = "mean";
  EXPECT_NE(error_of(j).find("'focal_reduction' must be one of"), std::string::npos) << error_of(j);
  EXPECT_NE(error_of({{"preset", "AD"}}).find("needs prepared event files"), std::string::npos);
  EXPECT_NE(error_of({{"clusters", 4}}).find("must be 3 for task \"jets\""), std::string::npos);
  EXPECT_NE(error_of({{"preset", "C"}}).find("\"A\", \"B\" or \"AD\""), std::string::npos);
  const TrainConfig max_points = config_from_json({{"preset", "AD"}, {"train_file", "a.h5"}, {"test_file", "b.h5"},
                                                   {"focal_reduction", "max_points"}, {"clusters", 4}});
  EXPECT_EQ(max_points.losses().point_reduction, PointFocalReduction::MaxOverPoints);
  EXPECT_EQ(max_points.model_dims().num_clusters, 4);
}

TEST(TrainConfig, DefaultsAreConfigBOfTheSpec) {
  const TrainConfig c = config_from_json(nlohmann::json::object());
  EXPECT_EQ(c.batch_size, 512);
  EXPECT_EQ(c.epochs, 200);
  EXPECT_EQ(c.pretrain_epochs, 21);
  EXPECT_EQ(c.focal_gamma, 2.0);
  EXPECT_EQ(c.focal_alpha, 1.0);
  EXPECT_EQ(c.beta, 10.0);
  EXPECT_EQ(c.schedules().alpha.train(21), 10.0);  // 5 (e - 19)
  EXPECT_EQ(c.schedules().alpha.eval(21), 4.0);    // 2 (e - 19)
  EXPECT_TRUE(c.toy_data());
}

TEST(TrainConfig, PresetAThenExplicitKeysWin) {
  const TrainConfig a = config_from_json({{"preset", "A"}});
  EXPECT_EQ(a.focal_gamma, 4.0);
  EXPECT_EQ(a.focal_alpha, 10.0);
  EXPECT_EQ(a.beta, 1.0);
  EXPECT_EQ(a.pretrain_epochs, 11);
  EXPECT_EQ(a.schedules().alpha.train(11), 4.0);  // 2 (e - 9)
  const TrainConfig b = config_from_json({{"preset", "A"}, {"beta", 3.5}});
  EXPECT_EQ(b.beta, 3.5);
  EXPECT_NE(error_of({{"preset", "C"}}).find("preset"), std::string::npos);
}

TEST(TrainConfig, OverridesParseNumbersBooleansAndStrings) {
  nlohmann::json j = nlohmann::json::object();
  apply_override(j, "epochs=30");
  apply_override(j, "shuffle=true");
  apply_override(j, "output_dir=runs/x");
  apply_override(j, "learning_rate=2e-4");
  const TrainConfig c = config_from_json(j);
  EXPECT_EQ(c.epochs, 30);
  EXPECT_TRUE(c.shuffle);
  EXPECT_EQ(c.output_dir, "runs/x");
  EXPECT_EQ(c.learning_rate, 2e-4);
  EXPECT_THROW(apply_override(j, "no_equals_sign"), Error);
  EXPECT_EQ(config_from_json(c.to_json()).to_json(), c.to_json());  // round trip
}

TEST(TrainConfig, BadKeysAndValuesAreRefusedNamingTheKey) {
  EXPECT_NE(error_of({{"learnig_rate", 0.1}}).find("unknown config key 'learnig_rate'"), std::string::npos);
  EXPECT_NE(error_of({{"learning_rate", -1}}).find("'learning_rate' must be > 0"), std::string::npos);
  EXPECT_NE(error_of({{"batch_size", 0}}).find("'batch_size' must be > 0"), std::string::npos);
  EXPECT_NE(error_of({{"batch_size", 1.5}}).find("'batch_size' must be an integer"), std::string::npos);
  EXPECT_NE(error_of({{"epochs", "ten"}}).find("'epochs' must be an integer"), std::string::npos);
  EXPECT_NE(error_of({{"shuffle", 1}}).find("'shuffle' must be true or false"), std::string::npos);
  EXPECT_NE(error_of({{"pretrain_epochs", 300}}).find("'pretrain_epochs'"), std::string::npos);
  EXPECT_NE(error_of({{"bn_decay_clip", 1.5}}).find("'bn_decay_clip' must be in [0, 1]"), std::string::npos);
  EXPECT_NE(error_of({{"train_file", "a.h5"}}).find("given together"), std::string::npos);
  EXPECT_NE(error_of({{"toy_seed", -3}}).find("'toy_seed' must not be negative"), std::string::npos);
  EXPECT_NE(error_of(nlohmann::json::array()).find("JSON object"), std::string::npos);
}

// Data parallelism: the global batch is split by default; per-rank batches scale the
// learning rate linearly after a warm-up; the decay schedules count the jets of a whole step.
TEST(TrainConfig, BatchSplitLearningRateScalingAndBatchNormStatistics) {
  TrainConfig g = config_from_json({{"batch_size", 512}});
  EXPECT_EQ(g.rank_batch(4), 128);
  EXPECT_EQ(g.global_batch(4), 512);
  EXPECT_EQ(g.lr_scale(4, 0), 1.0);
  EXPECT_TRUE(g.synchronised_batch_norm(4));
  EXPECT_FALSE(g.synchronised_batch_norm(1));
  EXPECT_EQ(g.schedules(4).lr.batch_size, 512);
  try {
    g.batch_size = 510;
    g.rank_batch(4);
    ADD_FAILURE() << "510 jets split among 4 ranks";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("does not divide evenly among 4 ranks"), std::string::npos) << e.what();
  }

  const TrainConfig p =
      config_from_json({{"batch_size", 256}, {"batch_split", "per_rank"}, {"lr_warmup_steps", 100}});
  EXPECT_EQ(p.rank_batch(8), 256);
  EXPECT_EQ(p.global_batch(8), 2048);
  EXPECT_EQ(p.schedules(8).lr.batch_size, 2048);
  EXPECT_EQ(p.lr_scale(8, 0), 1.0);
  EXPECT_EQ(p.lr_scale(8, 50), 4.5);  // half-way from 1 to 8
  EXPECT_EQ(p.lr_scale(8, 100), 8.0);
  EXPECT_FALSE(p.synchronised_batch_norm(8));
  EXPECT_TRUE(config_from_json({{"batch_split", "per_rank"}, {"batch_norm_stats", "global"}}).synchronised_batch_norm(2));
  EXPECT_EQ(config_from_json({{"batch_split", "per_rank"}, {"lr_scaling", "none"}}).lr_scale(8, 1000), 1.0);

  EXPECT_NE(error_of({{"batch_split", "half"}}).find("'batch_split' must be one of \"global\", \"per_rank\""),
            std::string::npos);
  EXPECT_NE(error_of({{"batch_norm_stats", "sync"}}).find("'batch_norm_stats'"), std::string::npos);
  EXPECT_NE(error_of({{"collectives", "gloo"}}).find("'collectives'"), std::string::npos);
  EXPECT_NE(error_of({{"edge_path", "fast"}}).find("'edge_path' must be one of \"auto\", \"fused\", \"unfused\""),
            std::string::npos);
  EXPECT_EQ(config_from_json({{"edge_path", "unfused"}}).edge_path, "unfused");
  EXPECT_NE(error_of({{"timeout_s", -1}}).find("'timeout_s' must be >= 0"), std::string::npos);
  EXPECT_NE(error_of({{"lr_warmup_steps", -5}}).find("'lr_warmup_steps'"), std::string::npos);
}

TEST(TrainConfig, MissingOrBrokenConfigFile) {
  EXPECT_THROW(load_config("/nonexistent/config.json", {}), Error);
  const std::string path = testing::TempDir() + "/broken.json";
  FILE* f = std::fopen(path.c_str(), "w");
  std::fputs("{\"epochs\": ", f);
  std::fclose(f);
  try {
    load_config(path, {});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not valid JSON"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace ucluster
