#include "train/trainer.h"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "engine/profiling.h"
#include "io/staged_file.h"
#include "model/losses.h"
#include "train/checkpoint.h"
#include "train/kmeans.h"

namespace ucluster {

namespace {

// Config keys that may differ between a run and its resumption.
// output_dir may differ: the checkpoint being resumed is the one found there, wherever the run
// folder has been moved to and however it is named (relative or absolute).
bool resumable_difference(const std::string& key) {
  return key == "epochs" || key == "max_steps" || key == "device" || key == "threads" ||
         key == "checkpoint_every" || key == "collectives" || key == "timeout_s" || key == "output_dir";
}

// The data files may be named differently (relative to another directory, through a link) as long
// as they are the same files.
bool same_input_file(const std::string& key, const nlohmann::json& now, const nlohmann::json& then) {
  if ((key != "train_file" && key != "test_file") || !now.is_string() || !then.is_string()) return false;
  std::error_code ec;
  return std::filesystem::equivalent(now.get<std::string>(), then.get<std::string>(), ec) && !ec;
}

// Embeddings with their data-set rows, as bytes for a gather: [rows int64 * n][z float * n * d].
std::string pack_embeddings(const std::vector<std::int64_t>& rows, const std::vector<float>& z) {
  std::string bytes(sizeof(std::int64_t) * rows.size() + sizeof(float) * z.size(), '\0');
  if (rows.empty()) return bytes;
  std::memcpy(bytes.data(), rows.data(), sizeof(std::int64_t) * rows.size());
  std::memcpy(bytes.data() + sizeof(std::int64_t) * rows.size(), z.data(), sizeof(float) * z.size());
  return bytes;
}

// Every rank's packed embeddings, ordered by data-set row: k-means then sees the same rows in the
// same order whatever the number of ranks.
void unpack_sorted(const std::vector<std::string>& packed, std::int64_t d, std::vector<std::int64_t>& rows,
                   std::vector<float>& z) {
  std::vector<std::pair<std::int64_t, const float*>> all;
  for (const std::string& bytes : packed) {
    const std::size_t per = sizeof(std::int64_t) + sizeof(float) * static_cast<std::size_t>(d);
    const std::size_t n = bytes.size() / per;
    const auto* r = reinterpret_cast<const std::int64_t*>(bytes.data());
    const auto* v = reinterpret_cast<const float*>(bytes.data() + sizeof(std::int64_t) * n);
    for (std::size_t i = 0; i < n; ++i) all.emplace_back(r[i], v + i * static_cast<std::size_t>(d));
  }
  std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  rows.clear();
  z.clear();
  for (const auto& [row, values] : all) {
    rows.push_back(row);
    z.insert(z.end(), values, values + d);
  }
}

class Progress {
 public:
  Progress(const Trainer::Log& log, std::string what, std::int64_t total)
      : log_(log), what_(std::move(what)), total_(total), tty_(isatty(STDERR_FILENO) == 1) {}
  void update(std::int64_t done, double loss) {
    if (total_ <= 0) return;
    if (tty_) {
      const int width = 30, filled = static_cast<int>(width * done / total_);
      std::fprintf(stderr, "\r%s [%s%s] %lld/%lld loss %.4f", what_.c_str(), std::string(filled, '#').c_str(),
                   std::string(width - filled, '.').c_str(), static_cast<long long>(done),
                   static_cast<long long>(total_), loss);
      if (done == total_) std::fprintf(stderr, "\n");
    } else {
      // Plain lines at each quarter of the epoch when the output is not a terminal.
      const std::int64_t quarter = std::max<std::int64_t>(1, total_ / 4);
      if (done % quarter == 0 || done == total_)
        log_(make_message(what_, " ", done, "/", total_, " batches, loss ", loss));
    }
  }

