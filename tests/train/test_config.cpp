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
