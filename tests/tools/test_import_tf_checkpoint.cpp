// import-tf-checkpoint end to end: the executable converts the published TF checkpoints into the
// project's checkpoint, which load_checkpoint reads back bit for bit (parameters, statistics, Adam
// moments, step and epoch); bad inputs fail with a message and leave no output behind.
#include <algorithm>
#include <cstring>
#include <fstream>

#include <nlohmann/json.hpp>

#include "model/tf_import.h"
#include "tests/tools/tool_test_util.h"
#include "tests/published.h"
#include "train/checkpoint.h"
#include "train/config.h"

namespace ucluster {
namespace {

using test::published_dir;
using test::quote;
using test::run_tool;

const std::string kImport = UCLUSTER_IMPORT_TF_CHECKPOINT;

void expect_same(Context& ctx, const Tensor& a, const Tensor& b, const std::string& what) {
  const std::vector<float> x = ctx.to_vector<float>(a), y = ctx.to_vector<float>(b);
  ASSERT_EQ(x.size(), y.size()) << what;
  EXPECT_EQ(std::memcmp(x.data(), y.data(), x.size() * sizeof(float)), 0) << what << " differs";
}

// The tool run on a copy of the published cluster.ckpt (in `dir`) whose part `corrupt` (".index"
// or ".data-00000-of-00001") has `mask` xor-ed into its byte at `offset`; writes tmp/out.h5.
test::ToolRun import_with_flipped_bits(const std::string& dir, const test::ScratchDir& tmp, const std::string& corrupt,
                                       std::size_t offset, char mask) {
  const std::string intact = corrupt == ".index" ? ".data-00000-of-00001" : ".index";
  std::filesystem::copy_file(dir + "/cluster.ckpt" + intact, tmp / ("bad.ckpt" + intact));
  std::string bytes = test::slurp(dir + "/cluster.ckpt" + corrupt);
  bytes.at(offset) ^= mask;
  std::ofstream(tmp / ("bad.ckpt" + corrupt), std::ios::binary) << bytes;
  return run_tool(kImport + " " + quote(tmp / "bad.ckpt") + " " + quote(tmp / "out.h5"), tmp.path());
}

TEST(ImportTfCheckpointTool, PublishedCheckpointRoundTrips) {
  REQUIRE_PUBLISHED();
  test::ScratchDir tmp;
  const std::string out = tmp / "published.h5";
  const test::ToolRun r = run_tool(kImport + " " + quote(dir + "/cluster.ckpt") + " " + quote(out), tmp.path());
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.err, "") << "no warning expected: every tensor of the bundle is known";
  const nlohmann::json summary = nlohmann::json::parse(r.out);
  EXPECT_EQ(summary.at("parameters"), 63);
  EXPECT_EQ(summary.at("buffers"), 30);
  EXPECT_EQ(summary.at("trainable_numbers"), 186210);
  EXPECT_EQ(summary.at("global_step"), 118200);
  EXPECT_EQ(summary.at("epoch"), 200);  // 118200 / 591
  EXPECT_EQ(summary.at("step_in_epoch"), 0);
  EXPECT_EQ(summary.at("optimizer_state"), true);

  // Reference: the same bundle imported in-process.
  Context ctx(test::cpu_options());
  model::UClusterModel model;
  ParamStore expected, loaded;
  model.declare(expected);
  model.declare(loaded);
  expected.finalize(ctx, Device::cpu());
  loaded.finalize(ctx, Device::cpu());
  const model::TfImportResult ref = model::import_tf_tensors(ctx, model::read_tf_bundle(dir + "/cluster.ckpt"), model, expected);

