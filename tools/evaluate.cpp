// evaluate: runs a checkpoint on every jet of a prepared (UCluster-layout) file in inference mode
// and writes the per-jet cluster, latent vector, logits and distances; prints a JSON summary with
// both clustering accuracies (spec 4.5) and the confusion matrix. The reference's offline script
// (scripts/evaluate_kmeans.py) evaluated only its first 5 batches (spec 8 #5); this evaluates all.
// A checkpoint of the event model (preset AD) on a prepared event file takes tools/evaluate_events.
#include <chrono>
#include <cmath>
#include <memory>
#include <iostream>

#include "cli/cli.h"
#include "engine/context.h"
#include "io/file_source.h"
#include "io/h5.h"
#include "io/input_path.h"
#include "io/staged_file.h"
#include "io/ucluster_file.h"
#include "model/losses.h"
#include "model/ucluster_model.h"
#include "train/checkpoint.h"
#include "train/config.h"
#include "train/hungarian.h"
#include "train/trainer.h"
#include "tools/evaluate_events.h"

namespace {

const char* kUsage = R"(usage: evaluate --checkpoint CKPT.h5 --data FILE.h5 --out OUT.h5 [options]

Runs the UCluster model of CKPT.h5 (written by `train` or `import-tf-checkpoint`) with
inference-mode batch norm (moving statistics) on every jet of FILE.h5 (UCluster layout, as
written by prepare-data) and writes OUT.h5 (atomically: it appears only when complete) with
  cluster    [n]     int32    argmin of the distances (the predicted cluster)
  latent     [n,3]   float32  the embedding z
  logits     [n,20]  float32  the mass-bin logits
  distances  [n,3]   float32  squared Euclidean distances from z to the centroids mu
  truth      [n]     int32    true class from the file's label (0 = W, 1 = Z, 2 = top)
  masses     [n]     float32  jet mass from the file (GeV)
and prints a JSON summary on stdout: jets, accuracy_global (one Hungarian matching over all
jets), accuracy_per_batch_mean (the reference's logged metric: a matching per batch, mean over the
full batches of --batch jets), the confusion matrix [pred][true], the losses (mean over batches,
as in metrics.jsonl) and the throughput.

A checkpoint of the event model (train preset AD, anomaly detection) is run on a prepared event
file (prepare-data --task lhco) and OUT.h5 holds, per event:
  cluster [n] int32, latent [n,2] float32, distances [n,K] float32, is_signal [n] int32 (truth),
  global [n,4] float32 (ln m_J1, tau21 J1, ln m_J2, tau21 J2), mjj [n] float32 (GeV)
The JSON summary then holds the per-cluster report (size, signal fraction with its binomial error,
S/B, signal and background efficiencies, significance improvement, enrichment over the input
signal fraction; the cluster richest in signal by truth, the label-free pick, a random cluster)
and histograms of m_jj, m_J1 and tau21 per cluster; the table is printed on stderr, and
tools/plot-anomaly draws the latent plane and the spectra from OUT.h5.

options:
  --checkpoint FILE        checkpoint to evaluate (required)
  --data FILE              prepared UCluster-layout file (required)
  --out FILE               output HDF5 file (required; replaced if it exists)
  --batch N                jets per batch (default: 512, the reference's)
  --device DEV             cpu, cuda, cuda:N or auto (default: auto)
  --threads N              CPU threads (default: OMP_NUM_THREADS or all cores)
  --inverse-temperature A  alpha of the clustering loss (default: the checkpoint's evaluation
                           schedule at its last completed epoch, spec 4.4)
  --help                   this text

example:
  evaluate --checkpoint runs/ucluster/checkpoint.h5 --data h5/test_multi_20v_100P.h5 --out eval.h5
)";

using namespace ucluster;

struct Options {
  std::string checkpoint, data, out, device = "auto";
  std::int64_t batch = 512;
  int threads = 0;
  double inverse_temperature = -1;  // < 0: from the checkpoint's schedule
};

Options parse(int argc, char** argv, bool& help) {
  Options o;
  cli::Arguments args(argc, argv);
  while (args.next()) {
    if (args.is("--checkpoint")) o.checkpoint = args.value();
    else if (args.is("--data")) o.data = args.value();
    else if (args.is("--out")) o.out = args.value();
    else if (args.is("--batch")) o.batch = args.integer(1, 1 << 20);
    else if (args.is("--device")) o.device = args.value();
    else if (args.is("--threads")) o.threads = static_cast<int>(args.integer(0, 4096));
    else if (args.is("--inverse-temperature")) o.inverse_temperature = args.number(0.0, 1e12);
    else args.unknown();
  }
  help = args.help();
  if (help) return o;
  UCLUSTER_CHECK(!o.checkpoint.empty(), "--checkpoint is required (see --help)");
  UCLUSTER_CHECK(!o.data.empty(), "--data is required (see --help)");
  UCLUSTER_CHECK(!o.out.empty(), "--out is required (see --help)");
  require_input_path("checkpoint", o.checkpoint);
  require_input_path("data file", o.data);
  require_output_path("--out", o.out, {o.checkpoint, o.data});
  return o;
}

double largest_magnitude(const Batch& b, std::int64_t jet) {
  const std::int64_t row = static_cast<std::int64_t>(b.n_particles) * b.n_features;
  double m = 0;
  for (std::int64_t i = jet * row; i < (jet + 1) * row; ++i) m = std::max(m, std::fabs(double(b.data[i])));
  return m;
}

struct Outputs {
  h5::Dataset cluster, latent, logits, distances, truth, masses;
};

int run(const Options& o) {
  ContextOptions copts;
  copts.device = o.device;
  copts.num_threads = o.threads;
  copts.log = [](const std::string& s) { std::cerr << "evaluate: " << s << "\n"; };
  Context ctx(copts);

  // The checkpoint's configuration says which model it holds (the jet model, or the event model of
  // preset AD with its number of clusters); the default edge path, as training uses.
  const TrainConfig config = read_checkpoint_config(o.checkpoint);
  const model::UClusterModel model(config.model_dims());
  ParamStore store;
  model.declare(store);
  store.finalize(ctx, ctx.device());
  CheckpointData ckpt;
  load_checkpoint(ctx, o.checkpoint, store, &ckpt);
  const CheckpointEvaluation evaluation = checkpoint_evaluation(config, ckpt.state);
  const int epoch = evaluation.epoch;
  const double alpha = o.inverse_temperature >= 0 ? o.inverse_temperature : evaluation.inverse_temperature;
  const bool joint = evaluation.full_training;
  if (config.events()) {
    EventEvaluation e{o.checkpoint, o.data, o.out, o.batch, epoch, alpha, joint, config.seed};
    return evaluate_events(ctx, model, store, config, e);
  }

  UCLUSTER_CHECK(jets::UclusterFile(o.data).n_jets() > 0, "data file '", o.data, "' holds no jets");
  LoaderOptions lo;
  lo.batch_size = o.batch;
  lo.shuffle = false;
  lo.drop_last = false;  // every jet (spec 8 #5)
  std::unique_ptr<Loader> loader = open_loader(o.data, lo);
  const std::int64_t n = loader->rows();
  UCLUSTER_CHECK(loader->features() == model.dims().num_features, "data file '", o.data, "' has ", loader->features(),
                 " features per particle, the model expects ", model.dims().num_features);
  const std::int64_t latent = model.dims().latent, classes = model.dims().num_classes, k = model.dims().num_clusters;

  StagedFile staged(o.out);
  h5::File file = h5::File::create(staged.temp_path());
  auto out = std::make_unique<Outputs>(Outputs{file.create_dataset("cluster", h5::Element::I32, {n}),
              file.create_dataset("latent", h5::Element::F32, {n, latent}),
              file.create_dataset("logits", h5::Element::F32, {n, classes}),
              file.create_dataset("distances", h5::Element::F32, {n, k}),
              file.create_dataset("truth", h5::Element::I32, {n}),
              file.create_dataset("masses", h5::Element::F32, {n})});

  ConfusionCounts confusion(static_cast<int>(std::max<std::int64_t>(k, 3)));
  double focal_sum = 0, kmeans_sum = 0, total_sum = 0, per_batch_sum = 0;
  std::int64_t batches = 0, full_batches = 0, done = 0;
  const Var mu = param_var(store, "mu");
  const auto t0 = std::chrono::steady_clock::now();
  Batch b;
  while (loader->next(b)) {
    if (b.size == 0) continue;
    const std::int64_t first = b.rows.at(0);
    UCLUSTER_CHECK(b.rows.back() == first + b.size - 1, "evaluate: non-contiguous batch rows");
    Tensor targets;
    const JetBatch jets = model_batch(ctx, b, false, targets);
    Tape tape(ctx, false);
    const model::ForwardOutput fwd = model.forward(tape, store, jets, model::BatchNormMode::Inference);
    const model::Losses losses = model::compute_losses(tape, fwd, mu, targets, alpha, config.losses(), joint);
    const model::HostOutputs host = model::host_outputs(ctx, fwd, losses);
    const std::int64_t bad = host.first_non_finite_jet();
    if (bad >= 0) {
      fail("jet ", first + bad, " of '", o.data, "' gives a NaN or infinite latent vector, logit or distance (its ",
           "largest |feature| is ", largest_magnitude(b, bad), "): its inputs overflow float32 inside the network ",
           "or the checkpoint is damaged; nothing was written");
    }

    const std::vector<std::int32_t> pred = ctx.to_vector<std::int32_t>(losses.assignment);
    out->cluster.write_rows(first, b.size, pred.data());
    out->latent.write_rows(first, b.size, host.z.data());
    out->logits.write_rows(first, b.size, host.logits.data());
    out->distances.write_rows(first, b.size, host.distances.data());
    out->truth.write_rows(first, b.size, b.truth.data());
    out->masses.write_rows(first, b.size, b.mass.data());

    focal_sum += ctx.to_vector<float>(losses.focal->value).at(0);
    kmeans_sum += ctx.to_vector<float>(losses.kmeans->value).at(0);
    total_sum += ctx.to_vector<float>(losses.total->value).at(0);
    const std::vector<int> p(pred.begin(), pred.end()), t(b.truth.begin(), b.truth.begin() + b.size);
    confusion.add(t, p);
    // The reference's metric covers full batches only: its loops drop the tail (spec 1.7, 4.5).
    if (b.size == o.batch) {
      per_batch_sum += cluster_accuracy(t, p).accuracy;
      full_batches += 1;
    }
    batches += 1;
    done += b.size;
  }
  ctx.synchronize();
  // The datasets are closed before the file, not by File::close(): a dataset whose data cannot be
  // written (a full disk) must not outlive its file.
  out.reset();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  UCLUSTER_CHECK(done == n, "evaluate: ", done, " of ", n, " jets evaluated");

  const ClusterAccuracy global = confusion.accuracy();
  std::vector<std::vector<std::int64_t>> matrix(static_cast<std::size_t>(confusion.dim()));
  for (int pr = 0; pr < confusion.dim(); ++pr)
    for (int tr = 0; tr < confusion.dim(); ++tr) matrix[pr].push_back(confusion.count(pr, tr));
  nlohmann::json summary = {
      {"checkpoint", o.checkpoint},
      {"data", o.data},
      {"output", o.out},
      {"device", ctx.device_description()},
      {"jets", n},
      {"batch_size", o.batch},
      {"epoch", epoch},
      {"inverse_temperature", alpha},
      {"inverse_temperature_source", o.inverse_temperature >= 0 ? "--inverse-temperature" : "checkpoint schedule"},
      {"accuracy_global", global.accuracy},
      {"accuracy_per_batch_mean", full_batches > 0 ? nlohmann::json(per_batch_sum / double(full_batches)) : nlohmann::json()},
      {"accuracy_per_batch_mean_definition",
       make_message("reference metric (spec 4.5): Hungarian matching per batch, mean over the ", full_batches,
                    " full batches of ", o.batch, " jets; the ", n - full_batches * o.batch,
                    " jets of a shorter tail batch are not included")},
      {"cluster_to_class", global.mapping},
      {"confusion_pred_by_true", matrix},
      {"loss_focal", focal_sum / double(batches)},
      {"loss_kmeans", kmeans_sum / double(batches)},
      {"loss_total", total_sum / double(batches)},
      {"losses_definition", "mean over the batches of --batch jets, as in train's metrics.jsonl"},
      {"timing", {{"seconds", seconds}, {"jets_per_s", double(n) / std::max(1e-9, seconds)}}}};
  file.write_attribute("summary", summary.dump());
  file.close();
  staged.commit();
  std::cout << summary.dump() << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  ucluster::h5::skip_library_shutdown_at_exit();
  return cli::guarded_main("evaluate", [&] {
    bool help = false;
    const Options o = parse(argc, argv, help);
    if (help) {
      std::cout << kUsage;
      return 0;
    }
    return run(o);
  });
}
