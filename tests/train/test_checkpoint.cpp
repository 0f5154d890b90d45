// The HDF5 checkpoint: exact round trip (parameters, BN statistics, Adam moments, embeddings, a
// long metrics history), atomic writes, refusal of NaN, and clear errors for another model shape
// or a file that is not a checkpoint.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "engine/error.h"
#include "model/ucluster_model.h"
#include "train/checkpoint.h"

namespace ucluster {
namespace {

struct Fixture {
  Context ctx{[] {
    ContextOptions o;
    o.device = "cpu";
    return o;
  }()};
  model::UClusterModel model;
  ParamStore store;
  Fixture() {
    model.declare(store);
    store.finalize(ctx, Device::cpu());
    Rng rng(3);
    model.initialise(ctx, store, rng);
    for (std::int64_t i = 0; i < store.flat_buffers().numel(); ++i)
      store.flat_buffers().data<float>()[i] = static_cast<float>(rng.uniform(0.1, 2.0));
  }
};

std::string temp_path(const std::string& name) {
  const std::string dir = testing::TempDir() + "/ucluster_checkpoint_test";
  std::filesystem::create_directories(dir);
  return dir + "/" + name;
}

TEST(Checkpoint, RoundTripIsExactIncludingALongHistory) {
  Fixture a;
  CheckpointData data;
  data.config = {{"seed", 5}};
  nlohmann::json history = nlohmann::json::array();
  for (int e = 0; e < 300; ++e)  // 300 epochs of ~1 kB: far beyond HDF5's 64 kB attribute limit
    history.push_back({{"epoch", e}, {"test", {{"accuracy_global", 0.1 + e * 1e-3}}}, {"pad", std::string(900, 'x')}});
  data.state = {{"epoch", 300}, {"history", history}, {"rng", a.ctx.rng().state()}};
  data.adam_m = a.ctx.zeros_like(a.store.flat_params());
  data.adam_v = a.ctx.zeros_like(a.store.flat_params());
  data.adam_m.data<float>()[7] = 0.25f;
  data.embeddings = {1, 2, 3, 4, 5, 6};
  data.embedding_rows = {7, 3};
  data.embedding_dim = 3;
  const std::string path = temp_path("round_trip.h5");
  save_checkpoint(a.ctx, path, a.store, data);

  Fixture b;
  CheckpointData loaded;
  load_checkpoint(b.ctx, path, b.store, &loaded);
  EXPECT_EQ(b.ctx.to_vector<float>(b.store.flat_params()), a.ctx.to_vector<float>(a.store.flat_params()));
  EXPECT_EQ(b.ctx.to_vector<float>(b.store.flat_buffers()), a.ctx.to_vector<float>(a.store.flat_buffers()));
  EXPECT_EQ(loaded.adam_m.data<float>()[7], 0.25f);
  EXPECT_EQ(loaded.embeddings, data.embeddings);
  EXPECT_EQ(loaded.embedding_rows, data.embedding_rows);
  EXPECT_EQ(loaded.state.at("history"), history);
  EXPECT_EQ(loaded.state.at("epoch"), 300);
  EXPECT_EQ(loaded.config, data.config);
}

TEST(Checkpoint, RefusesNaNAndLeavesNothingBehind) {
  Fixture a;
  a.store.param("fc3.b").data<float>()[0] = std::nanf("");
  const std::string path = temp_path("nan.h5");
  std::filesystem::remove(path);
  CheckpointData data;
  data.state = {{"epoch", 0}};
  EXPECT_THROW(save_checkpoint(a.ctx, path, a.store, data), Error);
  EXPECT_FALSE(std::filesystem::exists(path));
  for (const auto& f : std::filesystem::directory_iterator(std::filesystem::path(path).parent_path()))
    EXPECT_EQ(f.path().filename().string().find(".nan.h5.tmp"), std::string::npos) << "temporary file left";
}

TEST(Checkpoint, AnotherModelShapeOrNotACheckpointIsAClearError) {
  Fixture a;
  const std::string path = temp_path("shape.h5");
  CheckpointData data;
  data.state = {{"epoch", 0}};
  save_checkpoint(a.ctx, path, a.store, data);
  model::ModelDims dims;
  dims.gap1_width = 64;
  model::UClusterModel other(dims);
  ParamStore store;
  other.declare(store);
  store.finalize(a.ctx, Device::cpu());
  try {
    load_checkpoint(a.ctx, path, store, nullptr);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("another model shape"), std::string::npos) << e.what();
  }
  const std::string junk = temp_path("junk.h5");
  FILE* f = std::fopen(junk.c_str(), "w");
  std::fputs("not hdf5", f);
  std::fclose(f);
  EXPECT_THROW(load_checkpoint(a.ctx, junk, a.store, nullptr), Error);
}

}  // namespace
}  // namespace ucluster