  CheckpointData data;
  load_checkpoint(ctx, out, loaded, &data);
  for (const auto& e : expected.param_entries()) expect_same(ctx, loaded.param(e.name), expected.param(e.name), e.name);
  for (const auto& e : expected.buffer_entries())
    expect_same(ctx, loaded.buffer(e.name), expected.buffer(e.name), e.name);
  ASSERT_TRUE(data.adam_m.defined());
  expect_same(ctx, data.adam_m, ref.adam_m, "Adam m");
  expect_same(ctx, data.adam_v, ref.adam_v, "Adam v");
  EXPECT_EQ(data.state.at("global_step"), 118200);
  EXPECT_EQ(data.state.at("epoch"), 200);
  EXPECT_EQ(data.state.at("loader_step"), 0);
  EXPECT_EQ(data.config, config_from_json(nlohmann::json::object()).to_json()) << "config = preset B defaults";
  EXPECT_EQ(data.config.at("preset"), "B");
}

// The imported state has the trainer's layout, so `train --resume` continues the published run
// (here: fine-tuning epoch 200 on a few toy jets) with the imported Adam moments and global step.
TEST(ImportTfCheckpointTool, ImportedCheckpointResumesTraining) {
  REQUIRE_PUBLISHED();
  test::ScratchDir tmp;
  const std::string sets = " --set toy_jets=300 --set batch_size=64 --set epochs=201 --set kmeans_n_init=1" +
                           std::string(" --set threads=2 --set output_dir=") + quote(tmp / "run");
  std::filesystem::create_directories(tmp / "run");
  test::ToolRun r =
      run_tool(kImport + " " + quote(dir + "/cluster.ckpt") + " " + quote(tmp / "run/checkpoint.h5") + sets, tmp.path());
  ASSERT_EQ(r.rc, 0) << r.err;
  r = run_tool(std::string(UCLUSTER_TRAIN) + " --resume" + sets, tmp.path());
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.err.find("resumed from"), std::string::npos) << r.err;
  const nlohmann::json line = nlohmann::json::parse(test::slurp(tmp / "run/metrics.jsonl"));
  EXPECT_EQ(line.at("epoch"), 200);
  EXPECT_EQ(line.at("phase"), "joint");
  EXPECT_GT(line.at("global_step").get<std::int64_t>(), 118200);
  EXPECT_EQ(line.at("learning_rate"), 1e-5);  // the schedule's floor at that step (spec 8 #20)
}

TEST(ImportTfCheckpointTool, PretrainingCheckpointIsEpoch21) {
  REQUIRE_PUBLISHED();
  test::ScratchDir tmp;
  // The .index file name is accepted as the prefix too.
  const test::ToolRun r =
      run_tool(kImport + " " + quote(dir + "/model.ckpt.index") + " " + quote(tmp / "pre.h5"), tmp.path());
  ASSERT_EQ(r.rc, 0) << r.err;
  const nlohmann::json summary = nlohmann::json::parse(r.out);
  EXPECT_EQ(summary.at("global_step"), 12411);
  EXPECT_EQ(summary.at("epoch"), 21);  // 21 pre-training epochs of 591 steps
}

TEST(ImportTfCheckpointTool, CorruptIndexFailsWithChecksumErrorAndNoOutput) {
  REQUIRE_PUBLISHED();
  test::ScratchDir tmp;
  // One bit inside the table's data block.
  const test::ToolRun r = import_with_flipped_bits(dir, tmp, ".index", 4321, 0x10);
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("checksum mismatch"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(tmp / "out.h5"));
}

TEST(ImportTfCheckpointTool, CorruptDataFailsNamingTheTensor) {
  REQUIRE_PUBLISHED();
  test::ScratchDir tmp;
  // Inside agg/weights (offset 1864, README table).
  const test::ToolRun r = import_with_flipped_bits(dir, tmp, ".data-00000-of-00001", 1864 + 100, 0x01);
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("'agg/weights'"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(tmp / "out.h5"));
}

TEST(ImportTfCheckpointTool, MissingFilesAndBadArgumentsAreClearErrors) {
  test::ScratchDir tmp;
  test::ToolRun r = run_tool(kImport + " " + quote(tmp / "nothing.ckpt") + " " + quote(tmp / "out.h5"), tmp.path());
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("no TF checkpoint at"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("nothing.ckpt.index"), std::string::npos) << r.err;

  r = run_tool(kImport + " only-one-argument", tmp.path());
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("expected PREFIX and OUT.h5"), std::string::npos) << r.err;

  r = run_tool(kImport + " --bogus a b", tmp.path());
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("unknown option '--bogus'"), std::string::npos) << r.err;

  const std::string dir = published_dir();
  if (!dir.empty()) {
    r = run_tool(kImport + " " + quote(dir + "/cluster.ckpt") + " " + quote(tmp / "no/such/dir/out.h5"), tmp.path());
    EXPECT_EQ(r.rc, 1);
    EXPECT_NE(r.err.find("does not exist"), std::string::npos) << r.err;
  }
  EXPECT_EQ(tmp.entries(), std::vector<std::string>{}) << "nothing left behind";
}

}  // namespace
}  // namespace ucluster
