// export-model: a training checkpoint (HDF5) -> the .ucm model file of the embeddable inference
// library (embed/, docs/model-file.md), which reads it without HDF5.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "cli/cli.h"
#include "embed/src/model_file.h"
#include "engine/context.h"
#include "io/h5.h"
#include "io/input_path.h"
#include "io/staged_file.h"
#include "model/ucluster_model.h"
#include "train/checkpoint.h"

namespace {

const char* kUsage = R"(usage: export-model CHECKPOINT.h5 MODEL.ucm

Writes the model of CHECKPOINT.h5 (written by `train` or `import-tf-checkpoint`) as MODEL.ucm, the
model file of the embeddable inference library libucluster (format: docs/model-file.md): every
weight, bias, batch-norm parameter and moving statistic and the centroids mu as float32, the
model's dimensions, the inverse temperature of the checkpoint's evaluation schedule at its last
completed epoch (the default of `evaluate`) and where the model came from (checkpoint path, epoch,
global step). MODEL.ucm is written atomically (it appears only when complete) and replaced if it
exists. Prints one line saying what was written.

options:
  --help  this text

example:
  export-model runs/ucluster/checkpoint.h5 model.ucm
)";

using namespace ucluster;

void write_file(const std::string& path, const std::vector<unsigned char>& bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  UCLUSTER_CHECK(f != nullptr, "cannot create '", path, "': ", std::strerror(errno));
  const bool written = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  const int write_errno = errno;
  const bool closed = std::fclose(f) == 0;
  UCLUSTER_CHECK(written && closed, "cannot write '", path, "': ", std::strerror(written ? errno : write_errno));
}

int run(const std::string& checkpoint, const std::string& out) {
  require_input_path("checkpoint", checkpoint);
  const std::filesystem::path out_dir = std::filesystem::path(out).parent_path();
  UCLUSTER_CHECK(out_dir.empty() || std::filesystem::is_directory(out_dir), "output directory '", out_dir.string(),
                 "' does not exist");
  UCLUSTER_CHECK(!std::filesystem::is_directory(out), "output '", out, "' is a directory; give a file name");
  UCLUSTER_CHECK(!std::filesystem::exists(out) || !std::filesystem::equivalent(out, checkpoint), "output '", out,
                 "' is the checkpoint; refusing to overwrite it");

  ContextOptions copts;
  copts.device = "cpu";
  Context ctx(copts);
  UCLUSTER_CHECK(!read_checkpoint_config(checkpoint).events(), "checkpoint '", checkpoint,
                 "' holds the event model (preset AD, anomaly detection); the .ucm format and the embedding library ",
                 "carry the jet model only (docs/model-file.md)");
  model::UClusterModel model;
  ParamStore store;
  model.declare(store);
  store.finalize(ctx, Device::cpu());
  CheckpointData ckpt;
  load_checkpoint(ctx, checkpoint, store, &ckpt);
  const CheckpointEvaluation evaluation = checkpoint_evaluation(checkpoint_config(checkpoint, ckpt.config), ckpt.state);

  embed::ModelContents contents;
  contents.dims = model.dims();
  contents.inverse_temperature = evaluation.inverse_temperature;
  contents.source_json =
      nlohmann::json{{"checkpoint", std::filesystem::absolute(checkpoint).lexically_normal().string()},
                     {"epoch", evaluation.epoch},
                     {"global_step", ckpt.state.value("global_step", std::int64_t(0))}}
          .dump();
  for (const auto& e : store.param_entries())
    contents.tensors[e.name] = {e.shape.dims(), ctx.to_vector<float>(store.param(e.name))};
  for (const auto& e : store.buffer_entries())
    contents.tensors[e.name] = {e.shape.dims(), ctx.to_vector<float>(store.buffer(e.name))};
  const std::vector<unsigned char> bytes = embed::serialise_model(contents);

  StagedFile staged(out);
  write_file(staged.temp_path(), bytes);
  staged.commit();
  std::cout << "export-model: wrote " << out << " (" << bytes.size() << " bytes, " << contents.tensors.size()
            << " tensors, epoch " << evaluation.epoch << ", inverse temperature " << evaluation.inverse_temperature
            << ")\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  ucluster::h5::skip_library_shutdown_at_exit();
  std::vector<std::string> positional;
  const auto option = [&](cli::Arguments& args) { args.positional_or_fail(positional); };
  return cli::tool_main("export-model", kUsage, argc, argv, option, [&] {
    UCLUSTER_CHECK(positional.size() == 2, "expected CHECKPOINT.h5 and MODEL.ucm, got ", positional.size(),
                   " argument(s) (see --help)");
    return run(positional[0], positional[1]);
  });
}