 private:
  const Trainer::Log& log_;
  std::string what_;
  std::int64_t total_;
  bool tty_;
};

}  // namespace

RunPaths::RunPaths(const std::string& output_dir)
    : dir(output_dir),
      metrics(output_dir + "/metrics.jsonl"),
      checkpoint(output_dir + "/checkpoint.h5") {}

Trainer::Trainer(TrainConfig config, Context& ctx, Communicator& comm, std::unique_ptr<Loader> train,
                 std::unique_ptr<Loader> test, Log log)
    : config_(std::move(config)),
      ctx_(ctx),
      comm_(comm),
      train_(std::move(train)),
      test_(std::move(test)),
      log_(std::move(log)),
      paths_(config_.output_dir),
      model_(config_.model_dims(), model::resolve_edge_path(config_.edge_path)),
      schedules_(config_.schedules(comm.size())) {
  // Checked on every rank alike (the loaders agree on steps per epoch without communicating).
  comm_.agree_on([&] {
    UCLUSTER_CHECK(train_->steps_per_epoch() > 0, "the training data (", train_->source().name(), ", ",
                   train_->rows(), " jets) hold fewer jets than one batch of ", config_.rank_batch(comm_.size()),
                   comm_.size() > 1 ? make_message(" jets on each of ", comm_.size(), " ranks") : std::string());
    UCLUSTER_CHECK(train_->rows() >= model_.dims().num_clusters, "the training data hold fewer jets (",
                   train_->rows(), ") than clusters (", model_.dims().num_clusters, ")");
    for (const Loader* l : {train_.get(), test_.get()}) {
      const bool event_file = l->source().point_targets();
      UCLUSTER_CHECK(event_file == config_.events(), l->source().name(), config_.events()
                     ? " is not a prepared event file, but task \"events\" (preset AD) needs one (prepare-data --task lhco)"
                     : " is a prepared event file; train it with preset AD (task \"events\")");
      UCLUSTER_CHECK(l->source().globals() == model_.dims().num_globals, l->source().name(), " has ",
                     l->source().globals(), " event globals per row, the model expects ", model_.dims().num_globals);
    }
    UCLUSTER_CHECK(train_->features() == model_.dims().num_features, "the training data have ",
                   train_->features(), " features per particle, the model expects ", model_.dims().num_features);
  });
  model_.declare(store_);
  store_.finalize(ctx_, ctx_.device());
  Rng init_rng = Rng(config_.seed).derive(0);
  model_.initialise(ctx_, store_, init_rng);
  optimizer_ = std::make_unique<AdamOptimizer>(ctx_, store_);
  if (config_.synchronised_batch_norm(comm_.size())) {
    bn_sync_ = [this](double* values, std::int64_t n) {
      comm_.all_reduce_sum(ctx_, values, n, DType::F64, !ctx_.device().is_cpu(), "batch-norm statistics");
    };
  }
}

void Trainer::say(const std::string& message) const {
  if (comm_.rank() == 0) log_(message);
}

JetBatch model_batch(Context& ctx, const Batch& b, bool events, Tensor& targets) {
  JetBatch jets = pack_jets(ctx, b.data.data(), b.size, b.n_particles, b.n_features, ctx.device());
  if (events) {
    targets = pack_point_values(ctx, b.point_target.data(), jets.rows, ctx.device());
    jets.globals = ctx.from_vector<float>(
        {b.size, b.n_globals}, std::vector<float>(b.global.begin(), b.global.begin() + b.size * b.n_globals));
    return jets;
  }
  targets = ctx.from_vector<std::int32_t>({b.size}, std::vector<std::int32_t>(b.target.begin(), b.target.begin() + b.size));
  return jets;
}

std::string Trainer::last_good_checkpoint() const {
  // Every checkpoint on disk is finite: save_checkpoint refuses, and load_checkpoint rejects, NaN.
  return std::filesystem::exists(paths_.checkpoint) ? paths_.checkpoint : std::string("none");
}

void Trainer::train_epoch(int epoch) {
  const bool joint = schedules_.alpha.full_training(epoch);
  const bool collect = epoch == config_.max_pretrain();
  const double alpha = schedules_.alpha.train(epoch);
  const std::int64_t full_step = config_.global_batch(comm_.size());
  Progress progress(log_, make_message("epoch ", epoch, joint ? " (joint)" : " (pre-training)"),
                    comm_.rank() == 0 ? train_->steps_per_epoch() : 0);
  Batch b;
  while (train_->next(b)) {
    const std::int64_t global = optimizer_->step();
    comm_.set_step(global);
    last_lr_ = schedules_.lr.at(global) * config_.lr_scale(comm_.size(), global);
    last_bn_decay_ = schedules_.bn_decay.at(global);
    Tensor targets;
    const JetBatch jets = model_batch(ctx_, b, config_.events(), targets);
    StepSettings settings;
    settings.inverse_temperature = alpha;
    settings.losses = config_.losses();
    settings.joint = joint;
    settings.learning_rate = last_lr_;
    settings.bn_decay = last_bn_decay_;
    settings.bn_sync = bn_sync_;
    TrainingStep training_step(ctx_, model_, store_, jets, targets, settings);
    StepRecord step = StepRecord::of_batch(ctx_, training_step.losses(), b);
    step.all_reduce(comm_, ctx_);
    const double total = step.mean(StepRecord::kTotal);
    if (!std::isfinite(total)) {
      throw AgreedError(make_message("training stopped: the loss is ", total, " at epoch ", epoch, ", batch ", b.step,
                                     " of the epoch (global step ", global, "); last good checkpoint: ",
                                     last_good_checkpoint()));
    }
    training_step.update(*optimizer_, [this](const Tensor& flat_grads) {
      ScopedRange range("gradient_all_reduce");
      comm_.all_reduce_mean(ctx_, flat_grads, "gradient all-reduce");
    });

    running_.add(step, full_step);
    if (collect) {
      const std::vector<float> z = ctx_.to_vector<float>(training_step.output().z->value);
      embeddings_.insert(embeddings_.end(), z.begin(), z.end());
      embedding_rows_.insert(embedding_rows_.end(), b.rows.begin(), b.rows.begin() + b.size);
    }
    progress.update(b.step + 1, total);
    const std::int64_t done = optimizer_->step();
    if (config_.checkpoint_every > 0 && done % config_.checkpoint_every == 0 && b.step + 1 < train_->steps_per_epoch())
      save(paths_.checkpoint);
    if (config_.max_steps > 0 && done >= config_.max_steps) {
      save(paths_.checkpoint);
      say(make_message("stopping after global step ", done, " (max_steps); checkpoint ", paths_.checkpoint));
      stop_requested_ = true;
      return;
    }
  }
}

PassStats Trainer::evaluate(int epoch) {
  const double alpha = schedules_.alpha.eval(epoch);
  const bool joint = schedules_.alpha.full_training(epoch);
  const std::int64_t full_step = config_.global_batch(comm_.size());
  PassStats stats;
  test_->seek({epoch, 0});
  Batch b;
  std::string first_bad_here;  // this rank's first jet with non-finite outputs
  while (test_->next(b)) {
    // Every rank takes part in every step's all-reduce, also with an empty tail batch.
    StepRecord step;
    if (b.size > 0) {
      Tensor targets;
      const JetBatch jets = model_batch(ctx_, b, config_.events(), targets);
      Tape tape(ctx_, false);
      model::ForwardOutput out = model_.forward(tape, store_, jets, model::BatchNormMode::Inference);
      model::Losses losses =
          model::compute_losses(tape, out, param_var(store_, "mu"), targets, alpha, config_.losses(), joint);
      const std::int64_t bad = model::host_outputs(ctx_, out, losses).first_non_finite_jet();
      if (bad >= 0) {
        if (first_bad_here.empty())
          first_bad_here =
              make_message("row ", b.rows.at(static_cast<std::size_t>(bad)), " of ", test_->source().name());
        step.values[StepRecord::kNonFinite] = 1;
      } else {
        step = StepRecord::of_batch(ctx_, losses, b);
      }
    }
    step.all_reduce(comm_, ctx_);
    if (step.ranks_with_non_finite_jets() > 0) {
      // Every rank sees the reduced count, so every rank stops here with the same decision.
      throw AgreedError(make_message(
          "training stopped: at epoch ", epoch, " the test pass gives NaN or infinite outputs (latent vector, ",
          "logits or distances) for a jet: ",
          first_bad_here.empty() ? std::string("on another rank") : first_bad_here,
          " (its inputs overflow float32 inside the network, or the model has diverged); no metrics were written for "
          "this epoch; last good checkpoint: ", last_good_checkpoint()));
    }
    stats.add(step, full_step);
  }
  return stats;
}

void Trainer::gather_embeddings(const char* what, std::vector<std::int64_t>& rows, std::vector<float>& z) const {
  const std::vector<std::string> packed = comm_.gather(pack_embeddings(embedding_rows_, embeddings_), 0, what);
  if (comm_.rank() == 0) unpack_sorted(packed, model_.dims().latent, rows, z);
}

void Trainer::average_moving_statistics() {
  // Per-rank batch statistics leave per-rank moving averages: their mean is what is evaluated and
  // saved (with synchronised batch norm they are identical on every rank already).
  if (comm_.size() > 1 && !config_.synchronised_batch_norm(comm_.size()))
    comm_.all_reduce_mean(ctx_, store_.flat_buffers(), "moving statistics average");
}

void Trainer::initialise_centroids(int epoch) {
  const std::int64_t d = model_.dims().latent;
  std::vector<std::int64_t> rows;
  std::vector<float> z, mu;
  gather_embeddings("k-means embeddings gather", rows, z);
  if (comm_.rank() == 0) {
    const std::int64_t n = static_cast<std::int64_t>(rows.size());
    KMeansOptions o;
    o.clusters = static_cast<int>(model_.dims().num_clusters);
    o.n_init = config_.kmeans_n_init;
    o.max_iter = config_.kmeans_max_iter;
    o.tol = config_.kmeans_tol;
    o.seed = mix_seed(config_.seed ^ mix_seed(static_cast<std::uint64_t>(epoch) + 1000));
    o.max_samples = config_.kmeans_max_samples;
    const KMeansResult r = kmeans(z.data(), n, d, o);
    mu.assign(r.centroids.begin(), r.centroids.end());
    ctx_.copy(store_.param("mu"), ctx_.from_vector<float>(store_.param("mu").shape(), mu, Device::cpu()));
    say(make_message("k-means++ on ", n, " embeddings (", r.fitted_rows, " fitted, n_init ", o.n_init,
                     comm_.size() > 1 ? make_message(", gathered from ", comm_.size(), " ranks") : std::string(),
                     "): inertia ", r.inertia, ", centroids ", nlohmann::json(mu).dump()));
  }
  comm_.broadcast(ctx_, store_.param("mu"), 0, "k-means centroids broadcast");
  embeddings_.clear();
  embedding_rows_.clear();
}

void Trainer::broadcast_state() {
  if (comm_.size() == 1) return;
  comm_.broadcast(ctx_, store_.flat_params(), 0, "parameter broadcast");
  comm_.broadcast(ctx_, store_.flat_buffers(), 0, "batch-norm statistics broadcast");
  comm_.broadcast(ctx_, optimizer_->m(), 0, "optimiser moments broadcast");
  comm_.broadcast(ctx_, optimizer_->v(), 0, "optimiser moments broadcast");
}

void Trainer::save(const std::string& path) {
  average_moving_statistics();
  CheckpointData data;
  gather_embeddings("checkpoint embeddings gather", data.embedding_rows, data.embeddings);
  const LoaderPosition p = train_->position();
  const std::vector<std::string> positions =
      comm_.gather(nlohmann::json{p.epoch, p.step}.dump(), 0, "checkpoint loader positions gather");
  comm_.agree_on([&] {
    if (comm_.rank() != 0) return;
    data.config = config_.to_json();
    RunState state;
    state.epoch = epoch_;
    state.loader = p;
    state.world_size = comm_.size();
    for (const std::string& s : positions) {
      const nlohmann::json position = nlohmann::json::parse(s);
      state.loader_positions.push_back({position.at(0).get<std::int64_t>(), position.at(1).get<std::int64_t>()});
    }
    state.global_step = optimizer_->step();
    state.rng = ctx_.rng().state();
    state.running = running_;
    state.last_lr = last_lr_;
    state.last_bn_decay = last_bn_decay_;
    state.history = history_;
    data.state = state.to_json();
    data.adam_m = optimizer_->m();
    data.adam_v = optimizer_->v();
    data.embedding_dim = model_.dims().latent;
    save_checkpoint(ctx_, path, store_, data);
  });
}

void Trainer::resume_from(const std::string& path) {
  // Rank 0 reads the checkpoint; the others receive its state and parameters.
  nlohmann::json state_json;
  comm_.agree_on([&] {
    if (comm_.rank() != 0) return;
    UCLUSTER_CHECK(std::filesystem::exists(path), "--resume: no checkpoint '", path, "' to resume from");
    CheckpointData data;
    load_checkpoint(ctx_, path, store_, &data);
    const nlohmann::json now = config_.to_json();
    for (const auto& [key, value] : data.config.items()) {
      UCLUSTER_CHECK(now.contains(key), "--resume: checkpoint '", path, "' was written with config key '", key,
                     "' (= ", value.dump(), "), which this version of train does not know");
      if (resumable_difference(key) || same_input_file(key, now.at(key), value)) continue;
      UCLUSTER_CHECK(now.at(key) == value, "--resume: config key '", key, "' is ", now.at(key).dump(),
                     " but the checkpoint was written with ", value.dump(), "; resume with the same configuration");
    }
    UCLUSTER_CHECK(data.adam_m.defined(), "--resume: checkpoint '", path, "' has no optimiser state");
    ctx_.copy(optimizer_->m(), data.adam_m);
    ctx_.copy(optimizer_->v(), data.adam_v);
    state_json = data.state;
    const RunState written = RunState::from_json(state_json);
    UCLUSTER_CHECK(written.world_size == comm_.size() || written.loader.step == 0, "--resume: checkpoint '", path,
                   "' was written mid-epoch by ", written.world_size, " ranks; resume it with ", written.world_size,
                   " ranks (or from an epoch boundary)");
    embeddings_ = data.embeddings;  // every rank's so far: rank 0 holds them for the k-means gather
    embedding_rows_ = data.embedding_rows;
  });
  const RunState state = RunState::from_json(
      nlohmann::json::parse(comm_.broadcast(state_json.dump(), 0, "checkpoint state broadcast")));
  broadcast_state();
  optimizer_->set_step(state.global_step);
  epoch_ = state.epoch;
  ctx_.rng().set_state(state.rng);
  running_ = state.running;
  last_lr_ = state.last_lr;
  last_bn_decay_ = state.last_bn_decay;
  history_ = state.history;
  LoaderPosition position = state.loader;
  if (state.world_size == comm_.size() && !state.loader_positions.empty()) {
    position = state.loader_positions.at(static_cast<std::size_t>(comm_.rank()));
  } else if (state.world_size != comm_.size()) {
    say(make_message("resuming a checkpoint of ", state.world_size, " ranks on ", comm_.size(),
                     " ranks at the start of epoch ", position.epoch));
  }
  train_->seek(position);
  write_metrics_file();
  say(make_message("resumed from ", path, " at epoch ", epoch_, ", step ", position.step, " (global step ",
                   optimizer_->step(), ")"));
}

void Trainer::write_metrics_file() const {
  if (comm_.rank() != 0) return;
  if (history_.empty()) {
    // A fresh run: no older run's lines, and no empty file if this one fails before its first epoch.
    std::error_code ec;
    std::filesystem::remove(paths_.metrics, ec);
    UCLUSTER_CHECK(!ec, "cannot remove the old metrics file '", paths_.metrics, "': ", ec.message());
    return;
  }
  // Rewritten whole (about 1 kB an epoch) and published like a checkpoint, so that a full disk is
  // an error and a crash never leaves a partial line.
  StagedFile staged(paths_.metrics);
  {
    std::ofstream out(staged.temp_path(), std::ios::trunc);
    UCLUSTER_CHECK(out.good(), "cannot create metrics file '", staged.temp_path(), "': ", std::strerror(errno));
    for (const auto& line : history_) out << line.dump() << "\n";
    out.flush();
    UCLUSTER_CHECK(out.good(), "cannot write metrics file '", staged.temp_path(), "': ", std::strerror(errno));
  }
  staged.commit();
}

nlohmann::json Trainer::run(bool resume) {
  comm_.agree_on([&] {
    if (comm_.rank() != 0) return;
    std::filesystem::create_directories(paths_.dir);
    for (const std::string& stale : remove_stale_temporaries(paths_.dir, ".checkpoint.h5.tmp-", ""))
      say(make_message("removed ", stale, ", a partial checkpoint left by a killed run"));
  });
  if (resume) {
    resume_from(paths_.checkpoint);
  } else {
    broadcast_state();
    comm_.agree_on([&] { write_metrics_file(); });
  }
  const char* unit = config_.events() ? "events" : "jets";
  say(make_message("UCluster", config_.events() ? " (event model, preset AD)" : "", ": ", store_.num_params(),
                   " trainable parameters, ", train_->rows(), " training ", unit, " (",
                   train_->steps_per_epoch(), " steps of ", config_.global_batch(comm_.size()), " per epoch",
                   comm_.size() > 1 ? make_message(", ", config_.rank_batch(comm_.size()), " on each of ",
                                                   comm_.size(), " ranks (", comm_.backend(), ")")
                                    : std::string(),
                   "), ", test_->rows(), " test ", unit, ", device ", ctx_.device_description(), ", ",
                   "edge path ", model::edge_path_name(model_.edge_path()), " (training ",
                   model::edge_path_name(model_.edge_path_for(model::BatchNormMode::Train, ctx_.device())),
                   ", evaluation ",
                   model::edge_path_name(model_.edge_path_for(model::BatchNormMode::Inference, ctx_.device())), ")"));
  while (epoch_ < config_.epochs) {
    const auto t0 = std::chrono::steady_clock::now();
    const std::int64_t jets_before = running_.jets;
    train_epoch(epoch_);
    if (stop_requested_) return history_.empty() ? nlohmann::json() : history_.back();
    const double train_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (epoch_ == config_.max_pretrain()) initialise_centroids(epoch_);
    average_moving_statistics();
    const PassStats test = evaluate(epoch_);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const std::vector<float> mu = ctx_.to_vector<float>(store_.param("mu"));
    nlohmann::json line = {
        {"epoch", epoch_},
        {"phase", schedules_.alpha.full_training(epoch_) ? "joint" : "pretrain"},
        {"global_step", optimizer_->step()},
        {"learning_rate", last_lr_},
        {"bn_decay", last_bn_decay_},
        {"inverse_temperature", {{"train", schedules_.alpha.train(epoch_)}, {"eval", schedules_.alpha.eval(epoch_)}}},
        {"train", running_.summary()},
        {"test", test.summary()},
        {"centroids", mu},
        {"timing",
         {{"epoch_seconds", seconds},
          {"train_jets_per_s", double(running_.jets - jets_before) / std::max(1e-9, train_seconds)},
          {"ranks", comm_.size()}}}};
    history_.push_back(line);
    write_metrics_file();
    say(make_message("epoch ", epoch_, ": train loss ", line["train"]["loss_total"].get<double>(), ", test loss ",
                     line["test"]["loss_total"].get<double>(), ", test accuracy ",
                     line["test"]["accuracy_global"].get<double>(), " (global) / ",
                     line["test"]["accuracy_per_batch_mean"].get<double>(), " (per-batch mean), ",
                     static_cast<long long>(line["timing"]["train_jets_per_s"].get<double>()), " ", unit, "/s"));
    ++epoch_;
    running_ = PassStats();
    save(paths_.checkpoint);
  }
  return history_.empty() ? nlohmann::json() : history_.back();
}

}  // namespace ucluster
