// export-model end to end: a checkpoint written by save_checkpoint (random weights and statistics,
// as tests/train/test_checkpoint.cpp makes them) is exported; the .ucm holds every parameter and
// statistic bit for bit, the evaluation inverse temperature and the provenance. Bad command lines
// fail with a message, exit status 1 and no output.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "embed/src/model_file.h"
#include "model/ucluster_model.h"
#include "tests/tools/tool_test_util.h"
#include "train/checkpoint.h"
#include "train/config.h"

namespace ucluster {
namespace {

using test::quote;
using test::run_tool;

const std::string kExport = UCLUSTER_EXPORT_MODEL;

struct Model {
  Context ctx{test::cpu_options()};
  model::UClusterModel model;
  ParamStore store;
  Model() {
    model.declare(store);
    store.finalize(ctx, Device::cpu());
  }
};

// A checkpoint (preset B config) written at `epoch`, `loader_step`, with random values.
void write_checkpoint(const std::string& path, int epoch, std::int64_t loader_step) {
  Model m;
  Rng rng(11);
  m.model.initialise(m.ctx, m.store, rng);
  for (std::int64_t i = 0; i < m.store.flat_buffers().numel(); ++i)
    m.store.flat_buffers().data<float>()[i] = static_cast<float>(rng.uniform(0.1, 2.0));
  RunState state;
  state.epoch = epoch;
  state.loader = {epoch, loader_step};
  state.global_step = 1234;
  CheckpointData data;
  data.config = config_from_json(nlohmann::json::object()).to_json();
  data.state = state.to_json();
  save_checkpoint(m.ctx, path, m.store, data);
}

TEST(CheckpointEvaluation, BoundaryCheckpointsHoldThePreviousEpoch) {
  const TrainConfig config = config_from_json(nlohmann::json::object());  // eval alpha = 2 (e - 20 + 1)
  const CheckpointEvaluation boundary = checkpoint_evaluation(config, {{"epoch", 25}, {"loader_step", 0}});
  EXPECT_EQ(boundary.epoch, 24);
  EXPECT_EQ(boundary.inverse_temperature, 10.0);
  EXPECT_TRUE(boundary.full_training);
  const CheckpointEvaluation mid = checkpoint_evaluation(config, {{"epoch", 25}, {"loader_step", 3}});
  EXPECT_EQ(mid.epoch, 25);
  EXPECT_EQ(mid.inverse_temperature, 12.0);
  EXPECT_FALSE(checkpoint_evaluation(config, {{"epoch", 0}, {"loader_step", 0}}).full_training);
}

TEST(ExportModelTool, WritesEveryTensorBitForBit) {
  test::ScratchDir tmp;
  const std::string ckpt = tmp / "checkpoint.h5", out = tmp / "model.ucm";
  write_checkpoint(ckpt, 25, 0);
  const test::ToolRun r = run_tool(kExport + " " + quote(ckpt) + " " + quote(out), tmp.path());
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.err, "");
  const std::vector<unsigned char> bytes = embed::read_model_bytes(out);
  EXPECT_EQ(r.out, "export-model: wrote " + out + " (" + std::to_string(bytes.size()) +
                       " bytes, 93 tensors, epoch 24, inverse temperature 10)\n");
  EXPECT_EQ(tmp.entries(), (std::vector<std::string>{"checkpoint.h5", "model.ucm"})) << "no temporary left";

  const embed::ModelContents c = embed::parse_model(bytes.data(), bytes.size(), out);
  EXPECT_EQ(c.inverse_temperature, 10.0);
  const nlohmann::json source = nlohmann::json::parse(c.source_json);
  EXPECT_EQ(source.at("checkpoint"), std::filesystem::absolute(ckpt).lexically_normal().string());
  EXPECT_EQ(source.at("epoch"), 24);
  EXPECT_EQ(source.at("global_step"), 1234);

  Model m;
  load_checkpoint(m.ctx, ckpt, m.store, nullptr);
  std::size_t compared = 0;
  const auto expect_same = [&](const ParamStore::Entry& e, const Tensor& t) {
    const std::vector<float> want = m.ctx.to_vector<float>(t);
    const embed::ModelTensor& got = c.tensors.at(e.name);
    EXPECT_EQ(got.shape, e.shape.dims()) << e.name;
    ASSERT_EQ(got.values.size(), want.size()) << e.name;
    EXPECT_EQ(std::memcmp(got.values.data(), want.data(), 4 * want.size()), 0) << e.name << " differs";
    ++compared;
  };
  for (const auto& e : m.store.param_entries()) expect_same(e, m.store.param(e.name));
  for (const auto& e : m.store.buffer_entries()) expect_same(e, m.store.buffer(e.name));
  EXPECT_EQ(compared, c.tensors.size());
  EXPECT_NE(c.tensors.at("fc1.bn_var").values, std::vector<float>(256, 0.0f)) << "statistics are exported";
}

TEST(ExportModelTool, BadCommandLinesFailWithAMessageAndWriteNothing) {
  test::ScratchDir tmp;
  const std::string ckpt = tmp / "checkpoint.h5";
  write_checkpoint(ckpt, 3, 5);
  const std::uintmax_t ckpt_size = std::filesystem::file_size(ckpt);
  const std::pair<std::string, std::string> cases[] = {
      {"", "expected CHECKPOINT.h5 and MODEL.ucm, got 0 argument(s)"},
      {quote(tmp / "missing.h5") + " " + quote(tmp / "m.ucm"), "missing.h5' does not exist"},
      {quote(ckpt) + " " + quote(ckpt), "is the checkpoint; refusing to overwrite it"},
      {quote(ckpt) + " " + quote(tmp.path()), "is a directory"},
      {quote(ckpt) + " " + quote(tmp / "no/m.ucm"), "output directory '" + tmp / "no" + "' does not exist"},
      {quote(ckpt) + " " + quote(tmp / "m.ucm") + " extra", "got 3 argument(s)"},
      {"--format x", "unknown option '--format'"},
  };
  for (const auto& [args, message] : cases) {
    const test::ToolRun r = run_tool(kExport + " " + args, tmp.path());
    EXPECT_EQ(r.rc, 1) << args;
    EXPECT_NE(r.err.find("export-model: error: " ), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(message), std::string::npos) << args << ": " << r.err;
  }
  EXPECT_EQ(tmp.entries(), std::vector<std::string>{"checkpoint.h5"});
  EXPECT_EQ(std::filesystem::file_size(ckpt), ckpt_size);

  const test::ToolRun help = run_tool(kExport + " --help", tmp.path());
  EXPECT_EQ(help.rc, 0);
  EXPECT_NE(help.out.find("example:\n  export-model "), std::string::npos) << help.out;
}

}  // namespace
}  // namespace ucluster
