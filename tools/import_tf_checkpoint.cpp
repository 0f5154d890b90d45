// import-tf-checkpoint: a published TensorFlow checkpoint of UCluster (spec 2.6; e.g.
// ../shared/reference/ucluster-published/cluster.ckpt) -> the project's HDF5 checkpoint, without
// TensorFlow. See model/tf_import.h for the name mapping.
#include <filesystem>
#include <iostream>

#include "cli/cli.h"
#include "io/h5.h"
#include "engine/context.h"
#include "model/tf_import.h"
#include "train/checkpoint.h"
#include "train/trainer.h"

namespace {

const char* kUsage = R"(usage: import-tf-checkpoint [options] PREFIX OUT.h5

Reads the TensorFlow bundle PREFIX.index + PREFIX.data-00000-of-00001 (TF 1.x tensor-bundle V2,
both checksums verified) and writes the project's checkpoint OUT.h5 (the format `train` and
`evaluate` read): every weight, bias, batch-norm parameter and moving statistic and the
centroids mu, plus the Adam moments (TF's X/Adam, X/Adam_1) and the global step (TF's
`Variable`) when the bundle has them. The epoch is derived from the step: step / steps per epoch.
Prints a JSON summary on stdout; tensors of the bundle that map to nothing are listed in a
warning on stderr.

options:
  --steps-per-epoch N  training steps per epoch of the run that wrote the bundle (default: 591 =
                       floor(302,592 training jets / 512), the reference run)
  --config FILE        configuration stored in OUT.h5 (default: preset B defaults, spec 0.1)
  --set KEY=VALUE      override one configuration key (repeatable)
  --help               this text

PREFIX may also be given as the .index or .data-00000-of-00001 file name.

example:
  import-tf-checkpoint ../shared/reference/ucluster-published/cluster.ckpt published.h5
)";

// Accepts "x.ckpt", "x.ckpt.index" and "x.ckpt.data-00000-of-00001".
std::string bundle_prefix(std::string p) {
  for (const std::string suffix : {".index", ".data-00000-of-00001"})
    if (p.size() > suffix.size() && p.compare(p.size() - suffix.size(), suffix.size(), suffix) == 0)
      return p.substr(0, p.size() - suffix.size());
  return p;
}

}  // namespace

int main(int argc, char** argv) {
  ucluster::h5::skip_library_shutdown_at_exit();
  using namespace ucluster;
  std::vector<std::string> positional, overrides;
  std::string config_path;
  std::int64_t steps_per_epoch = 591;
  const auto option = [&](cli::Arguments& args) {
    if (args.is("--steps-per-epoch")) steps_per_epoch = args.integer(1, std::int64_t(1) << 40);
    else if (args.is("--config")) config_path = args.value();
    else if (args.is("--set")) overrides.push_back(args.value());
    else args.positional_or_fail(positional);
  };
  return cli::tool_main("import-tf-checkpoint", kUsage, argc, argv, option, [&] {
    UCLUSTER_CHECK(positional.size() == 2, "expected PREFIX and OUT.h5, got ", positional.size(),
                   " argument(s) (see --help)");
    const std::string prefix = bundle_prefix(positional[0]), out = positional[1];
    for (const std::string& f : {prefix + ".index", prefix + ".data-00000-of-00001"})
      UCLUSTER_CHECK(std::filesystem::is_regular_file(f), "no TF checkpoint at '", prefix, "': '", f,
                     "' does not exist (expected PREFIX.index and PREFIX.data-00000-of-00001)");
    const std::filesystem::path out_dir = std::filesystem::path(out).parent_path();
    UCLUSTER_CHECK(out_dir.empty() || std::filesystem::is_directory(out_dir), "output directory '", out_dir.string(),
                   "' does not exist");
    const TrainConfig config = load_config(config_path, overrides);

    ContextOptions copts;
    copts.device = "cpu";
    copts.seed = config.seed;
    Context ctx(copts);
    model::UClusterModel model;
    ParamStore store;
    model.declare(store);
    store.finalize(ctx, Device::cpu());

    const auto bundle = model::read_tf_bundle(prefix);
    const model::TfImportResult r = model::import_tf_tensors(ctx, bundle, model, store);
    if (!r.unknown.empty()) {
      std::string list;
      for (const auto& n : r.unknown) list += (list.empty() ? "" : ", ") + n;
      std::cerr << "import-tf-checkpoint: warning: " << r.unknown.size()
                << " tensor(s) of the bundle map to nothing and were ignored: " << list << "\n";
    }

    // The trainer's state (RunState, train/checkpoint.h) of a one-rank run: after `step` updates
    // the run has completed step / steps_per_epoch epochs; the next batch is (epoch, step % spe).
    const std::int64_t step = r.global_step.value_or(0);
    const std::int64_t epoch = step / steps_per_epoch, in_epoch = step % steps_per_epoch;
    const TrainingSchedules schedules = config.schedules();
    const std::int64_t last = std::max<std::int64_t>(0, step - 1);
    RunState state;
    state.epoch = static_cast<int>(epoch);
    state.loader = {epoch, in_epoch};
    state.global_step = step;
    state.rng = ctx.rng().state();
    state.last_lr = schedules.lr.at(last);
    state.last_bn_decay = schedules.bn_decay.at(last);
    CheckpointData data;
    data.config = config.to_json();
    data.state = state.to_json();
    data.state["imported_from"] = {{"tensorflow_checkpoint", prefix},
                                   {"steps_per_epoch", steps_per_epoch},
                                   {"global_step_present", r.global_step.has_value()},
                                   {"adam_slots_present", r.optimizer}};
    if (r.beta1_power) data.state["imported_from"]["beta1_power"] = *r.beta1_power;
    if (r.beta2_power) data.state["imported_from"]["beta2_power"] = *r.beta2_power;
    if (r.optimizer) {
      data.adam_m = r.adam_m;
      data.adam_v = r.adam_v;
    }
    save_checkpoint(ctx, out, store, data);

    nlohmann::json summary = {{"checkpoint", out},
                              {"tensorflow_checkpoint", prefix},
                              {"parameters", r.params},
                              {"buffers", r.buffers},
                              {"trainable_numbers", store.num_params()},
                              {"optimizer_state", r.optimizer},
                              {"global_step", r.global_step ? nlohmann::json(*r.global_step) : nlohmann::json()},
                              {"epoch", epoch},
                              {"step_in_epoch", in_epoch},
                              {"ignored_tensors", r.unknown}};
    std::cout << summary.dump() << "\n";
    return 0;
  });
}
