// train-step: the engine's training step (train/step.h, the one `train` runs) from a checkpoint's
// weights, repeated on one fixed batch, with the losses, training-mode outputs and batch-norm batch
// statistics of every step and all parameters after the last one written out: what a side-by-side
// comparison with the original TensorFlow graph needs (same weights, same batch, same settings).
#include <chrono>
#include <cmath>
#include <iostream>

#include "cli/cli.h"
#include "engine/context.h"
#include "io/file_source.h"
#include "io/h5.h"
#include "io/input_path.h"
#include "io/staged_file.h"
#include "model/ucluster_model.h"
#include "train/checkpoint.h"
#include "train/config.h"
#include "train/step.h"

namespace {

const char* kUsage = R"(usage: train-step --checkpoint CKPT.h5 --data FILE.h5 --out OUT.h5 [options]

Runs --steps training steps of the engine (train/step.h's train_step, exactly what `train` runs)
from the weights and batch-norm moving statistics of CKPT.h5 (written by `train` or
`import-tf-checkpoint`), all on the same batch: jets [--first, --first + --batch) of FILE.h5
(prepared UCluster layout, as `evaluate` reads it; the focal-loss target is the file's mass bin, as
training uses it). The optimiser starts fresh (Adam moments zero, first step is step 1), as TF1's Adam
does on a new run; the learning rate and batch-norm decay are fixed for all steps. The loss weights
(focal gamma and alpha, beta) are the checkpoint's configuration's.
Writes OUT.h5 atomically (it appears only when complete), for each step S = 1..steps:
  step<S>/loss_focal, loss_km, loss_total   scalars: the losses of step S's forward, before its update
  step<S>/latent [B,3], logits [B,20]       training-mode forward outputs
  step<S>/<layer>.batch_mean, .batch_var    batch statistics of every BN layer
and after the last step:
  params/<name>   every trainable tensor and BN moving statistic, float32, under the ParamStore's
                  names (dense weights [Cin, Cout])
and prints a JSON summary on stdout (the losses of each step, the settings, device, seconds).

options:
  --checkpoint FILE        checkpoint with the starting weights (required)
  --data FILE              prepared UCluster-layout file (required)
  --out FILE               output HDF5 file (required; replaced if it exists)
  --batch N                jets in the batch (default: 512)
  --first R                first jet of the batch (default: 0)
  --steps S                training steps, 1..1000 (default: 1)
  --learning-rate X        Adam learning rate (default: 1e-3)
  --bn-decay X             batch-norm moving-average decay, in [0, 1] (default: 0.5)
  --inverse-temperature A  alpha of the clustering loss (default: 10)
  --phase P                joint or pretrain (default: joint; pretrain = focal loss only, the
                           centroids mu not updated)
  --device DEV             cpu, cuda, cuda:N or auto (default: auto)
  --threads N              CPU threads (default: OMP_NUM_THREADS or all cores)
  --edge-path P            fused, unfused or auto (default: auto, the training default)
  --help                   this text

example:
  import-tf-checkpoint published/cluster.ckpt published.h5
  train-step --checkpoint published.h5 --data h5/test_multi_20v_100P.h5 --out step.h5 --batch 16 --steps 2
)";

using namespace ucluster;

struct Options {
  std::string checkpoint, data, out, device = "auto", edge_path = "auto", phase = "joint";
  std::int64_t batch = 512, first = 0;
  int steps = 1, threads = 0;
  double learning_rate = 1e-3, bn_decay = 0.5, inverse_temperature = 10;
};

Options parse(int argc, char** argv, bool& help) {
  Options o;
  cli::Arguments args(argc, argv);
  while (args.next()) {
    if (args.is("--checkpoint")) o.checkpoint = args.value();
    else if (args.is("--data")) o.data = args.value();
    else if (args.is("--out")) o.out = args.value();
    else if (args.is("--batch")) o.batch = args.integer(1, 1 << 20);
    else if (args.is("--first")) o.first = args.integer(0, std::int64_t(1) << 40);
    else if (args.is("--steps")) o.steps = static_cast<int>(args.integer(1, 1000));
    else if (args.is("--learning-rate")) o.learning_rate = args.number(0.0, 1.0);
    else if (args.is("--bn-decay")) o.bn_decay = args.number(0.0, 1.0);
    else if (args.is("--inverse-temperature")) o.inverse_temperature = args.number(0.0, 1e12);
    else if (args.is("--phase")) o.phase = args.value();
    else if (args.is("--device")) o.device = args.value();
    else if (args.is("--threads")) o.threads = static_cast<int>(args.integer(0, 4096));
    else if (args.is("--edge-path")) o.edge_path = args.value();
    else args.unknown();
  }
  help = args.help();
  if (help) return o;
  UCLUSTER_CHECK(!o.checkpoint.empty(), "--checkpoint is required (see --help)");
  UCLUSTER_CHECK(!o.data.empty(), "--data is required (see --help)");
  UCLUSTER_CHECK(!o.out.empty(), "--out is required (see --help)");
  UCLUSTER_CHECK(o.phase == "joint" || o.phase == "pretrain", "--phase must be joint or pretrain, got '", o.phase, "'");
  UCLUSTER_CHECK(o.edge_path == "fused" || o.edge_path == "unfused" || o.edge_path == "auto",
                 "--edge-path must be fused, unfused or auto, got '", o.edge_path, "'");
  require_input_path("checkpoint", o.checkpoint);
  require_input_path("data file", o.data);
  require_output_path("--out", o.out, {o.checkpoint, o.data});
  return o;
}

// Jets [first, first + batch) read by the training loader's source (labels, mass-bin range and
// finite data checked): the data [B, P, F] and the focal-loss targets (the mass bins) [B].
struct FixedBatch {
  Tensor data, targets;
};

FixedBatch read_batch(Context& ctx, const Options& o, int model_features) {
  FileSource source(o.data);
  const std::int64_t n = source.rows();
  UCLUSTER_CHECK(o.first + o.batch <= n, "--first ", o.first, " + --batch ", o.batch, " = ", o.first + o.batch,
                 " jets, but data file '", o.data, "' holds ", n);
  UCLUSTER_CHECK(source.features() == model_features, "data file '", o.data, "' has ", source.features(),
                 " features per particle, the model expects ", model_features);
  Batch b;
  b.data.resize(static_cast<std::size_t>(o.batch * source.particles() * source.features()));
  b.target.resize(o.batch);
  b.truth.resize(o.batch);
  b.mass.resize(o.batch);
  source.read(o.first, o.batch, b, 0);
  return {ctx.from_vector<float>({o.batch, source.particles(), source.features()}, b.data),
          ctx.from_vector<std::int32_t>({o.batch}, b.target)};
}

// `t` as a float32 dataset of its shape (shape {} for a one-element tensor: a scalar).
void write_tensor(Context& ctx, h5::File& file, const std::string& name, const Tensor& t, bool scalar = false) {
  const std::vector<float> v = ctx.to_vector<float>(t);
  UCLUSTER_CHECK(!scalar || v.size() == 1, "train-step: '", name, "' is not a scalar");
  h5::Dataset ds = file.create_dataset(name, h5::Element::F32, scalar ? h5::Dims{} : h5::Dims(t.shape().dims()));
  ds.write(v.data());
}

int run(const Options& o) {
  ContextOptions copts;
  copts.device = o.device;
  copts.num_threads = o.threads;
  copts.log = [](const std::string& s) { std::cerr << "train-step: " << s << "\n"; };
  Context ctx(copts);

  UCLUSTER_CHECK(!read_checkpoint_config(o.checkpoint).events(), "checkpoint '", o.checkpoint,
                 "' holds the event model (preset AD); train-step runs the jet model on jet files only");
  const model::UClusterModel model(model::ModelDims{}, model::resolve_edge_path(o.edge_path));
  ParamStore store;
  model.declare(store);
  store.finalize(ctx, ctx.device());
  CheckpointData ckpt;
  load_checkpoint(ctx, o.checkpoint, store, &ckpt);  // its Adam moments are not used: a fresh start
  const TrainConfig config = checkpoint_config(o.checkpoint, ckpt.config);
  const FixedBatch batch = read_batch(ctx, o, model.dims().num_features);

  StepSettings settings;
  settings.inverse_temperature = o.inverse_temperature;
  settings.losses = config.losses();
  settings.joint = o.phase == "joint";
  settings.learning_rate = o.learning_rate;
  settings.bn_decay = o.bn_decay;

  StagedFile staged(o.out);
  h5::File file = h5::File::create(staged.temp_path());
  AdamOptimizer optimizer(ctx, store);  // m = v = 0, step 0: the first update is TF1's t = 1
  nlohmann::json losses = nlohmann::json::array();
  const auto t0 = std::chrono::steady_clock::now();
  for (int s = 1; s <= o.steps; ++s) {
    const std::string group = "step" + std::to_string(s) + "/";
    TrainingStep step(ctx, model, store, batch.data, batch.targets, settings);
    const model::Losses& l = step.losses();
    const double focal = ctx.to_vector<float>(l.focal->value).at(0), km = ctx.to_vector<float>(l.kmeans->value).at(0),
                 total = ctx.to_vector<float>(l.total->value).at(0);
    UCLUSTER_CHECK(std::isfinite(total), "step ", s, ": the loss is ", total, " (focal ", focal, ", k-means ", km,
                   "); nothing was written");
    losses.push_back({{"step", s}, {"loss_focal", focal}, {"loss_km", km}, {"loss_total", total}});
    write_tensor(ctx, file, group + "loss_focal", l.focal->value, true);
    write_tensor(ctx, file, group + "loss_km", l.kmeans->value, true);
    write_tensor(ctx, file, group + "loss_total", l.total->value, true);
    write_tensor(ctx, file, group + "latent", step.output().z->value);
    write_tensor(ctx, file, group + "logits", step.output().logits->value);
    for (const model::BatchStats& bs : step.output().batch_stats) {
      write_tensor(ctx, file, group + bs.layer + ".batch_mean", bs.mean);
      write_tensor(ctx, file, group + bs.layer + ".batch_var", bs.var);
    }
    step.update(optimizer);  // backward, Adam (mu frozen in pre-training), BN moving averages
  }
  ctx.synchronize();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (const auto& e : store.param_entries()) write_tensor(ctx, file, "params/" + e.name, store.param(e.name));
  for (const auto& e : store.buffer_entries()) write_tensor(ctx, file, "params/" + e.name, store.buffer(e.name));

  const model::LossConfig& lc = settings.losses;
  const nlohmann::json summary = {
      {"checkpoint", o.checkpoint},
      {"data", o.data},
      {"output", o.out},
      {"device", ctx.device_description()},
      {"edge_path", model::edge_path_name(model.edge_path())},
      {"first", o.first},
      {"batch_size", o.batch},
      {"steps", o.steps},
      {"phase", o.phase},
      {"learning_rate", o.learning_rate},
      {"bn_decay", o.bn_decay},
      {"inverse_temperature", o.inverse_temperature},
      {"loss_config", {{"focal_gamma", lc.focal_gamma}, {"focal_alpha", lc.focal_alpha}, {"beta", lc.beta}}},
      {"losses", losses},
      {"losses_definition", "step S's forward (training-mode batch norm), before its update"},
      {"timing", {{"seconds", seconds}}}};
  file.write_attribute("summary", summary.dump());
  file.close();
  staged.commit();
  std::cout << summary.dump() << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  ucluster::h5::skip_library_shutdown_at_exit();
  return cli::guarded_main("train-step", [&] {
    bool help = false;
    const Options o = parse(argc, argv, help);
    if (help) {
      std::cout << kUsage;
      return 0;
    }
    return run(o);
  });
}
