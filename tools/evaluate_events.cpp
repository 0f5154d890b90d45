#include "tools/evaluate_events.h"

#include <chrono>
#include <iostream>
#include <memory>

#include "io/event_file.h"
#include "io/file_source.h"
#include "io/h5.h"
#include "io/staged_file.h"
#include "model/losses.h"
#include "train/event_report.h"
#include "train/trainer.h"

namespace ucluster {

namespace {
struct EventOutputs {
  h5::Dataset cluster, latent, distances, is_signal, global, mjj;
};

// ln m_J1 [globals column 0] as m_J1 in GeV, and tau21 of J1 [column 1], for the histograms.
std::vector<float> column(const std::vector<float>& global, int columns, int c, bool exponentiate) {
  std::vector<float> v(global.size() / static_cast<std::size_t>(columns));
  for (std::size_t i = 0; i < v.size(); ++i) {
    const float x = global[i * static_cast<std::size_t>(columns) + static_cast<std::size_t>(c)];
    v[i] = exponentiate ? std::exp(x) : x;
  }
  return v;
}
}  // namespace

int evaluate_events(Context& ctx, const model::UClusterModel& model, const ParamStore& store,
                    const TrainConfig& config, const EventEvaluation& e) {
  UCLUSTER_CHECK(events::EventFile::is_event_file(e.data), "data file '", e.data,
                 "' is not a prepared event file, but checkpoint '", e.checkpoint,
                 "' holds the event model (preset AD): prepare the events with prepare-data --task lhco");
  const model::ModelDims& dims = model.dims();
  LoaderOptions lo;
  lo.batch_size = e.batch;
  lo.drop_last = false;  // every event (ucluster-ad-spec.md Q19: the original dropped the tail)
  std::unique_ptr<Loader> loader = open_loader(e.data, lo);
  const std::int64_t n = loader->rows(), K = dims.num_clusters, G = dims.num_globals;
  UCLUSTER_CHECK(n > 0, "data file '", e.data, "' holds no events");
  UCLUSTER_CHECK(loader->features() == dims.num_features && loader->source().globals() == G, "data file '", e.data,
                 "' has ", loader->features(), " features and ", loader->source().globals(),
                 " globals per event, the model expects ", dims.num_features, " and ", G);

  StagedFile staged(e.out);
  h5::File file = h5::File::create(staged.temp_path());
  auto out = std::make_unique<EventOutputs>(EventOutputs{file.create_dataset("cluster", h5::Element::I32, {n}),
              file.create_dataset("latent", h5::Element::F32, {n, dims.latent}),
              file.create_dataset("distances", h5::Element::F32, {n, K}),
              file.create_dataset("is_signal", h5::Element::I32, {n}),
              file.create_dataset("global", h5::Element::F32, {n, G}),
              file.create_dataset("mjj", h5::Element::F32, {n})});
  std::vector<std::int32_t> cluster(static_cast<std::size_t>(n)), truth(static_cast<std::size_t>(n));
  std::vector<float> global(static_cast<std::size_t>(n * G)), mjj(static_cast<std::size_t>(n));
  double focal_sum = 0, kmeans_sum = 0;
  std::int64_t batches = 0, done = 0;
  const Var mu = param_var(store, "mu");
  const auto t0 = std::chrono::steady_clock::now();
  Batch b;
  while (loader->next(b)) {
    if (b.size == 0) continue;
    const std::int64_t first = b.rows.at(0);
    Tensor targets;
    const JetBatch jets = model_batch(ctx, b, true, targets);
    Tape tape(ctx, false);
    const model::ForwardOutput fwd = model.forward(tape, store, jets, model::BatchNormMode::Inference);
    const model::Losses losses = model::compute_losses(tape, fwd, mu, targets, e.inverse_temperature, config.losses(),
                                                       e.joint);
    const model::HostOutputs host = model::host_outputs(ctx, fwd, losses);
    const std::int64_t bad = host.first_non_finite_jet();
    UCLUSTER_CHECK(bad < 0, "event ", first + bad, " of '", e.data, "' gives a NaN or infinite latent vector or ",
                   "distance: its inputs overflow float32 inside the network or the checkpoint is damaged; nothing ",
                   "was written");
    const std::vector<std::int32_t> pred = ctx.to_vector<std::int32_t>(losses.assignment);
    out->cluster.write_rows(first, b.size, pred.data());
    out->latent.write_rows(first, b.size, host.z.data());
    out->distances.write_rows(first, b.size, host.distances.data());
    out->is_signal.write_rows(first, b.size, b.truth.data());
    out->global.write_rows(first, b.size, b.global.data());
    out->mjj.write_rows(first, b.size, b.mass.data());
    std::copy(pred.begin(), pred.end(), cluster.begin() + first);
    std::copy_n(b.truth.begin(), b.size, truth.begin() + first);
    std::copy_n(b.global.begin(), b.size * G, global.begin() + first * G);
    std::copy_n(b.mass.begin(), b.size, mjj.begin() + first);
    focal_sum += ctx.to_vector<float>(losses.focal->value).at(0);
    kmeans_sum += ctx.to_vector<float>(losses.kmeans->value).at(0);
    batches += 1;
    done += b.size;
  }
  ctx.synchronize();
  out.reset();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  UCLUSTER_CHECK(done == n, "evaluate: ", done, " of ", n, " events evaluated");

  const EventReport report = event_report(cluster.data(), truth.data(), global.data(), n, static_cast<int>(K), e.seed);
  const std::vector<float> mj1 = column(global, static_cast<int>(G), 0, true);
  const std::vector<float> tau21 = column(global, static_cast<int>(G), 1, false);
  const int k = static_cast<int>(K);
  nlohmann::json summary = {
      {"checkpoint", e.checkpoint},
      {"data", e.data},
      {"output", e.out},
      {"device", ctx.device_description()},
      {"task", "events"},
      {"events", n},
      {"clusters", K},
      {"epoch", e.epoch},
      {"inverse_temperature", e.inverse_temperature},
      {"report", report.to_json()},
      {"histograms",
       {{"mjj_gev", cluster_histogram(cluster.data(), truth.data(), mjj.data(), n, k, 1000, 8000, 70).to_json()},
        {"mj1_gev", cluster_histogram(cluster.data(), truth.data(), mj1.data(), n, k, 0, 1000, 50).to_json()},
        {"tau21_j1", cluster_histogram(cluster.data(), truth.data(), tau21.data(), n, k, 0, 1, 20).to_json()}}},
      {"loss_focal", focal_sum / double(batches)},
      {"loss_kmeans", kmeans_sum / double(batches)},
      {"losses_definition", "mean over the batches of --batch events"},
      {"timing", {{"seconds", seconds}, {"events_per_s", double(n) / std::max(1e-9, seconds)}}}};
  file.write_attribute("summary", summary.dump());
  file.close();
  staged.commit();
  std::cerr << report.table();
  std::cout << summary.dump() << "\n";
  return 0;
}

}  // namespace ucluster
